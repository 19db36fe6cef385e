/**
 * The wire alone (sim/network.ts), with hand-made packets and recording receivers: FIFO timing
 * from latency and serialization, per-link random streams, every fault and heal, payload copies,
 * statistics, traces, and the refusals of bad settings.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KernelPanic } from '../../kernel/assert.ts';
import { NO_PAYLOAD, TH_ACK, TH_RST, TH_SYN, type Packet } from '../../kernel/netdevice.ts';
import { Network, serializationTime, type LinkSpec } from '../../sim/network.ts';
import { Prng } from '../../sim/prng.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { TraceRecorder } from '../../sim/trace.ts';

interface Arrival {
  readonly t: number;
  readonly pkt: Packet;
}

function wire(hosts: readonly string[], defaults: LinkSpec = { latency: 100, bandwidth: null }, seed = 1) {
  const sched = new Scheduler();
  const trace = new TraceRecorder(sched, { keep: true });
  const net = new Network({ sched, rng: Prng.fromSeed(seed).stream('net'), trace: trace.tracerFor('net'), defaults });
  const got = new Map<string, Arrival[]>();
  const devs = new Map(hosts.map((h) => {
    got.set(h, []);
    return [h, net.attach(h, (pkt) => got.get(h)?.push({ t: sched.now(), pkt }))] as const;
  }));
  const send = (from: string, to: string, len = 0, extra: Partial<Packet> = {}) => devs.get(from)?.xmit({
    src: from, sport: 1000, dst: to, dport: 80, seq: 0, ack: 0, flags: TH_ACK, window: 0,
    payload: len === 0 ? NO_PAYLOAD : new Uint8Array(len).fill(7), ...extra,
  });
  const events = (kind: string) => trace.records().filter((r) => r.ev === kind).map((r) => r.data);
  return { sched, trace, net, got, devs, send, events, at: (h: string) => (got.get(h) ?? []).map((a) => a.t) };
}

describe('delivery', () => {
  it('arrives after serialization behind the link\'s queue, then latency, in FIFO order', () => {
    const w = wire(['a', 'b'], { latency: 1000, bandwidth: 1_000_000 });
    w.send('a', 'b', 960); // 1000 bytes with headers: 1000 µs on the wire
    w.send('a', 'b', 0); // 40 bytes behind it: departs at 1040
    w.sched.after(5000, 'later', () => w.send('a', 'b', 60)); // an idle link: 100 µs
    w.sched.runUntilQuiescent();
    expect(w.at('b')).toEqual([2000, 2040, 6100]);
  });

  it('serialization time is ceil(bytes * 1e6 / bandwidth), exactly, in integers', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1 << 26 }), fc.integer({ min: 1, max: 1e12 }), (bytes, bw) => {
      const t = serializationTime(bytes, bw);
      expect(Number.isSafeInteger(t)).toBe(true);
      expect(BigInt(t)).toBe((BigInt(bytes) * 1_000_000n + BigInt(bw) - 1n) / BigInt(bw));
    }));
  });

  it('random latency: in [min, max], FIFO kept, from the link\'s own stream (a new link reshuffles nothing)', () => {
    const spec: LinkSpec = { latency: { min: 100, max: 5000 }, bandwidth: null };
    const one = wire(['a', 'b', 'c'], spec, 9);
    const two = wire(['a', 'b', 'c'], spec, 9);
    for (let i = 0; i < 50; i++) {
      one.sched.after(i * 3000, 's', () => one.send('a', 'b', i));
      two.sched.after(i * 3000, 's', () => {
        two.send('a', 'c', 5); // traffic on another link in between
        two.send('a', 'b', i);
      });
    }
    one.sched.runUntilQuiescent();
    two.sched.runUntilQuiescent();
    const t = one.at('b');
    expect(t).toEqual(two.at('b'));
    expect(one.got.get('b')?.map((x) => x.pkt.payload.length)).toEqual([...Array(50).keys()]);
    for (let i = 1; i < t.length; i++) expect(t[i] as number).toBeGreaterThanOrEqual(t[i - 1] as number);
    expect(t.every((x, i) => x - i * 3000 >= 100)).toBe(true);
    const own = t.filter((x, i) => x - i * 3000 <= 5000 && (i === 0 || x > (t[i - 1] as number)));
    expect(own.length).toBeGreaterThan(30); // most are their own draw; the rest wait behind a slower one
    expect(new Set(t.map((x, i) => x - i * 3000)).size).toBeGreaterThan(20);
  });

  it('a long tail: with probability num/den the latency is multiplied by factor', () => {
    const tail = { num: 1, den: 4, factor: 50 };
    const w = wire(['a', 'b'], { latency: { min: 100, max: 100, tail }, bandwidth: null });
    for (let i = 0; i < 400; i++) w.sched.after(i * 100_000, 's', () => w.send('a', 'b'));
    w.sched.runUntilQuiescent();
    const lat = w.at('b').map((t, i) => t - i * 100_000);
    const slow = lat.filter((l) => l === 5000).length;
    expect(lat.every((l) => l === 100 || l === 5000)).toBe(true);
    expect(slow).toBeGreaterThan(60);
    expect(slow).toBeLessThan(140);
  });

  it('copies payloads: the receiver never sees the sender\'s buffer', () => {
    const w = wire(['a', 'b']);
    const buf = new Uint8Array([1, 2, 3]);
    w.send('a', 'b', 0, { payload: buf });
    buf[0] = 99;
    w.sched.runUntilQuiescent();
    const got = w.got.get('b')?.[0]?.pkt.payload;
    expect([...(got ?? [])]).toEqual([1, 2, 3]);
    expect(got).not.toBe(buf);
  });

  it('random loss drops that share of packets, traced as loss', () => {
    const w = wire(['a', 'b'], { latency: 10, bandwidth: null, loss: { num: 1, den: 10 } });
    for (let i = 0; i < 1000; i++) w.send('a', 'b');
    w.sched.runUntilQuiescent();
    const lost = 1000 - (w.got.get('b')?.length ?? 0);
    expect(lost).toBeGreaterThan(60);
    expect(lost).toBeLessThan(140);
    expect(w.events('net.drop').length).toBe(lost);
  });
});

describe('faults', () => {
  it('partition cuts between groups both ways; unnamed hosts form one more group; heal restores', () => {
    const w = wire(['a', 'b', 'c', 'd']);
    w.net.partition([['a'], ['b']]); // c and d: a third group
    const pairs = [['a', 'b'], ['b', 'a'], ['a', 'c'], ['c', 'd'], ['d', 'c'], ['b', 'd']] as const;
    expect(pairs.map(([x, y]) => w.net.isCut(x, y))).toEqual([true, true, true, false, false, true]);
    expect(w.events('net.partition')).toEqual([{ groups: [['a'], ['b'], ['c', 'd']] }]);
    for (const [x, y] of pairs) w.send(x, y);
    w.sched.runUntilQuiescent();
    expect(w.got.get('d')?.length).toBe(1);
    expect(w.got.get('c')?.length).toBe(1);
    expect(w.got.get('a')?.length).toBe(0);
    expect(w.events('net.drop').length).toBe(4);
    w.net.heal();
    expect(pairs.every(([x, y]) => !w.net.isCut(x, y))).toBe(true);
    w.send('a', 'b');
    w.sched.runUntilQuiescent();
    expect(w.got.get('b')?.length).toBe(1);
  });

  it('a cut drops packets already in flight when they reach it', () => {
    const w = wire(['a', 'b'], { latency: 1000, bandwidth: null });
    w.send('a', 'b');
    w.sched.after(500, 'cut', () => w.net.cut('a', 'b'));
    w.sched.after(600, 'heal', () => w.net.healLink('a', 'b'));
    w.sched.after(700, 'send', () => w.send('a', 'b'));
    w.sched.after(900, 'cut', () => w.net.cut('a', 'b'));
    w.sched.runUntilQuiescent();
    expect(w.at('b')).toEqual([]);
    expect(w.events('net.drop')).toEqual([
      { from: 'a', to: 'b', reason: 'cut', flags: 'ACK', bytes: 0 },
      { from: 'a', to: 'b', reason: 'cut', flags: 'ACK', bytes: 0 },
    ]);
  });

  it('cut and healLink are one-way; isolate cuts a host off; heal(hosts) heals only their links', () => {
    const w = wire(['a', 'b', 'c']);
    w.net.cut('a', 'b');
    expect([w.net.isCut('a', 'b'), w.net.isCut('b', 'a')]).toEqual([true, false]);
    w.net.healLink('b', 'a'); // not cut: nothing to heal
    expect(w.net.isCut('a', 'b')).toBe(true);
    w.net.isolate('c');
    expect(['a', 'b'].flatMap((h) => [w.net.isCut(h, 'c'), w.net.isCut('c', h)])).toEqual([true, true, true, true]);
    w.net.heal(['a']);
    expect([w.net.isCut('a', 'b'), w.net.isCut('a', 'c'), w.net.isCut('c', 'a'), w.net.isCut('b', 'c')])
      .toEqual([false, false, false, true]);
    expect(w.events('net.heal').at(-1)).toEqual({ scope: 'hosts', hosts: ['a'], links: ['a->b', 'a->c', 'c->a'] });
  });

  it('jam holds packets on the link both ways; release sends them in order, paying latency from then', () => {
    const w = wire(['a', 'b'], { latency: 1000, bandwidth: null });
    w.net.jam('a', 'b');
    for (let i = 1; i <= 3; i++) w.sched.after(i * 100, 's', () => w.send('a', 'b', i));
    w.send('b', 'a', 9);
    w.sched.after(50_000, 'release', () => w.net.release('a', 'b'));
    w.sched.runUntilQuiescent();
    expect(w.at('b')).toEqual([51_000, 51_000, 51_000]);
    expect(w.got.get('b')?.map((x) => x.pkt.payload.length)).toEqual([1, 2, 3]);
    expect(w.at('a')).toEqual([51_000]);
    expect(w.events('net.release')).toEqual([{ a: 'a', b: 'b', packets: 4 }]);
  });

  it('hold queues packets for a paused host and delivers them in order at unhold', () => {
    const w = wire(['a', 'b']);
    w.net.hold('b');
    w.send('a', 'b', 1);
    w.send('a', 'b', 2);
    w.sched.after(10_000, 'unhold', () => w.net.unhold('b'));
    w.sched.runUntilQuiescent();
    expect(w.at('b')).toEqual([10_000, 10_000]);
    expect(w.got.get('b')?.map((x) => x.pkt.payload.length)).toEqual([1, 2]);
  });

  it('a packet arriving in the tick of the unhold waits behind the held ones', () => {
    const w = wire(['a', 'b']);
    w.net.hold('b');
    w.send('a', 'b', 1); // arrives at 100: held
    w.sched.after(150, 'unhold', () => w.net.unhold('b'));
    w.sched.after(50, 's', () => w.send('a', 'b', 2)); // arrives at 150, just after the unhold
    w.sched.runUntilQuiescent();
    expect(w.got.get('b')?.map((x) => [x.t, x.pkt.payload.length])).toEqual([[150, 1], [150, 2]]);
  });

  it('detach: packets to the host are lost, so is what it had not finished sending; attach again works', () => {
    const w = wire(['a', 'b'], { latency: 100, bandwidth: 1_000_000 });
    w.send('a', 'b', 960); // on the wire 0..1000
    w.send('a', 'b', 960); // 1000..2000
    w.send('b', 'a');
    w.sched.after(1500, 'crash a', () => w.net.detach('a'));
    w.sched.after(1600, 'to the dead', () => w.send('b', 'a'));
    w.sched.runUntilQuiescent();
    expect(w.at('b')).toEqual([1100]); // the second had not left a's NIC
    expect(w.at('a')).toEqual([140]); // before the crash
    expect(w.net.knows('a')).toBe(true);
    expect(w.events('net.detach')).toEqual([{ host: 'a', lost: 1 }]);
    expect(w.events('net.drop').map((d) => (d as { reason: string }).reason)).toEqual(['sender down', 'host down']);
    const old = w.devs.get('a');
    const dev = w.net.attach('a', (pkt) => w.got.get('a')?.push({ t: w.sched.now(), pkt }));
    old?.xmit({ src: 'a', sport: 1, dst: 'b', dport: 1, seq: 0, ack: 0, flags: 0, window: 0, payload: NO_PAYLOAD });
    dev.xmit({ src: 'a', sport: 1, dst: 'b', dport: 1, seq: 0, ack: 0, flags: 0, window: 0, payload: NO_PAYLOAD });
    w.sched.runUntilQuiescent();
    expect(w.got.get('b')?.length).toBe(2); // the dead incarnation's device sent nothing
  });

  it('reset: in flight is lost; each end gets at once an RST from the other, with the numbers it expects', () => {
    const w = wire(['a', 'b'], { latency: 1000, bandwidth: null });
    w.send('a', 'b', 0, { sport: 5000, dport: 80, seq: 100, flags: TH_SYN });
    w.send('b', 'a', 0, { sport: 80, dport: 5000, seq: 900, ack: 101, flags: TH_SYN | TH_ACK });
    w.sched.runFor(2000);
    w.send('a', 'b', 50, { sport: 5000, dport: 80, seq: 101, ack: 901 });
    w.sched.after(10, 'reset', () => w.net.reset('a', 'b'));
    w.sched.runUntilQuiescent();
    const rst = (h: string) => w.got.get(h)?.filter((x) => (x.pkt.flags & TH_RST) !== 0).map((x) => x.pkt);
    expect(rst('b')).toEqual([{ src: 'a', sport: 5000, dst: 'b', dport: 80, seq: 151, ack: 901, flags: TH_RST | TH_ACK,
      window: 0, payload: NO_PAYLOAD }]);
    expect(rst('a')?.[0]).toMatchObject({ src: 'b', sport: 80, dport: 5000, seq: 901, ack: 151 });
    expect(w.got.get('b')?.some((x) => x.pkt.payload.length === 50)).toBe(false);
    expect(w.events('net.reset')).toEqual([{ a: 'a', b: 'b', connections: 1, lost: 1 }]);
  });

  it('setLink changes later packets only; stats count per link; pending counts what is in the network', () => {
    const w = wire(['a', 'b'], { latency: 1000, bandwidth: null });
    w.send('a', 'b');
    w.net.setLink('a', 'b', { latency: 10 });
    w.send('a', 'b'); // FIFO: not before the first
    expect(w.net.pending()).toBe(2);
    w.sched.runUntilQuiescent();
    w.send('a', 'b');
    w.sched.runUntilQuiescent();
    expect(w.at('b')).toEqual([1000, 1000, 1010]);
    expect(w.net.stats()).toEqual([
      { from: 'a', to: 'b', sent: 3, delivered: 3, dropped: 0, held: 0, bytes: 120, cut: false, jammed: false },
    ]);
    expect(w.events('net.link')).toEqual([{ from: 'a', to: 'b', latency: 10, bandwidth: null, loss: null }]);
  });

  it('refuses bad settings and unknown hosts, naming them', () => {
    const w = wire(['a', 'b']);
    expect(() => w.net.setLink('a', 'b', { latency: -1 })).toThrow(/latency must be a non-negative integer/);
    expect(() => w.net.setLink('a', 'b', { latency: { min: 5, max: 1 } })).toThrow(/min 5 above max 1/);
    expect(() => w.net.setLink('a', 'b', { bandwidth: 0 })).toThrow(KernelPanic);
    expect(() => w.net.partition([['a'], ['zz']])).toThrow(/no host 'zz'/);
    expect(() => w.net.partition([['a'], ['a', 'b']])).toThrow(/a is in two groups/);
    expect(() => w.net.attach('a', () => {})).toThrow(/attached twice/);
    expect(() => w.net.cut('a', 'a')).toThrow(/loopback/);
  });
});
