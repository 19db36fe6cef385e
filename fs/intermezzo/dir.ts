/**
 * dir.ts: the user-facing layer of presto's inode operations (Linux fs/intermezzo/dir.c's
 * presto_create, presto_mkdir, ... presto_setattr).
 *
 * Layer: fs (presto). Interface: `presto_iops(kind, lower)` gives the overrides the filter installs
 * over the cache file system's inode operations. Each wrapper finds the fileset; outside every
 * fileset, and under `/.intermezzo`, it calls the cache operation directly (nothing is logged). In a
 * fileset it refuses a read-only fileset or cache with EROFS, refuses links and renames across
 * filesets with EXDEV, takes the fileset permit (lento and replays need none), builds the context
 * (user calls log to the KML; lento's own calls do not; replays carry theirs, see kml_reint.ts),
 * calls presto_do_X (vfs.ts) and puts the permit back.
 * Invariants: every permit taken here is put back on every path; a replay context is used only by
 * the process it was set for, and only for the one VFS call it was set around.
 */
import { EBUSY, EROFS, EXDEV, isErr, type Errno } from '../../kernel/errno.ts';
import type { InodeKind } from '../../kernel/filter.ts';
import type { Dentry, Iattr, Inode, InodeOperations } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { CACHE_CLIENT_RO, CACHE_LENTO_RO, presto_fset, type Fileset } from './intermezzo_fs.ts';
import { FSET_CLIENT_RO, FSET_LENTO_RO, islento, presto_get_permit, presto_put_permit } from './permit.ts';
import {
  presto_do_create,
  presto_do_link,
  presto_do_mkdir,
  presto_do_mknod,
  presto_do_rename,
  presto_do_rmdir,
  presto_do_setattr,
  presto_do_symlink,
  presto_do_unlink,
  USER_CONTEXT,
  type LentoVfsContext,
} from './vfs.ts';

const replays = new WeakMap<Process, LentoVfsContext>();

/** kml_reint: the context for the VFS call `p` makes next (null clears it). */
export function presto_set_reint(p: Process, ctx: LentoVfsContext | null): void {
  if (ctx === null) replays.delete(p);
  else replays.set(p, ctx);
}

export interface Entered {
  readonly ctx: LentoVfsContext;
  readonly permit: boolean;
}

/** Checks and the permit before a modifying operation in `fset` (presto_prep / get_permit). */
export function* presto_enter(fset: Fileset, p: Process): Sys<Entered | Errno> {
  const replay = replays.get(p);
  if (replay !== undefined) return { ctx: replay, permit: false };
  if (islento(fset, p)) return { ctx: { flags: 0 }, permit: false };
  const ro =
    (fset.flags & (FSET_CLIENT_RO | FSET_LENTO_RO)) !== 0 ||
    (fset.cache.flags & (CACHE_CLIENT_RO | CACHE_LENTO_RO)) !== 0;
  if (ro) return EROFS;
  const r = yield* presto_get_permit(fset, p);
  if (isErr(r)) return r;
  return { ctx: USER_CONTEXT(), permit: true };
}

export function presto_leave(fset: Fileset, e: Entered): void {
  if (e.permit) presto_put_permit(fset);
}

/** Run `op` in `fset` between enter and leave. */
function* inFset(fset: Fileset, p: Process, op: (ctx: LentoVfsContext) => Sys<0 | Errno>): Sys<0 | Errno> {
  const e = yield* presto_enter(fset, p);
  if (isErr(e)) return e;
  const r = yield* op(e.ctx);
  presto_leave(fset, e);
  return r;
}

function parentOf(d: Dentry): Dentry {
  return d.d_parent ?? d;
}

export function presto_iops(kind: InodeKind, low: InodeOperations): Partial<InodeOperations> {
  const out: Partial<InodeOperations> = {};
  const setattr = low.setattr;
  if (setattr !== undefined) {
    out.setattr = function* (d: Dentry, attr: Iattr, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(d);
      if (fset === null) return yield* setattr(d, attr, p);
      return yield* inFset(fset, p, (ctx) => presto_do_setattr(fset, d, attr, ctx, p));
    };
  }
  if (kind !== 'dir') return out;
  return { ...out, ...dirOps(low) };
}

function dirOps(low: InodeOperations): Partial<InodeOperations> {
  const out: Partial<InodeOperations> = {};
  const { create, mkdir, mknod, symlink, link, unlink, rmdir, rename } = low;
  if (create !== undefined) {
    out.create = function* (dir: Inode, d: Dentry, mode: number, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset === null) return yield* create(dir, d, mode, p);
      return yield* inFset(fset, p, (ctx) => presto_do_create(fset, parentOf(d), d, mode, ctx, p));
    };
  }
  if (mkdir !== undefined) {
    out.mkdir = function* (dir: Inode, d: Dentry, mode: number, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset === null) return yield* mkdir(dir, d, mode, p);
      return yield* inFset(fset, p, (ctx) => presto_do_mkdir(fset, parentOf(d), d, mode, ctx, p));
    };
  }
  if (mknod !== undefined) {
    out.mknod = function* (dir: Inode, d: Dentry, mode: number, rdev: number, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset === null) return yield* mknod(dir, d, mode, rdev, p);
      return yield* inFset(fset, p, (ctx) => presto_do_mknod(fset, parentOf(d), d, mode, rdev, ctx, p));
    };
  }
  if (symlink !== undefined) {
    out.symlink = function* (dir: Inode, d: Dentry, target: string, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset === null) return yield* symlink(dir, d, target, p);
      return yield* inFset(fset, p, (ctx) => presto_do_symlink(fset, parentOf(d), d, target, ctx, p));
    };
  }
  if (link !== undefined) {
    out.link = function* (old: Dentry, dir: Inode, d: Dentry, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset !== presto_fset(old)) return EXDEV;
      if (fset === null) return yield* link(old, dir, d, p);
      return yield* inFset(fset, p, (ctx) => presto_do_link(fset, old, parentOf(d), d, ctx, p));
    };
  }
  if (unlink !== undefined) {
    out.unlink = function* (dir: Inode, d: Dentry, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset === null) return yield* unlink(dir, d, p);
      return yield* inFset(fset, p, (ctx) => presto_do_unlink(fset, parentOf(d), d, ctx, p));
    };
  }
  if (rmdir !== undefined) {
    out.rmdir = function* (dir: Inode, d: Dentry, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(d));
      if (fset === null) return yield* rmdir(dir, d, p);
      // A fileset's root cannot be removed while the fileset exists (CLEAR_FSET first).
      if (presto_fset(d) !== fset) return EBUSY;
      return yield* inFset(fset, p, (ctx) => presto_do_rmdir(fset, parentOf(d), d, ctx, p));
    };
  }
  if (rename !== undefined) {
    out.rename = function* (od: Inode, old: Dentry, nd: Inode, target: Dentry, p: Process): Sys<0 | Errno> {
      const fset = presto_fset(parentOf(old));
      if (fset !== presto_fset(parentOf(target))) return EXDEV;
      if (fset === null) return yield* rename(od, old, nd, target, p);
      return yield* inFset(fset, p, (ctx) =>
        presto_do_rename(fset, parentOf(old), old, parentOf(target), target, ctx, p),
      );
    };
  }
  return out;
}
