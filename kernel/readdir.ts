/**
 * readdir.ts: reading directories (Linux fs/readdir.c).
 *
 * Layer: kernel VFS. Interface: `sys_getdents(p, fd, max)` returns up to `max` entries from the
 * directory's current position (an empty list at the end), "." and ".." included, as the file
 * system's readdir reports them; f_pos is the file system's cookie for where to resume.
 * A directory removed while open reads as ENOENT (IS_DEADDIR).
 */
import { EBADF, EINVAL, ENOENT, ENOTDIR, isErr, type Errno } from './errno.ts';
import { S_ISDIR, type Dirent } from './fs.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';
import { down, up } from './semaphore.ts';

export function* sys_getdents(p: Process, fd: number, max = 256): Sys<Dirent[] | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  if (max < 1) return EINVAL;
  const inode = file.f_inode;
  const readdir = file.f_op.readdir;
  if (!S_ISDIR(inode.i_mode) || readdir === undefined) return ENOTDIR;
  if (inode.i_dead) return ENOENT;
  const out: Dirent[] = [];
  yield* down(inode.i_sem, 'i_sem.readdir');
  const err = yield* readdir(file, (name, ino, type) => {
    if (out.length >= max) return false;
    out.push({ d_name: name, d_ino: ino, d_type: type });
    return true;
  }, p);
  up(inode.i_sem);
  return isErr(err) ? err : out;
}
