/**
 * scenario_expect.ts: judging a run against its scenario file's expectations.
 *
 * Layer: user-space (izo run). Interface: `stepFailures(loaded, result)` turns the runner's step
 * failures (a `run` whose errno or output was not the one written, a wait that timed out, a
 * trigger that never fired) into `Failure`s placed at their step; `checkFinal(loaded, result,
 * cluster)` judges `expect:` once the run is over: `converged` from the result's trees, counters
 * and conflicts from the result, and files as a user would see them, by running `cat` and `stat`
 * on each node (so an on-demand node fetches what it lacks, as a real open would). Each failure
 * says where the expectation is written, what was expected and what was found.
 * Invented (no InterMezzo counterpart).
 */
import { createHash } from 'node:crypto';
import type { Cluster } from '../../sim/cluster.ts';
import type { ScenarioResult } from '../../sim/scenario.ts';
import { diffTrees, type TreeNode } from '../tree.ts';
import { toBytestring } from '../sh.ts';
import type { Expectation, FileWant, LoadedScenario, Where } from './scenario_file.ts';

export interface Failure {
  readonly at: Where;
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
}

export function stepFailures(loaded: LoadedScenario, r: ScenarioResult): Failure[] {
  return r.failures.map((f) => ({
    at: loaded.steps[f.step] ?? { line: 1, col: 1 }, what: `step ${f.step + 1}: ${f.what}`, expected: f.expected,
      actual: f.actual,
  }));
}

/** A path as one command-language word (double quotes; docs/commands.md). */
function word(path: string): string {
  return `"${path.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
}

function quote(s: string, max = 80): string {
  const j = JSON.stringify(s);
  return j.length > max ? `${j.slice(0, max - 4)}..."` : j;
}

/** What a node shows at `path`: its bytes (a byte string), or an errno name; a down node, null. */
function readFile(c: Cluster, node: string, path: string): { bytes: string } | { error: string } | null {
  const n = c.node(node);
  if (n.host.state !== 'up') return null;
  const r = n.sh(`cat ${word(path)}`)[0];
  if (r === undefined) return { error: 'nothing ran' };
  return r.status === 'ok' ? { bytes: typeof r.output === 'string' ? r.output : '' } : { error: r.status };
}

function fileVerdict(want: FileWant, got: { bytes: string }): { ok: boolean; expected: string; actual: string } {
  const buf = Buffer.from(got.bytes, 'latin1');
  if ('content' in want) {
    const ok = got.bytes === toBytestring(want.content);
    return { ok, expected: quote(want.content), actual: quote(buf.toString('utf8')) };
  }
  if ('size' in want) return { ok: buf.length === want.size, expected: `${want.size} bytes`,
    actual: `${buf.length} bytes` };
  const h = createHash('sha256').update(buf).digest('hex');
  return { ok: h === want.sha256, expected: `sha256 ${want.sha256}`, actual: `sha256 ${h}` };
}

function nodesFor(c: Cluster, node: string | null): string[] {
  return node === null ? [...c.nodes.keys()] : [node];
}

function checkFile(e: Extract<Expectation, { kind: 'file' }>, c: Cluster, out: Failure[]): void {
  for (const n of nodesFor(c, e.node)) {
    const what = `${e.path} on ${n}`;
    const got = readFile(c, n, e.path);
    if (got === null) out.push({ at: e.at, what, expected: 'a running node',
      actual: `${n} is ${c.node(n).host.state}` });
    else if ('error' in got) out.push({ at: e.at, what, expected: describeWant(e.want), actual: got.error });
    else {
      const v = fileVerdict(e.want, got);
      if (!v.ok) out.push({ at: e.at, what, expected: v.expected, actual: v.actual });
    }
  }
}

function describeWant(w: FileWant): string {
  return 'content' in w ? quote(w.content) : 'size' in w ? `${w.size} bytes` : `sha256 ${w.sha256}`;
}

function checkAbsent(e: Extract<Expectation, { kind: 'absent' }>, c: Cluster, out: Failure[]): void {
  for (const n of nodesFor(c, e.node)) {
    const node = c.node(n);
    const what = `${e.path} absent on ${n}`;
    if (node.host.state !== 'up') {
      out.push({ at: e.at, what, expected: 'a running node', actual: `${n} is ${node.host.state}` });
      continue;
    }
    const r = node.sh(`stat ${word(e.path)}`)[0];
    if (r?.status !== 'ENOENT') out.push({ at: e.at, what, expected: 'ENOENT', actual: r?.status === 'ok'
      ? 'it exists' : (r?.status ?? '?') });
  }
}

function checkConverged(e: Extract<Expectation, { kind: 'converged' }>, r: ScenarioResult, out: Failure[]): void {
  const nodes = Object.entries(r.nodes);
  const down = nodes.filter(([, n]) => n.tree === null).map(([name]) => name);
  let actual = 'every tree identical';
  if (down.length > 0) actual = `not converged: no tree from ${down.join(', ')} (down or paused)`;
  else {
    const [firstName, first] = nodes[0] ?? ['', null];
    for (const [name, n] of nodes.slice(1)) {
      const diff = diffTrees(first?.tree as TreeNode, n.tree as TreeNode);
      if (diff.length > 0) {
        const shown = `${diff.slice(0, 3).join('; ')}${diff.length > 3 ? '; ...' : ''}`;
        actual = `not converged: ${firstName} and ${name} differ: ${shown}`;
        break;
      }
    }
  }
  const converged = actual === 'every tree identical';
  if (converged !== e.want) {
    out.push({ at: e.at, what: 'converged', expected: e.want ? 'every tree identical' : 'trees that differ', actual });
  }
}

function checkConflicts(e: Extract<Expectation, { kind: 'conflicts' }>, r: ScenarioResult, out: Failure[]): void {
  const show = (xs: ReadonlyArray<{ path: string; cls: string }>): string =>
    xs.length === 0 ? 'none' : xs.map((x) => `${x.cls} ${x.path}`).sort().join(', ');
  const want = show(e.want);
  const got = show(r.conflicts);
  if (want !== got) out.push({ at: e.at, what: 'conflicts', expected: want, actual: got });
}

/** Judge every expectation of `expect:` against the finished run. */
export function checkFinal(loaded: LoadedScenario, r: ScenarioResult, c: Cluster): Failure[] {
  const out: Failure[] = [];
  for (const e of loaded.expectations) {
    switch (e.kind) {
      case 'converged': checkConverged(e, r, out); break;
      case 'file': checkFile(e, c, out); break;
      case 'absent': checkAbsent(e, c, out); break;
      case 'conflicts': checkConflicts(e, r, out); break;
      case 'counter': {
        const got = (r.nodes[e.node]?.counters as unknown as Record<string, number> | undefined)?.[e.field] ?? 0;
        if (got < e.min || got > e.max) {
          const expected = e.min === e.max ? `${e.min}` : e.max === Number.MAX_SAFE_INTEGER ? `at least ${e.min}`
            : `${e.min} to ${e.max}`;
          out.push({ at: e.at, what: `${e.key} on ${e.node}`, expected, actual: `${got}` });
        }
        break;
      }
    }
  }
  return out;
}
