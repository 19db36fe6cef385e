/**
 * network.ts: the wire between the hosts of a world: links with latency and bandwidth, and faults.
 *
 * Layer: simulation. Interface: `new Network({sched, rng, trace, defaults})`; `attach(host, rx)`
 * gives a host's kernel its NetDevice (kernel/netdevice.ts) and is how the wire delivers to it;
 * `detach` (a crash), `hold`/`unhold` (a pause); link settings `setLink`/`setLinks`; faults
 * `partition`, `cut`, `isolate`, `heal`, `healLink`, `jam`/`release`, `reset`; `stats`, `pending`.
 * A link is one direction between two hosts. Delivery on a link is FIFO: a packet departs when
 * the link has serialized it (ceil(bytes * 1e6 / bandwidth) µs, behind what the link is still
 * sending; bytes are the payload plus 40 header bytes) and arrives at max(previous arrival,
 * departure + latency). Latency is fixed or uniform in [min, max] µs, with an optional long tail
 * (with probability num/den the draw is multiplied by factor), drawn from the link's own stream
 * `rng.stream('a->b')` of the world's `net` stream, so a new link never reshuffles another's draws.
 * Each link keeps one scheduler event for the head of its queue, so the cost is one event per
 * distinct arrival tick, not per byte. Every fault and heal is a method and a trace event (`net.*`,
 * host "net"); each packet lost to a fault is a `net.drop` event.
 * The wire knows nothing of TCP beyond what a middlebox sees in packets: for `reset` it remembers,
 * per direction and port pair, the highest sequence number sent, and forges from each end to the
 * other the RST a firewall would. An end learns of any fault only through its own TCP.
 * Payloads are copied on entry, into slab blocks (hosts share no memory; kernel/skbuff.ts). Integer
 * arithmetic only.
 */
import { assert } from '../kernel/assert.ts';
import {
  NO_PAYLOAD, PACKET_HEADER_BYTES, TH_ACK, TH_RST, TH_SYN, flagNames, seqSpace, type NetDevice, type Packet,
} from '../kernel/netdevice.ts';
import { Slab } from '../kernel/skbuff.ts';
import type { TimerId, Timers } from '../kernel/timer.ts';
import type { Json, Tracer } from '../kernel/trace.ts';
import { tick } from '../kernel/types.ts';
import type { Prng } from './prng.ts';

/** µs; uniform in [min, max], then with probability num/den multiplied by factor. */
export interface LatencySpec {
  readonly min: number;
  readonly max: number;
  readonly tail?: { readonly num: number; readonly den: number; readonly factor: number };
}

export interface LinkSpec {
  readonly latency: number | LatencySpec;
  /** Bytes per second; null: no serialization delay. */
  readonly bandwidth: number | null;
  /** Random loss, probability num/den per packet (none when absent). */
  readonly loss?: { readonly num: number; readonly den: number };
}

/** 100 µs and 100 Mbit/s: a switched Fast Ethernet LAN, the network of InterMezzo's day. */
export const DEFAULT_LINK: LinkSpec = { latency: 100, bandwidth: 12_500_000 };

export interface NetworkOptions {
  readonly sched: Timers;
  /** The world's `net` stream; each link draws from its own stream below it. */
  readonly rng: Prng;
  readonly trace: Tracer;
  readonly defaults: LinkSpec;
}

export interface LinkStats {
  readonly from: string;
  readonly to: string;
  /** Packets put on the link, delivered, lost (cut, down host, loss, reset), ever held (jam, pause). */
  readonly sent: number;
  readonly delivered: number;
  readonly dropped: number;
  readonly held: number;
  /** Bytes delivered, headers included. */
  readonly bytes: number;
  readonly cut: boolean;
  readonly jammed: boolean;
}

declare module '../kernel/trace.ts' {
  interface TraceEventMap {
    'net.attach': { host: string };
    /** A host went down (crashed): `lost` packets it had not finished sending, or held for it. */
    'net.detach': { host: string; lost: number };
    'net.hold': { host: string };
    'net.unhold': { host: string; packets: number };
    'net.link': { from: string; to: string; latency: Json; bandwidth: number | null; loss: Json };
    'net.partition': { groups: string[][] };
    'net.cut': { from: string; to: string };
    'net.isolate': { host: string };
    'net.heal': { scope: 'all' | 'hosts' | 'link'; hosts: string[]; links: string[] };
    'net.jam': { a: string; b: string };
    'net.release': { a: string; b: string; packets: number };
    'net.reset': { a: string; b: string; connections: number; lost: number };
    /** One packet lost to a fault. */
    'net.drop': { from: string; to: string; reason: string; flags: string; bytes: number };
  }
}

interface Endpoint {
  readonly host: string;
  rx: (pkt: Packet) => void;
  attached: boolean;
  held: boolean;
  /** Unheld, with the held packets' delivery still to run: later arrivals queue behind them. */
  draining: boolean;
  /** Packets that arrived while held, with the link each came by. */
  holdQ: Packet[];
  holdLinks: Link[];
  device: NetDevice | null;
  readonly out: Map<string, Link>;
}

interface ResolvedLatency {
  readonly min: number;
  readonly max: number;
  readonly tail: { readonly num: number; readonly den: number; readonly factor: number } | null;
}

class Link {
  latency: ResolvedLatency;
  bandwidth: number | null;
  loss: { readonly num: number; readonly den: number } | null;
  cut = false;
  jammed = false;
  jamQ: Packet[] = [];
  /** In flight, in arrival order: packets, arrival ticks, departure ticks; `head` is the next. */
  q: Array<Packet | null> = [];
  arr: number[] = [];
  dep: number[] = [];
  head = 0;
  timer: TimerId | null = null;
  busyUntil = 0;
  lastArrival = 0;
  /** Per port pair (sport * 65536 + dport): the sequence number after the last one sent. */
  readonly flows = new Map<number, number>();
  sent = 0;
  delivered = 0;
  dropped = 0;
  held = 0;
  bytes = 0;
  readonly label: string;
  readonly fire: () => void;

  constructor(
    readonly from: string,
    readonly to: Endpoint,
    readonly rng: Prng,
    spec: LinkSpec,
    fire: (l: Link) => void,
  ) {
    this.latency = resolveLatency(spec.latency);
    this.bandwidth = spec.bandwidth;
    this.loss = spec.loss ?? null;
    this.label = `net ${from}->${to.host}`;
    this.fire = () => fire(this);
  }

  inFlight(): number {
    return this.q.length - this.head;
  }

  drawLatency(): number {
    const l = this.latency;
    let v = l.min === l.max ? l.min : l.min + this.rng.below(l.max - l.min + 1);
    if (l.tail !== null && this.rng.chance(l.tail.num, l.tail.den)) v *= l.tail.factor;
    return v;
  }
}

function natural(v: number, what: string): void {
  assert(Number.isSafeInteger(v) && v >= 0, () => `network: ${what} must be a non-negative integer, got ${v}`);
}

function resolveLatency(l: number | LatencySpec): ResolvedLatency {
  if (typeof l === 'number') {
    natural(l, 'latency');
    return { min: l, max: l, tail: null };
  }
  natural(l.min, 'latency min');
  natural(l.max, 'latency max');
  assert(l.min <= l.max, () => `network: latency min ${l.min} above max ${l.max}`);
  assert(l.max - l.min < 0x1_0000_0000, 'network: latency range too wide');
  const t = l.tail ?? null;
  if (t !== null) {
    natural(t.num, 'tail num');
    assert(Number.isSafeInteger(t.den) && t.den >= 1 && t.num <= t.den, 'network: tail needs 0 <= num <= den');
    assert(Number.isSafeInteger(t.factor) && t.factor >= 1, 'network: tail factor must be an integer >= 1');
  }
  return { min: l.min, max: l.max, tail: t };
}

function checkSpec(s: Partial<LinkSpec>): void {
  if (s.latency !== undefined) resolveLatency(s.latency);
  if (s.bandwidth !== undefined && s.bandwidth !== null) {
    assert(Number.isSafeInteger(s.bandwidth) && s.bandwidth > 0, () => `network: bandwidth ${s.bandwidth} B/s`);
  }
  if (s.loss !== undefined) {
    assert(Number.isSafeInteger(s.loss.num) && Number.isSafeInteger(s.loss.den) && s.loss.den >= 1 &&
      s.loss.num >= 0 && s.loss.num <= s.loss.den, 'network: loss needs 0 <= num <= den');
  }
}

/** ceil(bytes * 1e6 / bandwidth) exactly, in µs. */
export function serializationTime(bytes: number, bandwidth: number): number {
  const num = bytes * 1_000_000;
  let q = Math.floor(num / bandwidth);
  if (q * bandwidth > num) q--;
  if (q * bandwidth < num) q++;
  return q;
}

function latencyJson(l: ResolvedLatency): Json {
  if (l.min === l.max && l.tail === null) return l.min;
  return l.tail === null ? { min: l.min, max: l.max } : { min: l.min, max: l.max, tail: { ...l.tail } };
}

export class Network {
  private readonly hosts = new Map<string, Endpoint>();
  private readonly sched: Timers;
  private readonly rng: Prng;
  private readonly trace: Tracer;
  private defaults: LinkSpec;
  private readonly slab = new Slab();
  /** Packets sent to a name the world does not know (a kernel asked no route first). */
  unroutable = 0;

  constructor(o: NetworkOptions) {
    checkSpec(o.defaults);
    this.sched = o.sched;
    this.rng = o.rng;
    this.trace = o.trace;
    this.defaults = o.defaults;
  }

  // ---- hosts ----

  /** Connect `host` (new, or back after a crash); packets for it go to `rx`. */
  attach(host: string, rx: (pkt: Packet) => void): NetDevice {
    assert(host !== '' && host !== '*', () => `network: '${host}' cannot be a host name`);
    let ep = this.hosts.get(host);
    if (ep === undefined) {
      ep = {
        host, rx, attached: false, held: false, draining: false, holdQ: [], holdLinks: [], device: null, out: new Map(),
      };
      this.hosts.set(host, ep);
    }
    assert(!ep.attached, () => `network: ${host} attached twice`);
    ep.rx = rx;
    ep.attached = true;
    const owner = ep;
    const dev: NetDevice = {
      address: host,
      xmit: (pkt) => this.xmit(owner, dev, pkt),
      hostExists: (name) => this.hosts.has(name),
    };
    ep.device = dev;
    this.trace.emit('net.attach', { host });
    return dev;
  }

  /**
   * The host went down (a crash): packets to it are dropped from now on, packets it was still
   * serializing are lost, packets held for it (paused) are lost. Packets it had put on the wire
   * still arrive. Its device sends nothing more. It stays a known host (connect: ETIMEDOUT).
   */
  detach(host: string): void {
    const ep = this.endpoint(host);
    assert(ep.attached, () => `network: ${host} detached while not attached`);
    ep.attached = false;
    ep.device = null;
    let lost = 0;
    for (const p of ep.holdQ.splice(0)) lost += this.countDrop(ep.holdLinks.shift() as Link, p, 'host down');
    ep.holdLinks.length = 0;
    ep.held = false;
    ep.draining = false;
    const now = this.sched.now();
    for (const link of ep.out.values()) lost += this.dropUnsent(link, now);
    this.trace.emit('net.detach', { host, lost });
  }

  /** A paused host: packets that reach it wait, and are delivered in order at `unhold`. */
  hold(host: string): void {
    this.endpoint(host).held = true;
    this.trace.emit('net.hold', { host });
  }

  unhold(host: string): void {
    const ep = this.endpoint(host);
    ep.held = false;
    this.trace.emit('net.unhold', { host, packets: ep.holdQ.length });
    if (ep.holdQ.length === 0 || ep.draining) return;
    ep.draining = true;
    this.sched.at(this.sched.now(), `net unhold ${host}`, () => this.drain(ep));
  }

  /** Deliver what waited for a paused host, in order (unless it was paused again meanwhile). */
  private drain(ep: Endpoint): void {
    ep.draining = false;
    if (ep.held) return;
    const q = ep.holdQ;
    const links = ep.holdLinks;
    ep.holdQ = [];
    ep.holdLinks = [];
    for (let i = 0; i < q.length; i++) this.deliver(links[i] as Link, q[i] as Packet);
  }

  // ---- links ----

  setLink(from: string, to: string, spec: Partial<LinkSpec>): void {
    checkSpec(spec);
    const l = this.link(from, to);
    if (spec.latency !== undefined) l.latency = resolveLatency(spec.latency);
    if (spec.bandwidth !== undefined) l.bandwidth = spec.bandwidth;
    if (spec.loss !== undefined) l.loss = spec.loss;
    this.trace.emit('net.link', {
      from, to, latency: latencyJson(l.latency), bandwidth: l.bandwidth, loss: l.loss === null ? null : { ...l.loss },
    });
  }

  setLinks(a: string, b: string, spec: Partial<LinkSpec>): void {
    this.setLink(a, b, spec);
    this.setLink(b, a, spec);
  }

  /** The settings links get when first used (links already used keep theirs). */
  setDefaults(spec: LinkSpec): void {
    checkSpec(spec);
    this.defaults = spec;
  }

  // ---- faults ----

  /**
   * Cut every link between hosts of different groups, both ways. Hosts named in no group form one
   * more group. Cuts add up: the links cut before stay cut (heal() first to move a partition).
   */
  partition(groups: readonly (readonly string[])[]): void {
    const named = new Set<string>();
    for (const g of groups) {
      for (const h of g) {
        this.endpoint(h);
        assert(!named.has(h), () => `network: ${h} is in two groups of a partition`);
        named.add(h);
      }
    }
    const rest = [...this.hosts.keys()].filter((h) => !named.has(h));
    const all = rest.length > 0 ? [...groups.map((g) => [...g]), rest] : groups.map((g) => [...g]);
    for (let i = 0; i < all.length; i++) {
      for (let j = 0; j < all.length; j++) {
        if (i === j) continue;
        for (const a of all[i] as string[]) for (const b of all[j] as string[]) this.link(a, b).cut = true;
      }
    }
    this.trace.emit('net.partition', { groups: all });
  }

  /** One direction only: `from` can no longer reach `to`; the other way still works. */
  cut(from: string, to: string): void {
    this.link(from, to).cut = true;
    this.trace.emit('net.cut', { from, to });
  }

  /** Cut `host` from every other host, both ways. */
  isolate(host: string): void {
    this.endpoint(host);
    for (const other of this.hosts.keys()) {
      if (other === host) continue;
      this.link(host, other).cut = true;
      this.link(other, host).cut = true;
    }
    this.trace.emit('net.isolate', { host });
  }

  /** Heal every cut link, or every cut link from or to one of `hosts`. Jams stay (release them). */
  heal(hosts?: readonly string[]): void {
    const only = hosts === undefined ? null : new Set(hosts.map((h) => (this.endpoint(h), h)));
    const healed: string[] = [];
    for (const ep of this.hosts.values()) {
      for (const l of ep.out.values()) {
        if (!l.cut || (only !== null && !only.has(l.from) && !only.has(l.to.host))) continue;
        l.cut = false;
        healed.push(`${l.from}->${l.to.host}`);
      }
    }
    this.trace.emit('net.heal', { scope: only === null ? 'all' : 'hosts', hosts: [...(hosts ?? [])], links: healed });
  }

  /** Heal one direction, `from` -> `to` (the inverse of cut). */
  healLink(from: string, to: string): void {
    const l = this.link(from, to);
    const links = l.cut ? [`${from}->${to}`] : [];
    l.cut = false;
    this.trace.emit('net.heal', { scope: 'link', hosts: [from, to], links });
  }

  /** Hold the traffic between a and b, both ways: packets sent from now wait on the link. */
  jam(a: string, b: string): void {
    this.link(a, b).jammed = true;
    this.link(b, a).jammed = true;
    this.trace.emit('net.jam', { a, b });
  }

  /** Let the held packets go, in order, each paying serialization and latency from now. */
  release(a: string, b: string): void {
    let packets = 0;
    for (const l of [this.link(a, b), this.link(b, a)]) {
      l.jammed = false;
      const q = l.jamQ;
      l.jamQ = [];
      packets += q.length;
      for (const p of q) {
        if (l.cut) this.countDrop(l, p, 'cut');
        else this.transmit(l, p);
      }
    }
    this.trace.emit('net.release', { a, b, packets });
  }

  /**
   * Reset every connection between a and b, as a firewall would: what is in flight between them
   * (on the wire, jammed, or held for a paused end) is lost, and each end receives at once an RST
   * that seems to come from the other, so both ends' next calls fail with ECONNRESET.
   */
  reset(a: string, b: string): void {
    const ab = this.link(a, b);
    const ba = this.link(b, a);
    let lost = this.flush(ab, 'reset') + this.flush(ba, 'reset');
    lost += this.dropHeld(this.endpoint(b), ab) + this.dropHeld(this.endpoint(a), ba);
    const rsts = this.forgeResets(ab, ba);
    const now = this.sched.now();
    if (rsts.length > 0) {
      this.sched.at(now, `net reset ${a}<->${b}`, () => {
        for (const r of rsts) this.arrive(r.dst === b ? ab : ba, r, true);
      });
    }
    this.trace.emit('net.reset', { a, b, connections: rsts.length / 2, lost });
  }

  // ---- inspection ----

  /** Is there a host of this name (up or down)? */
  knows(host: string): boolean {
    return this.hosts.has(host);
  }

  isCut(from: string, to: string): boolean {
    return this.hosts.get(from)?.out.get(to)?.cut ?? false;
  }

  /** Packets in flight, jammed or held for a paused host. */
  pending(): number {
    let n = 0;
    for (const ep of this.hosts.values()) {
      n += ep.holdQ.length;
      for (const l of ep.out.values()) n += l.inFlight() + l.jamQ.length;
    }
    return n;
  }

  stats(): LinkStats[] {
    const out: LinkStats[] = [];
    for (const ep of this.hosts.values()) {
      for (const l of ep.out.values()) {
        out.push({
          from: l.from, to: l.to.host, sent: l.sent, delivered: l.delivered, dropped: l.dropped, held: l.held,
          bytes: l.bytes, cut: l.cut, jammed: l.jammed,
        });
      }
    }
    return out.sort((x, y) => (x.from === y.from ? cmp(x.to, y.to) : cmp(x.from, y.from)));
  }

  // ---- the wire ----

  private endpoint(host: string): Endpoint {
    const ep = this.hosts.get(host);
    assert(ep !== undefined, () => `network: no host '${host}'`);
    return ep;
  }

  private link(from: string, to: string): Link {
    const src = this.endpoint(from);
    let l = src.out.get(to);
    if (l === undefined) {
      assert(from !== to, () => `network: a host's link to itself (${from}) is its loopback, not the wire`);
      l = new Link(from, this.endpoint(to), this.rng.stream(`${from}->${to}`), this.defaults, (x) => this.fire(x));
      src.out.set(to, l);
    }
    return l;
  }

  private xmit(ep: Endpoint, dev: NetDevice, pkt: Packet): void {
    if (ep.device !== dev || !ep.attached) return; // a dead incarnation's device sends nothing
    let dst = ep.out.get(pkt.dst);
    if (dst === undefined) {
      if (!this.hosts.has(pkt.dst) || pkt.dst === ep.host) {
        this.unroutable++;
        return;
      }
      dst = this.link(ep.host, pkt.dst);
    }
    dst.sent++;
    track(dst, pkt);
    if (dst.cut) {
      this.countDrop(dst, pkt, 'cut');
      return;
    }
    if (dst.loss !== null && dst.rng.chance(dst.loss.num, dst.loss.den)) {
      this.countDrop(dst, pkt, 'loss');
      return;
    }
    const copy: Packet = {
      src: pkt.src, sport: pkt.sport, dst: pkt.dst, dport: pkt.dport, seq: pkt.seq, ack: pkt.ack, flags: pkt.flags,
      window: pkt.window, payload: this.slab.copy(pkt.payload),
    };
    if (dst.jammed) {
      dst.jamQ.push(copy);
      dst.held++;
      return;
    }
    this.transmit(dst, copy);
  }

  private transmit(l: Link, pkt: Packet): void {
    const now = this.sched.now();
    const start = Math.max(now, l.busyUntil);
    const ser = l.bandwidth === null ? 0 : serializationTime(pkt.payload.length + PACKET_HEADER_BYTES, l.bandwidth);
    const departure = start + ser;
    l.busyUntil = departure;
    const arrival = Math.max(l.lastArrival, departure + l.drawLatency());
    l.lastArrival = arrival;
    l.q.push(pkt);
    l.arr.push(arrival);
    l.dep.push(departure);
    if (l.timer === null) l.timer = this.sched.at(tick(arrival), l.label, l.fire);
  }

  /** The link's head packet is due: deliver everything due now, then wait for the next. */
  private fire(l: Link): void {
    l.timer = null;
    const now = this.sched.now();
    while (l.head < l.q.length && (l.arr[l.head] as number) <= now) {
      const pkt = l.q[l.head] as Packet;
      l.q[l.head] = null;
      l.head++;
      this.arrive(l, pkt);
    }
    compact(l);
    if (l.head < l.q.length) l.timer = this.sched.at(tick(l.arr[l.head] as number), l.label, l.fire);
  }

  /** A packet reaches the end of link `l` (`forged`: a reset's RST, which no cut stops). */
  private arrive(l: Link, pkt: Packet, forged = false): void {
    if (l.cut && !forged) {
      this.countDrop(l, pkt, 'cut');
      return;
    }
    const ep = l.to;
    if (ep.attached && (ep.held || ep.draining)) {
      ep.holdQ.push(pkt);
      ep.holdLinks.push(l);
      l.held++;
      return;
    }
    this.deliver(l, pkt);
  }

  private deliver(l: Link, pkt: Packet): void {
    const ep = l.to;
    if (!ep.attached) {
      this.countDrop(l, pkt, 'host down');
      return;
    }
    l.delivered++;
    l.bytes += pkt.payload.length + PACKET_HEADER_BYTES;
    ep.rx(pkt);
  }

  private countDrop(l: Link, pkt: Packet, reason: string): number {
    l.dropped++;
    this.trace.emit('net.drop', {
      from: l.from, to: l.to.host, reason, flags: flagNames(pkt.flags), bytes: pkt.payload.length,
    });
    return 1;
  }

  /** Drop what a crashed sender had not finished serializing (the tail of its link's queue). */
  private dropUnsent(l: Link, now: number): number {
    let keep = l.q.length;
    while (keep > l.head && (l.dep[keep - 1] as number) > now) keep--;
    let lost = 0;
    for (let i = keep; i < l.q.length; i++) lost += this.countDrop(l, l.q[i] as Packet, 'sender down');
    l.q.length = keep;
    l.arr.length = keep;
    l.dep.length = keep;
    l.busyUntil = Math.min(l.busyUntil, now);
    l.lastArrival = keep > l.head ? (l.arr[keep - 1] as number) : now;
    if (keep === l.head && l.timer !== null) {
      this.sched.cancel(l.timer);
      l.timer = null;
      compact(l);
    }
    return lost;
  }

  /** Lose everything in flight or jammed on a link. */
  private flush(l: Link, reason: string): number {
    let lost = 0;
    for (let i = l.head; i < l.q.length; i++) lost += this.countDrop(l, l.q[i] as Packet, reason);
    for (const p of l.jamQ) lost += this.countDrop(l, p, reason);
    l.jamQ = [];
    l.q = [];
    l.arr = [];
    l.dep = [];
    l.head = 0;
    if (l.timer !== null) this.sched.cancel(l.timer);
    l.timer = null;
    const now = this.sched.now();
    l.busyUntil = Math.min(l.busyUntil, now);
    l.lastArrival = now;
    return lost;
  }

  /** Lose the packets held at a paused `ep` that came over `l`. */
  private dropHeld(ep: Endpoint, l: Link): number {
    let lost = 0;
    const q: Packet[] = [];
    const links: Link[] = [];
    for (let i = 0; i < ep.holdQ.length; i++) {
      const p = ep.holdQ[i] as Packet;
      if (ep.holdLinks[i] === l) {
        lost += this.countDrop(l, p, 'reset');
      } else {
        q.push(p);
        links.push(ep.holdLinks[i] as Link);
      }
    }
    ep.holdQ = q;
    ep.holdLinks = links;
    return lost;
  }

  /** The RSTs a middlebox sends to both ends of every connection it saw between ab's ends. */
  private forgeResets(ab: Link, ba: Link): Packet[] {
    const a = ab.from;
    const b = ba.from;
    const pairs = new Set<number>(); // a's port * 65536 + b's port
    for (const k of ab.flows.keys()) pairs.add(k);
    for (const k of ba.flows.keys()) pairs.add((k % 0x1_0000) * 0x1_0000 + Math.floor(k / 0x1_0000));
    const out: Packet[] = [];
    for (const pair of [...pairs].sort((x, y) => x - y)) {
      const ap = Math.floor(pair / 0x1_0000);
      const bp = pair % 0x1_0000;
      const aNext = ab.flows.get(pair) ?? 0;
      const bNext = ba.flows.get(bp * 0x1_0000 + ap) ?? 0;
      out.push(forged(a, ap, b, bp, aNext, bNext), forged(b, bp, a, ap, bNext, aNext));
      ab.flows.delete(pair);
      ba.flows.delete(bp * 0x1_0000 + ap);
    }
    return out;
  }
}

/** An RST from src:sport to dst:dport with the sequence numbers each end expects. */
function forged(src: string, sport: number, dst: string, dport: number, seq: number, ack: number): Packet {
  return { src, sport, dst, dport, seq, ack, flags: TH_RST | TH_ACK, window: 0, payload: NO_PAYLOAD };
}

/** Remember, per port pair, the highest sequence number a direction has sent (for reset). */
function track(l: Link, pkt: Packet): void {
  const key = pkt.sport * 0x1_0000 + pkt.dport;
  if ((pkt.flags & TH_RST) !== 0) {
    l.flows.delete(key);
    return;
  }
  const end = (pkt.seq + seqSpace(pkt)) >>> 0;
  const cur = l.flows.get(key);
  if (cur === undefined || (pkt.flags & TH_SYN) !== 0 || ((cur - end) | 0) < 0) l.flows.set(key, end);
}

function compact(l: Link): void {
  if (l.head === l.q.length) {
    if (l.head === 0) return;
    l.q.length = 0;
    l.arr.length = 0;
    l.dep.length = 0;
    l.head = 0;
  } else if (l.head > 1024 && l.head * 2 > l.q.length) {
    l.q = l.q.slice(l.head);
    l.arr = l.arr.slice(l.head);
    l.dep = l.dep.slice(l.head);
    l.head = 0;
  }
}

function cmp(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}
