/**
 * lento.ts: the InterMezzo cache manager and file server, one program with two roles.
 *
 * Layer: user space (lento). Interface: `lento_main(p)` is the program (what `lento` ran as on a
 * host): it reads /etc/intermezzo/lento.conf (config.ts), opens its fileset (fileset.ts),
 * registers itself and each of its threads with presto (SET_PID), loads its state (state.ts),
 * answers presto's upcalls on /dev/intermezzo, and replicates with its peers over TCP: a server
 * listens for clients (server.ts), a client keeps a session with its server (client.ts); each
 * session is a PeerLink (peer.ts) of shipper, applier and fetch server threads. It stops on
 * SIGTERM: every thread's blocking call returns EINTR, the thread sees `stopping` and ends, and
 * the program returns once all have.
 * Reaches its kernel only through system calls, ioctls and /dev/intermezzo, and its peers only
 * through sockets; what it does it reports as trace events (sys_trace). Threads share this
 * object (they run one at a time and switch only inside system calls).
 * Invariants: every thread is registered with presto before it touches the fileset; a thread that
 * sees EINTR takes the signal and stops the program (there is no other signal).
 */
import { EINTR, isErr, type Errno } from '../../kernel/errno.ts';
import { O_RDONLY, O_RDWR } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { SIGTERM } from '../../kernel/signal.ts';
import { sys_close, sys_open, sys_read, sys_sigtake, sys_write } from '../../kernel/syscalls.ts';
import {
  decodeUpcall, encodeReply, FSET_DATA_ON_DEMAND, izo_fileid_decode, IZO_UPC_BACKFETCH, IZO_UPC_KML,
  IZO_UPC_KML_TRUNC, IZO_UPC_OPEN, IZO_UPC_PERMIT, IZO_UPC_REVOKE_PERMIT, PRESTO_DATA, type Upcall,
} from '../../fs/intermezzo/intermezzo_idl.ts';
import type { KmlRecord } from '../../fs/intermezzo/kml.ts';
import { client } from './client.ts';
import { parseConfig, uuidHex, type LentoConfig } from './config.ts';
import { say } from './events.ts';
import { fillFile, statusName } from './fetch.ts';
import { Fset } from './fileset.ts';
import { stillSparse, type PeerLink } from './peer.ts';
import { Permits } from './permit.ts';
import { Mutex, Notifier, spawn } from './pthread.ts';
import { repairer } from './repair.ts';
import { server } from './server.ts';
import { LentoState } from './state.ts';

export const CONFIG_PATH = '/etc/intermezzo/lento.conf';
export const PSDEV_PATH = '/dev/intermezzo';
export const URANDOM_PATH = '/dev/urandom';
/** How long an on-demand open waits for a session with the server before it fails with EIO. */
export const OPEN_WAIT = 10_000_000;

export class Lento {
  stopping = false;
  /** Bumped by every KML upcall: shippers re-read the log. */
  kmlVersion = 0;
  /** Anything that may unblock someone: a KML range, a stop, a permit event. */
  readonly wake = new Notifier();
  /** One replay at a time (a server reintegrates its clients one record after another). */
  readonly replayLock = new Mutex();
  /** The link whose record is being replayed: where a BACKFETCH it raises fetches from. */
  replaying: PeerLink | null = null;
  readonly links = new Map<string, PeerLink>();
  readonly permits: Permits;
  /** The bytes of a conflict copy being injected (resolve.ts): its BACKFETCH is answered from them. */
  injecting: Uint8Array | null = null;
  private threads = 0;
  private readonly slots = new Map<string, number>();
  /** The last of our KML records known durable (committed by an fsync). */
  private durableRecno = 0;

  private constructor(
    readonly p: Process,
    readonly conf: LentoConfig,
    readonly fset: Fset,
    readonly state: LentoState,
    readonly psdevFd: number,
    readonly urandomFd: number,
  ) {
    this.permits = new Permits(this);
  }

  static *start(p: Process, conf: LentoConfig): Sys<Lento | string> {
    const fset = yield* Fset.open(p, conf.mount, conf.fileset);
    if (isErr(fset)) return `opening fileset ${conf.fileset} at ${conf.mount}: ${statusName(fset)}`;
    const reg = yield* fset.setPid(p, p.pid);
    if (isErr(reg)) return `SET_PID: ${statusName(reg)}`;
    const psdevFd = yield* sys_open(p, PSDEV_PATH, O_RDWR);
    if (isErr(psdevFd)) return `opening ${PSDEV_PATH}: ${statusName(psdevFd)}`;
    const urandomFd = yield* sys_open(p, URANDOM_PATH, O_RDONLY);
    if (isErr(urandomFd)) return `opening ${URANDOM_PATH}: ${statusName(urandomFd)}`;
    const state = yield* LentoState.load(p, fset);
    const l = new Lento(p, conf, fset, state, psdevFd, urandomFd);
    yield* l.setUpFileset(p);
    return l;
  }

  /** Fileset flags for the mode, the KML size limit, no permit left over from before. */
  private *setUpFileset(t: Process): Sys<void> {
    const f = this.fset;
    if (this.conf.mode === 'on-demand') yield* f.markFset(t, FSET_DATA_ON_DEMAND);
    yield* f.setKmlSize(t, this.conf.kmlLimit);
    yield* f.revokePermit(t);
    if (this.conf.mode === 'on-demand') yield* this.restoreFileIds(t);
  }

  /** After a remount, tell presto again where the data of files not fetched yet is (SET_FILEID). */
  private *restoreFileIds(t: Process): Sys<void> {
    for (const id of [...this.state.fileids]) {
      const now = yield* stillSparse(t, this.fset.path(id.path));
      if (now === null || now.ino !== id.ino || now.size !== id.size || now.mtime !== id.mtime) {
        yield* this.state.dropFileId(t, id.path);
        continue;
      }
      yield* this.fset.setFileId(t, id.path, id.remote_ino, id.remote_generation);
      yield* this.fset.markDentry(t, id.path, 0, ~PRESTO_DATA >>> 0);
    }
  }

  /** Start a thread of lento's (registered with presto first; counted until it ends). */
  thread(owner: Process, name: string, body: (t: Process) => Sys<number>): void {
    this.threads++;
    spawn(owner, name, (t) => this.threadBody(t, body));
  }

  private *threadBody(t: Process, body: (t: Process) => Sys<number>): Sys<number> {
    yield* this.registerThread(t);
    const r = yield* body(t);
    yield* this.fset.setPid(t, t.pid); // (registering again is harmless; presto keeps a set)
    this.threads--;
    this.wake.notifyAll(t);
    return r;
  }

  *registerThread(t: Process): Sys<void> {
    yield* this.fset.setPid(t, t.pid);
  }

  /** Wait on `n` until `ready`; EINTR means SIGTERM: the program stops. */
  *wait(t: Process, n: Notifier, ready: () => boolean, timeout: number | null = null): Sys<0 | Errno> {
    const r = yield* n.waitUntil(t, () => ready() || this.stopping, timeout);
    if (r === EINTR) this.interrupted(t);
    return r;
  }

  /** A blocking call returned EINTR: take the signal, stop everything. */
  interrupted(t: Process): void {
    sys_sigtake(t, SIGTERM);
    if (this.stopping) return;
    this.stopping = true;
    this.wake.notifyAll(t);
    for (const link of this.links.values()) link.s.changed.notifyAll(t);
  }

  /** 16 bytes from /dev/urandom (handshake nonces). */
  *random(t: Process): Sys<Uint8Array> {
    const b = new Uint8Array(16);
    yield* sys_read(t, this.urandomFd, b);
    return b;
  }

  serverLink(): PeerLink | null {
    for (const l of this.links.values()) if (!l.s.dead) return l;
    return null;
  }

  /** A server: the last_rcvd slot of peer `uuid` (what its re-logged records carry); null on a client. */
  *peerSlot(t: Process, uuid: Uint8Array): Sys<number | null> {
    if (this.conf.role !== 'server') return null;
    const key = uuidHex(uuid);
    const known = this.slots.get(key);
    if (known !== undefined) return known;
    const r = yield* this.fset.rcvd(uuid, t);
    if (isErr(r)) return null;
    if (r.rec !== null) this.slots.set(key, r.slot); // a slot is fixed only once the record exists
    return r.rec === null ? null : r.slot;
  }

  /** Make our KML durable at least up to record `recno` (one fsync covers every shipper). */
  *makeDurable(t: Process, recno: number): Sys<0 | Errno> {
    if (recno <= this.durableRecno) return 0;
    const end = yield* this.fset.kmlEnd(t);
    if (isErr(end)) return end;
    const r = yield* this.fset.sync(t);
    if (isErr(r)) return r;
    this.durableRecno = Math.max(this.durableRecno, end.recno);
    return 0;
  }

  /** A peer acknowledged more of our log: remember it, and cut the KML's head if everyone is past it. */
  *acked(t: Process, link: PeerLink): Sys<void> {
    this.state.ack(link.name, link.uuidHex, link.peerApplied.recno, link.peerApplied.offset);
    yield* this.maybeTruncate(t);
  }

  /** Cut the KML up to what every known peer has applied, when it has outgrown its limit. */
  *maybeTruncate(t: Process): Sys<void> {
    const end = yield* this.fset.kmlEnd(t);
    const base = yield* this.fset.base(t);
    if (isErr(end) || isErr(base) || end.offset - base <= this.conf.kmlLimit) return;
    const peers = this.conf.role === 'server' ? this.conf.peers.map((x) => uuidHex(x.uuid)) : [...this.links.values()]
      .map((x) => x.uuidHex).slice(0, 1);
    if (peers.length === 0) return;
    const acked = peers.map((u) => this.state.ackedBy(u)?.acked_offset ?? 0);
    const upto = Math.min(...acked);
    if (upto <= base) return;
    // What bounded this cut is on disk before the cut, so a restart never forgets it was allowed.
    if (isErr(yield* this.state.savePeers(t))) return;
    const r = yield* this.fset.cut(t, upto);
    if (!isErr(r)) say(t, 'lento.truncate', { upto, limit: this.conf.kmlLimit });
  }

  /** An on-demand replica replayed a CLOSE: remember where the data is, for after a remount. */
  *afterClose(t: Process, rec: KmlRecord): Sys<void> {
    const b = rec.body;
    if (this.conf.mode !== 'on-demand' || b.op !== 'CLOSE') return;
    const st = yield* stillSparse(t, this.fset.path(b.path));
    if (st === null) return;
    yield* this.state.setFileId(t, { path: b.path, ino: st.ino, mtime: st.mtime, size: st.size, remote_ino: b.ino,
      remote_generation: b.generation });
  }

  // ---- upcalls ----------------------------------------------------------------------------

  *upcalls(t: Process): Sys<number> {
    const buf = new Uint8Array(1 << 17);
    while (!this.stopping) {
      const n = yield* sys_read(t, this.psdevFd, buf);
      if (n === EINTR) this.interrupted(t);
      if (isErr(n)) continue;
      const u = decodeUpcall(buf.slice(0, n));
      if (typeof u === 'string') continue; // presto never sends damage; nothing to answer
      this.dispatch(t, u);
    }
    return 0;
  }

  private dispatch(t: Process, u: Upcall): void {
    switch (u.opcode) {
      case IZO_UPC_KML:
        this.kmlVersion++;
        this.wake.notifyAll(t);
        for (const link of this.links.values()) link.s.changed.notifyAll(t);
        return;
      case IZO_UPC_KML_TRUNC:
        this.thread(t, 'lento-trunc', (w) => this.truncThread(w));
        return;
      case IZO_UPC_REVOKE_PERMIT:
        this.thread(t, 'lento-reply', (w) => this.reply(w, u, 0));
        return;
      case IZO_UPC_PERMIT:
        this.thread(t, 'lento-permit', (w) => this.answer(w, u, this.permits.onUpcall(w)));
        return;
      case IZO_UPC_BACKFETCH:
      case IZO_UPC_OPEN:
        this.thread(t, 'lento-fetch', (w) => this.answer(w, u, this.fetchFor(w, u)));
        return;
      default:
        if (!u.async) this.thread(t, 'lento-reply', (w) => this.reply(w, u, -95)); // EOPNOTSUPP
    }
  }

  private *truncThread(t: Process): Sys<number> {
    yield* this.maybeTruncate(t);
    yield* this.fset.cut(t, 0); // ends presto's round when nothing could be cut
    return 0;
  }

  private *answer(t: Process, u: Upcall, result: Sys<number>): Sys<number> {
    return yield* this.reply(t, u, yield* result);
  }

  private *reply(t: Process, u: Upcall, result: number): Sys<number> {
    yield* sys_write(t, this.psdevFd, encodeReply(u.opcode, u.unique, result));
    return 0;
  }

  /** BACKFETCH (a replayed CLOSE: from the peer being replayed) or OPEN (on demand: from the server). */
  private *fetchFor(t: Process, u: Upcall): Sys<number> {
    const why = u.opcode === IZO_UPC_BACKFETCH ? 'backfetch' : 'open';
    if (why === 'backfetch' && this.injecting !== null) return yield* fillFile(t, this.fset, u.path, this.injecting);
    // An open while the server is away (just booted, or reconnecting) waits a little for it.
    if (why === 'open') yield* this.wait(t, this.wake, () => this.serverLink() !== null, OPEN_WAIT);
    const link = why === 'backfetch' ? this.replaying : this.serverLink();
    if (link === null) return -5; // EIO: nobody to fetch from now
    const id = izo_fileid_decode(u.record);
    const data = yield* link.fetch(t, id, u.path);
    const status = isErr(data) ? data : yield* fillFile(t, this.fset, u.path, data);
    say(t, 'lento.fetch', { from: link.name, why, path: u.path, bytes: isErr(data) ? 0 : data.length,
      status: statusName(status) });
    if (!isErr(status) && why === 'open') yield* this.state.dropFileId(t, u.path);
    return status;
  }

  // ---- the program ------------------------------------------------------------------------

  *run(): Sys<number> {
    const p = this.p;
    this.thread(p, 'lento-upcall', (t) => this.upcalls(t));
    this.thread(p, 'lento-repair', (t) => repairer(t, this));
    if (this.conf.role === 'server') {
      this.thread(p, 'lento-permits', (t) => this.permits.arbiter(t));
      this.thread(p, 'lento-listen', (t) => server(t, this));
    } else {
      this.thread(p, 'lento-connect', (t) => client(t, this));
    }
    const { node, role, fileset, mode } = this.conf;
    say(p, 'lento.start', { node, role, fileset, mode });
    while (!this.stopping) yield* this.wait(p, this.wake, () => this.stopping);
    for (const link of this.links.values()) yield* link.s.kill(p, 'lento is stopping');
    while (this.threads > 0) yield* this.wake.waitUntil(p, () => this.threads === 0, 1_000_000);
    yield* this.state.savePeers(p);
    yield* this.fset.close();
    yield* sys_close(p, this.psdevFd);
    yield* sys_close(p, this.urandomFd);
    say(p, 'lento.stop', { node: this.conf.node, reason: 'SIGTERM' });
    return 0;
  }
}

function* readConfig(p: Process): Sys<string | Errno> {
  const fd = yield* sys_open(p, CONFIG_PATH, O_RDONLY);
  if (isErr(fd)) return fd;
  const buf = new Uint8Array(1 << 16);
  const n = yield* sys_read(p, fd, buf);
  yield* sys_close(p, fd);
  return isErr(n) ? n : Buffer.from(buf.subarray(0, n)).toString('latin1');
}

/** lento, the program: 0 when it stopped on SIGTERM, 1 when it could not start (traced). */
export function* lento_main(p: Process): Sys<number> {
  const text = yield* readConfig(p);
  const conf = isErr(text) ? [`${CONFIG_PATH}: ${statusName(text)}`] : parseConfig(text);
  if (Array.isArray(conf)) {
    say(p, 'lento.stop', { node: '?', reason: `bad configuration: ${conf.join('; ')}` });
    return 1;
  }
  const l = yield* Lento.start(p, conf);
  if (typeof l === 'string') {
    say(p, 'lento.stop', { node: conf.node, reason: l });
    return 1;
  }
  return yield* l.run();
}
