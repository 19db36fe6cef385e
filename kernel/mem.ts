/**
 * mem.ts: the memory character devices /dev/null, /dev/zero and /dev/urandom (Linux
 * drivers/char/mem.c and random.c's urandom_read).
 *
 * Layer: kernel (a driver). Interface: `mem_register(k)` registers character major 1 with minors
 * 3 (null: reads end at once, writes vanish), 5 (zero: reads give zeros) and 9 (urandom: reads give
 * bytes from the kernel's `urandom` source, a seeded stream the simulator hands the kernel, so a
 * program's "random" nonces are the same in every run of a seed). Make the nodes with mknod.
 * Invariants: urandom never blocks and never runs dry; without a source it reads as EIO.
 */
import { EINVAL, EIO, ENXIO, type Errno } from './errno.ts';
import type { File, FileOperations } from './fs.ts';
import type { Kernel } from './kernel.ts';
import type { Sys } from './sched.ts';

export const MEM_MAJOR = 1;
export const NULL_MINOR = 3;
export const ZERO_MINOR = 5;
export const URANDOM_MINOR = 9;

function minorOf(file: File): number {
  return file.f_inode.i_rdev & 0xff;
}

function memFops(k: Kernel): FileOperations {
  return {
    *open(inode): Sys<0 | Errno> {
      const minor = inode.i_rdev & 0xff;
      return minor === NULL_MINOR || minor === ZERO_MINOR || minor === URANDOM_MINOR ? 0 : ENXIO;
    },
    *read(file, buf): Sys<number | Errno> {
      const minor = minorOf(file);
      if (minor === NULL_MINOR) return 0;
      if (minor === ZERO_MINOR) {
        buf.fill(0);
        return buf.length;
      }
      if (k.urandom === undefined) return EIO;
      k.urandom.fill(buf);
      return buf.length;
    },
    *write(_file, data): Sys<number | Errno> {
      return data.length;
    },
    *llseek(): Sys<number | Errno> {
      return EINVAL;
    },
  };
}

/** Register /dev/null, /dev/zero and /dev/urandom's driver (character major 1). */
export function mem_register(k: Kernel): 0 | Errno {
  return k.register_chrdev(MEM_MAJOR, memFops(k));
}
