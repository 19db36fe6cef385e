/**
 * Exactly once across crashes: a client disconnected from its server makes changes (names, data,
 * a rename, a removal, attributes), then the partition heals and lento reintegrates them. The
 * reintegration is crashed, in separate runs, at every block write of the server (the receiver:
 * its REINTKML transactions, its fsyncs, its journal's commits and checkpoints) and at every
 * protocol step either side takes (a lento event: a chunk shipped, applied, acknowledged, a file
 * served or fetched), then the crashed host restarts and the world converges. (The laptop syncs its
 * changes first: what a crash may take back on the node that made it is not the protocol's.) Every run must end
 * exactly as the run without a crash: the same trees on both nodes, presto having applied each
 * record once (last_rcvd never moves twice to one record). CI checks a sample of the crash points
 * (EXACTLY_ONCE_ALL=1 checks every one).
 */
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import { Cluster } from '../../../sim/cluster.ts';
import type { TreeNode } from '../../../src/tree.ts';

const CHANGES = [
  "mkdir /work\nwrite /work/notes 'first draft'",
  "append /work/notes ', revised'\nwrite /work/todo 'buy milk'",
  'mv /work/todo /work/done\nchmod 600 /work/notes',
  "writeb /work/big 40000 3\nrm /work/done\nwrite /work/last 'the end'",
  'sync', // the changes are durable on the laptop before the reintegration: a crash there loses none
];

type Mode = 'random' | 'lose-cached' | 'keep-cached';
type Crash = {
  readonly host: 'server' | 'laptop'; readonly write?: number; readonly event?: number; readonly mode?: Mode;
} | null;

interface Outcome {
  readonly trees: Record<string, TreeNode>;
  readonly writes: number;
  readonly events: number;
}

function run(crash: Crash): Outcome {
  const c = Cluster.build({
    seed: 21, fileset: 'f', trace: { keep: true },
    nodes: [{ name: 'server', role: 'server' }, { name: 'laptop', role: 'client' }],
  });
  c.world.runFor(1_000_000);
  c.node('server').sh("mkdir /base\nwrite /base/readme 'shared'");
  expect(c.runUntilConverged(30_000_000)).toBe(true);
  c.world.network.partition([['laptop'], ['server']]);
  c.world.runFor(6_000_000); // the laptop notices and steals the permit on its next write
  for (const lines of CHANGES) {
    expect(c.node('laptop').sh(lines).map((r) => r.status)).toEqual(lines.split('\n').map(() => 'ok'));
    c.world.runFor(500_000);
  }
  const server = c.node('server');
  if (crash !== null) c.node(crash.host).host.crashMode = crash.mode ?? 'random';
  const writes0 = server.disk.stats.writes;
  const events0 = c.world.trace.records().length;
  if (crash?.write !== undefined) c.node(crash.host).disk.cutPowerAfterWrites(c.node(crash.host).disk.stats.writes + crash.write);
  if (crash?.event !== undefined) {
    let seen = 0;
    const target = crash.event;
    const host = crash.host;
    c.world.trace.listen((r) => {
      if (r.host !== host || !r.ev.startsWith('lento.')) return;
      if (++seen === target) c.world.sched.after(0, 'crash', () => c.node(host).crash());
    });
  }
  c.world.network.heal();
  c.runUntil(() => c.caughtUp(), 60_000_000);
  for (const n of c.nodes.values()) if (n.host.state === 'crashed') n.restart();
  expect(c.runUntilConverged(120_000_000), `${JSON.stringify(crash)} converges`).toBe(true);
  const trees: Record<string, TreeNode> = {};
  for (const n of c.nodes.values()) {
    const t = n.tree();
    if (isErr(t)) throw new Error(`${n.name}: ${t}`);
    trees[n.name] = t;
  }
  const rs = c.world.trace.records();
  return { trees, writes: server.disk.stats.writes - writes0,
    events: rs.slice(events0).filter((r) => r.ev.startsWith('lento.')).length };
}

const all = process.env.EXACTLY_ONCE_ALL === '1';
const every = (n: number, step: number): number[] =>
  Array.from({ length: n }, (_, i) => i + 1).filter((i) => all || i % step === 1);

describe('a reintegration crashed anywhere ends as one that was not', () => {
  const clean = run(null);

  it('the clean run reintegrates the laptop\'s changes', () => {
    expect(clean.trees.server).toEqual(clean.trees.laptop);
    expect(Object.keys(clean.trees.server?.children?.work?.children ?? {}).sort()).toEqual(['big', 'last', 'notes']);
  });

  it('crashed at every block write of the server, keeping a random, none or all of its cached writes', () => {
    const points = every(clean.writes, 7);
    expect(points.length).toBeGreaterThan(5);
    for (const k of points) {
      for (const mode of ['random', 'lose-cached', 'keep-cached'] as const) {
        expect(run({ host: 'server', write: k, mode }).trees, `server crash at write ${k} (${mode})`).toEqual(clean.trees);
      }
    }
  });

  it('crashed at every protocol step of either side', () => {
    for (const host of ['server', 'laptop'] as const) {
      for (const k of every(Math.min(clean.events, 60), 3)) {
        expect(run({ host, event: k }).trees, `${host} crash at lento event ${k}`).toEqual(clean.trees);
      }
    }
  });
});
