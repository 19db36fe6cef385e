/**
 * open.ts: opening and closing files, and the calls that change attributes (Linux fs/open.c,
 * fs/attr.c, the open half of fs/namei.c).
 *
 * Layer: kernel VFS. Interface: sys_open/sys_close, sys_truncate/sys_ftruncate, sys_chmod,
 * sys_chown, sys_utimes, sys_access, sys_chdir, sys_getcwd, sys_umask, and `notify_change`, the one
 * path by which any attribute changes (it validates with inode_change_ok, stamps ctime, and calls
 * the file system's setattr, which a filter such as presto wraps to log the change).
 * Open follows Linux's do_last: the fd is reserved first (EMFILE before anything else), O_CREAT
 * creates under the parent's i_sem, a newly created file skips the permission check and O_TRUNC,
 * O_EXCL never follows a symlink, O_NOFOLLOW refuses one with ELOOP, a dangling symlink opened
 * with O_CREAT creates its target. FIFOs, sockets and block devices are metadata only here: opening
 * one gives ENXIO (documented deviation); character devices open through the kernel's chrdev table.
 */
import { d_inode_of, dget, dput } from './dcache.ts';
import {
  EBADF, EEXIST, EFBIG, EINVAL, EISDIR, ELOOP, EMFILE, ENAMETOOLONG, ENOENT, ENOTDIR, ENXIO, EPERM, EROFS, isErr,
  type Errno,
} from './errno.ts';
import {
  ATTR_ATIME, ATTR_ATIME_SET, ATTR_CTIME, ATTR_FORCE, ATTR_GID, ATTR_MODE, ATTR_MTIME, ATTR_MTIME_SET, ATTR_SIZE,
  ATTR_UID,
  capable, File, FMODE_READ, MAX_LINK_COUNT, PATH_MAX, FMODE_WRITE, MAY_EXEC, MAY_READ, MAY_WRITE, O_ACCMODE, O_APPEND, O_CREAT, O_DIRECTORY,
  O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IALLUGO, S_ISCHR, S_ISDIR, S_ISGID, S_ISLNK, S_ISREG,
  S_ISUID, S_IXGRP, type Dentry, type FileOperations, type Iattr, type Inode, type Path,
} from './fs.ts';
import { current_fs_time, inode_change_ok, inode_setattr, is_rdonly, permission, suid_dropped_mode } from './inode.ts';
import {
  follow_mount, LAST_NORM, link_path_walk, LOOKUP_DIRECTORY, LOOKUP_FOLLOW, LOOKUP_PARENT, lookup_component,
  path_lookup, vfs_create, vfs_readlink, type WalkState,
} from './namei.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';
import { down, up } from './semaphore.ts';
import type { Timespec } from './types.ts';

function acc_mode_of(flags: number): number {
  const acc = flags & O_ACCMODE;
  let mask = acc === O_RDONLY ? MAY_READ : acc === O_WRONLY ? MAY_WRITE : MAY_READ | MAY_WRITE;
  if ((flags & (O_TRUNC | O_APPEND)) !== 0) mask |= MAY_WRITE;
  return mask;
}

interface Opened {
  readonly path: Path;
  readonly created: boolean;
}

/** Resolve (and with O_CREAT, create) the file `name` names, starting at `start`. */
function* open_namei(p: Process, name: string, start: Path, flags: number, mode: number, st: WalkState): Sys<Opened | Errno> {
  if ((flags & O_CREAT) === 0) {
    const follow = (flags & O_NOFOLLOW) !== 0 ? 0 : LOOKUP_FOLLOW;
    const nd = yield* link_path_walk(p, name, start, follow | ((flags & O_DIRECTORY) !== 0 ? LOOKUP_DIRECTORY : 0), st);
    return isErr(nd) ? nd : { path: nd.path, created: false };
  }
  const nd = yield* link_path_walk(p, name, start, LOOKUP_PARENT, st);
  if (isErr(nd)) return nd;
  if (nd.last_type !== LAST_NORM || nd.trailing) return EISDIR;
  const dir = d_inode_of(nd.path.dentry);
  yield* down(dir.i_sem, 'i_sem.open');
  const dentry = yield* lookup_component(nd.path.dentry, nd.last, 'held');
  if (isErr(dentry)) {
    up(dir.i_sem);
    return dentry;
  }
  if (dentry.d_inode === null) {
    const err = yield* vfs_create(p, dir, dentry, mode & ~p.umask & S_IALLUGO);
    up(dir.i_sem);
    return isErr(err) ? err : { path: { mnt: nd.path.mnt, dentry }, created: true };
  }
  up(dir.i_sem);
  if ((flags & O_EXCL) !== 0) return EEXIST;
  const path = follow_mount(p.kernel, { mnt: nd.path.mnt, dentry });
  const inode = d_inode_of(path.dentry);
  if (!S_ISLNK(inode.i_mode)) return { path, created: false };
  if ((flags & O_NOFOLLOW) !== 0) return ELOOP;
  // A symlink met with O_CREAT: open (or create) what it points to.
  if (st.links >= MAX_LINK_COUNT) return ELOOP;
  st.links++;
  const target = yield* vfs_readlink(path.dentry);
  if (isErr(target)) return target;
  if (target.length === 0) return ENOENT;
  return yield* open_namei(p, target, nd.path, flags, mode, st);
}

/** Linux may_open: type checks, permission, then O_TRUNC. */
function* may_open(p: Process, path: Path, flags: number, created: boolean): Sys<0 | Errno> {
  const inode = d_inode_of(path.dentry);
  const acc = acc_mode_of(flags);
  if (S_ISLNK(inode.i_mode)) return ELOOP;
  if (S_ISDIR(inode.i_mode)) {
    if ((acc & MAY_WRITE) !== 0 || (flags & O_CREAT) !== 0) return EISDIR;
  } else if ((flags & O_DIRECTORY) !== 0) {
    return ENOTDIR;
  }
  if (created) return 0;
  const err = yield* permission(inode, acc, p.cred);
  if (isErr(err)) return err;
  // Even an empty file is truncated: the truncate stamps mtime and ctime (POSIX; Linux does).
  if ((flags & O_TRUNC) !== 0 && S_ISREG(inode.i_mode)) {
    return yield* do_truncate(p, path.dentry, 0);
  }
  return 0;
}

function fops_for(p: Process, inode: Inode): FileOperations | Errno {
  if (S_ISREG(inode.i_mode) || S_ISDIR(inode.i_mode)) return inode.i_fop;
  if (S_ISCHR(inode.i_mode)) return p.kernel.chrdevs.get(inode.i_rdev >>> 8) ?? ENXIO;
  return ENXIO;
}

/** Make a File for an already-resolved path and install it at `fd`. */
function* dentry_open(p: Process, fd: number, path: Path, flags: number): Sys<number | Errno> {
  const inode = d_inode_of(path.dentry);
  const fops = fops_for(p, inode);
  if (isErr(fops)) return fops;
  const acc = flags & O_ACCMODE;
  const fmode = (acc === O_RDONLY || acc === O_RDWR ? FMODE_READ : 0) | (acc === O_WRONLY || acc === O_RDWR ? FMODE_WRITE : 0);
  const file = new File(path.dentry, path.mnt, fops, flags & ~(O_CREAT | O_EXCL | O_TRUNC), fmode, p.cred, p.pid);
  dget(path.dentry);
  const open = fops.open;
  if (open !== undefined) {
    const err = yield* open(inode, file, p);
    if (isErr(err)) {
      yield* dput(path.dentry);
      return err;
    }
  }
  p.files[fd] = file;
  return fd;
}

export function* sys_open(p: Process, name: string, flags: number, mode = 0o666): Sys<number | Errno> {
  if ((flags & O_ACCMODE) === O_ACCMODE) return EINVAL;
  const fd = p.lowestFreeFd();
  if (fd < 0) return EMFILE;
  if (name.length === 0) return ENOENT;
  if (name.length >= PATH_MAX) return ENAMETOOLONG;
  if (name.includes('\0')) return EINVAL; // getname: see namei.ts's check_path
  // Reserve the slot, so a task that blocks while opening cannot lose it to another open.
  p.reserved.add(fd);
  const r = yield* open_reserved(p, fd, name, flags, mode);
  p.reserved.delete(fd);
  return r;
}

function* open_reserved(p: Process, fd: number, name: string, flags: number, mode: number): Sys<number | Errno> {
  const opened = yield* open_namei(p, name, p.pwd, flags, mode, { links: 0 });
  if (isErr(opened)) return opened;
  const err = yield* may_open(p, opened.path, flags, opened.created);
  if (isErr(err)) return err;
  return yield* dentry_open(p, fd, opened.path, flags);
}

export function* sys_creat(p: Process, name: string, mode: number): Sys<number | Errno> {
  return yield* sys_open(p, name, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

export function* sys_close(p: Process, fd: number): Sys<0 | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  p.files[fd] = null;
  return yield* fput(file, p);
}

/** Drop a reference to an open file; the last one releases it. */
export function* fput(file: File, p: Process): Sys<0 | Errno> {
  let result: 0 | Errno = 0;
  const flush = file.f_op.flush;
  if (flush !== undefined) result = yield* flush(file, p);
  file.f_count--;
  if (file.f_count > 0) return result;
  // Linux's fput ignores what release returns: close(2) reports only flush's error.
  const release = file.f_op.release;
  if (release !== undefined) yield* release(file.f_inode, file, p);
  yield* dput(file.f_dentry);
  return result;
}

// ---------------------------------------------------------------------------------------------
// Attributes.

/** Apply an attribute change: validate, stamp ctime, hand to the file system. */
export function* notify_change(p: Process, dentry: Dentry, attr: Iattr): Sys<0 | Errno> {
  const inode = d_inode_of(dentry);
  const err = inode_change_ok(inode, attr, p.cred);
  if (isErr(err)) return err;
  const now = current_fs_time(inode.i_sb);
  attr.ia_ctime = now;
  attr.ia_valid |= ATTR_CTIME;
  if ((attr.ia_valid & ATTR_ATIME) !== 0 && (attr.ia_valid & ATTR_ATIME_SET) === 0) attr.ia_atime = now;
  if ((attr.ia_valid & ATTR_MTIME) !== 0 && (attr.ia_valid & ATTR_MTIME_SET) === 0) attr.ia_mtime = now;
  const setattr = inode.i_op.setattr;
  if (setattr !== undefined) return yield* setattr(dentry, attr, p);
  inode_setattr(inode, attr, p.cred);
  return 0;
}

export function* do_truncate(p: Process, dentry: Dentry, length: number): Sys<0 | Errno> {
  const inode = d_inode_of(dentry);
  if (length < 0) return EINVAL;
  if (length > inode.i_sb.s_maxbytes) return EFBIG;
  yield* down(inode.i_sem, 'i_sem.truncate');
  const attr: Iattr = { ia_valid: ATTR_SIZE | ATTR_MTIME | ATTR_CTIME, ia_size: length };
  // Truncating drops set-id bits as writing does (Linux since 2.6; 2.4's do_truncate kept them).
  const mode = suid_dropped_mode(inode, p.cred);
  if (mode !== null) {
    attr.ia_valid |= ATTR_MODE | ATTR_FORCE;
    attr.ia_mode = mode;
  }
  const r = yield* notify_change(p, dentry, attr);
  up(inode.i_sem);
  return r;
}

/**
 * Before a write: drop the set-id bits a write by this caller clears (remove_suid), through
 * notify_change (forced: no permission to change the mode is needed), so the file system writes
 * the inode and a filter such as presto logs the change. The caller holds i_sem.
 */
export function* remove_suid(p: Process, dentry: Dentry): Sys<0 | Errno> {
  const mode = suid_dropped_mode(d_inode_of(dentry), p.cred);
  if (mode === null) return 0;
  return yield* notify_change(p, dentry, { ia_valid: ATTR_MODE | ATTR_FORCE, ia_mode: mode });
}

export function* sys_truncate(p: Process, name: string, length: number): Sys<0 | Errno> {
  if (length < 0) return EINVAL;
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  if (isErr(path)) return path;
  const inode = d_inode_of(path.dentry);
  if (S_ISDIR(inode.i_mode)) return EISDIR;
  if (!S_ISREG(inode.i_mode)) return EINVAL;
  const err = yield* permission(inode, MAY_WRITE, p.cred);
  if (isErr(err)) return err;
  return yield* do_truncate(p, path.dentry, length);
}

export function* sys_ftruncate(p: Process, fd: number, length: number): Sys<0 | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  if (length < 0) return EINVAL;
  const inode = file.f_inode;
  if (!S_ISREG(inode.i_mode) || (file.f_mode & FMODE_WRITE) === 0) return EINVAL;
  return yield* do_truncate(p, file.f_dentry, length);
}

function* chmod_common(p: Process, dentry: Dentry, mode: number): Sys<0 | Errno> {
  const inode = d_inode_of(dentry);
  if (is_rdonly(inode)) return EROFS;
  yield* down(inode.i_sem, 'i_sem.setattr');
  const r = yield* notify_change(p, dentry, { ia_valid: ATTR_MODE, ia_mode: mode & S_IALLUGO });
  up(inode.i_sem);
  return r;
}

export function* sys_chmod(p: Process, name: string, mode: number): Sys<0 | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  if (isErr(path)) return path;
  return yield* chmod_common(p, path.dentry, mode);
}

export function* sys_fchmod(p: Process, fd: number, mode: number): Sys<0 | Errno> {
  const file = p.fget(fd);
  if (file === null) return EBADF;
  return yield* chmod_common(p, file.f_dentry, mode);
}

/** A 32-bit id (uid_t, gid_t) or -1 (written either way: -1 or 0xffffffff), "no change". */
const ID_UNCHANGED = 0xffffffff;

function validId(id: number): boolean {
  return Number.isInteger(id) && id >= -1 && id <= ID_UNCHANGED;
}

function* chown_common(p: Process, dentry: Dentry, uidIn: number, gidIn: number): Sys<0 | Errno> {
  const inode = d_inode_of(dentry);
  // Ids are 32 bits; one that does not fit names nobody (Linux: make_kuid fails, EINVAL).
  if (!validId(uidIn) || !validId(gidIn)) return EINVAL;
  const uid = uidIn === ID_UNCHANGED ? -1 : uidIn;
  const gid = gidIn === ID_UNCHANGED ? -1 : gidIn;
  if (is_rdonly(inode)) return EROFS;
  const attr: Iattr = { ia_valid: 0 };
  if (uid !== -1) {
    attr.ia_valid |= ATTR_UID;
    attr.ia_uid = uid;
  }
  if (gid !== -1) {
    attr.ia_valid |= ATTR_GID;
    attr.ia_gid = gid;
  }
  // chown of a non-directory drops set-user-id, and set-group-id when group-executable, whoever
  // calls and even when nothing changes (chown(f, -1, -1)), as Linux does.
  if (!S_ISDIR(inode.i_mode)) {
    let mode = inode.i_mode & S_IALLUGO;
    if ((mode & S_ISUID) !== 0) mode &= ~S_ISUID;
    if ((mode & S_ISGID) !== 0 && (mode & S_IXGRP) !== 0) mode &= ~S_ISGID;
    if (mode !== (inode.i_mode & S_IALLUGO)) {
      attr.ia_valid |= ATTR_MODE;
      attr.ia_mode = mode;
    }
  }
  yield* down(inode.i_sem, 'i_sem.setattr');
  const r = yield* notify_change(p, dentry, attr);
  up(inode.i_sem);
  return r;
}

export function* sys_chown(p: Process, name: string, uid: number, gid: number): Sys<0 | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  if (isErr(path)) return path;
  return yield* chown_common(p, path.dentry, uid, gid);
}

export function* sys_lchown(p: Process, name: string, uid: number, gid: number): Sys<0 | Errno> {
  const path = yield* path_lookup(p, name, 0);
  if (isErr(path)) return path;
  return yield* chown_common(p, path.dentry, uid, gid);
}

/** utimes(path, [atime, mtime]) or utimes(path, null) for "now". */
export function* sys_utimes(p: Process, name: string, times: readonly [Timespec, Timespec] | null): Sys<0 | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  if (isErr(path)) return path;
  const inode = d_inode_of(path.dentry);
  if (is_rdonly(inode)) return EROFS;
  const attr: Iattr = { ia_valid: ATTR_ATIME | ATTR_MTIME | ATTR_CTIME };
  if (times !== null) {
    attr.ia_valid |= ATTR_ATIME_SET | ATTR_MTIME_SET;
    attr.ia_atime = times[0];
    attr.ia_mtime = times[1];
  } else if (p.cred.fsuid !== inode.i_uid && !capable(p.cred)) {
    const err = yield* permission(inode, MAY_WRITE, p.cred);
    if (isErr(err)) return err;
  }
  yield* down(inode.i_sem, 'i_sem.setattr');
  const r = yield* notify_change(p, path.dentry, attr);
  up(inode.i_sem);
  return r;
}

/** access(2): checks with the real uid/gid, not the fs ones. */
export function* sys_access(p: Process, name: string, mode: number): Sys<0 | Errno> {
  if ((mode & ~7) !== 0) return EINVAL;
  const saved = p.cred;
  p.cred = { ...saved, fsuid: saved.uid, fsgid: saved.gid };
  const r = yield* access_as(p, name, mode);
  p.cred = saved;
  return r;
}

function* access_as(p: Process, name: string, mode: number): Sys<0 | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW);
  if (isErr(path)) return path;
  if (mode === 0) return 0;
  return yield* permission(d_inode_of(path.dentry), mode, p.cred);
}

export function* sys_chdir(p: Process, name: string): Sys<0 | Errno> {
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY);
  if (isErr(path)) return path;
  const err = yield* permission(d_inode_of(path.dentry), MAY_EXEC, p.cred);
  if (isErr(err)) return err;
  const old = p.pwd;
  p.pwd = { mnt: path.mnt, dentry: dget(path.dentry) };
  yield* dput(old.dentry);
  return 0;
}

/** Change the root directory (root only); the cwd stays where it is, as on Linux. */
export function* sys_chroot(p: Process, name: string): Sys<0 | Errno> {
  if (!capable(p.cred)) return EPERM;
  const path = yield* path_lookup(p, name, LOOKUP_FOLLOW | LOOKUP_DIRECTORY);
  if (isErr(path)) return path;
  const err = yield* permission(d_inode_of(path.dentry), MAY_EXEC, p.cred);
  if (isErr(err)) return err;
  const old = p.root;
  p.root = { mnt: path.mnt, dentry: dget(path.dentry) };
  yield* dput(old.dentry);
  return 0;
}

/** The cwd as an absolute path, or ENOENT when it has been removed. */
export function* sys_getcwd(p: Process): Sys<string | Errno> {
  let cur = p.pwd;
  if (cur.dentry.unhashed) return ENOENT;
  const parts: string[] = [];
  for (;;) {
    if (cur.dentry === p.root.dentry && cur.mnt === p.root.mnt) break;
    if (cur.dentry === cur.mnt.mnt_root) {
      const up = cur.mnt.mnt_parent;
      if (up === null || up === cur.mnt) break;
      cur = { mnt: up, dentry: cur.mnt.mnt_mountpoint };
      continue;
    }
    parts.push(cur.dentry.d_name);
    const parent = cur.dentry.d_parent;
    if (parent === null) break;
    cur = { mnt: cur.mnt, dentry: parent };
  }
  return '/' + parts.reverse().join('/');
}

export function sys_umask(p: Process, mask: number): number {
  const old = p.umask;
  p.umask = mask & 0o777;
  return old;
}

