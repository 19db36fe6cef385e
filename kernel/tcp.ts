/**
 * tcp.ts: a TCP connection's state, and what the socket calls do to it.
 *
 * Layer: kernel networking (Linux net/ipv4/tcp.c). Interface: a `TcpSock` is one endpoint: its
 * state (the RFC 793 states; TIME_WAIT is skipped: a connection closed at both ends is gone at
 * once), its sequence space, send and receive queues, timers, options and counters. The socket
 * layer (kernel/socket.ts) calls `tcp_connect`, `tcp_sendmsg`, `tcp_recvmsg`, `tcp_shutdown`,
 * `tcp_close`, `tcp_listen_start`/`tcp_listen_stop`; segments arrive through kernel/tcp_input.ts,
 * leave through kernel/tcp_output.ts, and the timers live in kernel/tcp_timer.ts; the per-kernel
 * tables (ports, connections) are kernel/tcp_ipv4.ts's.
 * Sequence numbers are 32 bits and wrap, as on the wire; `before`/`after` compare them modulo 2^32.
 * Errors reach the caller as Linux reports them: a pending error (`err`: ECONNRESET, ECONNREFUSED,
 * ETIMEDOUT, EPIPE) is returned once by the next call and cleared (sock_error); after it, send
 * gives EPIPE and recv gives 0, because a dead connection is shut down both ways.
 * Invariants: snd_una <= snd_nxt <= snd_max <= write_seq (mod 2^32); the send queue holds exactly
 * the data bytes from snd_una to write_seq (less the FIN's sequence number once queued); a
 * connection is in its kernel's connection table exactly while it is not CLOSED.
 */
import { assert } from './assert.ts';
import { EAGAIN, ECONNRESET, EINTR, ENOTCONN, EPIPE, type Errno } from './errno.ts';
import { sleepInterruptible, WaitQueue, wakeUp, type Sys } from './sched.ts';
import { ByteRing } from './skbuff.ts';
import type { TcpStack } from './tcp_ipv4.ts';
import { tcp_cleanup_rbuf, tcp_push, tcp_send_active_reset, tcp_send_syn } from './tcp_output.ts';
import {
  tcp_arm_keepalive, tcp_clear_timers, tcp_delack_timer, tcp_keepalive_timer, tcp_retransmit_timer,
} from './tcp_timer.ts';
import type { TimerId } from './timer.ts';

export type TcpState =
  | 'CLOSED' | 'LISTEN' | 'SYN_SENT' | 'SYN_RECV' | 'ESTABLISHED'
  | 'FIN_WAIT1' | 'FIN_WAIT2' | 'CLOSE_WAIT' | 'CLOSING' | 'LAST_ACK';

/**
 * Largest payload of one segment: a simplification of MSS plus segmentation offload (GSO), so a
 * bulk transfer costs one scheduler event per 16 KiB instead of per 1460 bytes. Nothing a user
 * sees depends on segment boundaries (TCP is a byte stream).
 */
export const SEG_MAX = 16384;
/** Linux's TCP_RTO_MIN and TCP_RTO_MAX, in µs. */
export const TCP_RTO_MIN = 200_000;
export const TCP_RTO_MAX = 120_000_000;
/**
 * The RTO before any RTT sample: 1 s (RFC 6298, Linux since 3.1); Linux 2.4 used 3 s (RFC 1122).
 * Chosen so a connect into a partition fails after 63 s (1+2+4+8+16+32) rather than 189 s.
 */
export const TCP_TIMEOUT_INIT = 1_000_000;
/** tcp_retries2: retransmissions without progress before an established connection aborts. */
export const TCP_RETRIES2 = 15;
/** tcp_orphan_retries as Linux 2.4 applies it (0 means 8) to a socket closed by its user. */
export const TCP_ORPHAN_RETRIES = 8;
/** tcp_syn_retries (TCP_SYNCNT's default) and tcp_synack_retries. */
export const TCP_SYN_RETRIES = 5;
export const TCP_SYNACK_RETRIES = 5;
/** The delayed-ACK timeout: Linux's TCP_DELACK_MIN (and TCP_ATO_MIN), HZ/25, 40 ms; it does not adapt here. */
export const TCP_DELACK = 40_000;
/** tcp_fin_timeout: how long an orphan waits in FIN_WAIT2 for the peer's FIN. */
export const TCP_FIN_TIMEOUT = 60_000_000;
/** TCP_KEEPIDLE, TCP_KEEPINTVL (seconds) and TCP_KEEPCNT defaults, Linux's. */
export const TCP_KEEPALIVE_TIME = 7200;
export const TCP_KEEPALIVE_INTVL = 75;
export const TCP_KEEPALIVE_PROBES = 9;
/**
 * SO_SNDBUF and SO_RCVBUF defaults. 64 KiB of receive buffer is the window Linux 2.4 offered by
 * default (tcp_rmem 87380 bytes, three quarters of it window: 65535); the send buffer matches it so
 * one writer can fill its peer's whole window (2.4's 16 KiB would hold a sender to a quarter).
 * Here the buffers count payload bytes only (Linux counts its bookkeeping too and doubles the
 * value set with setsockopt; see docs/network.md).
 */
export const SOCK_BUF_DEFAULT = 65536;
export const SOCK_MIN_SNDBUF = 2048;
export const SOCK_MIN_RCVBUF = 256;
/** The ceiling of SO_SNDBUF/SO_RCVBUF (Linux's net.core.wmem_max/rmem_max, raised). */
export const SOCK_BUF_MAX = 4 * 1024 * 1024;
/** The ceiling of listen()'s backlog. */
export const SOMAXCONN = 128;

/** sk->shutdown bits. */
export const RCV_SHUTDOWN = 1;
export const SEND_SHUTDOWN = 2;
export const SHUTDOWN_MASK = 3;

// ---- sequence arithmetic modulo 2^32 ----
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}
/** a - b as a signed distance (valid while they are within 2^31 of each other). */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
export function before(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}
export function after(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

export class TcpSock {
  state: TcpState = 'CLOSED';
  /** '*' (INADDR_ANY) or this host's name once bound; null while unbound. */
  bindHost: string | null = null;
  lport = 0;
  rhost = '';
  rport = 0;
  /** "host:port" of each end, for traces (set when the addresses are). */
  name = '';
  peerName = '';
  /** Bound by the user (bind), so the port is kept after the connection ends (SOCK_BINDPORT_LOCK). */
  userBound = false;
  /** In its kernel's port table (bound, explicitly or not). */
  portHeld = false;
  /**
   * The socket-level state: a connection was set up (SS_CONNECTED); a connect() started one whose
   * outcome no connect() has reported yet (SS_CONNECTING: an interrupted connect goes on, and the
   * next connect waits for it and reports it).
   */
  connected = false;
  connecting = false;
  /** Closed by its user: the kernel finishes the connection alone (an orphan). */
  orphan = false;
  shutdown = 0;
  /** The peer's FIN was received (SOCK_DONE): reads end at 0 once the queue is empty. */
  done = false;
  /** The pending error, reported once by the next call (sk->err). */
  err: Errno | 0 = 0;

  // options (SOL_SOCKET, IPPROTO_TCP), in bytes, µs, seconds and counts
  sndbuf = SOCK_BUF_DEFAULT;
  rcvbuf = SOCK_BUF_DEFAULT;
  rcvtimeo = 0;
  sndtimeo = 0;
  keepalive = false;
  reuse = false;
  nodelay = false;
  keepidle = TCP_KEEPALIVE_TIME;
  keepintvl = TCP_KEEPALIVE_INTVL;
  keepcnt = TCP_KEEPALIVE_PROBES;
  syncnt = TCP_SYN_RETRIES;

  // send sequence space
  iss = 0;
  snd_una = 0;
  snd_nxt = 0;
  /** The highest sequence number sent so far (snd_nxt goes back to snd_una on a timeout). */
  snd_max = 0;
  /** The peer's window, counted from snd_una. */
  snd_wnd = 0;
  /** Sequence number after the last byte queued (and after the FIN once queued). */
  write_seq = 0;
  finQueued = false;
  /** The bytes from snd_una on: unacknowledged, then unsent. */
  readonly sndq = new ByteRing();

  // receive sequence space
  irs = 0;
  rcv_nxt = 0;
  /** rcv_nxt and the window when the last window was advertised: its right edge never recedes. */
  rcv_wup = 0;
  rcv_wnd = 0;
  /** Received in order, not yet read. */
  readonly rcvq = new ByteRing();

  // round-trip timing and retransmission (µs)
  srtt = 0;
  rttvar = 0;
  rto = TCP_TIMEOUT_INIT;
  /** Retransmissions since the last progress; a zero-window or keepalive probe run's length. */
  retransmits = 0;
  probesOut = 0;
  /** Doublings of the zero-window probe interval (Linux's backoff for the persist timer). */
  backoff = 0;
  rttTiming = false;
  rttSeq = 0;
  rttStart = 0;
  /** When a segment was last received (keepalive measures idleness from it). */
  lastRcv = 0;
  rtxTimer: TimerId | null = null;
  rtxTimerAt = 0;
  /** When the retransmission (or zero-window probe) timer should act, or -1. */
  rtxAt = -1;
  rtxKind: 'rto' | 'probe' = 'rto';
  kaTimer: TimerId | null = null;
  kaTimerAt = 0;
  kaAt = -1;
  /** The delayed-ACK timer's deadline, or -1 (Linux's ack.pending with ack.timeout). */
  dackTimer: TimerId | null = null;
  dackTimerAt = 0;
  dackAt = -1;
  /**
   * Interactive (Linux's ack.pingpong): we sent data soon after receiving some, so ACKs wait for
   * our reply; left when a delayed ACK had to be sent by its timer. `lrcvtime`: last data received.
   */
  pingpong = false;
  lrcvtime = Number.MIN_SAFE_INTEGER;

  // listening
  backlog = 0;
  /** Established connections waiting for accept(), and embryonic ones (SYN received). */
  readonly acceptq: TcpSock[] = [];
  readonly synq: TcpSock[] = [];
  /** The listener of an embryonic or not yet accepted connection. */
  parent: TcpSock | null = null;
  /** Key in the connection table while hashed, else -1. */
  connKey = -1;

  /** Readers and accepters sleep here; writers and connect on `wq`. */
  readonly rq = new WaitQueue('tcp.rq');
  readonly wq = new WaitQueue('tcp.wq');

  // counters (TcpInfo)
  bytesSent = 0;
  bytesAcked = 0;
  bytesReceived = 0;
  segsOut = 0;
  segsIn = 0;
  retransSegs = 0;
  timeouts = 0;

  readonly onRtxTimer = (): void => tcp_retransmit_timer(this);
  readonly onKaTimer = (): void => tcp_keepalive_timer(this);
  readonly onDackTimer = (): void => tcp_delack_timer(this);

  constructor(readonly stack: TcpStack) {}

  now(): number {
    return this.stack.kernel.timers.now();
  }

  /** Bytes queued and not yet sent. */
  unsent(): number {
    return Math.max(0, seqDiff(this.dataEnd(), this.snd_nxt));
  }

  /** Sequence number after the last data byte queued (the FIN's, once one is queued). */
  dataEnd(): number {
    return this.finQueued ? seqAdd(this.write_seq, -1) : this.write_seq;
  }

  /** A listener's options, copied to a connection it spawns (Linux clones the listener's sock). */
  inherit(from: TcpSock): void {
    this.sndbuf = from.sndbuf;
    this.rcvbuf = from.rcvbuf;
    this.rcvtimeo = from.rcvtimeo;
    this.sndtimeo = from.sndtimeo;
    this.keepalive = from.keepalive;
    this.reuse = from.reuse;
    this.nodelay = from.nodelay;
    this.keepidle = from.keepidle;
    this.keepintvl = from.keepintvl;
    this.keepcnt = from.keepcnt;
    this.syncnt = from.syncnt;
  }
}

// ---- waking (Linux's sk_data_ready, sk_write_space, sk_state_change) ----

export function sk_data_ready(sk: TcpSock): void {
  if (sk.rq.sleepers.length > 0) wakeUp(sk.rq);
}

/** Writers wake once at least half as much is free as is queued (Linux's sk_stream_wspace rule). */
export function sk_write_space(sk: TcpSock): void {
  if (sk.wq.sleepers.length === 0) return;
  if ((sk.sndbuf - sk.sndq.length) * 2 >= sk.sndq.length) wakeUp(sk.wq);
}

export function sk_state_change(sk: TcpSock): void {
  if (sk.rq.sleepers.length > 0) wakeUp(sk.rq);
  if (sk.wq.sleepers.length > 0) wakeUp(sk.wq);
}

/** Report and clear the pending error (Linux sock_error). */
export function sock_error(sk: TcpSock): Errno | 0 {
  const e = sk.err;
  sk.err = 0;
  return e;
}

/** The tick a call with timeout `timeo` (µs, 0 = forever) gives up at, or null. */
export function timeoDeadline(sk: TcpSock, timeo: number): number | null {
  return timeo === 0 ? null : sk.now() + timeo;
}

function remaining(sk: TcpSock, deadline: number | null): number | null {
  return deadline === null ? null : Math.max(0, deadline - sk.now());
}

/**
 * Sleep on `q` at `point` until woken, the deadline or a signal (an interruptible sleep): null when
 * woken, else the error the call returns (EAGAIN for a timeout, as SO_RCVTIMEO/SO_SNDTIMEO give;
 * EINTR for a signal).
 */
export function* sk_wait(sk: TcpSock, q: WaitQueue, point: string, deadline: number | null): Sys<Errno | null> {
  const left = remaining(sk, deadline);
  if (left === 0) return EAGAIN;
  const why = yield* sleepInterruptible(q, point, left);
  if (why === 'interrupted') return EINTR;
  if (why === 'timeout') return EAGAIN;
  return null;
}

// ---- the calls ----

/** Start an active open: the socket has its addresses and is hashed; send the SYN. */
export function tcp_connect(sk: TcpSock): void {
  assert(sk.state === 'CLOSED' && sk.connKey >= 0, () => `tcp_connect in ${sk.state}`);
  const iss = sk.stack.isn(sk.lport, sk.rhost, sk.rport);
  sk.iss = iss;
  sk.snd_una = iss;
  sk.snd_nxt = seqAdd(iss, 1);
  sk.snd_max = sk.snd_nxt;
  sk.write_seq = sk.snd_nxt;
  sk.finQueued = false;
  sk.rto = TCP_TIMEOUT_INIT;
  sk.retransmits = 0;
  sk.err = 0;
  sk.done = false;
  sk.shutdown = 0;
  sk.state = 'SYN_SENT';
  sk.stack.kernel.tracer.emit('tcp.connect', { local: sk.name, peer: sk.peerName });
  tcp_send_syn(sk);
}

function sendable(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'CLOSE_WAIT';
}

/** Wait until a connection in progress is set up (Linux wait_for_tcp_connect). */
function* wait_for_connect(sk: TcpSock, nonblock: boolean, deadline: number | null): Sys<Errno | 0> {
  while (!sendable(sk.state)) {
    if (sk.err !== 0) return sock_error(sk);
    if (sk.state !== 'SYN_SENT' && sk.state !== 'SYN_RECV') return EPIPE;
    if (nonblock) return EAGAIN;
    const e = yield* sk_wait(sk, sk.wq, 'tcp.connect', deadline);
    if (e !== null) return e;
  }
  return 0;
}

/**
 * Queue `data` for sending; a blocking call returns once all of it is queued, a slow reader at the
 * other end holding it back (the buffers fill). Returns the count queued, or the error if none was.
 */
export function* tcp_sendmsg(sk: TcpSock, data: Uint8Array, nonblock: boolean): Sys<number | Errno> {
  const deadline = timeoDeadline(sk, sk.sndtimeo);
  if (!sendable(sk.state)) {
    const ready = yield* wait_for_connect(sk, nonblock, deadline);
    if (ready !== 0) return ready;
  }
  let copied = 0;
  while (copied < data.length) {
    if (sk.err !== 0 || (sk.shutdown & SEND_SHUTDOWN) !== 0) {
      if (copied > 0) return copied;
      const e = sock_error(sk);
      return e !== 0 ? e : EPIPE;
    }
    const space = sk.sndbuf - sk.sndq.length;
    if (space > 0) {
      const n = Math.min(space, data.length - copied);
      sk.sndq.push(data.subarray(copied, copied + n), sk.sndbuf);
      sk.write_seq = seqAdd(sk.write_seq, n);
      copied += n;
      tcp_push(sk);
      continue;
    }
    if (nonblock) return copied > 0 ? copied : EAGAIN;
    const e = yield* sk_wait(sk, sk.wq, 'tcp.send', deadline);
    if (e !== null) return copied > 0 ? copied : e;
  }
  return copied;
}

export interface RecvFlags {
  readonly nonblock: boolean;
  readonly peek: boolean;
  readonly waitall: boolean;
}

/** Why a read with nothing (more) to copy stops, or null to wait (Linux tcp_recvmsg's checks). */
function recv_stop(sk: TcpSock): number | Errno | null {
  if (sk.done) return 0;
  if (sk.err !== 0) return sock_error(sk);
  if ((sk.shutdown & RCV_SHUTDOWN) !== 0) return 0;
  // Never connected, or a failed connect (a dead connection is shut down both ways, above).
  if (sk.state === 'CLOSED') return ENOTCONN;
  return null;
}

/** Read into `buf`: what is queued, else wait for data; 0 at end of stream. */
export function* tcp_recvmsg(sk: TcpSock, buf: Uint8Array, f: RecvFlags): Sys<number | Errno> {
  if (sk.state === 'LISTEN') return ENOTCONN;
  const deadline = timeoDeadline(sk, sk.rcvtimeo);
  let copied = 0;
  for (;;) {
    if (sk.rcvq.length > 0 && !(f.peek && copied > 0)) {
      const n = sk.rcvq.copyOut(copied === 0 ? buf : buf.subarray(copied), f.peek);
      copied += n;
      if (!f.peek) tcp_cleanup_rbuf(sk);
    }
    if (copied === buf.length || (copied > 0 && !f.waitall) || (f.peek && copied > 0)) return copied;
    const stop = recv_stop(sk);
    if (stop !== null) return copied > 0 ? copied : stop;
    if (f.nonblock) return copied > 0 ? copied : EAGAIN;
    const e = yield* sk_wait(sk, sk.rq, 'tcp.recv', deadline);
    if (e !== null) return copied > 0 ? copied : e;
  }
}

/** shutdown(): how is RCV_SHUTDOWN, SEND_SHUTDOWN or both (SHUT_RD/WR/RDWR plus one). */
export function tcp_shutdown(sk: TcpSock, how: number): 0 | Errno {
  let result: 0 | Errno = 0;
  if (sk.state === 'CLOSED') {
    result = ENOTCONN;
    sk.shutdown |= how;
  } else if (sk.state === 'LISTEN') {
    if ((how & RCV_SHUTDOWN) !== 0) tcp_listen_stop(sk);
  } else if (sk.state === 'SYN_SENT') {
    sk.err = ECONNRESET; // what a connect in progress reports when shut down (tcp_disconnect)
    tcp_done(sk, 'shut down while connecting');
  } else {
    sk.shutdown |= how;
    if ((how & SEND_SHUTDOWN) !== 0) tcp_queue_fin(sk);
  }
  sk_state_change(sk);
  return result;
}

/** Queue our FIN after the data (tcp_close_state): ESTABLISHED -> FIN_WAIT1, CLOSE_WAIT -> LAST_ACK. */
function tcp_queue_fin(sk: TcpSock): void {
  if (sk.state !== 'ESTABLISHED' && sk.state !== 'CLOSE_WAIT') return;
  if (sk.finQueued) return;
  sk.finQueued = true;
  sk.write_seq = seqAdd(sk.write_seq, 1);
  sk.state = sk.state === 'CLOSE_WAIT' ? 'LAST_ACK' : 'FIN_WAIT1';
  tcp_push(sk);
}

/**
 * The last close of the socket's file. A listener stops; unread received data makes it a reset
 * (RST to the peer, unsent data dropped), as Linux does; otherwise a FIN follows the queued data and
 * the connection, now an orphan, finishes in the background.
 */
export function tcp_close(sk: TcpSock): void {
  const k = sk.stack.kernel;
  k.tracer.emit('tcp.close', {
    local: sk.name, peer: sk.peerName === '' ? null : sk.peerName, state: sk.state,
    queued: sk.sndq.length, unread: sk.rcvq.length,
  });
  sk.orphan = true;
  sk.shutdown = SHUTDOWN_MASK;
  if (sk.state === 'LISTEN') tcp_listen_stop(sk);
  if (sk.state === 'CLOSED') {
    sk.stack.unhash(sk);
    sk.stack.releasePort(sk);
    return;
  }
  if (sk.state === 'SYN_SENT') {
    tcp_done(sk, 'closed while connecting');
    return;
  }
  if (sk.rcvq.length > 0) {
    tcp_send_active_reset(sk, 'unread data');
    tcp_done(sk, 'closed with unread data');
    return;
  }
  tcp_queue_fin(sk);
  if (sk.state === 'FIN_WAIT2') tcp_arm_keepalive(sk, TCP_FIN_TIMEOUT);
}

/** listen(): the socket (bound, CLOSED) becomes a listener. */
export function tcp_listen_start(sk: TcpSock, backlog: number): void {
  sk.backlog = backlog;
  if (sk.state === 'LISTEN') return;
  sk.state = 'LISTEN';
  sk.stack.listeners.set(sk.lport, sk);
  sk.stack.kernel.tracer.emit('tcp.listen', { local: sk.name, backlog });
}

/**
 * Stop listening (close or shutdown of a listener): embryonic connections are forgotten (a late
 * ACK from their peer meets no socket and gets an RST); established ones not yet accepted are
 * reset, as Linux's inet_csk_listen_stop does.
 */
export function tcp_listen_stop(sk: TcpSock): void {
  assert(sk.state === 'LISTEN', () => `listen stop in ${sk.state}`);
  if (sk.stack.listeners.get(sk.lport) === sk) sk.stack.listeners.delete(sk.lport);
  sk.state = 'CLOSED';
  for (const child of sk.synq.splice(0)) {
    child.orphan = true;
    tcp_done(child, 'listener closed');
  }
  for (const child of sk.acceptq.splice(0)) {
    child.orphan = true;
    child.parent = null;
    if (child.state !== 'CLOSED') {
      tcp_send_active_reset(child, 'listener closed');
      tcp_done(child, 'listener closed');
    }
  }
  sk_state_change(sk);
}

/**
 * The connection is over (tcp_done): CLOSED, out of the connection table, timers stopped, unsent
 * data dropped, everyone waiting woken. Received data stays readable. The port is given back
 * unless the user bound it (then at close), and an orphan is gone for good.
 */
export function tcp_done(sk: TcpSock, reason: string): void {
  const was = sk.state;
  sk.state = 'CLOSED';
  sk.shutdown = SHUTDOWN_MASK;
  tcp_clear_timers(sk);
  sk.sndq.clear();
  const parent = sk.parent;
  if (parent !== null && was === 'SYN_RECV') {
    const i = parent.synq.indexOf(sk);
    if (i >= 0) parent.synq.splice(i, 1);
    sk.parent = null;
  }
  sk.stack.unhash(sk);
  if (!sk.userBound || sk.orphan) sk.stack.releasePort(sk);
  if (sk.peerName !== '' && was !== 'CLOSED') {
    sk.stack.kernel.tracer.emit('tcp.done', {
      local: sk.name, peer: sk.peerName, from: was, reason, sent: sk.bytesSent, received: sk.bytesReceived,
      retransmits: sk.retransSegs,
    });
  }
  sk_state_change(sk);
}

/** The connection became established: keepalive starts, waiters wake. */
export function tcp_established(sk: TcpSock, side: 'client' | 'server'): void {
  sk.state = 'ESTABLISHED';
  sk.connected = true;
  sk.lastRcv = sk.now();
  if (sk.keepalive) tcp_arm_keepalive(sk, sk.keepidle * 1_000_000);
  sk.stack.kernel.tracer.emit('tcp.established', { local: sk.name, peer: sk.peerName, side, rtt: sk.srtt });
  sk_state_change(sk);
}

/** Per-socket counters and state, for tests and reports (Linux's TCP_INFO, in plain fields). */
export interface TcpInfo {
  readonly state: TcpState;
  readonly local: string;
  readonly peer: string | null;
  /** Data bytes sent for the first time, acknowledged, and received in order. */
  readonly bytesSent: number;
  readonly bytesAcked: number;
  readonly bytesReceived: number;
  readonly segmentsSent: number;
  readonly segmentsReceived: number;
  /** Segments sent again, and retransmission timer expiries. */
  readonly retransmits: number;
  readonly timeouts: number;
  /** Smoothed RTT, its variation and the current retransmission timeout, in µs. */
  readonly rtt: number;
  readonly rttvar: number;
  readonly rto: number;
  /** Bytes queued to send (unacknowledged or unsent), and received but not read. */
  readonly sendQueue: number;
  readonly recvQueue: number;
  readonly sndWnd: number;
  readonly rcvWnd: number;
}

export function tcp_info(sk: TcpSock): TcpInfo {
  return {
    state: sk.state, local: sk.name, peer: sk.peerName === '' ? null : sk.peerName,
    bytesSent: sk.bytesSent, bytesAcked: sk.bytesAcked, bytesReceived: sk.bytesReceived,
    segmentsSent: sk.segsOut, segmentsReceived: sk.segsIn, retransmits: sk.retransSegs, timeouts: sk.timeouts,
    rtt: sk.srtt, rttvar: sk.rttvar, rto: sk.rto, sendQueue: sk.sndq.length, recvQueue: sk.rcvq.length,
    sndWnd: sk.snd_wnd, rcvWnd: sk.rcv_wnd,
  };
}
