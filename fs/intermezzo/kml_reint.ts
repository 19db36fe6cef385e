/**
 * kml_reint.ts: replaying one peer's KML record into this replica (Linux fs/intermezzo/kml_reint.c
 * and the replay half of vfs.c).
 *
 * Layer: fs (presto). Interface: `kml_reint(fset, req, p)` replays the one record in `req.record`
 * (sent by peer `req.uuid`, found at logical offset `req.offset` of its KML) as the REINTKML ioctl
 * asks, and says what happened: applied (with the local record it produced, if re-logged), a
 * duplicate or out-of-order record (by the peer's last_rcvd record), or a conflict of class NAME
 * (name/name), UPDATE (update/update), DELETE (update/delete), RENAME (rename/rename) or NOTEMPTY
 * (removing a directory that is not empty here). Before
 * anything is applied, the record's old versions are compared with the local objects (mtime, and
 * size for non-directories); on any mismatch nothing is applied and last_rcvd does not move (a
 * policy in user space decides; `REINT_FORCE` applies regardless, `REINT_OVERRIDE` too but re-logs
 * the version it overwrote, `REINT_MERGE` merges a NAME conflict of like objects). A record is applied through the
 * ordinary system calls by a replay process with the record's credentials and the fileset root as
 * root and cwd, with a replay context (dir.ts) so presto_do_X forces the record's new times, writes
 * last_rcvd in the same transaction and re-logs only with `REINT_RELOG` (a server forwarding).
 * A CLOSE in replication mode sends the synchronous BACKFETCH upcall first (lento fetches the bytes
 * by the peer's inode and generation into the file) and advances last_rcvd only after; in
 * data-on-demand mode it sets size and times, records the remote inode and clears DATA. A CLOSE for
 * a file that is gone here is a DELETE conflict (the original let it pass: a silent loss).
 * Invariants: a record is applied at most once (recno strictly after last_rcvd's); either the
 * change and the last_rcvd update commit together or neither does.
 */
import { d_inode_of } from '../../kernel/dcache.ts';
import { isErr, type Errno, EINVAL, ENOENT } from '../../kernel/errno.ts';
import {
  ATTR_GID,
  ATTR_MODE,
  ATTR_MTIME,
  ATTR_MTIME_SET,
  ATTR_SIZE,
  ATTR_UID,
  S_IFBLK,
  S_IFCHR,
  S_IFDIR,
  S_IFIFO,
  S_IFLNK,
  S_IFMT,
  S_IFREG,
  S_IFSOCK,
  S_ISDIR,
  O_DIRECTORY,
  O_RDONLY,
  type Cred,
  type Dentry,
  type Iattr,
} from '../../kernel/fs.ts';
import {
  LOOKUP_FOLLOW,
  path_lookup,
  sys_link,
  sys_mkdir,
  sys_mknod,
  sys_rename,
  sys_rmdir,
  sys_symlink,
  sys_unlink,
} from '../../kernel/namei.ts';
import { notify_change, sys_close, sys_open } from '../../kernel/open.ts';
import { sys_getdents } from '../../kernel/readdir.ts';
import { Process } from '../../kernel/process.ts';
import { EMPTY_BODY, FILEID_SIZE, izo_fileid_encode, izo_upc_upcall, IZO_UPC_BACKFETCH } from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import { presto_set_reint } from './dir.ts';
import {
  IZO_DIR,
  presto_d2d,
  presto_getversion,
  presto_path,
  PRESTO_DATA,
  versions_match,
  type Fileset,
} from './intermezzo_fs.ts';
import { izo_rcvd_get } from './journal.ts';
import { noblock } from './journal_ops.ts';
import {
  isDamage, kml_decode, type CloseBody, type KmlRecord, type NoopBody, type PrestoVersion, type RcvdRecord,
  type RenameBody, type RmdirBody, type UnlinkBody,
} from './kml.ts';
import { FSET_DATA_ON_DEMAND } from './permit.ts';
import {
  closeBody, force_times, merge_parent, LENTO_FL_EXPECT, LENTO_FL_KML, presto_trans, type LentoVfsContext,
  type Planned,
} from './vfs.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'presto.reint': { fset: string; recno: number; op: string; path: string; outcome: string; detail: string };
  }
}

/** REINTKML flags. */
export const REINT_RELOG = 0x1;
export const REINT_FORCE = 0x2;
/**
 * Apply regardless of the checks, as an override: the re-logged record names the version it
 * overwrote here (a CLOSE's old version is the local one, not the record's), so a replica that holds
 * what was overwritten applies the re-logged record without a conflict. A policy's "remote wins".
 */
export const REINT_OVERRIDE = 0x4;
/**
 * A NAME conflict of a CREATE (MKDIR) onto a regular file (directory) already here: the names
 * merge. Nothing is made; the parent's times merge as for any new name, last_rcvd advances, and the
 * record is re-logged as it is (a replica holding the name merges it too). The contents, if they
 * differ, are the next CLOSE's concern. Refused (the conflict stands) for any other case.
 */
export const REINT_MERGE = 0x8;

export interface ReintRequest {
  readonly uuid: Uint8Array;
  /** One whole KML record, as the peer wrote it. */
  readonly record: Uint8Array;
  /** The record's logical offset in the peer's KML. */
  readonly offset: number;
  readonly flags: number;
}

export type ConflictClass = 'NAME' | 'UPDATE' | 'DELETE' | 'RENAME' | 'NOTEMPTY';

export type ReintResult =
  | { readonly kind: 'applied'; readonly recno: number; readonly local_recno: number }
  | { readonly kind: 'duplicate'; readonly recno: number; readonly last: number }
  | { readonly kind: 'out_of_order'; readonly recno: number; readonly expected: number }
  | {
      readonly kind: 'conflict';
      readonly cls: ConflictClass;
      readonly recno: number;
      readonly path: string;
      readonly reason: string;
    }
  | { readonly kind: 'bad_record'; readonly reason: string }
  | { readonly kind: 'error'; readonly errno: Errno; readonly recno: number };

type Check = { readonly cls: ConflictClass; readonly reason: string } | null;

function conflict(cls: ConflictClass, reason: string): Check {
  return { cls, reason };
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** A process rooted at the fileset's root (root and cwd), for replays and path arguments. */
export function presto_fset_process(fset: Fileset, pid: number, comm: string, cred: Cred): Process | null {
  const mnt = fset.cache.mnt;
  if (mnt === null) return null;
  const at = { mnt, dentry: fset.root };
  const rp = new Process(fset.cache.sb.s_kernel, pid, comm, cred, at, at);
  rp.umask = 0;
  return rp;
}

/** The replay process: the record's credentials, the fileset root as / and cwd, lento's pid. */
function replayProcess(fset: Fileset, rec: KmlRecord, p: Process): Process | null {
  const cred = {
    uid: rec.auid,
    gid: rec.fsgid,
    euid: rec.fsuid,
    egid: rec.fsgid,
    fsuid: rec.fsuid,
    fsgid: rec.fsgid,
    groups: [...rec.groups],
  };
  return presto_fset_process(fset, p.pid, 'kml_reint', cred);
}

function* lookupObj(rp: Process, path: string): Sys<Dentry | null> {
  const r = yield* path_lookup(rp, path, 0);
  return isErr(r) || r.dentry.d_inode === null ? null : r.dentry;
}

function vstr(v: PrestoVersion): string {
  return `mtime ${v.mtime_sec}.${v.mtime_nsec} size ${v.size}`;
}

function mismatch(d: Dentry, want: PrestoVersion): string | null {
  const inode = d_inode_of(d);
  const have = presto_getversion(inode);
  return versions_match(have, want, S_ISDIR(inode.i_mode)) ? null : `has ${vstr(have)}, record expects ${vstr(want)}`;
}

/** The parent of `path` exists here; else a conflict of `cls` (an update in a removed directory). */
function* checkParentExists(rp: Process, path: string, cls: ConflictClass): Sys<Check> {
  const dir = yield* lookupObj(rp, dirname(path));
  return dir === null ? conflict(cls, `directory ${dirname(path)} is gone here`) : null;
}

/** Is the directory at `path` empty (nothing but . and ..), as the replay process reads it? */
function* emptyDir(rp: Process, path: string): Sys<boolean> {
  const fd = yield* sys_open(rp, path, O_RDONLY | O_DIRECTORY);
  if (isErr(fd)) return false;
  const ents = yield* sys_getdents(rp, fd, 3);
  yield* sys_close(rp, fd);
  return !isErr(ents) && ents.every((e) => e.d_name === '.' || e.d_name === '..');
}

/** A directory's attributes as a SETATTR record last saw them (its rollback), not its times. */
function dirAttrsMismatch(d: Dentry, rb: { mode: number; uid: number; gid: number }): string | null {
  const i = d_inode_of(d);
  if (i.i_mode === rb.mode && i.i_uid === rb.uid && i.i_gid === rb.gid) return null;
  return `has mode ${i.i_mode.toString(8)} owner ${i.i_uid}:${i.i_gid}, record expects ` +
    `${rb.mode.toString(8)} ${rb.uid}:${rb.gid}`;
}

/**
 * What replaying `rec` here means: apply it, skip it as already done (its result is already here:
 * a removal of a name already removed), or a conflict. Directories are certified by meaning, as
 * Coda's are: a parent directory changed here is no conflict by itself (two nodes adding or removing
 * different names in one directory converge); a name that exists, an object updated here, a
 * directory that is not empty here, a source or parent that is gone, are.
 */
function* reint_check(rp: Process, rec: KmlRecord): Sys<Check | 'done'> {
  const b = rec.body;
  switch (b.op) {
    case 'NOOP':
      return null;
    case 'CREATE':
    case 'MKDIR':
    case 'MKNOD':
    case 'SYMLINK':
    case 'LINK': {
      if (b.op === 'LINK' && (yield* lookupObj(rp, b.source)) === null) {
        return conflict('DELETE', `link source ${b.source} is gone here`);
      }
      if ((yield* lookupObj(rp, b.path)) !== null) return conflict('NAME', `${b.path} exists here`);
      return yield* checkParentExists(rp, b.path, 'DELETE');
    }
    case 'UNLINK':
    case 'RMDIR':
      return yield* removalCheck(rp, b);
    case 'RENAME':
      return yield* renameCheck(rp, b);
    case 'SETATTR':
    case 'CLOSE': {
      const d = yield* lookupObj(rp, b.path);
      // Replayed in order, a record of the sender's only finds its object gone when it was removed or
      // renamed here: a CLOSE too is then an update of something deleted (the original let it pass).
      if (d === null) return conflict('DELETE', `${b.path} is gone here`);
      const dir = S_ISDIR((d_inode_of(d)).i_mode);
      const m = b.op === 'SETATTR' && dir ? dirAttrsMismatch(d, b.rollback) : mismatch(d, b.old_object);
      return m === null ? null : conflict('UPDATE', `${b.path} was updated here: ${m}`);
    }
    case 'LML_CLOSE':
      return conflict('UPDATE', 'an LML record is not a change');
  }
}

function* removalCheck(rp: Process, b: UnlinkBody | RmdirBody): Sys<Check | 'done'> {
  const path = join(b.path, b.name);
  const d = yield* lookupObj(rp, path);
  if (d === null) return 'done'; // removed here too: the same result, nothing to do
  if (b.op === 'RMDIR') {
    return (yield* emptyDir(rp, path)) ? null : conflict('NOTEMPTY', `directory ${path} is not empty here`);
  }
  const m = mismatch(d, b.old_object);
  return m === null ? null : conflict('DELETE', `${path} was updated here: ${m}`);
}

function* renameCheck(rp: Process, b: RenameBody): Sys<Check> {
  if ((yield* lookupObj(rp, b.source)) === null) return conflict('RENAME', `${b.source} is gone here`);
  const gone = yield* checkParentExists(rp, b.path, 'RENAME');
  if (gone !== null) return gone;
  // The target parent as the record saw it: whatever the target was there, it is here too.
  const target = yield* lookupObj(rp, b.path);
  if (target === null) return null;
  const dir = yield* lookupObj(rp, dirname(b.path));
  const m = dir === null ? 'gone' : mismatch(dir, b.old_target_parent);
  return m === null ? null : conflict('NAME', `rename target ${b.path} exists here and its directory changed: ${m}`);
}

/**
 * A record names paths from the fileset root: each must be absolute, without '.', '..' or empty
 * components, and (for a fileset rooted at the cache's root) never inside /.intermezzo, where a
 * replayed change would land in presto's own logs. What is wrong, or null.
 */
function badPaths(rec: KmlRecord, atCacheRoot: boolean): string | null {
  const b = rec.body;
  const paths: string[] = ['path' in b ? b.path : '/'];
  if (b.op === 'LINK' || b.op === 'RENAME') paths.push(b.source);
  if (b.op === 'UNLINK' || b.op === 'RMDIR') paths.push(`${b.path === '/' ? '' : b.path}/${b.name}`);
  for (const path of paths) {
    if (!path.startsWith('/')) return `path '${path}' is not absolute`;
    const parts = path === '/' ? [] : path.slice(1).split('/');
    if (parts.some((c) => c === '' || c === '.' || c === '..')) return `path '${path}' has an empty, '.' or '..' part`;
    if (atCacheRoot && parts[0] === IZO_DIR) return `path '${path}' is inside /${IZO_DIR}`;
  }
  return null;
}

/** Replay `req`'s record into `fset`. */
export function* kml_reint(fset: Fileset, req: ReintRequest, p: Process): Sys<ReintResult> {
  const d = kml_decode(req.record, 0);
  if (isDamage(d)) return { kind: 'bad_record', reason: `${d.reason} at byte ${d.offset}` };
  if (d.len !== req.record.length)
    return { kind: 'bad_record', reason: `record is ${d.len} bytes, buffer ${req.record.length}` };
  const rec = d.rec;
  const bad = badPaths(rec, fset.root.isRoot);
  if (bad !== null) return { kind: 'bad_record', reason: bad };
  const r = yield* reint(fset, req, rec, p);
  const path = 'path' in rec.body ? rec.body.path : '';
  const detail = r.kind === 'conflict' ? `${r.cls}: ${r.reason}` : r.kind === 'error' ? String(r.errno) : '';
  fset.cache.sb.s_kernel.tracer.emit('presto.reint', {
    fset: fset.name,
    recno: rec.recno,
    op: rec.body.op,
    path,
    outcome: r.kind,
    detail,
  });
  return r;
}

function* reint(fset: Fileset, req: ReintRequest, rec: KmlRecord, p: Process): Sys<ReintResult> {
  const last = yield* izo_rcvd_get(fset, req.uuid, p);
  if (isErr(last)) return { kind: 'error', errno: last, recno: rec.recno };
  const lastRecno = last?.remote_recno ?? 0;
  if (rec.recno <= lastRecno) return { kind: 'duplicate', recno: rec.recno, last: lastRecno };
  if (rec.recno !== lastRecno + 1) return { kind: 'out_of_order', recno: rec.recno, expected: lastRecno + 1 };
  const rp = replayProcess(fset, rec, p);
  if (rp === null) return { kind: 'error', errno: EINVAL, recno: rec.recno };
  const forced = (req.flags & (REINT_FORCE | REINT_OVERRIDE)) !== 0;
  const c = forced ? null : yield* reint_check(rp, rec);
  const rcvd: RcvdRecord = {
    uuid: req.uuid,
    remote_recno: rec.recno,
    remote_offset: req.offset,
    local_recno: 0,
    local_offset: 0,
    last_ctime: rec.time,
  };
  const ctx: LentoVfsContext = {
    flags: LENTO_FL_EXPECT | ((req.flags & REINT_RELOG) !== 0 ? LENTO_FL_KML : 0),
    ...versionsOf(rec),
    creds: rec,
    rcvd,
  };
  if (c !== null && c !== 'done') {
    const merging = c.cls === 'NAME' && (req.flags & REINT_MERGE) !== 0;
    const merged = merging ? yield* reint_merge(fset, rec, ctx, rp, p) : null;
    if (merged === null) {
      // The object in conflict: for a removal, the entry (its record's path is the directory).
      const b = rec.body;
      const path = b.op === 'UNLINK' || b.op === 'RMDIR' ? join(b.path, b.name) : 'path' in b ? b.path : '';
      return { kind: 'conflict', cls: c.cls, recno: rec.recno, path, reason: c.reason };
    }
    if (isErr(merged)) return { kind: 'error', errno: merged, recno: rec.recno };
    return { kind: 'applied', recno: rec.recno, local_recno: fset.kml.recno };
  }
  const override = (req.flags & REINT_OVERRIDE) !== 0;
  const b = rec.body;
  const done = c === 'done' ? yield* lookupObj(rp, 'path' in b ? b.path : '/') : null;
  // A removal done here too is re-logged as itself: a third replica merges its directory's times too.
  const again = done !== null && (b.op === 'UNLINK' || b.op === 'RMDIR') ? b : null;
  const plan: Planned = again === null ? ['NOOP'] : again.op === 'UNLINK'
    ? ['UNLINK', again.path, again.name, again.old_target] : ['RMDIR', again.path, again.name];
  const applied =
    b.op === 'NOOP' || c === 'done'
      ? yield* presto_trans(fset, 'rcvd', ctx, p, [plan], function* () {
        // A removal done here too: the directory's times merge as for any change to it (both
        // sides removed the name at their own times; the later of each stands on both).
        const parent = done?.d_inode ?? null;
        if (parent !== null && ctx.parent !== undefined) {
          const f = yield* force_times(parent, merge_parent(presto_getversion(parent), ctx.parent), ctx);
          if (isErr(f)) return f;
        }
        return [again ?? NOOP];
      })
      : rec.body.op === 'CLOSE'
        ? yield* reint_close(fset, rec, req.record, ctx, rp, p, override)
        : yield* apply(rp, rec, ctx);
  if (isErr(applied)) return { kind: 'error', errno: applied, recno: rec.recno };
  return { kind: 'applied', recno: rec.recno, local_recno: fset.kml.recno };
}

/**
 * REINT_MERGE: a CREATE (MKDIR) onto a regular file (directory) of the same name here. The name
 * merges: the parent's times merge (merge_parent), last_rcvd advances and the record is re-logged
 * unchanged, in one transaction; null when the objects differ in type (the conflict stands).
 */
function* reint_merge(
  fset: Fileset,
  rec: KmlRecord,
  ctx: LentoVfsContext,
  rp: Process,
  p: Process,
): Sys<0 | Errno | null> {
  const b = rec.body;
  if (b.op !== 'CREATE' && b.op !== 'MKDIR') return null;
  const d = yield* lookupObj(rp, b.path);
  const dir = yield* lookupObj(rp, dirname(b.path));
  if (d === null || dir === null) return null;
  if ((d_inode_of(d).i_mode & S_IFMT) !== (b.op === 'CREATE' ? S_IFREG : S_IFDIR)) return null;
  const parent = d_inode_of(dir);
  return yield* presto_trans(fset, 'rcvd', ctx, p, [[b.op, b.path]], function* () {
    const f = yield* force_times(parent, merge_parent(presto_getversion(parent), b.new_parent), ctx);
    return isErr(f) ? f : [b];
  });
}

type Versions = Pick<LentoVfsContext, 'parent' | 'parent2' | 'object'>;

/** The new versions to force (parent or source parent, target parent, object). */
function versionsOf(rec: KmlRecord): Versions {
  const b = rec.body;
  switch (b.op) {
    case 'NOOP':
      return {};
    case 'CREATE':
    case 'MKDIR':
    case 'MKNOD':
    case 'SYMLINK':
    case 'LINK':
      return { parent: b.new_parent, object: b.new_object };
    case 'UNLINK':
    case 'RMDIR':
      return { parent: b.new_parent };
    case 'RENAME':
      return {
        parent: b.new_source_parent,
        parent2: b.new_target_parent,
      };
    case 'SETATTR': {
      const t = { mtime_sec: b.mtime, mtime_nsec: 0, ctime_sec: b.ctime, ctime_nsec: 0, size: b.size };
      return { object: t };
    }
    case 'CLOSE':
      return { object: b.new_object };
    case 'LML_CLOSE':
      return {};
  }
}

/** The record a replay that changes nothing re-logs, so every replayed record re-logs exactly one. */
const NOOP: NoopBody = { op: 'NOOP' };

const TYPE_OF_MODE: ReadonlySet<number> = new Set([S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK]);

/** Apply a namespace or attribute record through the system calls, with the replay context set. */
function* apply(rp: Process, rec: KmlRecord, ctx: LentoVfsContext): Sys<0 | Errno> {
  presto_set_reint(rp, ctx);
  const r = yield* applyOp(rp, rec);
  presto_set_reint(rp, null);
  return r;
}

function* applyOp(rp: Process, rec: KmlRecord): Sys<0 | Errno> {
  const b = rec.body;
  switch (b.op) {
    case 'CREATE':
      return yield* sys_mknod(rp, b.path, S_IFREG | (b.mode & 0o7777), 0);
    case 'MKDIR':
      return yield* sys_mkdir(rp, b.path, b.mode & 0o7777);
    case 'MKNOD': {
      if (!TYPE_OF_MODE.has(b.mode & S_IFMT)) return EINVAL;
      return yield* sys_mknod(rp, b.path, b.mode, ((b.major & 0xff) << 8) | (b.minor & 0xff));
    }
    case 'SYMLINK':
      return yield* sys_symlink(rp, b.target, b.path);
    case 'LINK':
      return yield* sys_link(rp, b.source, b.path);
    case 'UNLINK':
      return yield* sys_unlink(rp, join(b.path, b.name));
    case 'RMDIR':
      return yield* sys_rmdir(rp, join(b.path, b.name));
    case 'RENAME':
      return yield* sys_rename(rp, b.source, b.path);
    case 'SETATTR': {
      const d = yield* path_lookup(rp, b.path, 0);
      if (isErr(d)) return d;
      const attr: Iattr = { ia_valid: b.valid & (ATTR_MODE | ATTR_UID | ATTR_GID | ATTR_SIZE | ATTR_MTIME) };
      if ((b.valid & ATTR_MODE) !== 0) attr.ia_mode = b.mode;
      if ((b.valid & ATTR_UID) !== 0) attr.ia_uid = b.uid;
      if ((b.valid & ATTR_GID) !== 0) attr.ia_gid = b.gid;
      if ((b.valid & ATTR_SIZE) !== 0) attr.ia_size = b.size;
      if ((b.valid & ATTR_MTIME) !== 0) {
        attr.ia_valid |= ATTR_MTIME_SET;
        attr.ia_mtime = { sec: b.mtime, nsec: 0 };
      }
      return yield* notify_change(rp, d.dentry, attr);
    }
    case 'NOOP':
    case 'CLOSE':
    case 'LML_CLOSE':
      return EINVAL;
  }
}

/** The BACKFETCH upcall's record: the peer's inode and generation, then the CLOSE record itself. */
function backfetchRecord(b: CloseBody, bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(FILEID_SIZE + bytes.length);
  out.set(izo_fileid_encode({ ino: b.ino, generation: b.generation }));
  out.set(bytes, FILEID_SIZE);
  return out;
}

/**
 * A CLOSE: the data changed on the peer. Replication: lento fetches the bytes (BACKFETCH) into the
 * file; then size, times and last_rcvd commit together. On demand: set the size, force the times,
 * remember where the data is, and mark the data missing.
 */
function* reint_close(
  fset: Fileset,
  rec: KmlRecord,
  bytes: Uint8Array,
  ctx: LentoVfsContext,
  rp: Process,
  p: Process,
  override: boolean,
): Sys<0 | Errno> {
  const b = rec.body;
  if (b.op !== 'CLOSE') return EINVAL;
  const found = yield* path_lookup(rp, b.path, LOOKUP_FOLLOW);
  const d = isErr(found) ? null : found.dentry;
  const onDemand = (fset.flags & FSET_DATA_ON_DEMAND) !== 0;
  // What an override overwrites: the local version before the fetched bytes land in the file.
  const overwritten = override && d !== null && d.d_inode !== null ? presto_getversion(d.d_inode) : b.old_object;
  if (d !== null && !onDemand) {
    const body = {
      ...EMPTY_BODY,
      pid: p.pid,
      uid: rec.fsuid,
      fset: fset.name,
      path: b.path,
      length: b.new_object.size,
      firstRecno: rec.recno,
      lastRecno: rec.recno,
      record: backfetchRecord(b, bytes),
    };
    const r = yield* izo_upc_upcall(fset.psdev, fset.channel, IZO_UPC_BACKFETCH, body, { async: false });
    // ENOENT: the peer's inode is gone (a later record of its log removes or replaces it here too).
    if (isErr(r) && r !== ENOENT) return r;
  }
  const path = d === null ? '' : presto_path(d, fset.root);
  return yield* presto_trans(fset, 'close', ctx, p, [['CLOSE', path]], function* () {
    if (d === null || d.d_inode === null) return [NOOP]; // the file is gone: last_rcvd just advances
    const inode = d.d_inode;
    const setattr = fset.cache.filter.c2c_iops(inode).setattr;
    // On demand, the bytes here (fetched at an earlier open) are an older version's: drop them, so
    // the file has no blocks and the next open fetches this version (tr_all_data says it lacks data).
    if (onDemand && inode.i_size > 0) {
      if (setattr === undefined) return ENOENT;
      const z = noblock(setattr(d, { ia_valid: ATTR_SIZE, ia_size: 0 }, p), 'on-demand drop');
      if (isErr(z)) return z;
    }
    // The size of the version the record names (the bytes fetched may be a later version's).
    if (inode.i_size !== b.new_object.size) {
      if (setattr === undefined) return ENOENT;
      const s = noblock(setattr(d, { ia_valid: ATTR_SIZE, ia_size: b.new_object.size }, p), 'on-demand size');
      if (isErr(s)) return s;
    }
    if (onDemand) {
      const dd = presto_d2d(d);
      dd.remote_ino = b.ino;
      dd.remote_generation = b.generation;
      dd.flags &= ~PRESTO_DATA;
    }
    const f = yield* force_times(inode, ctx.object, ctx);
    if (isErr(f)) return f;
    return [closeBody(fset, d, { mode: inode.i_mode, uid: inode.i_uid, gid: inode.i_gid }, overwritten, path)];
  });
}
