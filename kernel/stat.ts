/**
 * stat.ts: stat, lstat, fstat, readlink and statfs (Linux fs/stat.c, fs/open.c's statfs).
 *
 * Layer: kernel VFS. Interface: each call resolves its object and reports the in-core inode's
 * attributes (st_dev is the super block's device number, st_blksize its block size) or the file
 * system's statfs. readlink never follows the final link and gives EINVAL for a non-link.
 */
import { d_inode_of } from './dcache.ts';
import { EBADF, EINVAL, isErr, type Errno } from './errno.ts';
import { S_ISLNK, type Inode, type Stat, type StatFs } from './fs.ts';
import { LOOKUP_FOLLOW, path_lookup, vfs_readlink } from './namei.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';

export function generic_fillattr(inode: Inode): Stat {
  return {
    st_dev: inode.i_sb.s_dev,
    st_ino: inode.i_ino,
    st_mode: inode.i_mode,
    st_nlink: inode.i_nlink,
    st_uid: inode.i_uid,
    st_gid: inode.i_gid,
    st_rdev: inode.i_rdev,
    st_size: inode.i_size,
    st_blksize: inode.i_sb.s_blocksize,
    st_blocks: inode.i_blocks,
    st_atime: inode.i_atime,
    st_mtime: inode.i_mtime,
    st_ctime: inode.i_ctime,
  };
}

export function* sys_stat(p: Process, name: string): Sys<Stat | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  return isErr(path) ? path : generic_fillattr(d_inode_of(path.dentry));
}

export function* sys_lstat(p: Process, name: string): Sys<Stat | Errno> {
  const path = yield* path_lookup(p, name, 0);
  return isErr(path) ? path : generic_fillattr(d_inode_of(path.dentry));
}

export function* sys_fstat(p: Process, fd: number): Sys<Stat | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  return generic_fillattr(file.f_inode);
}

export function* sys_readlink(p: Process, name: string): Sys<string | Errno> {
  const path = yield* path_lookup(p, name, 0);
  if (isErr(path)) return path;
  if (!S_ISLNK((d_inode_of(path.dentry)).i_mode)) return EINVAL;
  return yield* vfs_readlink(path.dentry);
}

export function* sys_statfs(p: Process, name: string): Sys<StatFs | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  if (isErr(path)) return path;
  const sb = path.mnt.mnt_sb;
  return yield* sb.s_op.statfs(sb);
}
