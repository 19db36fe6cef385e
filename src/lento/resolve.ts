/**
 * resolve.ts: what lento does with a record that conflicts here, under the policy of its path.
 *
 * Layer: user space (lento). Interface: `resolveConflict(t, link, c)` is called by the applier
 * (peer.ts) for a REINTKML outcome of kind conflict and ends with the record's place in the
 * peer's log passed (true), or the session to end (false: the record is replayed again later).
 * Each end of a conflict sees it (a client replays the server's record over its own change, the
 * server the client's record over its state); both evaluate the same rule (policy.ts) on the same
 * two versions and reach the same decision, so they converge without talking:
 * - the remote version wins: the local one is audited (and under keep-both first saved as a copy,
 *   made by this node through records it re-logs: it alone holds the bytes), then the record is
 *   replayed with REINT_OVERRIDE (its re-logged copy names what it overwrote, so a third node that
 *   holds that follows without a conflict);
 * - the local version wins: the record is skipped with a NOOP (the peer keeps its version in its own
 *   audit log or as its own copy, when it replays ours);
 * - the same bytes on both sides are no conflict (Unison's false conflict): the policy still says
 *   whose times stand (so both ends agree), but nothing is reported, copied or audited;
 * - delete against modify, under every policy but manual: the deletion wins; the modified version
 *   is kept by the node that holds it (audited, and under keep-both saved as a copy);
 * - NAME of a CREATE onto a regular file (MKDIR onto a directory): the names merge (REINT_MERGE) and
 *   the contents are settled by the CLOSE records that follow, as an update conflict;
 * - anything else (NOTEMPTY, RENAME, a directory's attributes, a name over an object of another
 *   type, a create in a directory removed here), and everything under manual: parked, as before.
 * Copies are named by policy.ts's `copyName` and made with records injected through REINTKML from
 * lento's own resolver log (RESOLVER_UUID: presto keeps its last_rcvd like a peer's, so an
 * injection is applied at most once and re-logged as an ordinary change that ships). Every
 * discarded version is audited (state.ts) durably before it is discarded.
 * Invariants: no version is overwritten or skipped before it is audited or known kept elsewhere;
 * a decision depends only on the two versions and their sides.
 */
import { EIO, ENOENT, errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISREG, type Stat } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_clock_gettime, sys_lstat } from '../../kernel/syscalls.ts';
import { CLOCK_REALTIME } from '../../kernel/time.ts';
import {
  REINT_FORCE, REINT_MERGE, REINT_OVERRIDE, REINT_RELOG, type ReintResult,
} from '../../fs/intermezzo/intermezzo_idl.ts';
import {
  kml_encode, type CloseBody, type KmlBody, type PrestoVersion, type SetattrBody,
} from '../../fs/intermezzo/kml.ts';
import { say } from './events.ts';
import { readAll } from './fetch.ts';
import type { Lento } from './lento.ts';
import { noopFor, type ConflictInfo, type PeerLink } from './peer.ts';
import { copyName, isConflictCopy, policyFor, winner, type PolicyName, type Version } from './policy.ts';
import type { AuditVersionJson } from './state.ts';

/** The uuid of lento's resolver log: records it injects (conflict copies) replay under it. */
export const RESOLVER_UUID = new Uint8Array(16).fill(0xc0);

/** The version descriptor the trace and the audit log carry. */
export interface VersionInfo {
  readonly node: string;
  readonly side: string;
  readonly mtime: string;
  readonly size: number;
}

function info(v: Version): VersionInfo {
  return { node: v.node, side: v.side, mtime: `${v.mtimeSec}.${String(v.mtimeNsec).padStart(9, '0')}`, size: v.size };
}

function hex(b: Uint8Array | null): string | null {
  return b === null ? null : Buffer.from(b).toString('hex');
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function join(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The object a record is about (a removal names its directory and the entry). */
function objectPath(b: KmlBody): string {
  if (b.op === 'UNLINK' || b.op === 'RMDIR') return join(b.path, b.name);
  return 'path' in b ? b.path : '/';
}

interface Ctx {
  readonly t: Process;
  readonly link: PeerLink;
  readonly l: Lento;
  readonly c: ConflictInfo;
  readonly policy: PolicyName;
  readonly path: string;
}

export function* resolveConflict(t: Process, link: PeerLink, c: ConflictInfo): Sys<boolean> {
  const l = link.lento;
  const b = c.record.body;
  const path = objectPath(b);
  const x: Ctx = { t, link, l, c, policy: policyFor(l.conf, path), path };
  if (c.cls === 'UPDATE' && (b.op === 'CLOSE' || b.op === 'SETATTR')) {
    // The name may hold another object by now: one this side removed (and made anew) since the
    // peer last heard from it. The peer changed the removed one: delete against modify.
    if (yield* removedUnseen(x)) return yield* modifyDeleted(x);
    return yield* updateUpdate(x, b);
  }
  if (x.policy === 'manual') return yield* park(x, 'parked (manual)');
  if (c.cls === 'DELETE' && (b.op === 'CLOSE' || b.op === 'SETATTR')) {
    const here = yield* localStat(x, path);
    if (here === null) return yield* modifyDeleted(x);
  }
  if (c.cls === 'DELETE' && b.op === 'UNLINK') return yield* deleteModified(x);
  if (c.cls === 'NAME' && (b.op === 'CREATE' || b.op === 'MKDIR')) return yield* mergeNames(x);
  return yield* park(x, `parked (${x.policy} does not resolve ${c.cls} of ${b.op})`);
}

// ---- the versions --------------------------------------------------------------------------

/**
 * Did this node's own log remove the object at `x.path` (UNLINK, or RENAME away) in a record the
 * peer has not acknowledged? Then the object the peer's record changed is not the one here now.
 */
function* removedUnseen(x: Ctx): Sys<boolean> {
  const f = x.l.fset;
  const end = yield* f.kmlEnd(x.t);
  const base = yield* f.base(x.t);
  if (isErr(end) || isErr(base)) return false;
  let from = Math.max(x.link.peerApplied.offset, base);
  while (from < end.offset) {
    const got = yield* f.readKml(x.t, from, end.offset, base);
    if (isErr(got) || !('records' in got)) return false;
    for (const r of got.records) {
      const b = r.rec.body;
      if (r.rec.recno <= x.link.peerApplied.recno) continue;
      if (b.op === 'UNLINK' && join(b.path, b.name) === x.path) return true;
      if (b.op === 'RENAME' && b.source === x.path) return true;
    }
    if (got.next <= from) return false;
    from = got.next;
  }
  return false;
}

function* localStat(x: Ctx, path: string): Sys<Stat | null> {
  const st = yield* sys_lstat(x.t, x.l.fset.path(path));
  return isErr(st) ? null : st;
}

function localVersion(x: Ctx, st: Stat): Version {
  const side = x.l.conf.role === 'server' ? 'server' : 'client';
  return { node: x.l.conf.node, side, mtimeSec: st.st_mtime.sec, mtimeNsec: st.st_mtime.nsec, size: st.st_size };
}

function remoteVersion(x: Ctx, v: PrestoVersion): Version {
  const side = x.l.conf.role === 'server' ? 'client' : 'server';
  return { node: x.link.name, side, mtimeSec: v.mtime_sec, mtimeNsec: v.mtime_nsec, size: v.size };
}

/** The local file's bytes, or null when they are not all here (an on-demand file not fetched yet). */
function* localBytes(x: Ctx, st: Stat): Sys<Uint8Array | null> {
  if (!S_ISREG(st.st_mode) || st.st_blocks * 512 < st.st_size) return null;
  const r = yield* readAll(x.t, x.l.fset.path(x.path));
  return isErr(r) ? null : r;
}

function audited(v: Version, bytes: Uint8Array | null, where: string): AuditVersionJson {
  return { ...info(v), bytes: hex(bytes), where };
}

// ---- the outcomes ----------------------------------------------------------------------------

function report(x: Ctx, action: string, local: Version | null, remote: Version | null, copy = ''): void {
  const { c } = x;
  say(x.t, 'lento.conflict', {
    from: c.from, recno: c.recno, cls: c.cls, op: c.record.body.op, path: x.path, reason: c.reason, action,
    policy: x.policy, local: local === null ? null : info(local), remote: remote === null ? null : info(remote), copy,
  });
}

/** Audit what is discarded (durably) before it is; false when that failed (the session ends). */
function* audit(x: Ctx, kept: AuditVersionJson | null, discarded: AuditVersionJson, copy: string): Sys<boolean> {
  const { c } = x;
  const when = sys_clock_gettime(x.t, CLOCK_REALTIME);
  const r = yield* x.l.state.audit(x.t, {
    node: x.l.conf.node, when: isErr(when) ? 0 : when, policy: x.policy, cls: c.cls, op: c.record.body.op,
    path: x.path, from: c.from, recno: c.recno, kept, discarded, copy,
  });
  if (isErr(r)) yield* x.link.s.kill(x.t, `writing the audit log: ${errnoName(r)}`);
  return !isErr(r);
}

/** Replay the record as it is but flagged; the peer's place moves past it. */
function* replayWith(x: Ctx, flags: number, bytes: Uint8Array, what: string): Sys<boolean> {
  const { l, c, t } = x;
  const relog = l.conf.role === 'server' ? REINT_RELOG : 0;
  const r = yield* l.fset.reint(t, x.link.uuid, bytes, c.offset, flags | relog);
  if (isErr(r) || r.kind !== 'applied') {
    yield* x.link.s.kill(t, `${what} record ${c.recno}: ${isErr(r) ? errnoName(r) : describe(r)}`);
    return false;
  }
  x.link.applied = { recno: c.recno, offset: c.offset };
  return true;
}

function describe(r: ReintResult): string {
  return r.kind === 'conflict' ? `${r.cls}: ${r.reason}` : r.kind;
}

function* skip(x: Ctx): Sys<boolean> {
  return yield* replayWith(x, 0, noopFor(x.c.record), 'skipping');
}

function* override(x: Ctx): Sys<boolean> {
  const ok = yield* replayWith(x, REINT_OVERRIDE, x.c.bytes, 'overriding with');
  if (ok && x.c.record.body.op === 'CLOSE') yield* x.l.afterClose(x.t, x.c.record);
  return ok;
}

function* park(x: Ctx, action: string): Sys<boolean> {
  const { l, c, t } = x;
  const hexRec = Buffer.from(c.bytes).toString('hex');
  const parked = yield* l.state.park(t, { from: c.from, recno: c.recno, offset: c.offset, cls: c.cls,
    path: x.path, reason: c.reason, record: hexRec });
  report(x, isErr(parked) ? `not parked: ${errnoName(parked)}` : action, null, null);
  if (isErr(parked)) {
    yield* x.link.s.kill(t, `parking a conflict: ${errnoName(parked)}`);
    return false;
  }
  return yield* skip(x);
}

// ---- the cases -------------------------------------------------------------------------------

/**
 * Both changed the file: its data (CLOSE) or its attributes (SETATTR: a truncation, a chmod
 * that also moved the mtime). The peer's bytes are fetched to tell a false conflict; a SETATTR
 * that wins over a local change is preceded by the copy under keep-both, since the CLOSE that may
 * follow it then no longer conflicts.
 */
function* updateUpdate(x: Ctx, b: CloseBody | SetattrBody): Sys<boolean> {
  const st = yield* localStat(x, x.path);
  if (st === null || !S_ISREG(st.st_mode)) return yield* park(x, 'parked (not a regular file here)');
  const local = localVersion(x, st);
  const remote = remoteVersion(x, b.op === 'CLOSE' ? b.new_object : setattrVersion(b));
  const mine = yield* localBytes(x, st);
  // What the peer holds now (by its inode for a CLOSE, else by name): when it is what this node
  // holds, the two sides reached the same result by different steps (a rewrite logs a truncation
  // and a CLOSE), which is no conflict; the policy still picks whose times stand.
  const id = b.op === 'CLOSE' ? { ino: b.ino, generation: b.generation } : { ino: 0, generation: 0 };
  const fetched = yield* x.link.fetch(x.t, id, x.path);
  if (fetched === EIO) return false; // the session broke; the record is replayed again later
  // The peer's object is gone there (it removed or replaced it since, as a deletion it applied
  // from us would): the record changed something deleted, and the deletion wins.
  if (fetched === ENOENT && b.op === 'CLOSE') return yield* modifyDeleted(x);
  const theirs = isErr(fetched) ? null : fetched;
  const w = winner(x.policy === 'manual' ? 'newest' : x.policy, local, remote);
  if (mine !== null && theirs !== null && sameBytes(mine, theirs)) {
    say(x.t, 'lento.identical', { from: x.c.from, recno: x.c.recno, path: x.path, kept: w });
    // A step on the way (a truncation before the rewrite) is skipped: replaying it would only
    // undo, for a while, bytes both sides already agree on.
    return w === 'remote' && remote.size === mine.length ? yield* override(x) : yield* skip(x);
  }
  if (x.policy === 'manual') return yield* park(x, 'parked (manual)');
  if (w === 'local') {
    const ok = yield* audit(x, audited(local, null, x.l.conf.node), audited(remote, theirs, x.link.name), '');
    report(x, 'local version kept', local, remote);
    return ok && (yield* skip(x));
  }
  const copy = x.policy === 'keep-both' && !isConflictCopy(x.path) && mine !== null
    ? copyName(x.path, x.l.conf.node, x.c.from, x.c.recno) : '';
  const ok = yield* audit(x, audited(remote, null, x.link.name), audited(local, mine, x.l.conf.node), copy);
  if (!ok) return false;
  if (copy !== '' && !(yield* makeCopy(x, copy, st, mine as Uint8Array))) return false;
  report(x, 'remote version applied', local, remote, copy);
  return yield* override(x);
}

/** The version a SETATTR leaves (whole seconds, as the record carries them). */
function setattrVersion(b: SetattrBody): PrestoVersion {
  return { mtime_sec: b.mtime, mtime_nsec: 0, ctime_sec: b.ctime, ctime_nsec: 0, size: b.size };
}

/** The peer changed a file removed here: the deletion wins; the peer keeps its version. */
function* modifyDeleted(x: Ctx): Sys<boolean> {
  const b = x.c.record.body;
  const v = b.op === 'CLOSE' ? b.new_object : b.op === 'SETATTR' ? b.old_object : null;
  const remote = v === null ? null : remoteVersion(x, v);
  if (remote !== null) {
    const kept = `${x.link.name} (its own audit log or copy)`;
    if (!(yield* audit(x, null, audited(remote, null, kept), ''))) return false;
  }
  report(x, 'deletion kept', null, remote);
  return yield* skip(x);
}

/** The peer removed a file changed here: the deletion wins; this node keeps the changed version. */
function* deleteModified(x: Ctx): Sys<boolean> {
  const st = yield* localStat(x, x.path);
  if (st === null || !S_ISREG(st.st_mode)) return yield* park(x, 'parked (not a regular file here)');
  const local = localVersion(x, st);
  const mine = yield* localBytes(x, st);
  const copy = x.policy === 'keep-both' && !isConflictCopy(x.path) && mine !== null
    ? copyName(x.path, x.l.conf.node, x.c.from, x.c.recno) : '';
  if (!(yield* audit(x, null, audited(local, mine, x.l.conf.node), copy))) return false;
  if (copy !== '' && !(yield* makeCopy(x, copy, st, mine as Uint8Array))) return false;
  report(x, 'deletion applied', local, null, copy);
  return yield* override(x);
}

/** Both made the name: one object of that name (the contents follow as an update conflict). */
function* mergeNames(x: Ctx): Sys<boolean> {
  const { l, c, t } = x;
  const relog = l.conf.role === 'server' ? REINT_RELOG : 0;
  const r = yield* l.fset.reint(t, x.link.uuid, c.bytes, c.offset, REINT_MERGE | relog);
  if (isErr(r)) {
    yield* x.link.s.kill(t, `merging names at ${x.path}: ${errnoName(r)}`);
    return false;
  }
  if (r.kind === 'conflict') return yield* park(x, 'parked (the objects differ in type)');
  if (r.kind !== 'applied') {
    yield* x.link.s.kill(t, `merging names at ${x.path}: ${describe(r)}`);
    return false;
  }
  x.link.applied = { recno: c.recno, offset: c.offset };
  report(x, 'names merged', null, null);
  return true;
}

// ---- conflict copies ---------------------------------------------------------------------------

export function versionOf(st: Stat, size: number): PrestoVersion {
  return { mtime_sec: st.st_mtime.sec, mtime_nsec: st.st_mtime.nsec, ctime_sec: st.st_ctime.sec,
    ctime_nsec: st.st_ctime.nsec, size };
}

/**
 * Save the losing local version as `copy`: a CREATE and a CLOSE injected from the resolver log
 * (re-logged here, so they ship like a user's change), with the loser's mode and times. A copy
 * already there (a retry after a crash) is left alone.
 */
function* makeCopy(x: Ctx, copy: string, st: Stat, bytes: Uint8Array): Sys<boolean> {
  if ((yield* localStat(x, copy)) !== null) return true;
  const dir = yield* localStat(x, dirname(copy));
  if (dir === null) return yield* failCopy(x, copy, 'its directory is gone');
  const pv = versionOf(dir, dir.st_size);
  const empty = versionOf(st, 0);
  const create: KmlBody = { op: 'CREATE', old_parent: pv, new_parent: pv, new_object: empty,
    mode: st.st_mode, uid: 0, gid: 0, path: copy };
  const close: KmlBody = { op: 'CLOSE', open_mode: 0, open_uid: 0, open_gid: 0, old_object: empty,
    new_object: versionOf(st, bytes.length), ino: 0, generation: 0, path: copy };
  for (const [body, data] of [[create, null], [close, bytes]] as const) {
    const r = yield* inject(x, body, data);
    if (r !== null) return yield* failCopy(x, copy, r);
  }
  return true;
}

function* failCopy(x: Ctx, copy: string, why: string): Sys<boolean> {
  yield* x.link.s.kill(x.t, `making conflict copy ${copy}: ${why}`);
  return false;
}

function* inject(x: Ctx, body: KmlBody, data: Uint8Array | null): Sys<string | null> {
  return yield* injectRecord(x.l, x.t, body, data, true);
}

/**
 * Replay one record of the resolver log (its next number), forced; a CLOSE's BACKFETCH is answered
 * from `data`. `relog`: presto logs it as a change of this node's (it ships). What went wrong, or null.
 */
export function* injectRecord(
  l: Lento,
  t: Process,
  body: KmlBody,
  data: Uint8Array | null,
  relog: boolean,
): Sys<string | null> {
  const last = yield* l.fset.rcvd(RESOLVER_UUID, t);
  if (isErr(last)) return errnoName(last);
  const recno = (last.rec?.remote_recno ?? 0) + 1;
  const bytes = kml_encode({ pid: 0, auid: 0, fsuid: 0, fsgid: 0, groups: [0], recno, time: 0, body });
  l.injecting = data;
  const flags = REINT_FORCE | (relog ? REINT_RELOG : 0);
  const r: ReintResult | Errno = yield* l.fset.reint(t, RESOLVER_UUID, bytes, recno, flags);
  l.injecting = null;
  if (isErr(r)) return errnoName(r);
  return r.kind === 'applied' ? null : describe(r);
}
