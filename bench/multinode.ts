/**
 * multinode.ts: the multi-node figure of `npm run bench` (issue 11): one server and three clients,
 * 10,000 operations (create+write, append, rename, unlink, mkdir on the nodes' own subtrees, spread
 * over the nodes by a seeded stream), a partition cutting one client off every 1,000 operations
 * and healed 500 operations later, then everything left to converge. Reports the wall time, the
 * simulated events and their rate, and simulated time over wall time. Real time only here.
 */
import { performance } from 'node:perf_hooks';
import { Cluster } from '../sim/cluster.ts';
import { Prng } from '../sim/prng.ts';

export interface MultiNodeFigures {
  readonly ops: number;
  readonly wallMs: number;
  readonly events: number;
  readonly simUs: number;
  readonly converged: boolean;
}

function line(rng: Prng, node: string, i: number): string {
  const f = `/${node}/f${rng.below(40)}`;
  switch (rng.below(6)) {
    case 0:
    case 1:
      return `write ${f} 'op ${i} on ${node}'`;
    case 2:
      return `append ${f} ' and more'`;
    case 3:
      return `mv ${f} /${node}/f${rng.below(40)}`;
    case 4:
      return `rm ${f}`;
    default:
      return `mkdir /${node}/d${rng.below(20)}`;
  }
}

export function multiNode(ops = 10_000, seed = 1): MultiNodeFigures {
  const names = ['server', 'c1', 'c2', 'c3'];
  const c = Cluster.build({
    seed, fileset: 'bench',
    nodes: names.map((name, i) => ({ name, role: i === 0 ? 'server' as const : 'client' as const, disk: 64 << 20 })),
  });
  c.world.runFor(1_000_000);
  c.node('server').sh(names.map((n) => `mkdir /${n}`).join('\n'));
  c.runUntilConverged(30_000_000);
  const rng = Prng.fromSeed(seed).stream('bench');
  const t0 = performance.now();
  const e0 = c.world.sched.executed;
  const s0 = c.world.sched.now();
  for (let i = 0; i < ops; i++) {
    if (i % 1000 === 0 && i > 0) c.world.network.partition([[names[1 + (i / 1000) % 3] as string]]);
    if (i % 1000 === 500) c.world.network.heal();
    const node = names[rng.below(names.length)] as string;
    c.node(node).sh(line(rng, node, i));
    c.world.runFor(1_000);
  }
  c.world.network.heal();
  const converged = c.runUntilConverged(300_000_000);
  return { ops, wallMs: performance.now() - t0, events: c.world.sched.executed - e0, simUs: c.world.sched.now() - s0,
    converged };
}

/** The figures as `npm run bench` prints them. */
export function multiNodeReport(f: MultiNodeFigures): string {
  const n = (x: number): string => Math.round(x).toLocaleString('en').padStart(14);
  return [
    `${`cluster: 1 server + 3 clients, ${f.ops} ops`.padEnd(44)} ${n(f.wallMs)} ms wall${f.converged ? '' : ' (NOT converged)'}`,
    `${'  scheduler events/s'.padEnd(44)} ${n((f.events / f.wallMs) * 1000)} events/s (${f.events} events)`,
    `${'  simulated/wall time'.padEnd(44)} ${(f.simUs / 1000 / f.wallMs).toFixed(2).padStart(14)}x`,
  ].join('\n');
}
