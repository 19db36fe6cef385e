/**
 * Conflict policies, property-tested (fast-check) over scenarios generated on the scenario API
 * (sim/scenario.ts): a server and 1-3 clients (clock skews, ext3 data modes) share files /s/p0..p2;
 * in each of 1-2 rounds some clients are cut off, every node writes and removes shared files
 * (any node crashing now and then, the server too), then all is healed and must settle. Per automatic policy:
 * - convergence: after the last heal every node's tree is the same (names, modes, owners, sizes,
 *   times, bytes) within a bounded simulated time;
 * - no silent loss: in the last round, the last write each partition group made to a path is in
 *   the final tree, or in some node's audit log (a node whose crash could take the write back is
 *   exempt); writes inside one group are causally ordered by the permit, so only the group's last
 *   one must survive;
 * - detection sound and complete: no conflict is reported on a path only one group touched; one is
 *   reported (or a copy made) on a path two groups left with different contents;
 * - determinism: the same scenario twice gives the same trace hash and trees;
 * - order independence: another world seed (other uuids, other random latencies, so messages arrive
 *   in other orders) gives the same files and bytes (in runs without crashes: what a crash keeps
 *   depends on timing).
 * manual: nothing is lost (every group's last write is on some node or parked) and every path no
 * two groups touched converges. On failure the seed, the fast-check path and the scenario (JSON, as
 * the scenario API takes it) are printed. CONFLICT_RUNS sets the runs per policy (CI: 4; 1,000
 * for a long run), CONFLICT_SEED and CONFLICT_PATH replay a failure fast-check reported.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runScenario, type Scenario, type ScenarioResult, type Step } from '../../../sim/scenario.ts';
import type { NodeSpec } from '../../../sim/cluster.ts';
import { flat } from '../../support/flat.ts';

const S = 1_000_000;
const PATHS = 3;

type Op =
  | { readonly kind: 'write' | 'rm'; readonly node: number; readonly path: number }
  | { readonly kind: 'crash'; readonly node: number };

interface Round {
  /** Bit i set: client i+1 is cut off for the round (alone: clients only reach each other through the server). */
  readonly cut: number;
  readonly ops: readonly Op[];
}

interface Gen {
  readonly seed: number;
  readonly clients: number;
  readonly skews: readonly number[];
  readonly modes: readonly ('ordered' | 'journal' | 'writeback')[];
  readonly rounds: readonly Round[];
}

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('write' as const), node: fc.nat(3), path: fc.nat(PATHS - 1) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('rm' as const), node: fc.nat(3), path: fc.nat(PATHS - 1) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('crash' as const), node: fc.nat(3) }) },
);

const genArb: fc.Arbitrary<Gen> = fc.record({
  seed: fc.integer({ min: 1, max: 1_000_000 }),
  clients: fc.integer({ min: 1, max: 3 }),
  skews: fc.array(fc.constantFrom(0, 0, -2_500_000, 3_000_000), { minLength: 4, maxLength: 4 }),
  modes: fc.array(fc.constantFrom('ordered' as const, 'ordered' as const, 'journal' as const, 'writeback' as const),
    { minLength: 4, maxLength: 4 }),
  rounds: fc.array(fc.record({ cut: fc.nat(7), ops: fc.array(op, { minLength: 1, maxLength: 6 }) }),
    { minLength: 1, maxLength: 2 }),
});

/** What the checks need to know of each step: the round, the node, the group, and what a write wrote. */
interface Planned {
  readonly round: number;
  readonly node: string;
  readonly group: string;
  readonly path: string;
  readonly kind: 'write' | 'rm';
  readonly content: string;
}

interface Built {
  readonly scenario: Scenario;
  readonly plan: ReadonlyMap<number, Planned>;
  /** Per round: its first step, and which nodes crashed in it. */
  readonly rounds: ReadonlyArray<{ readonly first: number; readonly crashed: ReadonlySet<string> }>;
}

function nodeSpecs(g: Gen): NodeSpec[] {
  return [
    { name: 'server', role: 'server', data: g.modes[0] ?? 'ordered' },
    ...Array.from({ length: g.clients }, (_, i) => ({
      name: `c${i + 1}`, role: 'client' as const, clockSkew: g.skews[i + 1] ?? 0, data: g.modes[i + 1] ?? 'ordered',
    })),
  ];
}

/** The scenario a generated world and timeline stand for. */
function build(g: Gen, policy: string): Built {
  const names = nodeSpecs(g).map((n) => n.name);
  const setup = ['mkdir /s', ...Array.from({ length: PATHS }, (_, k) => `write /s/p${k} base${k}`)].join('\n');
  const steps: Step[] = [{ at: 1 * S, on: 'server', run: setup }, { at: 2 * S, wait: 'converged', within: 60 * S }];
  const plan = new Map<number, Planned>();
  const rounds: Array<{ first: number; crashed: Set<string> }> = [];
  let t = 10 * S;
  let n = 0;
  g.rounds.forEach((r, ri) => {
    const cut = names.filter((x, i) => i > 0 && ((r.cut >> (i - 1)) & 1) === 1);
    const crashed = new Set<string>();
    // With the server down, its clients cannot be ordered by the permit: each is a group of its own.
    const groupOf = (x: string): string => (cut.includes(x) || crashed.has('server') ? x : 'server');
    rounds.push({ first: steps.length, crashed });
    if (cut.length > 0) steps.push({ at: t, partition: [names.filter((x) => !cut.includes(x)), ...cut.map((x) => [x])] });
    for (const o of r.ops) {
      const node = names[o.node % names.length] as string;
      // Apart by more than the permit's catch-up bound (CATCHUP_WAIT): a write that follows a
      // peer's change sooner can interleave with that change's replay here (reported, not hidden:
      // see the report of issue 13), which no policy can repair.
      t += 5 * S;
      if (o.kind === 'crash') {
        if (crashed.has(node)) continue;
        crashed.add(node);
        steps.push({ at: t, crash: node });
        continue;
      }
      if (crashed.has(node)) continue;
      n++;
      const path = `/s/p${o.path}`;
      const content = `${node}-r${ri}-${n}${'.'.repeat(n)}`; // a unique length: versions are told by mtime and size
      plan.set(steps.length, { round: ri, node, group: groupOf(node), path, kind: o.kind, content });
      steps.push({ at: t, on: node, run: o.kind === 'write' ? `write ${path} '${content}'` : `rm ${path}` });
    }
    t += 30 * S;
    steps.push({ at: t, heal: 'all' });
    for (const c of crashed) steps.push({ at: t, restart: c });
    // manual never converges where it parked: it waits for the logs to drain instead, once the
    // sessions are back (a wait that timed out would bunch the next round's steps together).
    t += policy === 'manual' ? 15 * S : 1 * S;
    steps.push(policy === 'manual' ? { at: t, wait: 'quiet', within: 60 * S } : { at: t, wait: 'converged', within: 150 * S });
    t += 1 * S;
  });
  const scenario: Scenario = {
    name: `conflicts-${policy}-${g.seed}`, seed: g.seed, fileset: 'f', policy, nodes: nodeSpecs(g), steps,
  };
  return { scenario, plan, rounds };
}


/** Per path, per group: the last op a group made in round `ri` that ran (ok), with its content. */
function groupFinals(b: Built, r: ScenarioResult, ri: number): Map<string, Map<string, Planned>> {
  const out = new Map<string, Map<string, Planned>>();
  for (const [i, p] of b.plan) {
    if (p.round !== ri) continue;
    const res = r.outputs[i];
    const ok = res !== null && res !== undefined && res.every((x) => x.status === 'ok');
    if (!ok) continue;
    const m = out.get(p.path) ?? new Map<string, Planned>();
    m.set(p.group, p);
    out.set(p.path, m);
  }
  return out;
}

function waitFailures(r: ScenarioResult): string[] {
  return r.failures.filter((f) => f.what.startsWith('wait')).map((f) => `step ${f.step}: ${f.what}: ${f.actual}`);
}

function explain(b: Built, why: string): string {
  return `${why}\nrerun: CONFLICT_SEED=<seed> CONFLICT_PATH=<path> (as fast-check prints them below) ` +
    `npx vitest run test/src/lento/conflict_properties.test.ts -t ${b.scenario.policy ?? ''}` +
    `\nscenario (the scenario API's own form: runScenario reproduces it): ${JSON.stringify(b.scenario)}`;
}

function checkAutomatic(b: Built, r: ScenarioResult): void {
  expect(waitFailures(r), explain(b, 'every round converges')).toEqual([]);
  const trees = Object.values(r.nodes).map((x) => JSON.stringify(x.tree));
  expect(new Set(trees).size, explain(b, 'identical trees')).toBe(1);
  const last = b.rounds.length - 1;
  const round = b.rounds[last] as { first: number; crashed: ReadonlySet<string> };
  // The round began when its first step did (after the last round's wait had settled everything).
  const start = r.started[round.first] ?? 0;
  const final = flat(r.nodes.server?.tree ?? null);
  const kept = new Set(Object.values(final));
  const audited = new Set(Object.values(r.nodes).flatMap((x) => x.audit.map((a) => a.discarded.bytes)));
  const reported = r.conflicts.filter((c) => c.time >= start);
  // With the server down part of the round, which writes were ordered is not known here: such a
  // round is held to convergence only.
  if (round.crashed.has('server')) return;
  for (const [path, groups] of groupFinals(b, r, last)) {
    for (const p of groups.values()) {
      if (p.kind !== 'write' || round.crashed.has(p.node)) continue;
      const hex = Buffer.from(p.content).toString('hex');
      expect(kept.has(p.content) || audited.has(hex), explain(b, `no silent loss: ${p.node}'s '${p.content}' at ${path}`))
        .toBe(true);
    }
    const onPath = reported.filter((c) => c.path === path);
    if (groups.size === 1) expect(onPath, explain(b, `sound: only one group touched ${path}`)).toEqual([]);
    const results = new Set([...groups.values()].map((p) => (p.kind === 'rm' ? '(removed)' : p.content)));
    const crashedHere = [...groups.values()].some((p) => round.crashed.has(p.node));
    if (results.size > 1 && !crashedHere) {
      expect(onPath.length, explain(b, `complete: ${path} left different by ${[...groups.keys()].join(', ')}`))
        .toBeGreaterThan(0);
    }
  }
}

function checkManual(b: Built, r: ScenarioResult): void {
  const last = b.rounds.length - 1;
  const round = b.rounds[last] as { first: number; crashed: ReadonlySet<string> };
  const everywhere = new Set(Object.values(r.nodes).flatMap((x) => Object.values(flat(x.tree))));
  const contested = new Set<string>();
  for (const [ri] of b.rounds.entries()) {
    for (const [path, groups] of groupFinals(b, r, ri)) if (groups.size > 1) contested.add(path);
  }
  for (const [path, groups] of round.crashed.has('server') ? [] : groupFinals(b, r, last)) {
    for (const p of groups.values()) {
      if (p.kind !== 'write' || round.crashed.has(p.node)) continue;
      expect(everywhere.has(p.content), explain(b, `manual loses nothing: '${p.content}' at ${path}`)).toBe(true);
    }
  }
  const views = Object.values(r.nodes).map((x) => flat(x.tree));
  for (const path of Array.from({ length: PATHS }, (_, k) => `/s/p${k}`)) {
    if (contested.has(path)) continue;
    const seen = new Set(views.map((v) => v[path] ?? '(none)'));
    expect(seen.size, explain(b, `manual: ${path}, never contested, converges`)).toBe(1);
  }
}

const RUNS = Number(process.env.CONFLICT_RUNS ?? 4);
const SEED = Number(process.env.CONFLICT_SEED ?? 13);
const PATH = process.env.CONFLICT_PATH;
const OPTS = { numRuns: RUNS, seed: SEED, ...(PATH === undefined ? {} : { path: PATH }) };

describe('conflict policies: properties over generated scenarios', () => {
  for (const policy of ['server-wins', 'client-wins', 'newest', 'keep-both']) {
    it(`${policy}: converges, loses nothing silently, detects exactly, is deterministic and order independent`, () => {
      let n = 0;
      fc.assert(fc.property(genArb, (g) => {
        const b = build(g, policy);
        const r = runScenario(b.scenario);
        checkAutomatic(b, r);
        // A crash drops what was not yet durable, and what was depends on timing: a run with one is
        // checked for determinism, not for the same result under other message orders.
        const crashes = b.rounds.some((x) => x.crashed.size > 0);
        if (n++ % 2 === 0) {
          const again = runScenario(b.scenario);
          expect(again.traceHash, explain(b, 'determinism')).toBe(r.traceHash);
          if (crashes) return;
          const other = runScenario({ ...b.scenario, seed: b.scenario.seed + 1,
            network: { latency: { min: 200, max: 20_000 }, bandwidth: 12_500_000 } });
          checkAutomatic(b, other);
          expect(flat(other.nodes.server?.tree ?? null), explain(b, 'order independence'))
            .toEqual(flat(r.nodes.server?.tree ?? null));
        }
      }), OPTS);
    }, 600_000);
  }

  it('manual: nothing lost, every path never contested converges', () => {
    fc.assert(fc.property(genArb, (g) => {
      const b = build(g, 'manual');
      checkManual(b, runScenario(b.scenario));
    }), OPTS);
  }, 600_000);
});
