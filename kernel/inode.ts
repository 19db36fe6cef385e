/**
 * inode.ts: the in-core inode cache and generic inode helpers.
 *
 * Layer: kernel VFS (Linux fs/inode.c and fs/attr.c). Interface: `new_inode(sb, ino)` makes a fresh
 * in-core inode (count 1) for a file system that just allocated `ino`; `iget(sb, ino)` finds or reads
 * one (count +1); `iput` drops a reference and, at zero, deletes the inode if it has no links left
 * (s_op.delete_inode) or forgets it; `inode_setattr` applies a validated Iattr to the in-core inode;
 * `inode_change_ok` validates one (Linux's rules for chown, chmod, utimes); `suid_dropped_mode` is
 * what a write or truncate leaves of a set-id file's mode (remove_suid); `generic_permission`
 * checks mode bits with root's overrides; `current_fs_time` is CURRENT_TIME at the file system's
 * granularity. Invariant: an inode is in its super block's s_inodes exactly while i_count > 0.
 */
import { assert } from './assert.ts';
import { EACCES, EPERM, EROFS, isErr, type Errno } from './errno.ts';
import {
  ATTR_ATIME, ATTR_ATIME_SET, ATTR_CTIME, ATTR_FORCE, ATTR_GID, ATTR_MODE, ATTR_MTIME, ATTR_MTIME_SET, ATTR_SIZE,
  ATTR_UID, capable, I_BAD, in_group_p, Inode, MAY_EXEC, MAY_WRITE, MS_RDONLY, S_ISDIR, S_ISGID, S_ISLNK, S_ISREG,
  S_ISUID, S_IXGRP, S_IALLUGO, S_IFMT, type Cred, type Iattr, type SuperBlock,
} from './fs.ts';
import type { Sys } from './sched.ts';
import { EPOCH_BASE_SEC, TICKS_PER_SEC, type Timespec } from './types.ts';

export function new_inode(sb: SuperBlock, ino: number): Inode {
  assert(!sb.s_inodes.has(ino), () => `new_inode: inode ${ino} already in core`);
  const inode = new Inode(sb, ino);
  inode.i_count = 1;
  sb.s_inodes.set(ino, inode);
  return inode;
}

export function* iget(sb: SuperBlock, ino: number): Sys<Inode | Errno> {
  const cached = sb.s_inodes.get(ino);
  if (cached !== undefined) {
    cached.i_count++;
    return cached;
  }
  const inode = new_inode(sb, ino);
  const read = sb.s_op.read_inode;
  if (read !== undefined) {
    const err = yield* read(inode);
    if (isErr(err)) {
      sb.s_inodes.delete(ino);
      return err;
    }
  }
  return inode;
}

/**
 * Take a reference to an inode a file system already holds in memory (ramfs keeps its inodes in
 * its directories), putting it back in the icache if its last reference had gone.
 */
export function iref(inode: Inode): Inode {
  if (inode.i_count === 0) {
    assert(!inode.i_sb.s_inodes.has(inode.i_ino), () => `iref: another inode ${inode.i_ino} is in core`);
    inode.i_sb.s_inodes.set(inode.i_ino, inode);
  }
  inode.i_count++;
  return inode;
}

/** Owner and group of a new inode: the caller's fsuid; the directory's group if it is setgid. */
export function inode_init_owner(inode: Inode, dir: Inode | null, mode: number, cred: Cred): void {
  inode.i_uid = cred.fsuid;
  let m = mode;
  if (dir !== null && (dir.i_mode & S_ISGID) !== 0) {
    inode.i_gid = dir.i_gid;
    if (S_ISDIR(mode)) m |= S_ISGID;
  } else {
    inode.i_gid = cred.fsgid;
  }
  inode.i_mode = m;
}

export function ihold(inode: Inode): Inode {
  assert(inode.i_count > 0, 'ihold of a dead inode');
  inode.i_count++;
  return inode;
}

export function* iput(inode: Inode): Sys<void> {
  assert(inode.i_count > 0, () => `iput of inode ${inode.i_ino} with no references`);
  inode.i_count--;
  if (inode.i_count > 0) return;
  const sb = inode.i_sb;
  sb.s_inodes.delete(inode.i_ino);
  if (inode.i_nlink === 0 && (inode.i_state & I_BAD) === 0) yield* sb.s_op.delete_inode?.(inode) ?? noop();
  else yield* sb.s_op.clear_inode?.(inode) ?? noop();
}

function* noop(): Sys<void> {}

/**
 * Mark an inode read from disk as not a live one (freed, or reused for another generation): its
 * operations are gone, and the last iput forgets it without deleting anything (Linux make_bad_inode).
 */
export function make_bad_inode(inode: Inode): void {
  inode.i_state |= I_BAD;
  inode.i_op = {};
  inode.i_fop = {};
}

/** CURRENT_TIME, truncated to the file system's timestamp granularity. */
export function current_fs_time(sb: SuperBlock): Timespec {
  const t = sb.s_kernel.realtime();
  const sec = EPOCH_BASE_SEC + Math.floor(t / TICKS_PER_SEC);
  const nsec = (t - Math.floor(t / TICKS_PER_SEC) * TICKS_PER_SEC) * 1000;
  return { sec, nsec: nsec - (nsec % sb.s_time_gran) };
}

export function is_rdonly(inode: Inode): boolean {
  return (inode.i_sb.s_flags & MS_RDONLY) !== 0;
}

/** Mode-bit access check, with root's overrides (Linux vfs_permission / generic_permission). */
export function generic_permission(inode: Inode, mask: number, cred: Cred): 0 | Errno {
  const mode = inode.i_mode;
  if ((mask & MAY_WRITE) !== 0 && is_rdonly(inode) && (S_ISREG(mode) || S_ISDIR(mode) || S_ISLNK(mode))) return EROFS;
  let bits = mode;
  if (cred.fsuid === inode.i_uid) bits >>= 6;
  else if (in_group_p(cred, inode.i_gid)) bits >>= 3;
  if ((bits & mask & 7) === (mask & 7)) return 0;
  if (capable(cred)) {
    // Root may read and write anything, search any directory, and execute a file that has at
    // least one execute bit set.
    if ((mask & MAY_EXEC) === 0 || S_ISDIR(mode) || (mode & 0o111) !== 0) return 0;
  }
  return EACCES;
}

export function* permission(inode: Inode, mask: number, cred: Cred): Sys<0 | Errno> {
  const own = inode.i_op.permission;
  if (own !== undefined) return yield* own(inode, mask, cred);
  return generic_permission(inode, mask, cred);
}

/** May `cred` change these attributes of `inode`? (Linux inode_change_ok / setattr_prepare.) */
export function inode_change_ok(inode: Inode, attr: Iattr, cred: Cred): 0 | Errno {
  const v = attr.ia_valid;
  if ((v & ATTR_FORCE) !== 0) return 0;
  const isOwner = cred.fsuid === inode.i_uid;
  const ownerOrCapable = isOwner || capable(cred);
  // chown: only root changes the owner; the owner may "change" it to itself.
  if ((v & ATTR_UID) !== 0 && !(isOwner && attr.ia_uid === inode.i_uid) && !capable(cred)) return EPERM;
  // chgrp: the owner may pick one of their groups (or keep the current one).
  if ((v & ATTR_GID) !== 0) {
    const gid = attr.ia_gid ?? -1;
    const ok = (isOwner && (in_group_p(cred, gid) || gid === inode.i_gid)) || capable(cred);
    if (!ok) return EPERM;
  }
  if ((v & ATTR_MODE) !== 0 && !ownerOrCapable) return EPERM;
  if ((v & (ATTR_MTIME_SET | ATTR_ATIME_SET)) !== 0 && !ownerOrCapable) return EPERM;
  return 0;
}

/**
 * The mode a write or truncate by `cred` leaves a regular file, or null if it changes nothing (Linux
 * remove_suid): without CAP_FSETID the set-user-id bit goes, and the set-group-id bit when the file
 * is group-executable (without group execute the bit marks mandatory locking, and stays).
 */
export function suid_dropped_mode(inode: Inode, cred: Cred): number | null {
  const mode = inode.i_mode;
  const kill = (mode & S_ISUID) | ((mode & S_IXGRP) !== 0 ? mode & S_ISGID : 0);
  if (kill === 0 || !S_ISREG(mode) || capable(cred)) return null;
  return mode & S_IALLUGO & ~kill;
}

/** Apply a validated change to the in-core inode (the file system writes it out). */
export function inode_setattr(inode: Inode, attr: Iattr, cred: Cred): void {
  const v = attr.ia_valid;
  if ((v & ATTR_UID) !== 0 && attr.ia_uid !== undefined) inode.i_uid = attr.ia_uid;
  if ((v & ATTR_GID) !== 0 && attr.ia_gid !== undefined) inode.i_gid = attr.ia_gid;
  if ((v & ATTR_SIZE) !== 0 && attr.ia_size !== undefined) inode.i_size = attr.ia_size;
  if ((v & ATTR_ATIME) !== 0 && attr.ia_atime !== undefined) inode.i_atime = attr.ia_atime;
  if ((v & ATTR_MTIME) !== 0 && attr.ia_mtime !== undefined) inode.i_mtime = attr.ia_mtime;
  if ((v & ATTR_CTIME) !== 0 && attr.ia_ctime !== undefined) inode.i_ctime = attr.ia_ctime;
  if ((v & ATTR_MODE) !== 0 && attr.ia_mode !== undefined) {
    let mode = attr.ia_mode & S_IALLUGO;
    // A non-root caller outside the file's group cannot set the setgid bit (it is dropped).
    if (!in_group_p(cred, inode.i_gid) && !capable(cred) && (v & ATTR_FORCE) === 0) mode &= ~S_ISGID;
    inode.i_mode = (inode.i_mode & S_IFMT) | mode;
  }
}
