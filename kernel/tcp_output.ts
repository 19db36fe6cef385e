/**
 * tcp_output.ts: building segments and putting them on the wire.
 *
 * Layer: kernel networking (Linux net/ipv4/tcp_output.c). Interface: `tcp_push` sends what the
 * peer's window allows of the queued data (and the FIN after it) in segments of up to SEG_MAX
 * bytes and keeps the retransmission or zero-window probe timer armed; `tcp_send_ack`, `tcp_send_syn`,
 * `tcp_send_synack`, `tcp_send_probe` (an old sequence number, which the peer must answer with an
 * ACK: zero-window probes and keepalives), `tcp_send_active_reset`, `tcp_retransmit_head` (go back
 * to the oldest unacknowledged byte); `tcp_select_window` and `tcp_cleanup_rbuf` decide the window
 * advertised and when reading has opened it enough to say so.
 * Every segment but a connecting SYN carries an ACK of rcv_nxt and the window; the window offered
 * is a multiple of the segment size or 0 (receiver-side silly window avoidance) and its right edge
 * never moves left (Linux's tcp_select_window). There is no Nagle algorithm and no congestion
 * window: the wire loses packets only through faults, never through congestion (docs/network.md).
 */
import {
  NO_PAYLOAD, TH_ACK, TH_FIN, TH_PSH, TH_RST, TH_SYN, type Packet,
} from './netdevice.ts';
import {
  after, before, RCV_SHUTDOWN, SEG_MAX, seqAdd, seqDiff, TCP_DELACK, TCP_RTO_MAX, type TcpSock, type TcpState,
} from './tcp.ts';
import { tcp_arm_probe, tcp_arm_rto } from './tcp_timer.ts';

/** Send one segment of `sk` (Linux tcp_transmit_skb): stamps the ACK and the window. */
function tcp_transmit(sk: TcpSock, seq: number, flags: number, payload: Uint8Array): void {
  let window = 0;
  let ack = 0;
  if ((flags & TH_RST) === 0) window = tcp_select_window(sk);
  if ((flags & TH_ACK) !== 0) {
    ack = sk.rcv_nxt;
    if ((flags & TH_RST) === 0) {
      sk.rcv_wup = sk.rcv_nxt;
      sk.rcv_wnd = window;
      sk.dackAt = -1; // this segment carries the ACK a delayed ACK would have
    }
  }
  const pkt: Packet = {
    src: sk.stack.kernel.hostname, sport: sk.lport, dst: sk.rhost, dport: sk.rport, seq, ack, flags, window, payload,
  };
  sk.segsOut++;
  sk.stack.output(pkt);
}

/** The window to offer: free receive buffer in whole segments, never less than already offered. */
export function tcp_select_window(sk: TcpSock): number {
  const offered = seqDiff(seqAdd(sk.rcv_wup, sk.rcv_wnd), sk.rcv_nxt);
  return Math.max(free_window(sk), offered, 0);
}

/** The receive buffer's free space, rounded down to whole segments (0 when less than one). */
function free_window(sk: TcpSock): number {
  const mss = Math.min(SEG_MAX, sk.rcvbuf);
  const free = sk.rcvbuf - sk.rcvq.length;
  return free < mss ? 0 : free - (free % mss);
}

/**
 * After the user read (Linux's tcp_cleanup_rbuf): a delayed ACK goes now if the read emptied the
 * queue and the connection is not interactive (no reply will carry it); and the peer is told when
 * the window has at least doubled, which is how a closed window reopens.
 */
export function tcp_cleanup_rbuf(sk: TcpSock): void {
  if (sk.state !== 'ESTABLISHED' && sk.state !== 'FIN_WAIT1' && sk.state !== 'FIN_WAIT2') return;
  if (sk.rcv_nxt !== sk.rcv_wup && !sk.pingpong && sk.rcvq.length === 0) {
    tcp_send_ack(sk);
    return;
  }
  if ((sk.shutdown & RCV_SHUTDOWN) !== 0) return;
  const offered = Math.max(0, seqDiff(seqAdd(sk.rcv_wup, sk.rcv_wnd), sk.rcv_nxt));
  if (2 * offered > sk.rcvbuf) return;
  const next = free_window(sk);
  if (next > 0 && next >= 2 * offered) tcp_send_ack(sk);
}

export function tcp_send_ack(sk: TcpSock): void {
  tcp_transmit(sk, sk.snd_nxt, TH_ACK, NO_PAYLOAD);
}

/** The connecting SYN (first or again), timed for an RTT sample unless it is a retransmission. */
export function tcp_send_syn(sk: TcpSock): void {
  if (sk.retransmits === 0) start_rtt(sk, seqAdd(sk.iss, 1));
  tcp_transmit(sk, sk.iss, TH_SYN, NO_PAYLOAD);
  tcp_arm_rto(sk, sk.rto);
}

export function tcp_send_synack(sk: TcpSock): void {
  if (sk.retransmits === 0) start_rtt(sk, seqAdd(sk.iss, 1));
  tcp_transmit(sk, sk.iss, TH_SYN | TH_ACK, NO_PAYLOAD);
  tcp_arm_rto(sk, sk.rto);
}

/** A segment the peer cannot accept (one byte before snd_una), so it answers with an ACK. */
export function tcp_send_probe(sk: TcpSock): void {
  tcp_transmit(sk, seqAdd(sk.snd_una, -1), TH_ACK, NO_PAYLOAD);
}

/** Abort the connection toward the peer (close with unread data, a listener closing, keepalive). */
export function tcp_send_active_reset(sk: TcpSock, reason: string): void {
  tcp_transmit(sk, sk.snd_nxt, TH_RST | TH_ACK, NO_PAYLOAD);
  sk.stack.stats.resetsSent++;
  sk.stack.kernel.tracer.emit('tcp.reset.sent', { local: sk.name, peer: sk.peerName, reason });
}

function start_rtt(sk: TcpSock, endSeq: number): void {
  sk.rttTiming = true;
  sk.rttSeq = endSeq;
  sk.rttStart = sk.now();
}

/** States in which queued data and the FIN may still be (re)sent. */
function may_send(s: TcpState): boolean {
  return s === 'ESTABLISHED' || s === 'CLOSE_WAIT' || s === 'FIN_WAIT1' || s === 'CLOSING' || s === 'LAST_ACK';
}

/** Send `n` data bytes from snd_nxt (and the FIN after them if `fin`). */
function send_data(sk: TcpSock, n: number, fin: boolean): void {
  const seq = sk.snd_nxt;
  const payload = n === 0 ? NO_PAYLOAD : sk.sndq.view(seqDiff(seq, sk.snd_una), n);
  const retrans = before(seq, sk.snd_max);
  let flags = TH_ACK;
  if (fin) flags |= TH_FIN;
  if (n > 0 && seqAdd(seq, n) === sk.dataEnd()) flags |= TH_PSH;
  tcp_transmit(sk, seq, flags, payload);
  const end = seqAdd(seq, n);
  sk.snd_nxt = fin ? seqAdd(end, 1) : end;
  if (after(end, sk.snd_max)) sk.bytesSent += seqDiff(end, sk.snd_max);
  if (fin && after(sk.snd_nxt, sk.snd_max)) {
    sk.stack.kernel.tracer.emit('tcp.fin', { local: sk.name, peer: sk.peerName, dir: 'sent' });
  }
  if (after(sk.snd_nxt, sk.snd_max)) sk.snd_max = sk.snd_nxt;
  if (retrans) {
    sk.retransSegs++;
    sk.stack.stats.retransSegs++;
  } else {
    if (!sk.rttTiming) start_rtt(sk, sk.snd_nxt);
    // A reply soon after data arrived: the connection is interactive (Linux tcp_event_data_sent).
    if (n > 0 && sk.now() - sk.lrcvtime < TCP_DELACK) sk.pingpong = true;
  }
}

/** Send what the window allows (Linux tcp_write_xmit); true when something went out. */
function tcp_write_xmit(sk: TcpSock): boolean {
  if (!may_send(sk.state)) return false;
  const end = sk.dataEnd();
  const wndEnd = seqAdd(sk.snd_una, sk.snd_wnd);
  let sent = false;
  for (;;) {
    const unsent = seqDiff(end, sk.snd_nxt);
    const room = seqDiff(wndEnd, sk.snd_nxt);
    const n = Math.min(unsent, room, SEG_MAX);
    if (n <= 0) break;
    send_data(sk, n, sk.finQueued && n === unsent && room > n);
    sent = true;
  }
  if (sk.finQueued && sk.snd_nxt === end && seqDiff(wndEnd, end) >= 1) {
    send_data(sk, 0, true);
    sent = true;
  }
  return sent;
}

/** Something is queued that the window has not let out (data, or the FIN). */
function has_pending(sk: TcpSock): boolean {
  return seqDiff(sk.write_seq, sk.snd_nxt) > 0;
}

/** Send what can be sent, then keep a timer watching: retransmission if in flight, else probes. */
export function tcp_push(sk: TcpSock): void {
  tcp_write_xmit(sk);
  if (!may_send(sk.state)) return;
  if (sk.snd_nxt !== sk.snd_una) {
    if (sk.rtxAt < 0 || sk.rtxKind === 'probe') tcp_arm_rto(sk, sk.rto);
  } else if (has_pending(sk)) {
    if (sk.rtxAt < 0) tcp_arm_probe(sk, Math.min(sk.rto * 2 ** sk.backoff, TCP_RTO_MAX));
  }
}

/**
 * After a retransmission timeout: go back to snd_una and send the oldest segment again (the rest
 * follows as acknowledgements open the way: go-back-N). Returns what was sent, for the trace.
 */
export function tcp_retransmit_head(sk: TcpSock): string {
  if (sk.state === 'SYN_SENT') {
    tcp_transmit(sk, sk.iss, TH_SYN, NO_PAYLOAD);
    return 'SYN';
  }
  if (sk.state === 'SYN_RECV') {
    tcp_transmit(sk, sk.iss, TH_SYN | TH_ACK, NO_PAYLOAD);
    return 'SYN-ACK';
  }
  sk.snd_nxt = sk.snd_una;
  const unsent = seqDiff(sk.dataEnd(), sk.snd_una);
  const n = Math.min(unsent, SEG_MAX);
  const fin = sk.finQueued && n === unsent;
  send_data(sk, n, fin);
  return n === 0 ? 'FIN' : 'data';
}
