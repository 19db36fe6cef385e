/**
 * namei.ts: path lookup and the namespace operations (Linux fs/namei.c).
 *
 * Layer: kernel VFS. Interface: `path_lookup(p, name, flags)` resolves a path to a (mount, dentry)
 * for process `p`; `path_parent` stops at the last component (LOOKUP_PARENT). The `vfs_*`
 * functions check permissions with Linux's rules (may_create, may_delete, the sticky bit) and call
 * the directory's inode operations; the `sys_*` functions are the system calls built on them.
 * Walk rules: absolute paths start at the process root, relative ones at its cwd; `.` stays; `..`
 * stops at the process root and climbs out of a mounted file system to its mountpoint; every
 * directory walked needs search (exec) permission; at most MAX_LINK_COUNT symlinks per walk, then
 * ELOOP; a component longer than NAME_MAX is ENAMETOOLONG; a trailing slash demands a directory.
 * Errors are Linux's, in Linux's order of checks (the conformance suite pins them to the real
 * kernel). Namespace changes hold the parent directory's i_sem, so an operation that blocks midway
 * is never interleaved with another change to the same directory.
 */
import { assert } from './assert.ts';
import { d_alloc, d_delete, d_drop, d_inode_of, d_lookup, d_move, dput } from './dcache.ts';
import {
  EACCES, EBUSY, EEXIST, EINVAL, EISDIR, ELOOP, ENAMETOOLONG, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, EXDEV, isErr, type Errno,
} from './errno.ts';
import {
  capable, MAX_LINK_COUNT, MAY_EXEC, MAY_WRITE, NAME_MAX, PATH_MAX, S_IALLUGO, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO,
  S_IFMT, S_IFREG, S_IFSOCK, S_ISDIR, S_ISLNK, S_ISVTX, type Dentry, type Inode, type Path,
} from './fs.ts';
import { permission } from './inode.ts';
import type { Kernel } from './kernel.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';
import { down, up } from './semaphore.ts';

export const LOOKUP_FOLLOW = 1;
export const LOOKUP_DIRECTORY = 2;
export const LOOKUP_PARENT = 16;

export const LAST_NORM = 0;
export const LAST_ROOT = 1;
export const LAST_DOT = 2;
export const LAST_DOTDOT = 3;

/** The result of a walk: the final path, or (LOOKUP_PARENT) the parent and the last name. */
export interface Nameidata {
  readonly path: Path;
  readonly last: string;
  readonly last_type: number;
  /** The name ended in '/'. */
  readonly trailing: boolean;
}

export interface WalkState {
  links: number;
}

export function kernel_of(p: Process): Kernel {
  return p.kernel;
}

/**
 * getname's checks. A NUL cannot be inside a path that came through a real system call (it ends
 * the C string), so a name holding one can only be a caller's mistake: EINVAL, the answer the C
 * library's wrappers in other languages give it (Node's ERR_INVALID_ARG_VALUE, Python's ValueError).
 */
function check_path(name: string): 0 | Errno {
  if (name.length === 0) return ENOENT;
  if (name.includes('\0')) return EINVAL;
  if (name.length >= PATH_MAX) return ENAMETOOLONG;
  return 0;
}

/** Resolve `name` fully. Flags: LOOKUP_FOLLOW (follow a final symlink), LOOKUP_DIRECTORY. */
export function* path_lookup(p: Process, name: string, flags: number): Sys<Path | Errno> {
  const bad = check_path(name);
  if (bad !== 0) return bad;
  const nd = yield* link_path_walk(p, name, p.pwd, flags & ~LOOKUP_PARENT, { links: 0 });
  return isErr(nd) ? nd : nd.path;
}

/** Resolve all but the last component of `name`. */
export function* path_parent(p: Process, name: string): Sys<Nameidata | Errno> {
  const bad = check_path(name);
  if (bad !== 0) return bad;
  return yield* link_path_walk(p, name, p.pwd, LOOKUP_PARENT, { links: 0 });
}

export function* link_path_walk(p: Process, name: string, start: Path, flags: number, st: WalkState): Sys<Nameidata | Errno> {
  let cur: Path = name.charCodeAt(0) === 0x2f ? p.root : start;
  const comps = name.split('/').filter((c) => c.length > 0);
  const trailing = name.charCodeAt(name.length - 1) === 0x2f;
  if (comps.length === 0) return { path: cur, last: '', last_type: LAST_ROOT, trailing: false };
  for (let i = 0; i < comps.length; i++) {
    const comp = comps[i] as string;
    const isLast = i === comps.length - 1;
    const dir = d_inode_of(cur.dentry);
    if (!S_ISDIR(dir.i_mode)) return ENOTDIR;
    const perm = yield* permission(dir, MAY_EXEC, p.cred);
    if (isErr(perm)) return perm;
    if (isLast && (flags & LOOKUP_PARENT) !== 0) {
      const type = comp === '.' ? LAST_DOT : comp === '..' ? LAST_DOTDOT : LAST_NORM;
      return { path: cur, last: comp, last_type: type, trailing };
    }
    if (comp === '.') continue;
    if (comp === '..') {
      cur = follow_dotdot(p, cur);
      continue;
    }
    const child = yield* lookup_component(cur.dentry, comp, 'take');
    if (isErr(child)) return child;
    let next = follow_mount(kernel_of(p), { mnt: cur.mnt, dentry: child });
    const inode = next.dentry.d_inode;
    if (inode === null) return ENOENT;
    if (S_ISLNK(inode.i_mode) && (!isLast || (flags & LOOKUP_FOLLOW) !== 0 || trailing)) {
      const target = yield* follow_link(p, next.dentry, cur, st);
      if (isErr(target)) return target;
      next = target;
    }
    cur = next;
  }
  const final = d_inode_of(cur.dentry);
  if ((trailing || (flags & LOOKUP_DIRECTORY) !== 0) && !S_ISDIR(final.i_mode)) return ENOTDIR;
  return { path: cur, last: comps[comps.length - 1] as string, last_type: LAST_NORM, trailing };
}

/** Follow the symlink `link` found in directory `dir`; the result is positive or an error. */
export function* follow_link(p: Process, link: Dentry, dir: Path, st: WalkState): Sys<Path | Errno> {
  if (st.links >= MAX_LINK_COUNT) return ELOOP;
  st.links++;
  const target = yield* vfs_readlink(link);
  if (isErr(target)) return target;
  if (target.length === 0) return ENOENT;
  const nd = yield* link_path_walk(p, target, dir, LOOKUP_FOLLOW, st);
  if (isErr(nd)) return nd;
  return nd.path.dentry.d_inode === null ? ENOENT : nd.path;
}

export function* vfs_readlink(d: Dentry): Sys<string | Errno> {
  const inode = d.d_inode;
  if (inode === null) return ENOENT;
  const readlink = inode.i_op.readlink;
  if (readlink === undefined || !S_ISLNK(inode.i_mode)) return EINVAL;
  return yield* readlink(d);
}

function follow_dotdot(p: Process, start: Path): Path {
  const k = kernel_of(p);
  let cur = start;
  for (;;) {
    if (cur.dentry === p.root.dentry && cur.mnt === p.root.mnt) return cur;
    if (cur.dentry !== cur.mnt.mnt_root) {
      const parent = cur.dentry.d_parent;
      assert(parent !== null, 'non-root dentry without a parent');
      return follow_mount(k, { mnt: cur.mnt, dentry: parent });
    }
    const up = cur.mnt.mnt_parent;
    if (up === null || up === cur.mnt) return cur;
    cur = { mnt: up, dentry: cur.mnt.mnt_mountpoint };
  }
}

/** Step onto whatever is mounted on `path`, repeatedly. */
export function follow_mount(k: Kernel, path: Path): Path {
  let cur = path;
  for (let m = k.lookup_mnt(cur.mnt, cur.dentry); m !== undefined; m = k.lookup_mnt(cur.mnt, cur.dentry)) {
    cur = { mnt: m, dentry: m.mnt_root };
  }
  return cur;
}

/**
 * Who holds the parent directory's i_sem during a lookup: the path walk takes it around a real
 * lookup ('take'); the calls that create, remove or rename already hold it ('held').
 */
export type ParentSem = 'take' | 'held';

/**
 * The dentry for `name` in `parent`, from the cache (revalidated) or from the file system, the
 * parent's i_sem taken around a real lookup or already held by the caller (`sem`).
 */
export function* lookup_component(parent: Dentry, name: string, sem: ParentSem): Sys<Dentry | Errno> {
  if (name.length > NAME_MAX) return ENAMETOOLONG;
  const cached = yield* cached_lookup(parent, name);
  if (cached !== undefined) return cached;
  const dir = d_inode_of(parent);
  if (sem === 'held') return yield* real_lookup(parent, dir, name);
  yield* down(dir.i_sem, 'i_sem.lookup');
  // Another task may have looked the name up while this one slept on i_sem.
  const raced = d_lookup(parent, name);
  const result = raced ?? (yield* real_lookup(parent, dir, name));
  up(dir.i_sem);
  return result;
}

function* cached_lookup(parent: Dentry, name: string): Sys<Dentry | undefined> {
  const d = d_lookup(parent, name);
  if (d === undefined) return undefined;
  const revalidate = d.d_op?.d_revalidate;
  if (revalidate === undefined) return d;
  if (yield* revalidate(d, 0)) return d;
  yield* d_drop(d);
  return undefined;
}

function* real_lookup(parent: Dentry, dir: Inode, name: string): Sys<Dentry | Errno> {
  if (dir.i_dead) return ENOENT;
  const lookup = dir.i_op.lookup;
  if (lookup === undefined) return ENOTDIR;
  const d = d_alloc(parent, name);
  const err = yield* lookup(dir, d);
  if (isErr(err)) {
    yield* d_drop(d);
    return err;
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Permission rules for creating and deleting names.

/** Linux may_create: the name must be free, the directory alive, writable and searchable. */
export function* may_create(p: Process, dir: Inode, child: Dentry): Sys<0 | Errno> {
  if (child.d_inode !== null) return EEXIST;
  if (dir.i_dead) return ENOENT;
  return yield* permission(dir, MAY_WRITE | MAY_EXEC, p.cred);
}

/** The sticky bit: only the file's owner, the directory's owner or root may delete. */
function check_sticky(p: Process, dir: Inode, inode: Inode): boolean {
  if ((dir.i_mode & S_ISVTX) === 0) return false;
  const uid = p.cred.fsuid;
  return inode.i_uid !== uid && dir.i_uid !== uid && !capable(p.cred);
}

/** Linux may_delete, in its order of checks. */
export function* may_delete(p: Process, dir: Inode, victim: Dentry, isdir: boolean): Sys<0 | Errno> {
  const inode = victim.d_inode;
  if (inode === null) return ENOENT;
  const perm = yield* permission(dir, MAY_WRITE | MAY_EXEC, p.cred);
  if (isErr(perm)) return perm;
  if (check_sticky(p, dir, inode)) return EPERM;
  if (isdir) {
    if (!S_ISDIR(inode.i_mode)) return ENOTDIR;
    if (victim.isRoot) return EBUSY;
  } else if (S_ISDIR(inode.i_mode)) {
    return EISDIR;
  }
  if (dir.i_dead) return ENOENT;
  return 0;
}

function is_mountpoint(d: Dentry): boolean {
  return d.d_mounted > 0;
}

// ---------------------------------------------------------------------------------------------
// vfs_*: checks, then the file system's inode operation. Callers hold dir.i_sem.

export function* vfs_create(p: Process, dir: Inode, dentry: Dentry, mode: number): Sys<0 | Errno> {
  const err = yield* may_create(p, dir, dentry);
  if (isErr(err)) return err;
  const create = dir.i_op.create;
  if (create === undefined) return EACCES;
  return yield* create(dir, dentry, (mode & S_IALLUGO) | S_IFREG, p);
}

export function* vfs_mkdir(p: Process, dir: Inode, dentry: Dentry, mode: number): Sys<0 | Errno> {
  const err = yield* may_create(p, dir, dentry);
  if (isErr(err)) return err;
  const mkdir = dir.i_op.mkdir;
  if (mkdir === undefined) return EPERM;
  return yield* mkdir(dir, dentry, mode & (S_IALLUGO | S_ISVTX), p);
}

export function* vfs_mknod(p: Process, dir: Inode, dentry: Dentry, mode: number, rdev: number): Sys<0 | Errno> {
  const err = yield* may_create(p, dir, dentry);
  if (isErr(err)) return err;
  const type = mode & S_IFMT;
  if ((type === S_IFCHR || type === S_IFBLK) && !capable(p.cred)) return EPERM;
  const mknod = dir.i_op.mknod;
  if (mknod === undefined) return EPERM;
  return yield* mknod(dir, dentry, mode, rdev, p);
}

export function* vfs_symlink(p: Process, dir: Inode, dentry: Dentry, target: string): Sys<0 | Errno> {
  const err = yield* may_create(p, dir, dentry);
  if (isErr(err)) return err;
  const symlink = dir.i_op.symlink;
  if (symlink === undefined) return EPERM;
  return yield* symlink(dir, dentry, target, p);
}

export function* vfs_link(p: Process, old: Dentry, dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const inode = old.d_inode;
  if (inode === null) return ENOENT;
  const err = yield* may_create(p, dir, dentry);
  if (isErr(err)) return err;
  if (dir.i_sb !== inode.i_sb) return EXDEV;
  const link = dir.i_op.link;
  if (link === undefined) return EPERM;
  if (S_ISDIR(inode.i_mode)) return EPERM;
  if (inode.i_nlink === 0) return ENOENT;
  return yield* link(old, dir, dentry, p);
}

export function* vfs_unlink(p: Process, dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const err = yield* may_delete(p, dir, dentry, false);
  if (isErr(err)) return err;
  const unlink = dir.i_op.unlink;
  if (unlink === undefined) return EPERM;
  if (is_mountpoint(dentry)) return EBUSY;
  const r = yield* unlink(dir, dentry, p);
  if (!isErr(r)) yield* d_delete(dentry);
  return r;
}

export function* vfs_rmdir(p: Process, dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const err = yield* may_delete(p, dir, dentry, true);
  if (isErr(err)) return err;
  const rmdir = dir.i_op.rmdir;
  if (rmdir === undefined) return EPERM;
  if (is_mountpoint(dentry)) return EBUSY;
  const victim = d_inode_of(dentry);
  yield* down(victim.i_sem, 'i_sem.rmdir');
  const r = yield* rmdir(dir, dentry, p);
  if (!isErr(r)) victim.i_dead = true;
  up(victim.i_sem);
  if (!isErr(r)) yield* d_delete(dentry);
  return r;
}

/** Is `d` (or an ancestor of it, up to its super block's root) equal to `anc`? */
function descends(d: Dentry, anc: Dentry): boolean {
  for (let cur: Dentry | null = d; cur !== null; cur = cur.d_parent) if (cur === anc) return true;
  return false;
}

export function* vfs_rename(p: Process, old_dir: Inode, old: Dentry, new_dir: Inode, target: Dentry): Sys<0 | Errno> {
  const source = d_inode_of(old);
  if (source === target.d_inode) return 0;
  const isdir = S_ISDIR(source.i_mode);
  let err = yield* may_delete(p, old_dir, old, isdir);
  if (isErr(err)) return err;
  err = target.d_inode === null ? yield* may_create(p, new_dir, target) : yield* may_delete(p, new_dir, target, isdir);
  if (isErr(err)) return err;
  const rename = old_dir.i_op.rename;
  if (rename === undefined) return EPERM;
  if (isdir && new_dir !== old_dir) {
    // Moving a directory rewrites its "..": that needs write permission on it.
    err = yield* permission(source, MAY_WRITE, p.cred);
    if (isErr(err)) return err;
  }
  if (is_mountpoint(old) || is_mountpoint(target)) return EBUSY;
  const victim = target.d_inode;
  if (victim !== null) yield* down(victim.i_sem, 'i_sem.rename');
  const r = yield* rename(old_dir, old, new_dir, target, p);
  if (victim !== null) {
    if (!isErr(r) && isdir) victim.i_dead = true;
    up(victim.i_sem);
  }
  if (!isErr(r)) yield* d_move(old, target);
  return r;
}

// ---------------------------------------------------------------------------------------------
// System calls on names.

/** The parent of `name` locked, and the dentry for its last component (a LAST_NORM name). */
interface Locked {
  readonly nd: Nameidata;
  readonly dir: Inode;
  readonly dentry: Dentry;
}

function* lock_last(nd: Nameidata): Sys<Locked | Errno> {
  const dir = d_inode_of(nd.path.dentry);
  yield* down(dir.i_sem, 'i_sem');
  const dentry = yield* lookup_component(nd.path.dentry, nd.last, 'held');
  if (isErr(dentry)) {
    up(dir.i_sem);
    return dentry;
  }
  return { nd, dir, dentry };
}

/** Linux filename_create: the parent locked and a free name, or EEXIST/ENOENT. */
function* filename_create(p: Process, name: string, isDir: boolean): Sys<Locked | Errno> {
  const nd = yield* path_parent(p, name);
  if (isErr(nd)) return nd;
  if (nd.last_type !== LAST_NORM) return EEXIST;
  const l = yield* lock_last(nd);
  if (isErr(l)) return l;
  if (l.dentry.d_inode !== null) return unlock(l, EEXIST);
  if (nd.trailing && !isDir) return unlock(l, ENOENT);
  return l;
}

function unlock<T>(l: Locked, result: T): T {
  up(l.dir.i_sem);
  return result;
}

export function* sys_mkdir(p: Process, name: string, mode: number): Sys<0 | Errno> {
  const l = yield* filename_create(p, name, true);
  if (isErr(l)) return l;
  return unlock(l, yield* vfs_mkdir(p, l.dir, l.dentry, mode & ~p.umask));
}

export function* sys_mknod(p: Process, name: string, mode: number, rdev: number): Sys<0 | Errno> {
  const type = mode & S_IFMT;
  if (type === S_IFDIR) return EPERM;
  if (type !== 0 && type !== S_IFREG && type !== S_IFCHR && type !== S_IFBLK && type !== S_IFIFO && type !== S_IFSOCK) {
    return EINVAL;
  }
  const l = yield* filename_create(p, name, false);
  if (isErr(l)) return l;
  const perm = (mode & S_IALLUGO) & ~p.umask;
  const r = type === 0 || type === S_IFREG
    ? yield* vfs_create(p, l.dir, l.dentry, perm)
    : yield* vfs_mknod(p, l.dir, l.dentry, type | perm, rdev);
  return unlock(l, r);
}

export function* sys_symlink(p: Process, target: string, name: string): Sys<0 | Errno> {
  if (target.length === 0) return ENOENT;
  if (target.length >= PATH_MAX) return ENAMETOOLONG;
  if (target.includes('\0')) return EINVAL;
  const l = yield* filename_create(p, name, false);
  if (isErr(l)) return l;
  return unlock(l, yield* vfs_symlink(p, l.dir, l.dentry, target));
}

export function* sys_link(p: Process, oldname: string, newname: string): Sys<0 | Errno> {
  const old = yield* path_lookup(p, oldname, 0);
  if (isErr(old)) return old;
  const l = yield* filename_create(p, newname, false);
  if (isErr(l)) return l;
  if (l.nd.path.mnt !== old.mnt) return unlock(l, EXDEV);
  return unlock(l, yield* vfs_link(p, old.dentry, l.dir, l.dentry));
}

export function* sys_unlink(p: Process, name: string): Sys<0 | Errno> {
  const nd = yield* path_parent(p, name);
  if (isErr(nd)) return nd;
  if (nd.last_type !== LAST_NORM) return EISDIR;
  const l = yield* lock_last(nd);
  if (isErr(l)) return l;
  const inode = l.dentry.d_inode;
  if (nd.trailing) return unlock(l, inode === null ? ENOENT : S_ISDIR(inode.i_mode) ? EISDIR : ENOTDIR);
  return unlock(l, yield* vfs_unlink(p, l.dir, l.dentry));
}

export function* sys_rmdir(p: Process, name: string): Sys<0 | Errno> {
  const nd = yield* path_parent(p, name);
  if (isErr(nd)) return nd;
  if (nd.last_type === LAST_DOTDOT) return ENOTEMPTY;
  if (nd.last_type === LAST_DOT) return EINVAL;
  if (nd.last_type === LAST_ROOT) return EBUSY;
  const l = yield* lock_last(nd);
  if (isErr(l)) return l;
  return unlock(l, yield* vfs_rmdir(p, l.dir, l.dentry));
}

export function* sys_rename(p: Process, oldname: string, newname: string): Sys<0 | Errno> {
  const ond = yield* path_parent(p, oldname);
  if (isErr(ond)) return ond;
  const nnd = yield* path_parent(p, newname);
  if (isErr(nnd)) return nnd;
  if (ond.path.mnt !== nnd.path.mnt) return EXDEV;
  if (ond.last_type !== LAST_NORM || nnd.last_type !== LAST_NORM) return EBUSY;
  const k = kernel_of(p);
  const old_dir = d_inode_of(ond.path.dentry);
  const new_dir = d_inode_of(nnd.path.dentry);
  // One rename at a time per kernel (s_vfs_rename_sem), then the directories' i_sems.
  yield* down(k.renameSem, 'rename_sem');
  yield* down(old_dir.i_sem, 'i_sem.rename');
  if (new_dir !== old_dir) yield* down(new_dir.i_sem, 'i_sem.rename');
  const r = yield* rename_locked(p, ond, nnd, old_dir, new_dir);
  if (new_dir !== old_dir) up(new_dir.i_sem);
  up(old_dir.i_sem);
  up(k.renameSem);
  return r;
}

function* rename_locked(p: Process, ond: Nameidata, nnd: Nameidata, old_dir: Inode, new_dir: Inode): Sys<0 | Errno> {
  const old = yield* lookup_component(ond.path.dentry, ond.last, 'held');
  if (isErr(old)) return old;
  const source = old.d_inode;
  if (source === null) return ENOENT;
  if (!S_ISDIR(source.i_mode) && (ond.trailing || nnd.trailing)) return ENOTDIR;
  // The source may not be an ancestor of the target's directory.
  if (descends(nnd.path.dentry, old)) return EINVAL;
  const target = yield* lookup_component(nnd.path.dentry, nnd.last, 'held');
  if (isErr(target)) return target;
  // Nor may the target be an ancestor of the source.
  if (target.d_inode !== null && descends(ond.path.dentry, target)) return ENOTEMPTY;
  return yield* vfs_rename(p, old_dir, old, new_dir, target);
}

/** Drop a dentry reference held by a path (for callers that pinned one). */
export function* path_release(path: Path): Sys<void> {
  yield* dput(path.dentry);
}
