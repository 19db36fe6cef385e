/**
 * client.ts: lento as a client cache manager: keep a session with the server, reconnect when it
 * breaks, and the part of a session both roles share (REPSTATUS, then the PeerLink).
 *
 * Layer: user space (lento). Interface: `client(t, lento)` is the connecting thread: it connects
 * to the configured server (few SYN retries, so a partitioned server is given up on in seconds),
 * runs the handshake and `establish`, waits for the session to end, then tries again after a
 * back-off (1 s, doubling to 8 s; 30 s after a refusal, which will not fix itself).
 * `establish(t, lento, fd, handshake)` swaps REPSTATUS (how far each side applied the other's
 * log, from last_rcvd, and where each log ends: both resume exactly there), starts the PeerLink
 * and waits for the session's end. A client gives back a permit its presto stole while it was
 * disconnected, so its next write asks the server again.
 * Invariants: one session at a time; nothing is shipped or applied before REPSTATUS is agreed.
 */
import { errnoName, isErr } from '../../kernel/errno.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { AF_INET, IPPROTO_TCP, SOCK_STREAM, TCP_SYNCNT } from '../../kernel/socket.ts';
import { sys_close, sys_connect, sys_setsockopt, sys_socket } from '../../kernel/syscalls.ts';
import { say } from './events.ts';
import { clientHandshake, readMessage, type Handshake } from './handshake.ts';
import type { Lento } from './lento.ts';
import { PeerLink } from './peer.ts';
import { Session } from './session.ts';
import { MSG, type RepStatus } from './wire.ts';

const BACKOFF_MIN = 1_000_000;
const BACKOFF_MAX = 8_000_000;
const REFUSED_BACKOFF = 30_000_000;

export function* client(t: Process, l: Lento): Sys<number> {
  let attempt = 0;
  let backoff = BACKOFF_MIN;
  while (!l.stopping) {
    attempt++;
    const r = yield* connectOnce(t, l, attempt);
    if (r === 'up') backoff = BACKOFF_MIN;
    const wait = r === 'refused' ? REFUSED_BACKOFF : backoff;
    if (r !== 'up') backoff = Math.min(backoff * 2, BACKOFF_MAX);
    yield* l.wait(t, l.wake, () => false, wait);
  }
  return 0;
}

function* connectOnce(t: Process, l: Lento, attempt: number): Sys<'up' | 'failed' | 'refused'> {
  const fd = yield* sys_socket(t, AF_INET, SOCK_STREAM);
  if (isErr(fd)) return 'failed';
  yield* sys_setsockopt(t, fd, IPPROTO_TCP, TCP_SYNCNT, 2);
  const c = yield* sys_connect(t, fd, { host: l.conf.server, port: l.conf.port });
  say(t, 'lento.connect', { peer: l.conf.server, attempt, error: isErr(c) ? errnoName(c) : null });
  if (isErr(c)) {
    yield* sys_close(t, fd);
    return 'failed';
  }
  const hs = yield* clientHandshake(t, fd, l.conf, yield* l.random(t));
  if (!hs.ok) {
    say(t, 'lento.refused', { peer: l.conf.server, reason: hs.reason });
    yield* sys_close(t, fd);
    return hs.refused ? 'refused' : 'failed';
  }
  yield* l.fset.revokePermit(t); // a permit stolen while disconnected goes back
  const ok = yield* establish(t, l, fd, hs);
  return ok ? 'up' : 'failed';
}

/** REPSTATUS, then replicate until the session ends; false if it never came up. */
export function* establish(t: Process, l: Lento, fd: number, hs: Extract<Handshake, { ok: true }>): Sys<boolean> {
  const s = new Session(fd, hs.peer, hs.keys, l.conf.heartbeat, l.conf.deadAfter);
  const mine = yield* myStatus(t, l, hs.peerUuid);
  if (mine === null || isErr(yield* s.send(t, MSG.REPSTATUS, mine))) {
    yield* s.kill(t, 'REPSTATUS could not be sent');
    yield* s.release(t);
    return false;
  }
  const m = yield* readMessage(t, fd, hs.keys.reader);
  if (typeof m === 'string' || m.type !== MSG.REPSTATUS) {
    yield* s.kill(t, typeof m === 'string' ? m : 'expected REPSTATUS');
    yield* s.release(t);
    return false;
  }
  const theirs = m.body as RepStatus;
  say(t, 'lento.repstatus', { peer: hs.peer, peer_applied: theirs.applied_recno, peer_kml: theirs.kml_recno,
    applied: mine.applied_recno, kml: mine.kml_recno });
  const link = new PeerLink(l, s, hs.peer, hs.peerUuid,
    { recno: theirs.applied_recno, offset: theirs.applied_offset },
    { recno: mine.applied_recno, offset: mine.applied_offset });
  l.links.set(hs.peer, link);
  say(t, 'lento.session', { peer: hs.peer, state: 'up', reason: 'authenticated' });
  l.wake.notifyAll(t);
  link.run(t);
  yield* l.wait(t, s.changed, () => s.dead);
  if (l.links.get(hs.peer) === link) l.links.delete(hs.peer);
  l.permits.sessionDown(t, link);
  yield* s.release(t);
  return true;
}

function* myStatus(t: Process, l: Lento, peer: Uint8Array): Sys<RepStatus | null> {
  const r = yield* l.fset.rcvd(peer, t);
  const end = yield* l.fset.kmlEnd(t);
  if (isErr(r) || isErr(end)) return null;
  return {
    applied_recno: r.rec?.remote_recno ?? 0, applied_offset: r.rec?.remote_offset ?? 0,
    kml_recno: end.recno, kml_offset: end.offset,
  };
}
