/**
 * tcp_ipv4.ts: a kernel's TCP tables, and the entry and exit of every segment.
 *
 * Layer: kernel networking (Linux net/ipv4/tcp_ipv4.c, the bind hash of tcp.c, ip_output).
 * Interface: `tcp_sockets(k)` lists a kernel's listeners and connections with their counters (as
 * netstat would); `tcp_stack(k)` is the kernel's `TcpStack` (a Kernel.slot): the port table (every
 * bound socket, by port), the listeners, the connection table (by local port, remote host and
 * port), the ephemeral port rover (32768..61000, from the bottom at every boot, as Linux 2.4),
 * initial sequence numbers (RFC 6528's shape: a 4 µs clock plus a hash of the connection's
 * addresses and a per-boot secret; the secret is a hash of the host's name and the tick its TCP
 * started, so a rebooted host's sequence numbers are unrelated to its previous incarnation's, and
 * the kernel's random stream is untouched), counters, and `output`
 * (loopback for this host's own name, else the network device). `tcp_v4_rcv(k, pkt)` is where the
 * wire's packets enter: every field is checked (a malformed packet is dropped, counted and traced,
 * never a panic), then the packet goes to its connection, or its listener, or is answered with an
 * RST (RFC 793's rule for a segment that matches no connection, which is also what a rebooted host
 * answers to packets of its previous incarnation's connections).
 * Port sharing follows Linux's tcp_bind_conflict: two sockets may share a port only if both set
 * SO_REUSEADDR and the one already there is not listening.
 */
import { assert } from './assert.ts';
import { EADDRINUSE, EADDRNOTAVAIL, type Errno } from './errno.ts';
import type { Kernel, KernelSlot } from './kernel.ts';
import { Loopback } from './loopback.ts';
import { NO_PAYLOAD, TH_ACK, TH_FIN, TH_MASK, TH_RST, TH_SYN, seqSpace, type Packet } from './netdevice.ts';
import { seqAdd, tcp_info, type TcpInfo, type TcpSock } from './tcp.ts';
import { tcp_listen_rcv, tcp_rcv } from './tcp_input.ts';

export const EPHEMERAL_LOW = 32768;
export const EPHEMERAL_HIGH = 61000;
/** The largest window TCP can express (65535 << 14 with window scaling): 1 GiB. */
export const MAX_WINDOW = 0x3fff_ffff;

/** Per-kernel counters (Linux's /proc/net/snmp and netstat, the few that matter here). */
export interface TcpStackStats {
  segmentsIn: number;
  segmentsOut: number;
  /** Dropped on arrival: a field out of range, a bad flag combination, not for this host. */
  malformed: number;
  /** Segments that matched no connection or listener (answered with RST unless one). */
  noSocket: number;
  listenDrops: number;
  resetsSent: number;
  resetsReceived: number;
  retransSegs: number;
  timeouts: number;
  /** Outside the window or acknowledging unsent data (answered with an ACK), beyond a gap. */
  outOfWindow: number;
  outOfOrder: number;
  /** Well-formed but not handled (a simultaneous open). */
  unexpected: number;
  /** Packets for another host with no network device to send them on. */
  noRoute: number;
}

function fnv32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

export class TcpStack {
  readonly conns = new Map<number, TcpSock>();
  readonly listeners = new Map<number, TcpSock>();
  readonly ports = new Map<number, TcpSock[]>();
  readonly stats: TcpStackStats = {
    segmentsIn: 0, segmentsOut: 0, malformed: 0, noSocket: 0, listenDrops: 0, resetsSent: 0, resetsReceived: 0,
    retransSegs: 0, timeouts: 0, outOfWindow: 0, outOfOrder: 0, unexpected: 0, noRoute: 0,
  };
  readonly loopback: Loopback;
  private readonly hostIds = new Map<string, number>();
  private rover = EPHEMERAL_LOW - 1;
  private readonly secret: number;

  constructor(readonly kernel: Kernel) {
    this.secret = fnv32(`${kernel.hostname}@${kernel.timers.now()}`);
    this.loopback = new Loopback(kernel.timers, (pkt) => tcp_v4_rcv(kernel, pkt));
  }

  /** The connection table's key: remote host (interned), local port, remote port. */
  private key(hostId: number, lport: number, rport: number): number {
    return hostId * 0x1_0000_0000 + lport * 0x1_0000 + rport;
  }

  private hostId(host: string): number {
    let id = this.hostIds.get(host);
    if (id === undefined) {
      id = this.hostIds.size + 1;
      this.hostIds.set(host, id);
    }
    return id;
  }

  lookup(lport: number, rhost: string, rport: number): TcpSock | undefined {
    const id = this.hostIds.get(rhost);
    return id === undefined ? undefined : this.conns.get(this.key(id, lport, rport));
  }

  /** Give a socket its connection's addresses (and the names traces use). */
  setAddresses(sk: TcpSock, lport: number, rhost: string, rport: number): void {
    sk.lport = lport;
    sk.rhost = rhost;
    sk.rport = rport;
    sk.name = `${this.kernel.hostname}:${lport}`;
    sk.peerName = `${rhost}:${rport}`;
  }

  /** Enter a connection in the table; EADDRNOTAVAIL when another has the same addresses. */
  hash(sk: TcpSock): 0 | Errno {
    const key = this.key(this.hostId(sk.rhost), sk.lport, sk.rport);
    const other = this.conns.get(key);
    if (other !== undefined && other !== sk) return EADDRNOTAVAIL;
    this.conns.set(key, sk);
    sk.connKey = key;
    return 0;
  }

  unhash(sk: TcpSock): void {
    if (sk.connKey < 0) return;
    if (this.conns.get(sk.connKey) === sk) this.conns.delete(sk.connKey);
    sk.connKey = -1;
  }

  /** A connection a listener spawned: it shares the listener's port. */
  addChild(child: TcpSock): void {
    const r = this.hash(child);
    assert(r === 0, () => `a new connection ${child.name} <- ${child.peerName} is already in the table`);
    this.holdPort(child, child.lport);
  }

  /** Would `sk` conflict with the sockets already on `port` (Linux tcp_bind_conflict)? */
  conflicts(sk: TcpSock, port: number): boolean {
    for (const other of this.ports.get(port) ?? []) {
      if (other === sk) continue;
      if (!sk.reuse || !other.reuse || other.state === 'LISTEN') return true;
    }
    return false;
  }

  /** Bind `sk` to `port` (0: an ephemeral one). */
  bindPort(sk: TcpSock, port: number): 0 | Errno {
    assert(!sk.portHeld, () => `${sk.name} bound twice`);
    const p = port === 0 ? this.pickEphemeral() : port;
    if (p < 0) return p as Errno;
    if (this.conflicts(sk, p)) return EADDRINUSE;
    this.holdPort(sk, p);
    sk.lport = p;
    return 0;
  }

  private holdPort(sk: TcpSock, port: number): void {
    const list = this.ports.get(port);
    if (list === undefined) this.ports.set(port, [sk]);
    else list.push(sk);
    sk.portHeld = true;
  }

  releasePort(sk: TcpSock): void {
    if (!sk.portHeld) return;
    sk.portHeld = false;
    const list = this.ports.get(sk.lport);
    if (list === undefined) return;
    const i = list.indexOf(sk);
    if (i >= 0) list.splice(i, 1);
    if (list.length === 0) this.ports.delete(sk.lport);
  }

  /** The next free port of the ephemeral range, or EADDRNOTAVAIL when all are taken. */
  private pickEphemeral(): number | Errno {
    const span = EPHEMERAL_HIGH - EPHEMERAL_LOW + 1;
    for (let i = 0; i < span; i++) {
      this.rover = this.rover >= EPHEMERAL_HIGH ? EPHEMERAL_LOW : this.rover + 1;
      if (!this.ports.has(this.rover)) return this.rover;
    }
    return EADDRNOTAVAIL;
  }

  /** An initial sequence number: a clock ticking every 4 µs plus a keyed hash of the addresses. */
  isn(lport: number, rhost: string, rport: number): number {
    const clock = Math.floor(this.kernel.timers.now() / 4);
    return (clock + fnv32(`${this.secret}:${lport}>${rhost}:${rport}`)) >>> 0;
  }

  /** Put a segment on its way: to ourselves through loopback, or to the network device. */
  output(pkt: Packet): void {
    this.stats.segmentsOut++;
    if (pkt.dst === this.kernel.hostname) {
      this.loopback.xmit(pkt);
      return;
    }
    const dev = this.kernel.netdev;
    if (dev === null) this.stats.noRoute++;
    else dev.xmit(pkt);
  }
}

export const TCP_STACK: KernelSlot<TcpStack> = { name: 'tcp', init: (k) => new TcpStack(k) };

export function tcp_stack(k: Kernel): TcpStack {
  return k.slot(TCP_STACK);
}

/** Every listener and connection of kernel `k` (orphans included), as netstat lists them. */
export function tcp_sockets(k: Kernel): TcpInfo[] {
  const st = tcp_stack(k);
  return [...st.listeners.values(), ...st.conns.values()].map(tcp_info);
}

function isPort(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535;
}

function isU32(v: unknown): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff_ffff;
}

/** Why a packet from the wire cannot be a TCP segment for host `me`, or null if it can. */
export function malformed(raw: unknown, me: string): string | null {
  if (typeof raw !== 'object' || raw === null) return 'not a packet';
  const p = raw as Record<string, unknown>;
  if (typeof p['src'] !== 'string' || p['src'] === '') return 'bad source address';
  if (p['dst'] !== me) return 'not addressed to this host';
  if (!isPort(p['sport']) || !isPort(p['dport'])) return 'bad port';
  if (!isU32(p['seq']) || !isU32(p['ack'])) return 'bad sequence number';
  const f = p['flags'];
  if (typeof f !== 'number' || !Number.isInteger(f) || f < 0 || (f & ~TH_MASK) !== 0) return 'bad flags';
  if ((f & TH_SYN) !== 0 && (f & (TH_FIN | TH_RST)) !== 0) return 'bad flag combination';
  const w = p['window'];
  if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > MAX_WINDOW) return 'bad window';
  if (!(p['payload'] instanceof Uint8Array)) return 'bad payload';
  return null;
}

/** Where the wire delivers a packet to kernel `k` (Kernel.net_rx calls this). */
export function tcp_v4_rcv(k: Kernel, raw: Packet): void {
  const st = tcp_stack(k);
  st.stats.segmentsIn++;
  const why = malformed(raw, k.hostname);
  if (why !== null) {
    st.stats.malformed++;
    const src = (raw as unknown as Record<string, unknown> | null)?.['src'];
    k.tracer.emit('tcp.drop', { local: null, peer: typeof src === 'string' ? src.slice(0, 64) : '?', reason: why });
    return;
  }
  const sk = st.lookup(raw.dport, raw.src, raw.sport);
  if (sk !== undefined) {
    tcp_rcv(sk, raw);
    return;
  }
  const lis = st.listeners.get(raw.dport);
  if (lis !== undefined) {
    tcp_listen_rcv(lis, raw);
    return;
  }
  st.stats.noSocket++;
  tcp_v4_send_reset(st, raw, (raw.flags & TH_SYN) !== 0 ? 'no listener' : 'no connection');
}

/** Answer a segment with RST from its addressee (RFC 793 "reset generation"); never an RST to an RST. */
export function tcp_v4_send_reset(st: TcpStack, pkt: Packet, reason: string): void {
  if ((pkt.flags & TH_RST) !== 0) return;
  const hasAck = (pkt.flags & TH_ACK) !== 0;
  const rst: Packet = {
    src: st.kernel.hostname, sport: pkt.dport, dst: pkt.src, dport: pkt.sport,
    seq: hasAck ? pkt.ack : 0, ack: hasAck ? 0 : seqAdd(pkt.seq, seqSpace(pkt)),
    flags: hasAck ? TH_RST : TH_RST | TH_ACK, window: 0, payload: NO_PAYLOAD,
  };
  st.stats.resetsSent++;
  st.kernel.tracer.emit('tcp.reset.sent', {
    local: `${st.kernel.hostname}:${pkt.dport}`, peer: `${pkt.src}:${pkt.sport}`, reason,
  });
  st.output(rst);
}
