/**
 * tcp_timer.ts: a connection's clocks: retransmission, zero-window probes, keepalive, FIN_WAIT2.
 *
 * Layer: kernel networking (Linux net/ipv4/tcp_timer.c and the RTT estimator of tcp_input.c).
 * Interface: `tcp_rtt_sample` feeds Jacobson/Karels (integer µs; RTO = srtt + max(4 rttvar,
 * TCP_RTO_MIN), at most TCP_RTO_MAX, as Linux bounds it); `tcp_arm_rto`/`tcp_arm_probe` set the one
 * retransmission timer (for an RTO or a zero-window probe), `tcp_arm_keepalive` the second
 * (keepalive, or an orphan's FIN_WAIT2 timeout), `tcp_delack` the third (a delayed ACK, sent after
 * TCP_DELACK unless a segment of ours carried it first); `tcp_clear_rtx` stops the first,
 * `tcp_clear_timers` all.
 * Timers go through the kernel's `Timers` (never real time). They are lazy: moving a deadline later
 * (every ACK does) only records it, and the timer, when it fires early, sleeps on to the deadline;
 * clearing one only forgets the deadline. So a bulk transfer costs no timer events per segment.
 * On an RTO: the timeout doubles (exponential backoff), the oldest segment goes out again, and
 * after tcp_retries2 (15) expiries without progress (TCP_SYNCNT for a SYN, 5 for a SYN-ACK, 8 for
 * an orphan) the connection aborts with ETIMEDOUT, reported to the next call; no RST is sent.
 * Keepalive: after TCP_KEEPIDLE s without a segment from the peer, a probe every TCP_KEEPINTVL s;
 * TCP_KEEPCNT unanswered ones reset the connection (RST) with ETIMEDOUT, as Linux does.
 */
import { errnoName, ETIMEDOUT } from './errno.ts';
import {
  seqDiff, TCP_DELACK, TCP_ORPHAN_RETRIES, TCP_RETRIES2, TCP_RTO_MAX, TCP_RTO_MIN, TCP_SYNACK_RETRIES, tcp_done,
  type TcpSock,
} from './tcp.ts';
import { tcp_push, tcp_retransmit_head, tcp_send_ack, tcp_send_active_reset, tcp_send_probe } from './tcp_output.ts';
import { tick } from './types.ts';

const RTX_TIMER = 'tcp retransmit';
const KA_TIMER = 'tcp keepalive';
const DACK_TIMER = 'tcp delayed ack';

/** One RTT measurement `m` (µs), Jacobson/Karels as RFC 6298 writes it, in integers. */
export function tcp_rtt_sample(sk: TcpSock, m: number): void {
  const rtt = Math.max(1, m);
  if (sk.srtt === 0) {
    sk.srtt = rtt;
    sk.rttvar = rtt >> 1;
  } else {
    const err = rtt - sk.srtt;
    sk.srtt += Math.trunc(err / 8);
    sk.rttvar += Math.trunc((Math.abs(err) - sk.rttvar) / 4);
  }
  sk.rto = Math.min(sk.srtt + Math.max(4 * sk.rttvar, TCP_RTO_MIN), TCP_RTO_MAX);
}

function schedule_rtx(sk: TcpSock, when: number): void {
  const t = sk.stack.kernel.timers;
  if (sk.rtxTimer !== null) {
    if (sk.rtxTimerAt <= when) return;
    t.cancel(sk.rtxTimer);
  }
  sk.rtxTimerAt = when;
  sk.rtxTimer = t.at(tick(when), RTX_TIMER, sk.onRtxTimer);
}

export function tcp_arm_rto(sk: TcpSock, delay: number): void {
  sk.rtxKind = 'rto';
  sk.rtxAt = sk.now() + delay;
  schedule_rtx(sk, sk.rtxAt);
}

export function tcp_arm_probe(sk: TcpSock, delay: number): void {
  sk.rtxKind = 'probe';
  sk.rtxAt = sk.now() + delay;
  schedule_rtx(sk, sk.rtxAt);
}

export function tcp_clear_rtx(sk: TcpSock): void {
  sk.rtxAt = -1;
}

export function tcp_arm_keepalive(sk: TcpSock, delay: number): void {
  sk.kaAt = sk.now() + delay;
  const t = sk.stack.kernel.timers;
  if (sk.kaTimer !== null) {
    if (sk.kaTimerAt <= sk.kaAt) return;
    t.cancel(sk.kaTimer);
  }
  sk.kaTimerAt = sk.kaAt;
  sk.kaTimer = t.at(tick(sk.kaAt), KA_TIMER, sk.onKaTimer);
}

/** Schedule a delayed ACK (unless one is already due sooner). */
export function tcp_delack(sk: TcpSock): void {
  if (sk.dackAt >= 0) return;
  sk.dackAt = sk.now() + TCP_DELACK;
  if (sk.dackTimer !== null && sk.dackTimerAt <= sk.dackAt) return;
  if (sk.dackTimer !== null) sk.stack.kernel.timers.cancel(sk.dackTimer);
  sk.dackTimerAt = sk.dackAt;
  sk.dackTimer = sk.stack.kernel.timers.at(tick(sk.dackAt), DACK_TIMER, sk.onDackTimer);
}

/** No reply carried the ACK in time: send it, and stop waiting for replies (Linux tcp_delack_timer). */
export function tcp_delack_timer(sk: TcpSock): void {
  sk.dackTimer = null;
  if (sk.dackAt < 0) return;
  const now = sk.now();
  if (now < sk.dackAt) {
    sk.dackTimerAt = sk.dackAt;
    sk.dackTimer = sk.stack.kernel.timers.at(tick(sk.dackAt), DACK_TIMER, sk.onDackTimer);
    return;
  }
  sk.dackAt = -1;
  if (sk.rcv_nxt === sk.rcv_wup || sk.state === 'CLOSED' || sk.state === 'LISTEN' || sk.state === 'SYN_SENT') return;
  sk.pingpong = false;
  tcp_send_ack(sk);
}

/** Stop every timer for good (the connection is over), leaving no event behind. */
export function tcp_clear_timers(sk: TcpSock): void {
  const t = sk.stack.kernel.timers;
  if (sk.rtxTimer !== null) t.cancel(sk.rtxTimer);
  if (sk.kaTimer !== null) t.cancel(sk.kaTimer);
  if (sk.dackTimer !== null) t.cancel(sk.dackTimer);
  sk.rtxTimer = null;
  sk.kaTimer = null;
  sk.dackTimer = null;
  sk.rtxAt = -1;
  sk.kaAt = -1;
  sk.dackAt = -1;
}

/** Abort with ETIMEDOUT (Linux tcp_write_err): the error waits for the user's next call. */
export function tcp_write_err(sk: TcpSock, reason: string): void {
  sk.err = sk.orphan ? 0 : ETIMEDOUT;
  sk.stack.stats.timeouts++;
  sk.stack.kernel.tracer.emit('tcp.timeout', {
    local: sk.name, peer: sk.peerName, reason, error: sk.orphan ? null : errnoName(ETIMEDOUT),
  });
  tcp_done(sk, 'timeout');
}

/** The retransmission timer fired: an RTO, or a zero-window probe is due. */
export function tcp_retransmit_timer(sk: TcpSock): void {
  sk.rtxTimer = null;
  if (sk.rtxAt < 0) return;
  if (sk.now() < sk.rtxAt) {
    schedule_rtx(sk, sk.rtxAt);
    return;
  }
  sk.rtxAt = -1;
  if (sk.rtxKind === 'probe') tcp_probe_timer(sk);
  else tcp_rto_expired(sk);
}

function retry_limit(sk: TcpSock): number {
  if (sk.state === 'SYN_SENT') return sk.syncnt;
  if (sk.state === 'SYN_RECV') return TCP_SYNACK_RETRIES;
  return sk.orphan ? TCP_ORPHAN_RETRIES : TCP_RETRIES2;
}

function tcp_rto_expired(sk: TcpSock): void {
  if (sk.state === 'CLOSED' || sk.state === 'LISTEN') return;
  if (sk.snd_una === sk.snd_max && sk.state !== 'SYN_SENT' && sk.state !== 'SYN_RECV') return;
  sk.timeouts++;
  if (sk.retransmits >= retry_limit(sk)) {
    if (sk.state === 'SYN_RECV') {
      // An embryonic connection whose peer never completed the handshake: dropped quietly.
      sk.stack.kernel.tracer.emit('tcp.timeout', { local: sk.name, peer: sk.peerName, reason: 'SYN-ACK', error: null });
      tcp_done(sk, 'handshake timed out');
      return;
    }
    tcp_write_err(sk, sk.state === 'SYN_SENT' ? 'SYN' : 'retransmit');
    return;
  }
  sk.retransmits++;
  sk.rto = Math.min(sk.rto * 2, TCP_RTO_MAX);
  sk.rttTiming = false; // Karn: no RTT sample from a retransmitted segment
  const what = tcp_retransmit_head(sk);
  sk.stack.kernel.tracer.emit('tcp.retransmit', {
    local: sk.name, peer: sk.peerName, what, attempt: sk.retransmits, rto: sk.rto,
    unacked: Math.max(0, seqDiff(sk.snd_max, sk.snd_una)),
  });
  tcp_arm_rto(sk, sk.rto);
}

/** Zero-window probe (Linux tcp_probe_timer): the window may have opened meanwhile. */
function tcp_probe_timer(sk: TcpSock): void {
  if (sk.state === 'CLOSED' || seqDiff(sk.write_seq, sk.snd_nxt) <= 0) return; // nothing waits for the window
  if (sk.snd_nxt !== sk.snd_una) {
    tcp_arm_rto(sk, sk.rto); // data is in flight: the retransmission timer watches it
    return;
  }
  const limit = sk.orphan ? TCP_ORPHAN_RETRIES : TCP_RETRIES2;
  if (sk.probesOut > limit) {
    tcp_write_err(sk, 'window probe');
    return;
  }
  tcp_push(sk);
  if (sk.snd_nxt !== sk.snd_una) return; // the window had opened: data is out, the RTO watches it
  sk.probesOut++;
  sk.backoff++;
  tcp_send_probe(sk);
  sk.stack.kernel.tracer.emit('tcp.probe', { local: sk.name, peer: sk.peerName, kind: 'window', n: sk.probesOut });
  tcp_arm_probe(sk, Math.min(sk.rto * 2 ** sk.backoff, TCP_RTO_MAX));
}

/** The keepalive timer fired: an orphan's FIN_WAIT2 wait is over, or a keepalive is due. */
export function tcp_keepalive_timer(sk: TcpSock): void {
  sk.kaTimer = null;
  if (sk.kaAt < 0) return;
  const now = sk.now();
  if (now < sk.kaAt) {
    tcp_arm_keepalive(sk, sk.kaAt - now);
    return;
  }
  sk.kaAt = -1;
  if (sk.state === 'FIN_WAIT2' && sk.orphan) {
    tcp_done(sk, 'FIN_WAIT2 timeout');
    return;
  }
  if (!sk.keepalive || sk.state === 'CLOSED' || sk.state === 'LISTEN' || sk.state === 'SYN_SENT') return;
  tcp_keepalive_due(sk, now);
}

function tcp_keepalive_due(sk: TcpSock, now: number): void {
  const idle = sk.keepidle * 1_000_000;
  if (sk.snd_max !== sk.snd_una || sk.unsent() > 0) {
    tcp_arm_keepalive(sk, idle); // data outstanding: the retransmission timer watches the peer
    return;
  }
  const elapsed = now - sk.lastRcv;
  if (elapsed < idle) {
    tcp_arm_keepalive(sk, idle - elapsed);
    return;
  }
  if (sk.probesOut >= sk.keepcnt) {
    tcp_send_active_reset(sk, 'keepalive');
    tcp_write_err(sk, 'keepalive');
    return;
  }
  sk.probesOut++;
  tcp_send_probe(sk);
  sk.stack.kernel.tracer.emit('tcp.probe', { local: sk.name, peer: sk.peerName, kind: 'keepalive', n: sk.probesOut });
  tcp_arm_keepalive(sk, sk.keepintvl * 1_000_000);
}
