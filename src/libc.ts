/**
 * libc.ts: the few file helpers every user-space program here needs, made of system calls as a C
 * library would make them: read a whole file, list a whole directory.
 *
 * Layer: user space (src/). Interface: `read_file(p, path)` (open O_RDONLY, read to the end, close)
 * and `read_dir(p, path)` (open O_RDONLY|O_DIRECTORY, getdents until empty, close), each the data or
 * the first errno met. Used by the command language, tree snapshots and the image tools.
 */
import { isErr, type Errno } from '../kernel/errno.ts';
import { O_DIRECTORY, O_RDONLY, type Dirent } from '../kernel/fs.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { sys_close, sys_getdents, sys_open, sys_read } from '../kernel/syscalls.ts';

export function* read_file(p: Process, path: string): Sys<Uint8Array | Errno> {
  const fd = yield* sys_open(p, path, O_RDONLY);
  if (isErr(fd)) return fd;
  const parts: Uint8Array[] = [];
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = yield* sys_read(p, fd, buf);
    if (isErr(n)) {
      yield* sys_close(p, fd);
      return n;
    }
    if (n === 0) break;
    parts.push(buf.slice(0, n));
  }
  yield* sys_close(p, fd);
  return Buffer.concat(parts);
}

/** Every entry of a directory but "." and "..", in the order the file system gives them. */
export function* read_dir(p: Process, path: string): Sys<Dirent[] | Errno> {
  const fd = yield* sys_open(p, path, O_RDONLY | O_DIRECTORY);
  if (isErr(fd)) return fd;
  const out: Dirent[] = [];
  for (;;) {
    const ents = yield* sys_getdents(p, fd, 256);
    if (isErr(ents)) {
      yield* sys_close(p, fd);
      return ents;
    }
    if (ents.length === 0) break;
    for (const e of ents) if (e.d_name !== '.' && e.d_name !== '..') out.push(e);
  }
  yield* sys_close(p, fd);
  return out;
}
