/**
 * report.ts: `npm run bench:report` writes docs/performance.md: the side-by-side table
 * (bench/compare.ts), the multi-node figure (bench/multinode.ts), the machine and the command, and
 * where presto's time goes (a CPU profile of one presto run, taken in this process with
 * node:inspector, its top functions by self time). The figures are this machine's, on the day it
 * ran; the goals are issue 16's. BENCH_COMPARE_OPS, BENCH_COMPARE_ROUNDS and BENCH_CLUSTER_OPS
 * change the sizes. Real time and real I/O are used here and only here.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { cpus, totalmem } from 'node:os';
import { compare, compareTable, nodeFs, simFs, workload, type Figures } from './compare.ts';
import { multiNode, multiNodeReport } from './multinode.ts';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}
interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

/** Profile `fn` with the V8 sampling profiler of this process. */
function profile(fn: () => void): Profile {
  const s = new Session();
  s.connect();
  let out: Profile | null = null;
  s.post('Profiler.enable');
  s.post('Profiler.start');
  fn();
  s.post('Profiler.stop', (err, r) => {
    if (err === null) out = (r as unknown as { profile: Profile }).profile;
  });
  s.disconnect();
  if (out === null) throw new Error('the profiler returned nothing');
  return out;
}

/** The top `n` functions by self time, as table rows. */
function topSelf(p: Profile, n: number): string[] {
  const byNode = new Map<number, number>();
  p.samples.forEach((id, i) => byNode.set(id, (byNode.get(id) ?? 0) + (p.timeDeltas[i] ?? 0)));
  const total = [...byNode.values()].reduce((a, b) => a + b, 0);
  const byFn = new Map<string, number>();
  for (const node of p.nodes) {
    // Native frames without a source (the inspector's own dispatch, setters) are left out; the
    // garbage collector stays.
    if (node.callFrame.url === '' && node.callFrame.functionName !== '(garbage collector)') continue;
    const t = byNode.get(node.id) ?? 0;
    const file = node.callFrame.url.split('/').slice(-2).join('/');
    const key = `\`${node.callFrame.functionName || '(anonymous)'}\` ${file === '' ? '' : `(${file})`}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
  }
  return [...byFn].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, t]) => `| ${(t / total * 100).toFixed(1)}% | ${k} |`);
}

function ratio(fig: readonly Figures[], a: string, b: string): string {
  const x = fig.find((f) => f.name === a)?.cpu.median;
  const y = fig.find((f) => f.name === b)?.cpu.median;
  return x === undefined || y === undefined ? '?' : (x / y).toFixed(2);
}

const OPS = Number(process.env.BENCH_COMPARE_OPS ?? 10_000);
const ROUNDS = Number(process.env.BENCH_COMPARE_ROUNDS ?? 7);
const figures = compare(OPS, ROUNDS);
const cluster = multiNode(Number(process.env.BENCH_CLUSTER_OPS ?? 10_000));
const presto = simFs('presto/ext3 ordered', 'intermezzo', 'ordered');
const w = workload(OPS);
const prof = profile(() => presto.run(w));
const cpu = cpus()[0]?.model ?? 'unknown CPU';

const doc = `# Performance

How fast the simulated stack runs, measured side by side with real file systems in one process
(\`bench/compare.ts\`), and how fast a world of InterMezzo nodes runs (\`bench/multinode.ts\`).
This file is written by \`npm run bench:report\` (\`bench/report.ts\`); \`npm run bench\` prints the
same figures with the micro-benchmarks, and \`npm run bench -- --json FILE\` writes them as JSON.
Timed figures never appear in tests: CI checks behaviour, this file records speed.

## The machine and the command
- ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB; Node ${process.version}; node:fs on ${nodeFs().where}.
- \`npm run bench:report\`: ${OPS} operations, ${ROUNDS} interleaved rounds after a warm-up; other
  processes may have shared the machine, so read the ranges as well as the medians.

## Side by side
One seeded workload for every contender: creates of 4 KiB files (written and closed), renames,
unlinks and mkdirs in the proportions 3,835 : 2,014 : 3,840 : 311, about 100 files live; afterwards
every live file's size is read back and checked, so no contender can skip work. By CPU time (user
and system, so the real kernel's work counts; the garbage collector's helper threads count too,
which is why a figure per CPU second can be below the one per wall second) and by wall time.

${compareTable(figures)}

Against issue 16's goals, by CPU time: presto over ext3 at ${ratio(figures, 'presto/ext3 ordered', 'node:fs')}x node:fs
(goal 0.5x, then 1x) and ${ratio(figures, 'presto/ext3 ordered', 'memfs')}x memfs (goal 1x, then 1.5x); ext3 ordered at
${ratio(figures, 'ext3 ordered', 'node:fs')}x node:fs (goal 1x).

## Many nodes
\`\`\`
${multiNodeReport(cluster)}
\`\`\`
Issue 11's goal: 10,000 operations in under 1 s of wall time, at least 100,000 simulated events
per second.

## Where presto's time goes
A CPU profile of one presto run of the workload above (mkfs and the check included), the functions
with the most self time, as a share of the run:

| self | function |
|---|---|
${topSelf(prof, 20).join('\n')}

## What stands in the way
- Every change is a journal transaction with a KML record, and every close of a written file a
  second one (the original's crash semantics: the record in the same transaction as the change).
- Everything that can block is a generator; a generator frame costs several times a call.
- Garbage: buffers, versions and trace data allocated per operation.
`;

writeFileSync(new URL('../docs/performance.md', import.meta.url), doc);
console.log(compareTable(figures));
console.log(multiNodeReport(cluster));
console.log('wrote docs/performance.md');
