/**
 * read_write.ts: reading, writing, seeking and syncing open files (Linux fs/read_write.c, fs/buffer.c's
 * sys_fsync).
 *
 * Layer: kernel VFS. Interface: sys_read/sys_write (at f_pos, advancing it), sys_pread/sys_pwrite (at
 * an offset, f_pos untouched), sys_lseek, sys_fsync/sys_fdatasync. The VFS does the checks every
 * file system shares (the fd's access mode, directories, O_APPEND positioning, s_maxbytes and
 * EFBIG, remove_suid before a write) and then calls the file's read/write operation with an
 * explicit position.
 * Faithful oddity: pwrite on an O_APPEND file appends, ignoring the offset, as Linux does.
 */
import { EBADF, EFBIG, EINVAL, EISDIR, isErr, type Errno } from './errno.ts';
import { FMODE_READ, FMODE_WRITE, O_APPEND, S_ISDIR, SEEK_CUR, SEEK_END, SEEK_SET, type File } from './fs.ts';
import { remove_suid } from './open.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';
import { down, up } from './semaphore.ts';

function readable(p: Process, fd: number): File | Errno {
  const file = p.fget(fd);
  if (file === null || (file.f_mode & FMODE_READ) === 0) return EBADF;
  if (S_ISDIR(file.f_inode.i_mode)) return EISDIR;
  return file;
}

function writable(p: Process, fd: number): File | Errno {
  const file = p.fget(fd);
  if (file === null || (file.f_mode & FMODE_WRITE) === 0) return EBADF;
  return file;
}

function* do_read(p: Process, file: File, buf: Uint8Array, pos: number): Sys<number | Errno> {
  const read = file.f_op.read;
  if (read === undefined) return EINVAL;
  if (buf.length === 0) return 0;
  return yield* read(file, buf, pos, p);
}

function* do_write(p: Process, file: File, data: Uint8Array, offset: number): Sys<{ n: number | Errno; pos: number }> {
  const inode = file.f_inode;
  const write = file.f_op.write;
  if (write === undefined) return { n: EINVAL, pos: offset };
  // i_sem serializes writers of one file, so O_APPEND positioning and size updates are atomic.
  yield* down(inode.i_sem, 'i_sem.write');
  const pos = (file.f_flags & O_APPEND) !== 0 ? inode.i_size : offset;
  let n: number | Errno;
  const max = inode.i_sb.s_maxbytes;
  if (data.length === 0) n = 0;
  else if (pos >= max) n = EFBIG;
  else {
    const k = yield* remove_suid(p, file.f_dentry);
    n = isErr(k) ? k : yield* write(file, pos + data.length > max ? data.subarray(0, max - pos) : data, pos, p);
  }
  up(inode.i_sem);
  return { n, pos };
}

/** Read into `buf` (up to its length) at the file position. */
export function* sys_read(p: Process, fd: number, buf: Uint8Array): Sys<number | Errno> {
  const file = readable(p, fd);
  if (isErr(file)) return file;
  const n = yield* do_read(p, file, buf, file.f_pos);
  if (!isErr(n)) file.f_pos += n;
  return n;
}

export function* sys_write(p: Process, fd: number, data: Uint8Array): Sys<number | Errno> {
  const file = writable(p, fd);
  if (isErr(file)) return file;
  const { n, pos } = yield* do_write(p, file, data, file.f_pos);
  if (!isErr(n)) file.f_pos = pos + n;
  return n;
}

export function* sys_pread(p: Process, fd: number, buf: Uint8Array, offset: number): Sys<number | Errno> {
  const file = readable(p, fd);
  if (isErr(file)) return file;
  if (offset < 0) return EINVAL;
  return yield* do_read(p, file, buf, offset);
}

export function* sys_pwrite(p: Process, fd: number, data: Uint8Array, offset: number): Sys<number | Errno> {
  const file = writable(p, fd);
  if (isErr(file)) return file;
  if (offset < 0) return EINVAL;
  return (yield* do_write(p, file, data, offset)).n;
}

export function* sys_lseek(p: Process, fd: number, offset: number, whence: number): Sys<number | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  const own = file.f_op.llseek;
  if (own !== undefined) return yield* own(file, offset, whence, p);
  let pos: number;
  if (whence === SEEK_SET) pos = offset;
  else if (whence === SEEK_CUR) pos = file.f_pos + offset;
  else if (whence === SEEK_END) pos = file.f_inode.i_size + offset;
  else return EINVAL;
  if (pos < 0 || pos > file.f_inode.i_sb.s_maxbytes) return EINVAL;
  file.f_pos = pos;
  return pos;
}

function* do_fsync(p: Process, fd: number, datasync: boolean): Sys<0 | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  const fsync = file.f_op.fsync;
  if (fsync === undefined) return EINVAL;
  return yield* fsync(file, file.f_dentry, datasync, p);
}

export function* sys_fsync(p: Process, fd: number): Sys<0 | Errno> {
  return yield* do_fsync(p, fd, false);
}

export function* sys_fdatasync(p: Process, fd: number): Sys<0 | Errno> {
  return yield* do_fsync(p, fd, true);
}
