/**
 * vfs.ts: presto_do_X, the second layer of every wrapped operation: one transaction holding the
 * cache file system's change, its KML record and, when replaying, the last_rcvd update (Linux
 * fs/intermezzo/vfs.c).
 *
 * Layer: fs (presto). Interface: `presto_do_create(fset, dir, dentry, mode, ctx, p)` and the same
 * for mkdir, mknod, symlink, link, unlink, rmdir, rename, setattr and close. The caller (dir.ts for
 * users, kml_reint.ts through the VFS for replays) has done the VFS checks, holds the directories'
 * i_sem and, for users, the fileset permit. Each: reads the old versions; works out the records
 * it will log (opcode and strings, so their exact size) and refuses with ENAMETOOLONG a path the KML
 * cannot carry; opens a transaction sized for the operation and its records, reserving the blocks
 * the records need (ENOSPC before anything changes if they cannot be had: journal_ops.ts); calls
 * the cache file system's own (c2c) operation; forces the times of a replayed record's new
 * versions; appends the KML record (ctx KML flag); writes last_rcvd (ctx EXPECT flag); commits;
 * then tells lento of the new KML range. Removals (unlink, rmdir, a shrinking truncate) and the
 * CLOSE of a release may use the removal reserve, so they work on a full fileset.
 * Invariants: nothing between tr_start and tr_commit blocks (`noblock` panics if it would: ext3's
 * running handle belongs to the super block); an operation that fails writes no record; one that
 * succeeds has its records written whole (their blocks were reserved before it started).
 */
import { d_inode_of } from '../../kernel/dcache.ts';
import { assert, panic } from '../../kernel/assert.ts';
import { EIO, ENAMETOOLONG, ENOSPC, EROFS, isErr, type Errno } from '../../kernel/errno.ts';
import {
  ATTR_CTIME,
  ATTR_GID,
  ATTR_MODE,
  ATTR_MTIME,
  ATTR_SIZE,
  ATTR_UID,
  PATH_MAX,
  S_ISLNK,
  S_ISREG,
  type Dentry,
  type Iattr,
  type Inode,
  type InodeOperations,
} from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import type { Timespec } from '../../kernel/types.ts';
import { kml_appends, presto_in_trans, presto_release_close, type LogSpace, type PrestoOp } from './journal_ops.ts';
import { presto_kml_truncate } from './kml_trunc.ts';
import {
  credsOf,
  izo_rcvd_append,
  izo_rcvd_slot,
  izo_rcvd_write,
  presto_clear_lml_close,
  presto_kml_dispatch,
  presto_log,
  type RecInfo,
} from './journal.ts';
import { presto_d2d, presto_getversion, presto_path, PRESTO_ATTR, PRESTO_DATA, type Fileset } from './intermezzo_fs.ts';
import { presto_complete_lml } from './fileset.ts';
import {
  kml_size, KML_RELOG_PID, type KmlBody, type KmlCreds, type KmlOp, type PrestoVersion, type RcvdRecord, type Rollback,
} from './kml.ts';

/** lento_vfs_context flags. */
export const LENTO_FL_KML = 0x1;
export const LENTO_FL_EXPECT = 0x2;
export const LENTO_FL_IGNORE_TIME = 0x4;

export interface LentoVfsContext {
  flags: number;
  /** Replaying: the record's new versions, to force on the parent (or source parent) and object. */
  readonly parent?: PrestoVersion;
  readonly parent2?: PrestoVersion;
  readonly object?: PrestoVersion;
  /** Replaying: the record's credentials, for the re-logged record. */
  readonly creds?: KmlCreds;
  /** Replaying: the peer's last_rcvd record to write (local recno/offset are filled in here). */
  readonly rcvd?: RcvdRecord;
  /** Out: the KML record this operation wrote. */
  rec?: RecInfo;
}

export const USER_CONTEXT = (): LentoVfsContext => ({ flags: LENTO_FL_KML });

/**
 * A record a change will log, known before the change is made: its opcode and its strings in the
 * layout's order. Its size is then known exactly, so its blocks can be reserved first.
 */
export type Planned = readonly [KmlOp, ...string[]];

/**
 * Can the records be logged? A path or name of PATH_MAX bytes or more cannot: the receiver's system
 * calls would refuse it (the original's presto_path cut such a path silently at a page).
 */
export function presto_loggable(ctx: LentoVfsContext, planned: readonly Planned[]): 0 | Errno {
  if ((ctx.flags & LENTO_FL_KML) === 0) return 0;
  return planned.some(([, ...strs]) => strs.some((s) => s.length >= PATH_MAX)) ? ENAMETOOLONG : 0;
}

/**
 * The common frame: check that the records can be logged (ENAMETOOLONG for a path the KML cannot
 * carry; a pending close the LML still holds goes first), reserve their space, open the
 * transaction, run `op` (the cache change, returning the records to log or an errno), log them,
 * update last_rcvd, commit, dispatch. `reserve`: a removal, which may use the removal reserve.
 */
export function* presto_trans(
  fset: Fileset,
  what: PrestoOp,
  ctx: LentoVfsContext,
  p: Process,
  planned: readonly Planned[],
  op: () => Sys<KmlBody[] | Errno>,
  reserve = false,
  held = 0,
): Sys<0 | Errno> {
  const logging = (ctx.flags & LENTO_FL_KML) !== 0;
  const refuse = (e: Errno): Errno => {
    presto_release_close(fset.cache, held);
    return e;
  };
  const loggable = presto_loggable(ctx, planned);
  if (isErr(loggable)) return refuse(loggable);
  if (logging && fset.lml_deferred) {
    // Closes a full disk kept out of the KML at mount come before any later record; a change
    // that cannot follow them is refused (removals, which make room, go ahead).
    const c = yield* presto_complete_lml(fset, fset.cache.kproc);
    if ((isErr(c) || fset.lml_deferred) && !reserve) return refuse(ENOSPC);
  }
  const ngroups = (ctx.creds ?? credsOf(p)).groups.length;
  const sizes = logging ? planned.map(([o, ...strs]) => kml_size(o, ngroups, strs)) : [];
  const rcvd = (ctx.flags & LENTO_FL_EXPECT) !== 0 && ctx.rcvd !== undefined;
  const space: LogSpace = {
    writes: () => [...kml_appends(fset, sizes), ...(rcvd ? [izo_rcvd_append(fset)] : [])],
    reserve,
    held,
  };
  const before = fset.kml.recno;
  const r = yield* presto_in_trans(fset, what, () => body(fset, ctx, p, sizes, op), space);
  if (isErr(r)) {
    // A refused change leaves no record (an I/O error may have aborted the journal part-way).
    assert(r === EIO || r === EROFS || fset.kml.recno === before,
      () => `presto: a ${what} that failed (${r}) logged ${fset.kml.recno - before} records`);
    return r;
  }
  // A change made is logged exactly as planned: never more records than planned, none when not logging.
  assert(fset.kml.recno - before <= (logging ? planned.length : 0),
    () => `presto: a ${what} logged ${fset.kml.recno - before} records, ${logging ? planned.length : 0} planned`);
  yield* presto_kml_dispatch(fset);
  yield* presto_kml_truncate(fset, p);
  return 0;
}

function* body(
  fset: Fileset,
  ctx: LentoVfsContext,
  p: Process,
  sizes: readonly number[],
  op: () => Sys<KmlBody[] | Errno>,
): Sys<0 | Errno> {
  const records = yield* op();
  if (isErr(records)) return records;
  if ((ctx.flags & LENTO_FL_KML) !== 0) {
    const creds = yield* logCreds(fset, ctx, p);
    if (isErr(creds)) return creds;
    assert(records.length <= sizes.length, () => `presto: ${records.length} records, ${sizes.length} planned`);
    for (const [i, rec] of records.entries()) {
      const r = yield* presto_log(fset, rec, creds, p, sizes[i]);
      if (isErr(r)) return r;
      ctx.rec = r;
    }
  }
  if ((ctx.flags & LENTO_FL_EXPECT) !== 0 && ctx.rcvd !== undefined) {
    const local = { local_recno: fset.kml.recno, local_offset: fset.kml.offset + fset.kml_logical_off };
    const w = yield* izo_rcvd_write(fset, { ...ctx.rcvd, ...local }, p);
    if (isErr(w)) return w;
  }
  return 0;
}

/** The credentials a record is logged with; a re-logged one names its origin's slot (KML_RELOG_PID). */
function* logCreds(fset: Fileset, ctx: LentoVfsContext, p: Process): Sys<KmlCreds | Errno> {
  if (ctx.creds === undefined) return credsOf(p);
  if ((ctx.flags & LENTO_FL_EXPECT) === 0 || ctx.rcvd === undefined) return ctx.creds;
  const slot = yield* izo_rcvd_slot(fset, ctx.rcvd.uuid, p);
  return isErr(slot) ? slot : { ...ctx.creds, pid: KML_RELOG_PID + slot };
}

const ts = (sec: number, nsec: number): Timespec => ({ sec, nsec });

/** Replaying: give `inode` the times of the record's new version, so replicas agree on versions. */
export function* force_times(inode: Inode, v: PrestoVersion | undefined, ctx: LentoVfsContext): Sys<0 | Errno> {
  if (v === undefined || (ctx.flags & LENTO_FL_IGNORE_TIME) !== 0) return 0;
  return yield* set_times(inode, v);
}

/** Give `inode` the mtime and ctime of `v` and write it back. */
function* set_times(inode: Inode, v: PrestoVersion): Sys<0 | Errno> {
  inode.i_mtime = ts(v.mtime_sec, v.mtime_nsec);
  inode.i_ctime = ts(v.ctime_sec, v.ctime_nsec);
  const write = inode.i_sb.s_op.write_inode;
  return write === undefined ? 0 : yield* write(inode, false);
}

const later = (as: number, an: number, bs: number, bn: number): boolean => as > bs || (as === bs && an > bn);

/**
 * The version a replay gives a parent directory: each time is the later of the directory's here and
 * the record's new one. Directories are certified by meaning (two nodes adding or removing
 * different names in one is no conflict), so the rule must give the same result in any order, and
 * the later-of rule does. It is also what the origin has when nothing changed here: a local change
 * never moves a directory's times back (`keep_parent_monotonic`), so the record's new version is
 * never earlier than the one it saw, which is this directory's unless it changed here too. (The
 * original forced the record's version whatever had happened here. An earlier version of this rule
 * forced it whenever the times here equalled the record's old ones, which ext3's whole seconds
 * cannot tell from a concurrent change in the same second: with skewed clocks replicas diverged.)
 */
export function merge_parent(before: PrestoVersion, nu: PrestoVersion): PrestoVersion {
  const m = later(before.mtime_sec, before.mtime_nsec, nu.mtime_sec, nu.mtime_nsec) ? before : nu;
  const c = later(before.ctime_sec, before.ctime_nsec, nu.ctime_sec, nu.ctime_nsec) ? before : nu;
  const { mtime_sec, mtime_nsec } = m;
  const { ctime_sec, ctime_nsec } = c;
  return { mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, size: nu.size };
}

/**
 * A local change to a fileset directory never moves its times back: on a node whose clock is
 * behind the one that last changed it, it keeps the later times (Linux would take the earlier
 * clock's). So every replica's directory times only grow, and the later-of merge above is exact.
 */
function* keep_parent_monotonic(inode: Inode, before: PrestoVersion): Sys<0 | Errno> {
  const now = presto_getversion(inode);
  const back = later(before.mtime_sec, before.mtime_nsec, now.mtime_sec, now.mtime_nsec) ||
    later(before.ctime_sec, before.ctime_nsec, now.ctime_sec, now.ctime_nsec);
  return back ? yield* set_times(inode, merge_parent(before, now)) : 0;
}

/**
 * A parent directory's times after a change: a replay's merged with the record's (see
 * merge_parent); a local change's kept from going back (see keep_parent_monotonic). `before` is the
 * directory's version before the change.
 */
function* force_parent(
  inode: Inode,
  before: PrestoVersion,
  nu: PrestoVersion | undefined,
  ctx: LentoVfsContext,
): Sys<0 | Errno> {
  if (nu === undefined) return yield* keep_parent_monotonic(inode, before);
  return yield* force_times(inode, merge_parent(before, nu), ctx);
}

/** Replaying: an object that took its directory's ctime takes the forced one. */
function* force_ctime(inode: Inode, v: PrestoVersion | undefined, ctx: LentoVfsContext): Sys<0 | Errno> {
  if (v === undefined || (ctx.flags & LENTO_FL_IGNORE_TIME) !== 0) return 0;
  inode.i_ctime = ts(v.ctime_sec, v.ctime_nsec);
  const write = inode.i_sb.s_op.write_inode;
  return write === undefined ? 0 : yield* write(inode, false);
}

function newObject(fset: Fileset, d: Dentry): Inode {
  const inode = d_inode_of(d);
  fset.cache.filter.filter_inode(inode);
  fset.cache.filter.filter_dentry(d);
  presto_d2d(d).flags = PRESTO_ATTR | PRESTO_DATA;
  return inode;
}

function lower(fset: Fileset, dir: Inode): InodeOperations {
  return fset.cache.filter.c2c_iops(dir);
}

type Creator = (dir: Inode, d: Dentry) => Sys<0 | Errno>;

/** What every record of a new name carries: the parent before and after, the object, its path. */
interface NewName {
  readonly old_parent: PrestoVersion;
  readonly new_parent: PrestoVersion;
  readonly new_object: PrestoVersion;
  readonly path: string;
}

/** The new object's mode and owner (CREATE, MKDIR, MKNOD). */
function owner(inode: Inode): { mode: number; uid: number; gid: number } {
  return { mode: inode.i_mode, uid: inode.i_uid, gid: inode.i_gid };
}

/** create, mkdir, mknod, symlink: make the object, force times, describe it. */
function* presto_do_new(
  fset: Fileset,
  what: PrestoOp,
  dir: Dentry,
  d: Dentry,
  ctx: LentoVfsContext,
  p: Process,
  make: Creator,
  describe: (n: NewName, inode: Inode) => KmlBody,
  plan: (path: string) => Planned,
): Sys<0 | Errno> {
  const dirInode = d_inode_of(dir);
  const old_parent = presto_getversion(dirInode);
  const path = presto_path(d, fset.root);
  return yield* presto_trans(fset, what, ctx, p, [plan(path)], function* () {
    const r = yield* make(dirInode, d);
    if (isErr(r)) return r;
    const inode = newObject(fset, d);
    const f1 = yield* force_parent(dirInode, old_parent, ctx.parent, ctx);
    const f2 = yield* force_times(inode, ctx.object, ctx);
    if (isErr(f1) || isErr(f2)) return isErr(f1) ? f1 : (f2 as Errno);
    const n = {
      old_parent,
      new_parent: presto_getversion(dirInode),
      new_object: presto_getversion(inode),
      path,
    };
    return [describe(n, inode)];
  });
}

export function* presto_do_create(
  fset: Fileset,
  dir: Dentry,
  d: Dentry,
  mode: number,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const create = lower(fset, d_inode_of(dir)).create;
  if (create === undefined) return panic('presto: cache directory without create');
  return yield* presto_do_new(
    fset,
    'create',
    dir,
    d,
    ctx,
    p,
    (di, de) => create(di, de, mode, p),
    (n, inode) => ({ op: 'CREATE', ...n, ...owner(inode) }),
    (path) => ['CREATE', path],
  );
}

export function* presto_do_mkdir(
  fset: Fileset,
  dir: Dentry,
  d: Dentry,
  mode: number,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const mkdir = lower(fset, d_inode_of(dir)).mkdir;
  if (mkdir === undefined) return panic('presto: cache directory without mkdir');
  return yield* presto_do_new(
    fset,
    'mkdir',
    dir,
    d,
    ctx,
    p,
    (di, de) => mkdir(di, de, mode, p),
    (n, inode) => ({ op: 'MKDIR', ...n, ...owner(inode) }),
    (path) => ['MKDIR', path],
  );
}

export function* presto_do_mknod(
  fset: Fileset,
  dir: Dentry,
  d: Dentry,
  mode: number,
  rdev: number,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const mknod = lower(fset, d_inode_of(dir)).mknod;
  if (mknod === undefined) return panic('presto: cache directory without mknod');
  return yield* presto_do_new(
    fset,
    'mknod',
    dir,
    d,
    ctx,
    p,
    (di, de) => mknod(di, de, mode, rdev, p),
    (n, inode) => ({ op: 'MKNOD', ...n, ...owner(inode), major: (rdev >>> 8) & 0xff, minor: rdev & 0xff }),
    (path) => ['MKNOD', path],
  );
}

export function* presto_do_symlink(
  fset: Fileset,
  dir: Dentry,
  d: Dentry,
  target: string,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const symlink = lower(fset, d_inode_of(dir)).symlink;
  if (symlink === undefined) return panic('presto: cache directory without symlink');
  return yield* presto_do_new(
    fset,
    'symlink',
    dir,
    d,
    ctx,
    p,
    (di, de) => symlink(di, de, target, p),
    (n, inode) => ({ op: 'SYMLINK', ...n, uid: inode.i_uid, gid: inode.i_gid, target }),
    (path) => ['SYMLINK', path, target],
  );
}

export function* presto_do_link(
  fset: Fileset,
  old: Dentry,
  dir: Dentry,
  d: Dentry,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const link = lower(fset, d_inode_of(dir)).link;
  if (link === undefined) return panic('presto: cache directory without link');
  const source = presto_path(old, fset.root);
  return yield* presto_do_new(
    fset,
    'link',
    dir,
    d,
    ctx,
    p,
    (di, de) => link(old, di, de, p),
    (n) => ({ op: 'LINK', ...n, source }),
    (path) => ['LINK', source, path],
  );
}

function rollbackOf(inode: Inode): Rollback {
  return { mode: inode.i_mode, rdev: inode.i_rdev, uid: inode.i_uid, gid: inode.i_gid };
}

/** unlink and rmdir: remember what goes, remove it, describe it. */
export function* presto_do_unlink(
  fset: Fileset,
  dir: Dentry,
  d: Dentry,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const dirInode = d_inode_of(dir);
  const inode = d_inode_of(d);
  const unlink = lower(fset, dirInode).unlink;
  if (unlink === undefined) return panic('presto: cache directory without unlink');
  const old_parent = presto_getversion(dirInode);
  const old_object = presto_getversion(inode);
  const rollback = rollbackOf(inode);
  let old_target = '';
  if (S_ISLNK(inode.i_mode)) {
    const rl = lower(fset, inode).readlink;
    const t = rl === undefined ? '' : yield* rl(d);
    old_target = isErr(t) ? '' : t;
  }
  const path = presto_path(dir, fset.root);
  const planned: Planned = ['UNLINK', path, d.d_name, old_target];
  return yield* presto_trans(fset, 'unlink', ctx, p, [planned], function* () {
    const r = yield* unlink(dirInode, d, p);
    if (isErr(r)) return r;
    const f = yield* force_parent(dirInode, old_parent, ctx.parent, ctx);
    if (isErr(f)) return f;
    // A file that keeps other names took the directory's ctime: so it does on a replica (and here,
    // the directory's as kept from going back).
    const g = inode.i_nlink > 0 ? yield* force_ctime(inode, ctx.parent ?? presto_getversion(dirInode), ctx) : 0;
    if (isErr(g)) return g;
    const new_parent = presto_getversion(dirInode);
    return [{ op: 'UNLINK', old_parent, new_parent, old_object, rollback, path, name: d.d_name, old_target }];
  }, true);
}

export function* presto_do_rmdir(
  fset: Fileset,
  dir: Dentry,
  d: Dentry,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const dirInode = d_inode_of(dir);
  const inode = d_inode_of(d);
  const rmdir = lower(fset, dirInode).rmdir;
  if (rmdir === undefined) return panic('presto: cache directory without rmdir');
  const old_parent = presto_getversion(dirInode);
  const old_object = presto_getversion(inode);
  const rollback = rollbackOf(inode);
  const path = presto_path(dir, fset.root);
  return yield* presto_trans(fset, 'rmdir', ctx, p, [['RMDIR', path, d.d_name]], function* () {
    const r = yield* rmdir(dirInode, d, p);
    if (isErr(r)) return r;
    const f = yield* force_parent(dirInode, old_parent, ctx.parent, ctx);
    if (isErr(f)) return f;
    return [
      { op: 'RMDIR', old_parent, new_parent: presto_getversion(dirInode), old_object, rollback, path, name: d.d_name },
    ];
  }, true);
}

export function* presto_do_rename(
  fset: Fileset,
  oldDir: Dentry,
  old: Dentry,
  newDir: Dentry,
  target: Dentry,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const od = d_inode_of(oldDir);
  const nd = d_inode_of(newDir);
  const rename = lower(fset, od).rename;
  if (rename === undefined) return panic('presto: cache directory without rename');
  const old_source_parent = presto_getversion(od);
  const old_target_parent = presto_getversion(nd);
  const source = presto_path(old, fset.root);
  const path = presto_path(target, fset.root);
  const victim = target.d_inode;
  const moved = d_inode_of(old);
  return yield* presto_trans(fset, 'rename', ctx, p, [['RENAME', source, path]], function* () {
    const r = yield* rename(od, old, nd, target, p);
    if (isErr(r)) return r;
    const f1 = yield* force_parent(od, old_source_parent, ctx.parent, ctx);
    const f2 = od === nd ? 0 : yield* force_parent(nd, old_target_parent, ctx.parent2, ctx);
    if (isErr(f1) || isErr(f2)) return isErr(f1) ? f1 : (f2 as Errno);
    // A replaced file that keeps other names took the target directory's ctime.
    const survivor = victim !== null && victim.i_nlink > 0 ? victim : null;
    // Replaying, the record's target directory version; here, the target's as kept from going back.
    const took = (od === nd ? ctx.parent : ctx.parent2) ?? presto_getversion(nd);
    const f3 = survivor === null ? 0 : yield* force_ctime(survivor, took, ctx);
    if (isErr(f3)) return f3;
    // The moved object took the time of the rename as its ctime, as the target directory did.
    const f4 = yield* force_ctime(moved, took, ctx);
    if (isErr(f4)) return f4;
    return [
      {
        op: 'RENAME',
        old_source_parent,
        new_source_parent: presto_getversion(od),
        old_target_parent,
        new_target_parent: presto_getversion(nd),
        source,
        path,
      },
    ];
  });
}

/** A CLOSE record for `d` (open credentials from `open`, versions at open and now). */
export function closeBody(
  fset: Fileset,
  d: Dentry,
  open: { mode: number; uid: number; gid: number },
  old_object: PrestoVersion,
  path = presto_path(d, fset.root),
): KmlBody {
  const inode = d_inode_of(d);
  return {
    op: 'CLOSE',
    open_mode: open.mode,
    open_uid: open.uid,
    open_gid: open.gid,
    old_object,
    new_object: presto_getversion(inode),
    ino: inode.i_ino,
    generation: inode.i_generation,
    path,
  };
}

/** Blocks beyond which a truncate is done before the logged transaction (it would not fit one). */
const BIG_TRUNCATE_BLOCKS = 64;

export function* presto_do_setattr(
  fset: Fileset,
  d: Dentry,
  attr: Iattr,
  ctx: LentoVfsContext,
  p: Process,
): Sys<0 | Errno> {
  const inode = d_inode_of(d);
  const setattr = lower(fset, inode).setattr;
  if (setattr === undefined) return panic('presto: cache inode without setattr');
  const old_object = presto_getversion(inode);
  const rollback = rollbackOf(inode);
  const truncating = (attr.ia_valid & ATTR_SIZE) !== 0 && S_ISREG(inode.i_mode);
  const size = attr.ia_size ?? inode.i_size;
  const path = presto_path(d, fset.root);
  // A truncation is a data change: a CLOSE first, so receivers fetch what the file held. A replayed
  // truncation logs none: its origin logged that CLOSE as a record of its own, replayed before it,
  // and each replayed record re-logs exactly one (a server forwarding its log relies on it).
  const closing = truncating && (ctx.flags & LENTO_FL_EXPECT) === 0;
  const planned: Planned[] = closing ? [['CLOSE', path], ['SETATTR', path]] : [['SETATTR', path]];
  const loggable = presto_loggable(ctx, planned);
  if (isErr(loggable)) return loggable;
  // Shrinking a file frees space: like a removal, it may use the removal reserve.
  const shrinking = truncating && size < inode.i_size;
  if (shrinking && inode.i_blocks / (inode.i_sb.s_blocksize / 512) > BIG_TRUNCATE_BLOCKS) {
    // Freeing many blocks takes many handles (ext3 truncates in steps); do it first, then log.
    const pre = yield* setattr(d, { ia_valid: ATTR_SIZE, ia_size: size }, p);
    if (isErr(pre)) return pre;
  }
  return yield* presto_trans(fset, truncating ? 'truncate' : 'setattr', ctx, p, planned, function* () {
    const records: KmlBody[] = [];
    if (closing) {
      const open = { mode: inode.i_mode, uid: inode.i_uid, gid: inode.i_gid };
      records.push(closeBody(fset, d, open, old_object, path));
    }
    const r = yield* setattr(d, attr, p);
    if (isErr(r)) return r;
    const f = yield* force_setattr_times(inode, attr, ctx);
    if (isErr(f)) return f;
    const valid = attr.ia_valid & (ATTR_MODE | ATTR_UID | ATTR_GID | ATTR_SIZE | ATTR_MTIME | ATTR_CTIME);
    records.push({
      op: 'SETATTR',
      old_object,
      valid,
      mode: attr.ia_mode ?? 0,
      uid: attr.ia_uid ?? 0,
      gid: attr.ia_gid ?? 0,
      size: (attr.ia_valid & ATTR_SIZE) !== 0 ? size : 0,
      mtime: inode.i_mtime.sec,
      ctime: inode.i_ctime.sec,
      flags: 0,
      rollback,
      path,
    });
    return records;
  }, shrinking);
}

/** Replaying a SETATTR: its mtime and ctime fields are the times to force (whole seconds). */
function* force_setattr_times(inode: Inode, attr: Iattr, ctx: LentoVfsContext): Sys<0 | Errno> {
  if (ctx.object === undefined) return 0;
  const v = ctx.object;
  const mtime = (attr.ia_valid & ATTR_MTIME) !== 0 ? { sec: v.mtime_sec, nsec: v.mtime_nsec } : inode.i_mtime;
  return yield* force_times(inode, { ...v, mtime_sec: mtime.sec, mtime_nsec: mtime.nsec }, ctx);
}

/** A pending close with nothing to log: cancel its LML record (and let go of its CLOSE's hold). */
export function* presto_cancel_lml(fset: Fileset, lml_offset: number, held: number, p: Process): Sys<0 | Errno> {
  if (lml_offset < 0) {
    presto_release_close(fset.cache, held);
    return 0;
  }
  const space = { writes: () => [], held };
  return yield* presto_in_trans(fset, 'lml', () => presto_clear_lml_close(fset, lml_offset, p), space);
}

/**
 * Log a CLOSE (the file's data changed since `old_object`), in its own transaction, and cancel
 * the LML record that stood for it. Nothing is logged for a file with no names left. `held`: a
 * release, with the blocks held for this CLOSE since the first write; it may use the removal
 * reserve too (a CLOSE must not be lost).
 */
export function* presto_do_close(
  fset: Fileset,
  d: Dentry,
  open: { mode: number; uid: number; gid: number; creds: KmlCreds },
  old_object: PrestoVersion,
  lml_offset: number,
  ctx: LentoVfsContext,
  p: Process,
  held = 0,
): Sys<0 | Errno> {
  const inode = d_inode_of(d);
  // The file has no names left: nothing to propagate, but its pending close must not linger.
  if (inode.i_nlink === 0 || d.unhashed) return yield* presto_cancel_lml(fset, lml_offset, held, p);
  const withCreds: LentoVfsContext = { ...ctx, creds: ctx.creds ?? open.creds };
  const path = presto_path(d, fset.root);
  const r = yield* presto_trans(fset, 'close', withCreds, p, [['CLOSE', path]], function* () {
    if (lml_offset >= 0) {
      const c = yield* presto_clear_lml_close(fset, lml_offset, p);
      if (isErr(c)) return c;
    }
    return [closeBody(fset, d, open, old_object, path)];
  }, held > 0, held);
  if (withCreds.rec !== undefined) ctx.rec = withCreds.rec;
  return r;
}
