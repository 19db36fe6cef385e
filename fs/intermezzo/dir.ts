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
 * calls presto_do_X (vfs.ts) and puts the permit back. Lookup of a name `...ino:<ino>:<gen>` (hex)
 * in any directory finds that inode by number and generation (presto_iopen: user space reads a
 * file's exact version for a peer's backfetch this way, whatever it is called now).
 * presto's own logs under `/.intermezzo/<fset>/` may be read but not changed by ordinary system
 * calls (`presto_log_guard`: EPERM; presto's kernel process and lento excepted).
 * Invariants: every permit taken here is put back on every path; a replay context is used only by
 * the process it was set for, and only for the one VFS call it was set around.
 */
import { d_instantiate } from '../../kernel/dcache.ts';
import { EBUSY, ENOENT, EPERM, EROFS, EXDEV, isErr, type Errno } from '../../kernel/errno.ts';
import type { InodeKind } from '../../kernel/filter.ts';
import { DCACHE_UNHASHED, type Dentry, type Iattr, type Inode, type InodeOperations } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import {
  CACHE_CLIENT_RO, CACHE_LENTO_RO, presto_fset, presto_get_cache, presto_log_owner, type Fileset,
} from './intermezzo_fs.ts';
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

/** kml_reint: the context for the VFS call `p` makes next (null clears it), in p.fs_context. */
export function presto_set_reint(p: Process, ctx: LentoVfsContext | null): void {
  p.fs_context = ctx;
}

function replayOf(p: Process): LentoVfsContext | null {
  return p.fs_context as LentoVfsContext | null;
}

export interface Entered {
  readonly ctx: LentoVfsContext;
  readonly permit: boolean;
}

/** Checks and the permit before a modifying operation in `fset` (presto_prep / get_permit). */
export function* presto_enter(fset: Fileset, p: Process): Sys<Entered | Errno> {
  const replay = replayOf(p);
  if (replay !== null) return { ctx: replay, permit: false };
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

/**
 * EPERM for a change to one of presto's logs (presto_log_owner) by anyone but presto's own kernel
 * process and lento: a user's write, truncate, chmod, link, rename or unlink would break every
 * later mount of the fileset.
 */
export function presto_log_guard(d: Dentry, p: Process): 0 | Errno {
  const fset = presto_log_owner(d);
  if (fset === null || p === fset.cache.kproc || islento(fset, p)) return 0;
  return EPERM;
}

function parentOf(d: Dentry): Dentry {
  return d.d_parent ?? d;
}

export function presto_iops(kind: InodeKind, low: InodeOperations): Partial<InodeOperations> {
  const out: Partial<InodeOperations> = {};
  const setattr = low.setattr;
  if (setattr !== undefined) {
    out.setattr = function* (d: Dentry, attr: Iattr, p: Process): Sys<0 | Errno> {
      const guard = presto_log_guard(d, p);
      if (guard !== 0) return guard;
      const fset = presto_fset(d);
      if (fset === null) return yield* setattr(d, attr, p);
      return yield* inFset(fset, p, (ctx) => presto_do_setattr(fset, d, attr, ctx, p));
    };
  }
  if (kind !== 'dir') return out;
  return { ...out, ...dirOps(low) };
}

/** A name `...ino:<ino hex>:<generation hex>` in any directory opens that inode (presto_iopen). */
export const PRESTO_ILOOKUP_MAGIC = '...ino:';

export function presto_ilookup_name(ino: number, generation: number): string {
  return `${PRESTO_ILOOKUP_MAGIC}${ino.toString(16)}:${generation.toString(16)}`;
}

function parse_ilookup(name: string): { ino: number; generation: number } | null {
  const m = /^\.\.\.ino:([0-9a-f]{1,8}):([0-9a-f]{1,8})$/.exec(name);
  return m === null ? null : { ino: parseInt(m[1] as string, 16), generation: parseInt(m[2] as string, 16) };
}

/**
 * Lookup of an ilookup name: the inode by number and generation (ENOENT if it is gone or reused).
 * The dentry is an alias for user space's backfetch: unhashed at once, so nothing finds it again
 * and its inode goes with the last close.
 */
function* presto_ilookup(dir: Inode, d: Dentry): Sys<0 | Errno> {
  const id = parse_ilookup(d.d_name);
  const cache = presto_get_cache(dir.i_sb);
  if (id === null || cache === null) return ENOENT;
  const inode = yield* cache.jops.tr_ilookup(dir.i_sb, id.ino, id.generation);
  if (isErr(inode)) return inode;
  d_instantiate(d, inode);
  const parent = d.d_parent;
  if (parent !== null && parent.d_subdirs.get(d.d_name) === d) parent.d_subdirs.delete(d.d_name);
  d.d_flags |= DCACHE_UNHASHED;
  return 0;
}

/**
 * A presto directory's operations over the cache's: each does the lower one outside a fileset and
 * presto's, logged, inside it; lookup also answers ilookup names.
 */
function dirOps(low: InodeOperations): Partial<InodeOperations> {
  const out: Partial<InodeOperations> = {};
  const lookup = low.lookup;
  if (lookup !== undefined) {
    out.lookup = function* (dir: Inode, d: Dentry): Sys<0 | Errno> {
      if (d.d_name.startsWith(PRESTO_ILOOKUP_MAGIC)) return yield* presto_ilookup(dir, d);
      return yield* lookup(dir, d);
    };
  }
  newNameOps(low, out);
  linkOps(low, out);
  return out;
}

/** The operations that make a new name: create, mkdir, mknod, symlink. */
function newNameOps(low: InodeOperations, out: Partial<InodeOperations>): void {
  const { create, mkdir, mknod, symlink } = low;
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
}

/** The operations on existing names: link, unlink, rmdir, rename. */
function linkOps(low: InodeOperations, out: Partial<InodeOperations>): void {
  const { link, unlink, rmdir, rename } = low;
  if (link !== undefined) {
    out.link = function* (old: Dentry, dir: Inode, d: Dentry, p: Process): Sys<0 | Errno> {
      const guard = presto_log_guard(old, p);
      if (guard !== 0) return guard;
      const fset = presto_fset(parentOf(d));
      if (fset !== presto_fset(old)) return EXDEV;
      if (fset === null) return yield* link(old, dir, d, p);
      return yield* inFset(fset, p, (ctx) => presto_do_link(fset, old, parentOf(d), d, ctx, p));
    };
  }
  if (unlink !== undefined) {
    out.unlink = function* (dir: Inode, d: Dentry, p: Process): Sys<0 | Errno> {
      const guard = presto_log_guard(d, p);
      if (guard !== 0) return guard;
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
      const guard = presto_log_guard(old, p) || presto_log_guard(target, p);
      if (guard !== 0) return guard;
      const fset = presto_fset(parentOf(old));
      if (fset !== presto_fset(parentOf(target))) return EXDEV;
      if (fset === null) return yield* rename(od, old, nd, target, p);
      return yield* inFset(fset, p, (ctx) =>
        presto_do_rename(fset, parentOf(old), old, parentOf(target), target, ctx, p),
      );
    };
  }
}
