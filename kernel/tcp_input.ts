/**
 * tcp_input.ts: what a connection does with each segment that arrives for it.
 *
 * Layer: kernel networking (Linux net/ipv4/tcp_input.c and the listening half of tcp_ipv4.c).
 * Interface: `tcp_listen_rcv(listener, pkt)` handles a SYN for a listening port (an embryonic
 * connection in SYN_RECV answers SYN-ACK; the listen queue full, the SYN is dropped unanswered, so
 * the connecting side retries and finally times out); `tcp_rcv(sk, pkt)` runs the state machine of
 * one connection: the SYN-ACK in SYN_SENT, then for synchronized states Linux 2.4's order: the
 * sequence check (an unacceptable segment is dropped and answered with a duplicate ACK), RST, SYN,
 * the ACK (snd_una advances, the window is taken, RTT sampled, writers woken), the data (queued if
 * it starts at rcv_nxt, overlap trimmed; a segment beyond a gap is dropped and re-ACKed: the wire
 * is FIFO, so a gap means loss and go-back-N resends it; new data is acknowledged at once every
 * second full segment, else by a delayed ACK), then the FIN (acknowledged at once).
 * Who learns what: a RST gives the pending error ECONNREFUSED (in SYN_SENT), EPIPE (in CLOSE_WAIT)
 * or ECONNRESET; data arriving at a socket closed for reading (an orphan in FIN_WAIT) is answered
 * with RST, which is how a writer to a closed peer learns of it (Linux).
 * Nothing here trusts the packet beyond kernel/tcp_ipv4.ts's field checks; nothing panics on it.
 */
import { ECONNREFUSED, ECONNRESET, EPIPE, errnoName, type Errno } from './errno.ts';
import { TH_ACK, TH_FIN, TH_RST, TH_SYN, seqSpace, type Packet } from './netdevice.ts';
import {
  after, before, RCV_SHUTDOWN, SEG_MAX, seqAdd, seqDiff, sk_data_ready, sk_state_change, sk_write_space, tcp_done,
  tcp_established, TCP_FIN_TIMEOUT, TcpSock,
} from './tcp.ts';
import { tcp_v4_send_reset } from './tcp_ipv4.ts';
import { tcp_push, tcp_send_ack, tcp_send_synack } from './tcp_output.ts';
import { tcp_arm_keepalive, tcp_arm_rto, tcp_clear_rtx, tcp_delack, tcp_rtt_sample } from './tcp_timer.ts';

/** A SYN for a listening port. */
export function tcp_listen_rcv(lis: TcpSock, pkt: Packet): void {
  const f = pkt.flags;
  if ((f & TH_RST) !== 0) return;
  if ((f & TH_ACK) !== 0) {
    tcp_v4_send_reset(lis.stack, pkt, 'no connection');
    return;
  }
  if ((f & TH_SYN) === 0) return;
  const st = lis.stack;
  if (lis.synq.length + lis.acceptq.length > lis.backlog) {
    st.stats.listenDrops++;
    const peer = `${pkt.src}:${pkt.sport}`;
    st.kernel.tracer.emit('tcp.drop', { local: lis.name, peer, reason: 'listen queue full' });
    return;
  }
  const child = new TcpSock(st);
  child.inherit(lis);
  child.parent = lis;
  st.setAddresses(child, pkt.dport, pkt.src, pkt.sport);
  st.addChild(child);
  child.irs = pkt.seq;
  child.rcv_nxt = seqAdd(pkt.seq, 1);
  child.rcv_wup = child.rcv_nxt;
  const iss = st.isn(child.lport, child.rhost, child.rport);
  child.iss = iss;
  child.snd_una = iss;
  child.snd_nxt = seqAdd(iss, 1);
  child.snd_max = child.snd_nxt;
  child.write_seq = child.snd_nxt;
  child.snd_wnd = pkt.window;
  child.state = 'SYN_RECV';
  child.lastRcv = child.now();
  child.segsIn++;
  lis.synq.push(child);
  tcp_send_synack(child);
}

/** A segment for a connection of this kernel. */
export function tcp_rcv(sk: TcpSock, pkt: Packet): void {
  sk.segsIn++;
  if (sk.state === 'SYN_SENT') tcp_rcv_synsent(sk, pkt);
  else if (sk.state !== 'CLOSED' && sk.state !== 'LISTEN') tcp_rcv_state_process(sk, pkt);
}

/** The answer to our SYN: SYN-ACK (established), RST (refused), anything else dropped. */
function tcp_rcv_synsent(sk: TcpSock, pkt: Packet): void {
  const f = pkt.flags;
  if ((f & TH_ACK) !== 0 && pkt.ack !== sk.snd_nxt) {
    if ((f & TH_RST) === 0) tcp_v4_send_reset(sk.stack, pkt, 'bad ACK');
    return;
  }
  if ((f & TH_RST) !== 0) {
    if ((f & TH_ACK) !== 0) tcp_reset(sk);
    return;
  }
  if ((f & TH_SYN) === 0) return;
  if ((f & TH_ACK) === 0) {
    // A simultaneous open (both ends connecting to each other) is not modelled: dropped.
    sk.stack.stats.unexpected++;
    return;
  }
  sk.irs = pkt.seq;
  sk.rcv_nxt = seqAdd(pkt.seq, 1);
  sk.rcv_wup = sk.rcv_nxt;
  sk.rcv_wnd = 0;
  handshake_acked(sk, pkt);
  tcp_established(sk, 'client');
  tcp_send_ack(sk);
}

/** Our SYN (or SYN-ACK) was acknowledged by `pkt`. */
function handshake_acked(sk: TcpSock, pkt: Packet): void {
  sk.snd_una = pkt.ack;
  sk.snd_wnd = pkt.window;
  if (sk.rttTiming && !before(pkt.ack, sk.rttSeq)) tcp_rtt_sample(sk, sk.now() - sk.rttStart);
  sk.rttTiming = false;
  sk.retransmits = 0;
  tcp_clear_rtx(sk);
}

/** Linux 2.4's tcp_sequence: the segment overlaps what we are prepared to receive. */
function tcp_sequence_ok(sk: TcpSock, pkt: Packet): boolean {
  const end = seqAdd(pkt.seq, seqSpace(pkt));
  const right = seqAdd(sk.rcv_wup, sk.rcv_wnd);
  const edge = after(right, sk.rcv_nxt) ? right : sk.rcv_nxt;
  return !before(end, sk.rcv_wup) && !after(pkt.seq, edge);
}

function tcp_rcv_state_process(sk: TcpSock, pkt: Packet): void {
  const f = pkt.flags;
  sk.lastRcv = sk.now();
  if (!tcp_sequence_ok(sk, pkt)) {
    if ((f & TH_RST) === 0) tcp_send_ack(sk);
    sk.stack.stats.outOfWindow++;
    return;
  }
  if ((f & TH_RST) !== 0) {
    tcp_reset(sk);
    return;
  }
  if ((f & TH_SYN) !== 0) {
    tcp_rcv_syn(sk, pkt);
    return;
  }
  if ((f & TH_ACK) === 0) return;
  if (sk.state === 'SYN_RECV' && !tcp_synrecv_ack(sk, pkt)) return;
  if (!tcp_ack(sk, pkt)) return;
  if (sk.state === 'CLOSED') return;
  tcp_data(sk, pkt);
}

/** A SYN on a synchronized connection: our SYN-ACK was lost, an old duplicate, or a new incarnation. */
function tcp_rcv_syn(sk: TcpSock, pkt: Packet): void {
  if (sk.state === 'SYN_RECV' && pkt.seq === sk.irs) {
    tcp_send_synack(sk);
    return;
  }
  if (before(pkt.seq, sk.rcv_nxt)) {
    tcp_send_ack(sk);
    return;
  }
  // A SYN inside the window: the peer restarted on the same ports (Linux 2.4 resets both ends).
  tcp_v4_send_reset(sk.stack, pkt, 'SYN in window');
  tcp_reset(sk);
}

/** A RST was accepted (Linux tcp_reset): the pending error depends on the state. */
export function tcp_reset(sk: TcpSock): void {
  let err: Errno | 0 = ECONNRESET;
  if (sk.state === 'SYN_SENT') err = ECONNREFUSED;
  else if (sk.state === 'CLOSE_WAIT') err = EPIPE;
  else if (sk.state === 'SYN_RECV' || sk.orphan) err = 0;
  sk.stack.stats.resetsReceived++;
  sk.stack.kernel.tracer.emit('tcp.reset.received', {
    local: sk.name, peer: sk.peerName, state: sk.state, error: err === 0 ? null : errnoName(err),
  });
  sk.err = err;
  tcp_done(sk, 'reset');
}

/** The ACK that completes a passive open: to the listener's accept queue. */
function tcp_synrecv_ack(sk: TcpSock, pkt: Packet): boolean {
  if (pkt.ack !== sk.snd_nxt) {
    tcp_v4_send_reset(sk.stack, pkt, 'bad ACK');
    return false;
  }
  const lis = sk.parent;
  handshake_acked(sk, pkt);
  if (lis !== null) {
    const i = lis.synq.indexOf(sk);
    if (i >= 0) lis.synq.splice(i, 1);
    lis.acceptq.push(sk);
  }
  tcp_established(sk, 'server');
  if (lis !== null) sk_data_ready(lis);
  return true;
}

/** The ACK field (Linux tcp_ack): false when the segment acknowledges what was never sent. */
function tcp_ack(sk: TcpSock, pkt: Packet): boolean {
  const ack = pkt.ack;
  if (after(ack, sk.snd_max)) {
    tcp_send_ack(sk);
    sk.stack.stats.outOfWindow++;
    return false;
  }
  if (before(ack, sk.snd_una)) return true;
  const acked = seqDiff(ack, sk.snd_una);
  sk.snd_wnd = pkt.window;
  sk.probesOut = 0;
  if (acked > 0) {
    const data = Math.min(acked, sk.sndq.length);
    sk.sndq.consume(data);
    sk.bytesAcked += data;
    sk.snd_una = ack;
    if (before(sk.snd_nxt, ack)) sk.snd_nxt = ack;
    if (sk.rttTiming && !before(ack, sk.rttSeq)) {
      tcp_rtt_sample(sk, sk.now() - sk.rttStart);
      sk.rttTiming = false;
    }
    sk.retransmits = 0;
    if (sk.snd_una === sk.snd_max) tcp_clear_rtx(sk);
    else tcp_arm_rto(sk, sk.rto);
    if (sk.finQueued && ack === sk.write_seq) tcp_fin_acked(sk);
    sk_write_space(sk);
  }
  if (sk.rtxKind === 'probe' && sk.rtxAt >= 0 && seqDiff(seqAdd(sk.snd_una, sk.snd_wnd), sk.snd_nxt) > 0) {
    sk.backoff = 0;
    tcp_clear_rtx(sk);
  }
  if (sk.state !== 'CLOSED') tcp_push(sk);
  return true;
}

/** Our FIN was acknowledged. TIME_WAIT is skipped: a connection closed at both ends is gone. */
function tcp_fin_acked(sk: TcpSock): void {
  if (sk.state === 'FIN_WAIT1') {
    sk.state = 'FIN_WAIT2';
    if (sk.orphan) tcp_arm_keepalive(sk, TCP_FIN_TIMEOUT);
  } else if (sk.state === 'CLOSING' || sk.state === 'LAST_ACK') {
    tcp_done(sk, 'closed');
  }
}

function accepts_data(sk: TcpSock): boolean {
  return sk.state === 'ESTABLISHED' || sk.state === 'FIN_WAIT1' || sk.state === 'FIN_WAIT2';
}

/** The segment's data and FIN. */
function tcp_data(sk: TcpSock, pkt: Packet): void {
  const len = pkt.payload.length;
  const fin = (pkt.flags & TH_FIN) !== 0;
  if (len === 0 && !fin) {
    if (before(pkt.seq, sk.rcv_nxt)) tcp_send_ack(sk); // a zero-window or keepalive probe
    return;
  }
  if (!accepts_data(sk)) {
    tcp_send_ack(sk); // the peer's FIN came already: a duplicate
    return;
  }
  const offset = seqDiff(sk.rcv_nxt, pkt.seq);
  if (offset < 0) {
    sk.stack.stats.outOfOrder++;
    tcp_send_ack(sk);
    return;
  }
  const fresh = len - offset;
  if (fresh > 0 && (sk.shutdown & RCV_SHUTDOWN) !== 0 && sk.state !== 'ESTABLISHED') {
    // New data for a socket closed for reading: Linux aborts it (tcp_reset) and answers RST.
    tcp_v4_send_reset(sk.stack, pkt, 'data after close');
    sk.err = sk.orphan ? 0 : ECONNRESET;
    tcp_done(sk, 'data after close');
    return;
  }
  if (fresh > 0) {
    sk.rcvq.push(offset === 0 ? pkt.payload : pkt.payload.subarray(offset), sk.rcvbuf);
    sk.rcv_nxt = seqAdd(sk.rcv_nxt, fresh);
    sk.bytesReceived += fresh;
    sk_data_ready(sk);
  }
  if (fin && fresh >= 0) {
    if (!tcp_fin(sk)) tcp_send_ack(sk);
    return;
  }
  if (fresh > 0) tcp_ack_snd_check(sk);
  else tcp_send_ack(sk); // a duplicate: tell the sender where we are
}

/**
 * New data in order (Linux __tcp_ack_snd_check): acknowledge at once when more than a full
 * segment is unacknowledged (every second full segment), else delay the ACK, so that a reply, or
 * the reader's draining of the queue, carries it (tcp_output.ts), or the delayed-ACK timer does.
 */
function tcp_ack_snd_check(sk: TcpSock): void {
  sk.lrcvtime = sk.now();
  if (seqDiff(sk.rcv_nxt, sk.rcv_wup) > SEG_MAX) tcp_send_ack(sk);
  else tcp_delack(sk);
}

/** The peer's FIN, in order. True when the connection is gone (FIN_WAIT2: closed at both ends). */
function tcp_fin(sk: TcpSock): boolean {
  sk.rcv_nxt = seqAdd(sk.rcv_nxt, 1);
  sk.done = true;
  sk.shutdown |= RCV_SHUTDOWN;
  sk.stack.kernel.tracer.emit('tcp.fin', { local: sk.name, peer: sk.peerName, dir: 'received' });
  if (sk.state === 'ESTABLISHED') sk.state = 'CLOSE_WAIT';
  else if (sk.state === 'FIN_WAIT1') sk.state = 'CLOSING';
  else if (sk.state === 'FIN_WAIT2') {
    tcp_send_ack(sk);
    tcp_done(sk, 'closed');
    return true;
  }
  sk_state_change(sk);
  return false;
}
