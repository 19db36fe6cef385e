/**
 * repair.ts: repairing a parked conflict (manual, or a case no policy resolves): a person says,
 * per object, which version stays, and lento makes that version the one every node holds.
 *
 * Layer: user space (lento). Interface: `repairer(t, l)` is lento's repair thread: once a heartbeat
 * it reads the requests in `/.intermezzo/<fset>/lento.repair` (JSON lines `{ "path", "keep" }`,
 * `keep` local or remote, written by an operator: the scenario step `repair`), carries each out,
 * traces `lento.repair` with the outcome, and removes the file. For an update conflict (CLOSE or
 * SETATTR parked) on this node:
 * - keep local: a CLOSE is injected from the resolver log with the peer's parked version as its
 *   old version and this node's as the new one, re-logged so it ships: the peer holds the old
 *   version and applies it without a conflict (its own parked record of ours stays skipped);
 * - keep remote: a CLOSE of the peer's version is injected over the local one; a server re-logs
 *   it (its clients follow), a client does not (the server already holds that version).
 * Either way the peer's bytes are fetched first (its session must be up: else "not now", and the
 * request is dropped), to be kept or audited. The discarded version is audited first; the
 * object's parked records are then forgotten. Either the injected record commits whole (one
 * REINTKML transaction) or nothing changes. Other classes
 * are refused, traced as such. Counterpart: Coda's repair tool (preserve or discard per object,
 * then commit); InterMezzo had only a manual reset.
 * Invariants: a repair never discards a version it has not audited; a request is carried out at
 * most once (the request file is removed after its requests are done).
 */
import { EIO, errnoName, isErr } from '../../kernel/errno.ts';
import { O_RDONLY, S_ISREG } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_clock_gettime, sys_close, sys_lstat, sys_open, sys_read, sys_unlink } from '../../kernel/syscalls.ts';
import { CLOCK_REALTIME } from '../../kernel/time.ts';
import { isDamage, kml_decode, type PrestoVersion } from '../../fs/intermezzo/kml.ts';
import { say } from './events.ts';
import { readAll } from './fetch.ts';
import type { Lento } from './lento.ts';
import { injectRecord, versionOf } from './resolve.ts';
import type { ParkedJson } from './state.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    /** A repair request carried out (or refused: `outcome` says why). */
    'lento.repair': { path: string; keep: string; outcome: string };
  }
}

export const REPAIR_FILE = 'lento.repair';

interface Request {
  readonly path: string;
  readonly keep: 'local' | 'remote';
}

function* readRequests(t: Process, l: Lento): Sys<Request[] | null> {
  const fd = yield* sys_open(t, l.fset.izoPath(REPAIR_FILE), O_RDONLY);
  if (isErr(fd)) return null;
  const buf = new Uint8Array(1 << 16);
  const n = yield* sys_read(t, fd, buf);
  yield* sys_close(t, fd);
  if (isErr(n)) return null;
  const out: Request[] = [];
  for (const line of Buffer.from(buf.subarray(0, n)).toString('latin1').split('\n')) {
    try {
      const v = JSON.parse(line) as { path?: unknown; keep?: unknown };
      const keep = v.keep === 'local' || v.keep === 'remote' ? v.keep : null;
      if (typeof v.path === 'string' && keep !== null) out.push({ path: v.path, keep });
    } catch {
      // not a request (an empty or torn line)
    }
  }
  return out;
}

/** lento's repair thread: requests once a heartbeat. */
export function* repairer(t: Process, l: Lento): Sys<number> {
  while (!l.stopping) {
    yield* l.wait(t, l.wake, () => false, l.conf.heartbeat);
    if (l.stopping) break;
    const reqs = yield* readRequests(t, l);
    if (reqs === null) continue;
    for (const r of reqs) {
      const lock = yield* l.replayLock.lock(t); // not in the middle of a replay
      if (isErr(lock)) break;
      const outcome = yield* repairOne(t, l, r);
      l.replayLock.unlock(t);
      say(t, 'lento.repair', { path: r.path, keep: r.keep, outcome });
    }
    yield* sys_unlink(t, l.fset.izoPath(REPAIR_FILE));
  }
  return 0;
}

function parkedVersion(p: ParkedJson): { v: PrestoVersion; ino: number; generation: number } | null {
  const d = kml_decode(Uint8Array.from(Buffer.from(p.record, 'hex')), 0);
  if (isDamage(d)) return null;
  const b = d.rec.body;
  if (b.op === 'CLOSE') return { v: b.new_object, ino: b.ino, generation: b.generation };
  if (b.op === 'SETATTR') {
    return { v: { mtime_sec: b.mtime, mtime_nsec: 0, ctime_sec: b.ctime, ctime_nsec: 0, size: b.size }, ino: 0,
      generation: 0 };
  }
  return null;
}

function* repairOne(t: Process, l: Lento, r: Request): Sys<string> {
  const parked = l.state.parked.filter((p) => p.path === r.path && p.cls === 'UPDATE');
  const last = parked.at(-1);
  if (last === undefined) return 'nothing parked for this path (only update conflicts are repaired)';
  const theirs = parkedVersion(last);
  const st = yield* sys_lstat(t, l.fset.path(r.path));
  if (theirs === null || isErr(st) || !S_ISREG(st.st_mode)) return 'refused: not a file update on both sides';
  const mine = yield* readAll(t, l.fset.path(r.path));
  if (isErr(mine)) return `refused: reading the local version: ${errnoName(mine)}`;
  // The peer's bytes: what stays (keep remote) or what is audited before it goes (keep local).
  const link = l.links.get(last.from);
  if (link === undefined || link.s.dead) return `not now: no session with ${last.from}`;
  const got = yield* link.fetch(t, { ino: theirs.ino, generation: theirs.generation }, r.path);
  if (isErr(got)) return `not now: fetching from ${last.from}: ${got === EIO ? 'EIO' : errnoName(got)}`;
  const data = r.keep === 'local' ? mine : got;
  const local = versionOf(st, st.st_size);
  const [old_object, new_object] = r.keep === 'local' ? [theirs.v, local] : [local, { ...theirs.v, size: data.length }];
  const lost = r.keep === 'local' ? got : mine;
  const when = sys_clock_gettime(t, CLOCK_REALTIME);
  const side = l.conf.role;
  const a = yield* l.state.audit(t, {
    node: l.conf.node, when: isErr(when) ? 0 : when, policy: 'manual (repair)', cls: last.cls, op: 'CLOSE',
    path: r.path, from: last.from, recno: last.recno, kept: null, copy: '',
    discarded: { node: r.keep === 'local' ? last.from : l.conf.node, side, mtime: r.keep === 'local'
      ? `${theirs.v.mtime_sec}.${theirs.v.mtime_nsec}` : `${local.mtime_sec}.${local.mtime_nsec}`,
    size: r.keep === 'local' ? theirs.v.size : mine.length,
    bytes: Buffer.from(lost).toString('hex'), where: l.conf.node },
  });
  if (isErr(a)) return `refused: writing the audit log: ${errnoName(a)}`;
  const relog = r.keep === 'local' || l.conf.role === 'server';
  const body = { op: 'CLOSE' as const, open_mode: 0, open_uid: 0, open_gid: 0, old_object, new_object, ino: 0,
    generation: 0, path: r.path };
  const why = yield* injectRecord(l, t, body, data, relog);
  if (why !== null) return `failed: ${why}`;
  yield* l.state.unpark(t, r.path);
  return `kept ${r.keep}`;
}
