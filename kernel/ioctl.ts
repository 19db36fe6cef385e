/**
 * ioctl.ts: device and file-system controls (Linux fs/ioctl.c).
 *
 * Layer: kernel VFS. Interface: `sys_ioctl(p, fd, cmd, arg)` passes the command to the open file's
 * ioctl operation (presto's ioctls arrive this way, issued on a directory inside the mount), or
 * ENOTTY when the file has none. `arg` is a structured value rather than a user pointer.
 */
import { EBADF, ENOTTY, type Errno } from './errno.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';

export function* sys_ioctl(p: Process, fd: number, cmd: number, arg: unknown = null): Sys<number | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  const ioctl = file.f_op.ioctl;
  if (ioctl === undefined) return ENOTTY;
  return yield* ioctl(file.f_inode, file, cmd, arg, p);
}
