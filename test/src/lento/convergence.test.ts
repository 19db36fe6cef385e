/**
 * Convergence (fast-check): random command sequences on random nodes, one writer per object (each
 * node owns a subtree /NODE and its own names in /shared), interleaved with random partitions,
 * heals, resets, crashes and restarts, pauses and resumes; then everything is healed, restarted and
 * resumed, and the world must converge within a bounded simulated time: every node's fileset tree
 * identical (names, types, modes, owners, sizes, mtimes, ctimes, bytes; on-demand files compared
 * after reading them, which fetches them), no peer record applied twice on any node, and every
 * image e2fsck -fn clean. Nodes differ in mode (replicate, on-demand), ext3 data mode and clock skew. The seed is printed on failure; CONVERGENCE_RUNS sets the number of runs.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import { Cluster, type NodeSpec } from '../../../sim/cluster.ts';
import { uuidHex } from '../../../src/lento/config.ts';
import type { TraceRecord } from '../../../sim/trace.ts';
import { saveImage } from '../../../src/image.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';
import { commandLine } from '../../support/scripts.ts';

type Ev =
  | { kind: 'op'; node: number; line: string }
  | { kind: 'shared'; node: number; what: 'create' | 'remove' | 'mkdir' | 'rmdir'; k: number }
  | { kind: 'partition'; mask: number }
  | { kind: 'isolate' | 'reset' | 'crash' | 'restart' | 'pause' | 'resume'; node: number }
  | { kind: 'heal' }
  | { kind: 'wait'; ms: number };

const ev: fc.Arbitrary<Ev> = fc.oneof(
  { weight: 8, arbitrary: fc.record({ kind: fc.constant('op' as const), node: fc.nat(3),
    line: fc.array(commandLine, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('\n')) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('shared' as const), node: fc.nat(3),
    what: fc.constantFrom('create', 'remove', 'mkdir', 'rmdir'), k: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('partition' as const), mask: fc.nat(15) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constantFrom('isolate', 'reset', 'crash', 'restart', 'pause', 'resume'),
    node: fc.nat(3) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'heal' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('wait' as const), ms: fc.integer({ min: 1, max: 8000 }) }) },
);

/** A command of node `me`, with every absolute path moved into its own subtree. */
function own(me: string, line: string): string {
  return line.split('\n').map((l) => l.split(' ')
    .map((w) => (w.startsWith('/') ? `/${me}${w}` : w.startsWith("'/") ? `'/${me}${w.slice(1)}` : w)).join(' '))
    .join('\n');
}

function sharedLine(me: string, what: string, k: number): string {
  const p = `/shared/${me}-${k}`;
  return { create: `write ${p} '${me} was here'`, remove: `rm ${p}`, mkdir: `mkdir ${p}d`, rmdir: `rmdir ${p}d` }[what] ??
    `stat ${p}`;
}

interface Run {
  readonly seed: number;
  readonly nodes: NodeSpec[];
  readonly events: Ev[];
}

const runArb: fc.Arbitrary<Run> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  clients: fc.integer({ min: 1, max: 3 }),
  onDemand: fc.nat(7),
  skews: fc.array(fc.constantFrom(0, 0, -3_000_000, 2_500_000), { minLength: 4, maxLength: 4 }),
  modes: fc.array(fc.constantFrom('ordered', 'ordered', 'journal', 'writeback'), { minLength: 4, maxLength: 4 }),
  events: fc.array(ev, { minLength: 4, maxLength: 40 }),
}).map(({ seed, clients, onDemand, skews, modes, events }) => ({
  seed,
  nodes: [
    { name: 'server', role: 'server' as const, data: modes[0] as 'ordered' },
    ...Array.from({ length: clients }, (_, i) => ({
      name: `c${i + 1}`, role: 'client' as const, mode: ((onDemand >> i) & 1) === 1 ? 'on-demand' as const : 'replicate' as const,
      clockSkew: skews[i + 1] ?? 0, data: (modes[i + 1] ?? 'ordered') as 'ordered',
    })),
  ],
  events,
}));

function play(c: Cluster, e: Ev): void {
  const names = [...c.nodes.keys()];
  const name = (i: number): string => names[i % names.length] as string;
  const net = c.world.network;
  switch (e.kind) {
    case 'op':
    case 'shared': {
      const n = c.node(name(e.node));
      if (n.host.state !== 'up') return;
      n.sh(e.kind === 'op' ? own(n.name, e.line) : sharedLine(n.name, e.what, e.k));
      return;
    }
    case 'partition': {
      const a = names.filter((_, i) => ((e.mask >> i) & 1) === 1);
      const b = names.filter((_, i) => ((e.mask >> i) & 1) === 0);
      if (a.length > 0 && b.length > 0) net.partition([a, b]);
      return;
    }
    case 'isolate':
      return net.isolate(name(e.node));
    case 'reset':
      if (name(e.node) !== 'server') net.reset(name(e.node), 'server');
      return;
    case 'crash':
      return c.node(name(e.node)).crash();
    case 'restart':
      if (c.node(name(e.node)).host.state === 'crashed') c.node(name(e.node)).restart();
      return;
    case 'pause':
      return c.node(name(e.node)).pause();
    case 'resume':
      return c.node(name(e.node)).resume();
    case 'heal':
      return net.heal();
    case 'wait':
      c.world.runFor(e.ms * 1000);
  }
}

/** Each (node, peer, recno) applied at most once, by presto's own account. */
/**
 * Records applied twice, by presto's own account (its last_rcvd updates, presto.rcvd): within one
 * boot of a host never; across a crash only a record whose first application the crash may have
 * taken back, i.e. one the host had not yet acknowledged to its peer (the peer's lento.ack events
 * say how far it had: an acknowledgement follows an fsync).
 */
function appliedTwice(c: Cluster, records: readonly TraceRecord[]): string[] {
  const nameOf = new Map([...c.nodes.values()].map((n) => [uuidHex(n.uuid), n.name]));
  const boot = new Map<string, number>();
  const seen = new Map<string, number>(); // host uuid recno -> boot it was applied in
  const acked = new Map<string, number>(); // "host peer" -> highest recno host acknowledged to peer
  const twice: string[] = [];
  for (const r of records) {
    if (r.ev === 'host.state' && (r.data as { state: string }).state === 'up') boot.set(r.host, (boot.get(r.host) ?? 0) + 1);
    if (r.ev === 'lento.ack') {
      const d = r.data as { from: string; recno: number };
      const k = `${d.from} ${r.host}`;
      acked.set(k, Math.max(acked.get(k) ?? 0, d.recno));
    }
    if (r.ev !== 'presto.rcvd') continue;
    const d = r.data as { uuid: string; remote_recno: number };
    const key = `${r.host} ${d.uuid} ${d.remote_recno}`;
    const before = seen.get(key);
    const now = boot.get(r.host) ?? 0;
    const durable = d.remote_recno <= (acked.get(`${r.host} ${nameOf.get(d.uuid) ?? '?'}`) ?? 0);
    if (before !== undefined && (before === now || durable)) twice.push(key);
    seen.set(key, now);
  }
  return twice;
}

function oneRun(run: Run, dir: string | null): void {
  const seed = run.seed;
  const c = Cluster.build({ seed, fileset: 'f', nodes: run.nodes, trace: { keep: true } });
  c.world.runFor(1_000_000);
  const own = (n: string): string[] => [`/${n}`, `/${n}/d`, `/${n}/g`, `/${n}/g/h`, `/${n}/x`].map((d) => `mkdir ${d}`);
  c.node('server').sh(['mkdir /shared', ...run.nodes.flatMap((n) => own(n.name))].join('\n'));
  expect(c.runUntilConverged(30_000_000), `seed ${seed}: the set-up converges`).toBe(true);
  for (const e of run.events) play(c, e);
  c.world.network.heal();
  for (const n of c.nodes.values()) {
    if (n.host.state === 'crashed') n.restart();
    if (n.host.state === 'paused') n.resume();
  }
  const converged = c.runUntilConverged(120_000_000);
  const rerun = `fast-check replays it from the seed and path it prints; the world seed is ${seed}`;
  if (!converged) {
    const trees = [...c.nodes.values()].map((n) => `${n.name}: ${JSON.stringify(n.tree())}`);
    const st = [...c.nodes.values()].map((n) => `${n.name}: ${JSON.stringify(n.status())}`);
    expect.fail(`seed ${seed}: did not converge (rerun: ${rerun})\n${st.join('\n')}\n${trees.join('\n')}`);
  }
  expect(appliedTwice(c, c.world.trace.records()), `seed ${seed}: a record applied twice (rerun: ${rerun})`).toEqual([]);
  if (process.env.CONVERGENCE_STATS !== undefined) {
    const rs = c.world.trace.records();
    const count = (ev: string): number => rs.filter((r) => r.ev === ev).length;
    console.log(`seed ${seed}: kml ${count('presto.kml')} reint ${count('presto.reint')} conflicts ${count('lento.conflict')}`,
      `crash ${rs.filter((r) => r.ev === 'host.state' && (r.data as { state: string }).state === 'crashed').length}`,
      `fetch ${count('lento.fetch')} sessions ${count('lento.session')} t=${c.world.sched.now()}`);
  }
  if (dir === null) return;
  c.shutdown();
  for (const n of c.nodes.values()) {
    const img = join(dir, `${seed}-${n.name}.img`);
    saveImage(img, n.disk);
    const r = e2fsck(img, '-fn');
    expect(r.status, `seed ${seed}, ${n.name}: e2fsck (rerun: ${rerun})\n${r.output}`).toBe(0);
  }
}

const RUNS = Number(process.env.CONVERGENCE_RUNS ?? 20);

describe('convergence under partitions, crashes and pauses', () => {
  it('random runs converge with identical trees, each record applied once, images e2fsck-clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-conv-'));
    let n = 0;
    try {
      fc.assert(fc.property(runArb, (run) => {
        oneRun(run, n++ % 4 === 0 ? dir : null);
      }), { numRuns: RUNS, seed: Number(process.env.CONVERGENCE_SEED ?? 11) });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    void isErr;
  }, Math.max(120_000, RUNS * 3_000)); // a long local run (CONVERGENCE_RUNS=1000) takes minutes
});
