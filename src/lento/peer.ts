/**
 * peer.ts: replication over one session: this side's KML shipped to the peer, the peer's KML
 * replayed here, and the peer's requests for file data served.
 *
 * Layer: user space (lento). Interface: `PeerLink` is made for a session whose handshake and
 * REPSTATUS are done (knowing how far each side has applied the other's log) and `run` starts its
 * threads: the shipper, the applier and the fetch server (the session adds a reader and a
 * heartbeat); `onMessage` files each message the reader hands over.
 * - The shipper reads the KML from where the peer's last_rcvd says it stopped, commits it (fsync:
 *   only durable records leave), sends it in KML chunks (at most WINDOW unacknowledged), and in
 *   place of a record that came from this very peer (a server's re-logged copy, KML_RELOG_PID
 *   naming the peer's slot) sends a NOOP of the same number, so the peer advances without
 *   replaying its own change. Acknowledgements move
 *   the peer's place forward (persisted: state.ts) and may let the KML's head be cut.
 * - The applier replays each record with REINTKML (a server re-logs them: REINT_RELOG), commits
 *   (fsync) and only then acknowledges: last_rcvd moves with each replay in presto's transaction,
 *   so whatever breaks, a record is applied exactly once and resumes from there. A conflict is
 *   handed to the resolver (resolve.ts), which applies its path's policy.
 * Invariants: records are replayed in recno order, each at most once; an acknowledgement never
 * names a record that is not durable here; a peer's damaged record ends the session unapplied.
 */
import { errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISREG } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_lstat } from '../../kernel/syscalls.ts';
import { REINT_RELOG, type ReintResult } from '../../fs/intermezzo/intermezzo_idl.ts';
import {
  isDamage, kml_decode, kml_encode, kml_relog_slot, type KmlRecord,
} from '../../fs/intermezzo/kml.ts';
import { uuidHex } from './config.ts';
import { say } from './events.ts';
import { fetchFile, Fetches, serveFetch, statusName } from './fetch.ts';
import type { LogRecord } from './fileset.ts';
import type { Lento } from './lento.ts';
import type { Session } from './session.ts';
import { resolveConflict } from './resolve.ts';
import { MSG, type Backfetch, type KmlChunk, type Message } from './wire.ts';

/** Unacknowledged KML chunks a shipper may have out (flow control beyond TCP's). */
export const WINDOW = 4;
/** Bytes of records per KML chunk, at most. */
export const CHUNK_BYTES = 64 * 1024;

export interface Position {
  readonly recno: number;
  readonly offset: number;
}

/** A record that conflicts here, as the applier hands it to the resolver (resolve.ts). */
export interface ConflictInfo {
  readonly from: string;
  readonly recno: number;
  readonly offset: number;
  readonly record: KmlRecord;
  readonly bytes: Uint8Array;
  readonly cls: string;
  readonly path: string;
  readonly reason: string;
}

/** The NOOP that takes a skipped record's number (its place in the peer's log passes). */
export function noopFor(rec: KmlRecord): Uint8Array {
  const { recno, time } = rec;
  return kml_encode({ pid: 0, auid: 0, fsuid: 0, fsgid: 0, groups: [], recno, time, body: { op: 'NOOP' } });
}

export class PeerLink {
  readonly fetches = new Fetches();
  private readonly inbox: KmlChunk[] = [];
  private readonly requests: Backfetch[] = [];
  /** Last of our records sent, and the last records of the chunks not yet acknowledged. */
  private shipped: number;
  private inflight: number[] = [];

  constructor(
    readonly lento: Lento,
    readonly s: Session,
    readonly name: string,
    readonly uuid: Uint8Array,
    /** How far the peer has applied our log, and we the peer's. */
    public peerApplied: Position,
    public applied: Position,
  ) {
    this.shipped = peerApplied.recno;
  }

  /** Start the link's threads (and the session's reader and heartbeat). */
  run(owner: Process): void {
    const l = this.lento;
    this.s.retain();
    l.thread(owner, `lento-ship ${this.name}`, (t) => this.shipper(t));
    this.s.retain();
    l.thread(owner, `lento-apply ${this.name}`, (t) => this.applier(t));
    this.s.retain();
    l.thread(owner, `lento-serve ${this.name}`, (t) => this.server(t));
    this.s.start(owner, (t, m) => this.onMessage(t, m), (t) => l.registerThread(t));
  }

  /** The reader's hand-over: file the message, never block. */
  onMessage(t: Process, m: Message): void {
    switch (m.type) {
      case MSG.KML:
        this.inbox.push(m.body as KmlChunk);
        return;
      case MSG.KML_ACK: {
        const a = m.body as Position;
        if (a.recno > this.peerApplied.recno) this.peerApplied = a;
        this.inflight = this.inflight.filter((last) => last > a.recno);
        return;
      }
      case MSG.BACKFETCH:
        this.requests.push(m.body as Backfetch);
        return;
      case MSG.FETCH_DATA:
        this.fetches.piece(m.body as never);
        return;
      default:
        this.lento.permits.onMessage(t, this, m);
    }
  }

  // ---- the shipper ------------------------------------------------------------------------

  private *shipper(t: Process): Sys<number> {
    const l = this.lento;
    let from = this.peerApplied.offset;
    let ackedSeen = this.peerApplied.recno;
    while (!this.s.dead && !l.stopping) {
      if (this.peerApplied.recno > ackedSeen) {
        ackedSeen = this.peerApplied.recno;
        say(t, 'lento.ack', { from: this.name, recno: ackedSeen });
        yield* l.acked(t, this);
      }
      const end = yield* l.fset.kmlEnd(t);
      const base = yield* l.fset.base(t);
      if (isErr(end) || isErr(base)) break;
      const room = this.inflight.length < WINDOW;
      if (from >= end.offset || !room) {
        const seen = l.kmlVersion;
        yield* this.s.changed.waitUntil(t, () => this.s.dead || l.stopping || l.kmlVersion !== seen ||
          this.peerApplied.recno > ackedSeen || (!room && this.inflight.length < WINDOW), l.conf.heartbeat);
        continue;
      }
      const next = yield* this.shipFrom(t, from, end.offset, base);
      if (next === null) break;
      from = next;
    }
    yield* this.s.release(t);
    return 0;
  }

  /** Send the records from `from` (one chunk at most); where the next read starts, or null on trouble. */
  private *shipFrom(t: Process, from: number, end: number, base: number): Sys<number | null> {
    const l = this.lento;
    const got = yield* l.fset.readKml(t, from, end, base);
    if (isErr(got) || isDamage(got)) {
      const why = isErr(got) ? errnoName(got) : `${got.reason} at ${got.offset}`;
      yield* this.s.kill(t, `reading our own KML: ${why}`);
      return null;
    }
    const fresh = got.records.filter((r) => r.rec.recno > this.shipped);
    if (fresh.length === 0) return got.next;
    const slot = yield* l.peerSlot(t, this.uuid);
    const records: Array<{ offset: number; bytes: Uint8Array }> = [];
    let bytes = 0;
    let noops = 0;
    let next = got.next;
    for (const r of fresh) {
      if (bytes + r.bytes.length > CHUNK_BYTES && records.length > 0) {
        next = r.logical;
        break;
      }
      const echo = slot !== null && kml_relog_slot(r.rec) === slot;
      records.push({ offset: r.logical, bytes: echo ? noopFor(r.rec) : r.bytes });
      bytes += r.bytes.length;
      if (echo) noops++;
    }
    const first = this.recnoAt(fresh, 0);
    const last = first + records.length - 1;
    // Only what is durable here leaves: a record a crash could still take back must never reach a
    // peer (it would keep a change this node forgets, and take the number of a different one).
    const durable = yield* l.makeDurable(t, last);
    if (isErr(durable)) {
      yield* this.s.kill(t, `committing our KML before shipping it: ${errnoName(durable)}`);
      return null;
    }
    const sent = yield* this.s.send(t, MSG.KML, { records });
    if (isErr(sent)) return null;
    this.shipped = last;
    this.inflight.push(last);
    say(t, 'lento.ship', { to: this.name, first, last, records: records.length, noops, bytes });
    return next;
  }

  private recnoAt(rs: readonly LogRecord[], i: number): number {
    return (rs[i] as LogRecord).rec.recno;
  }

  // ---- the applier ------------------------------------------------------------------------

  private *applier(t: Process): Sys<number> {
    const l = this.lento;
    while (!this.s.dead && !l.stopping) {
      yield* this.s.changed.waitUntil(t, () => this.inbox.length > 0 || this.s.dead || l.stopping);
      const chunk = this.inbox.shift();
      if (chunk === undefined || this.s.dead) continue;
      const ok = yield* this.applyChunk(t, chunk);
      if (!ok) break;
    }
    yield* this.s.release(t);
    return 0;
  }

  /** Replay one chunk, commit, acknowledge; false when the session must end. */
  private *applyChunk(t: Process, chunk: KmlChunk): Sys<boolean> {
    const l = this.lento;
    const tally = { applied: 0, duplicates: 0, conflicts: 0 };
    const lock = yield* l.replayLock.lock(t);
    if (isErr(lock)) return false;
    l.replaying = this;
    let ok = true;
    for (const r of chunk.records) {
      ok = yield* this.applyOne(t, r.offset, r.bytes, tally);
      if (!ok) break;
    }
    l.replaying = null;
    l.replayLock.unlock(t);
    const first = chunk.records.length === 0 ? 0 : this.recnoOf(chunk.records[0]?.bytes);
    say(t, 'lento.apply', { from: this.name, first, last: this.applied.recno, ...tally });
    if (tally.applied + tally.conflicts === 0) return ok;
    const synced = yield* l.fset.sync(t);
    if (isErr(synced)) {
      yield* this.s.kill(t, `committing what was applied: ${errnoName(synced)}`);
      return false;
    }
    const acked = yield* this.s.send(t, MSG.KML_ACK, this.applied);
    return ok && !isErr(acked);
  }

  private recnoOf(bytes: Uint8Array | undefined): number {
    if (bytes === undefined) return 0;
    const d = kml_decode(bytes, 0);
    return isDamage(d) ? 0 : d.rec.recno;
  }

  /** Replay one record; false when the session must end (damage, a gap, an error). */
  private *applyOne(
    t: Process,
    offset: number,
    bytes: Uint8Array,
    tally: { applied: number; duplicates: number; conflicts: number },
  ): Sys<boolean> {
    const l = this.lento;
    const d = kml_decode(bytes, 0);
    if (isDamage(d)) {
      say(t, 'lento.refused', { peer: this.name, reason: `a damaged record: ${d.reason}` });
      yield* this.s.kill(t, `damage from the peer: ${d.reason}`);
      return false;
    }
    const flags = l.conf.role === 'server' ? REINT_RELOG : 0;
    const out = yield* l.fset.reint(t, this.uuid, bytes, offset, flags);
    return yield* this.outcome(t, out, offset, bytes, d.rec, tally);
  }

  private *outcome(
    t: Process,
    out: ReintResult | Errno,
    offset: number,
    bytes: Uint8Array,
    rec: KmlRecord,
    tally: { applied: number; duplicates: number; conflicts: number },
  ): Sys<boolean> {
    if (isErr(out)) {
      yield* this.s.kill(t, `REINTKML: ${errnoName(out)}`);
      return false;
    }
    switch (out.kind) {
      case 'applied':
        tally.applied++;
        this.applied = { recno: rec.recno, offset };
        if (rec.body.op === 'CLOSE') yield* this.lento.afterClose(t, rec);
        return true;
      case 'duplicate':
        tally.duplicates++;
        return true;
      case 'conflict':
        tally.conflicts++;
        return yield* this.conflict(t, { from: this.name, recno: rec.recno, offset, record: rec, bytes,
          cls: out.cls, path: out.path, reason: out.reason });
      case 'out_of_order':
        yield* this.s.kill(t, `record ${out.recno} out of order (expected ${out.expected})`);
        return false;
      case 'bad_record':
        say(t, 'lento.refused', { peer: this.name, reason: `a bad record: ${out.reason}` });
        yield* this.s.kill(t, `damage from the peer: ${out.reason}`);
        return false;
      case 'error':
        yield* this.s.kill(t, `replaying record ${out.recno}: ${errnoName(out.errno)}`);
        return false;
    }
  }

  /** A conflicting record: the policy of its path decides (resolve.ts). */
  private *conflict(t: Process, c: ConflictInfo): Sys<boolean> {
    return yield* resolveConflict(t, this, c);
  }

  // ---- the fetch server -------------------------------------------------------------------

  private *server(t: Process): Sys<number> {
    const l = this.lento;
    while (!this.s.dead && !l.stopping) {
      yield* this.s.changed.waitUntil(t, () => this.requests.length > 0 || this.s.dead || l.stopping);
      const req = this.requests.shift();
      if (req === undefined || this.s.dead) continue;
      const r = yield* serveFetch(t, l.fset, this.s, req);
      say(t, 'lento.serve', { to: this.name, path: req.path, bytes: r.bytes, status: statusName(r.status) });
    }
    yield* this.s.release(t);
    return 0;
  }

  /** Fetch a file's bytes from this peer (for a BACKFETCH or OPEN upcall). */
  *fetch(t: Process, id: { ino: number; generation: number }, path: string): Sys<Uint8Array | Errno> {
    return yield* fetchFile(t, this.s, this.fetches, id, path);
  }

  get uuidHex(): string {
    return uuidHex(this.uuid);
  }

  /** The last of our records sent to the peer. */
  get shippedRecno(): number {
    return this.shipped;
  }
}

/** Is the local file at `path` still without its data (fewer blocks than bytes: sparse)? */
export function* stillSparse(t: Process, path: string): Sys<{ ino: number; mtime: number; size: number } | null> {
  const st = yield* sys_lstat(t, path);
  if (isErr(st) || !S_ISREG(st.st_mode)) return null;
  return st.st_blocks * 512 < st.st_size ? { ino: st.st_ino, mtime: st.st_mtime.sec, size: st.st_size } : null;
}
