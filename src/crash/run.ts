/**
 * run.ts: the crash harness's driver: which workloads a run checks, the merged figures, the
 * reproducer tokens and their replay.
 *
 * Layer: user space harness (src/crash/). Interface: `planWorkloads(plan)` gives the workload
 * indexes of a run (all of `minOps..maxOps`, or a seeded sample of them); `runOne(plan, index)`
 * checks one (what a worker does); `summarize(plan, results)` merges results *in index order*, so
 * the figures and the listed violations do not depend on how work was split; `formatSummary`
 * prints them; `reproducer(plan, v)` is the token `izo crashtest --replay` takes, naming the
 * configuration, the workload and the crash state; `replay(token)` runs that one state again and
 * says what it finds. Invariant: everything here is a function of the plan (and the token).
 */
import { Prng } from '../../sim/prng.ts';
import type { TreeNode } from '../tree.ts';
import {
  checkWorkload, judge, PROPERTIES, recover, type Property, type Violation, type WorkloadResult,
} from './check.ts';
import { monitorLog } from './monitors.ts';
import { chunkOracle } from './oracle.ts';
import { record, type BrokenRecovery, type CrashConfig, type DataMode } from './record.ts';
import { formatState, imageOf, parseState } from './states.ts';
import { describeWorkload, MAX_OPS, workloadAt, workloadCount, workloadLines } from './workload.ts';

export interface RunPlan {
  readonly cfg: CrashConfig;
  readonly minOps: number;
  readonly maxOps: number;
  /** Check only this many workloads, a seeded sample (null: all of them). */
  readonly sample: number | null;
}

/** Violations listed in full per run (the rest are counted). */
export const LISTED_MAX = 20;

export function planWorkloads(plan: RunPlan): number[] {
  const total = workloadCount(plan.maxOps, plan.minOps);
  if (plan.sample === null || plan.sample >= total) return Array.from({ length: total }, (_, i) => i);
  const rng = Prng.fromSeed(plan.cfg.seed).stream('crash/workloads');
  const keep = new Set<number>();
  while (keep.size < plan.sample) keep.add(rng.below(total));
  return [...keep].sort((a, b) => a - b);
}

/** Check one workload; a recording that fails outright is reported, not thrown (it names the seed). */
export function runOne(plan: RunPlan, index: number): WorkloadResult {
  try {
    return checkWorkload(plan.cfg, index, workloadAt(index, plan.maxOps, plan.minOps));
  } catch (e) {
    const message = `recording or checking failed (seed ${plan.cfg.seed}): ${(e as Error).message}`;
    return {
      index, states: 0, images: 0, recoveryCrashes: 0, counts: { model: 1 },
      violations: [{ property: 'model', workload: index, state: '-', message }],
    };
  }
}

export interface Summary {
  readonly workloads: number;
  readonly states: number;
  readonly images: number;
  readonly recoveryCrashes: number;
  readonly counts: Readonly<Record<Property, number>>;
  readonly violations: number;
  /** The first violation of each property, then others, in workload order; at most LISTED_MAX. */
  readonly listed: readonly Violation[];
}

export function summarize(results: readonly WorkloadResult[]): Summary {
  const sorted = [...results].sort((a, b) => a.index - b.index);
  const counts = Object.fromEntries(PROPERTIES.map((p) => [p, 0])) as Record<Property, number>;
  let states = 0;
  let images = 0;
  let recoveryCrashes = 0;
  const all: Violation[] = [];
  for (const r of sorted) {
    states += r.states;
    images += r.images;
    recoveryCrashes += r.recoveryCrashes;
    for (const p of PROPERTIES) counts[p] += r.counts[p] ?? 0;
    all.push(...r.violations);
  }
  const firsts = PROPERTIES.map((p) => all.find((v) => v.property === p)).filter((v) => v !== undefined);
  const rest = all.filter((v) => !firsts.includes(v));
  const listed = [...firsts, ...rest].slice(0, LISTED_MAX);
  const violations = Object.values(counts).reduce((a, b) => a + b, 0);
  return { workloads: sorted.length, states, images, recoveryCrashes, counts, violations, listed };
}

export function describeConfig(cfg: CrashConfig): string {
  const parts = [`data=${cfg.mode}`, cfg.barrier ? 'barriers on' : 'barriers off', cfg.aged ? 'aged' : 'fresh'];
  if (cfg.lyingFlush) parts.push('lying flushes');
  if (cfg.brokenRecovery !== 'none') parts.push(`broken recovery (${cfg.brokenRecovery})`);
  return `${parts.join(', ')}, seed ${cfg.seed}`;
}

export function formatSummary(plan: RunPlan, s: Summary): string {
  const lines = [
    `workloads ${s.workloads}, crash states ${s.states}, recovered images ${s.images}, `
      + `crashes during recovery ${s.recoveryCrashes}`,
    `violations ${s.violations}${s.violations === 0 ? '' : ':'}`,
  ];
  for (const p of PROPERTIES) if (s.counts[p] > 0) lines.push(`  ${p} ${s.counts[p]}`);
  for (const v of s.listed) {
    const steps = workloadAt(v.workload, plan.maxOps, plan.minOps);
    lines.push('', `${v.property}: ${v.message}`, `  workload ${v.workload}: ${describeWorkload(steps)}`,
      ...workloadLines(steps).map((l) => `    ${l}`), `  crash state ${v.state}`,
      `  replay: izo crashtest --replay ${reproducer(plan, v)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** `ordered,nobarrier,aged/1-2:123/n45:v12=1` */
export function reproducer(plan: RunPlan, v: Violation): string {
  const c = plan.cfg;
  const flags = [c.mode, ...(c.barrier ? [] : ['nobarrier']), ...(c.aged ? ['aged'] : []),
    ...(c.lyingFlush ? ['lying'] : []), ...(c.brokenRecovery === 'none' ? [] : [`broken=${c.brokenRecovery}`])];
  return `${flags.join(',')}/${plan.minOps}-${plan.maxOps}:${v.workload}/${v.state}`;
}

export interface Replay {
  readonly plan: RunPlan;
  readonly index: number;
  readonly state: string;
}

/** A token back into what it names, or a sentence saying what is wrong with it. */
export function parseReproducer(token: string, seed: number): Replay | string {
  const m = /^([a-z=,-]+)\/(\d)-(\d):(\d+)\/(.+)$/.exec(token);
  if (m === null) return `'${token}' is no reproducer (like ordered,nobarrier/1-2:123/n45:v12=1)`;
  const flags = (m[1] as string).split(',');
  const mode = flags[0] as DataMode;
  if (!['ordered', 'journal', 'writeback'].includes(mode)) return `no data mode '${mode}' in '${token}'`;
  const broken = flags.find((f) => f.startsWith('broken='))?.slice(7) ?? 'none';
  if (!['none', 'skip-revoke', 'first-transaction-only'].includes(broken)) return `no broken recovery '${broken}'`;
  const unknown = flags.slice(1).filter((f) => !['nobarrier', 'aged', 'lying'].includes(f) && !f.startsWith('broken='));
  if (unknown.length > 0) return `unknown flag '${unknown[0]}' in '${token}'`;
  const minOps = Number(m[2]);
  const maxOps = Number(m[3]);
  const index = Number(m[4]);
  if (minOps < 1 || maxOps > MAX_OPS || minOps > maxOps) return `operations ${minOps}-${maxOps} outside 1-${MAX_OPS}`;
  if (index >= workloadCount(maxOps, minOps)) return `no workload ${index} with ${minOps}-${maxOps} operations`;
  const state = m[5] as string;
  if (state !== '-' && typeof parseState(state) === 'string') return parseState(state) as string;
  const cfg: CrashConfig = {
    mode, barrier: !flags.includes('nobarrier'), aged: flags.includes('aged'), lyingFlush: flags.includes('lying'),
    brokenRecovery: broken as BrokenRecovery, seed, maxStates: Number.MAX_SAFE_INTEGER,
  };
  return { plan: { cfg, minOps, maxOps, sample: null }, index, state };
}

/** Run one workload and one crash state again; the report says what was found. */
export function replay(r: Replay): { report: string; violations: number } {
  const steps = workloadAt(r.index, r.plan.maxOps, r.plan.minOps);
  const rec = record(r.plan.cfg, workloadLines(steps));
  const out = [`${describeConfig(r.plan.cfg)}`, `workload ${r.index}: ${describeWorkload(steps)}`,
    ...rec.lines.map((l, i) => `  ${l}  -> ${rec.statuses[i]}`), `I/O log: ${rec.dev.log().length} entries`];
  let found = rec.problems.length;
  for (const p of rec.problems) out.push(`model: ${p}`);
  for (const v of monitorLog(rec.dev.log(), rec.journalMap, r.plan.cfg.mode)) {
    out.push(`${v.property} at I/O ${v.io}: ${v.message}`);
    found++;
  }
  const s = parseState(r.state);
  if (typeof s !== 'string') {
    const got = recover(imageOf(rec.dev, s), r.plan.cfg);
    const bad = judge({ rec, cfg: r.plan.cfg, allowed: chunkOracle(rec.modelStates, rec.modelIds) }, s, got);
    out.push(`crash state ${formatState(s)}: ${bad.length === 0 ? 'no violation' : `${bad.length} violations`}`);
    for (const [p, m] of bad) out.push(`  ${p}: ${m}`);
    found += bad.length;
    if (got.tree !== null) out.push('recovered tree:', ...treeLines(got.tree).map((l) => `  ${l}`));
  }
  return { report: `${out.join('\n')}\n`, violations: found };
}

/** A tree as `path type size` lines, for people. */
export function treeLines(t: TreeNode, path = ''): string[] {
  const size = t.type === 'dir' ? '' : ` ${t.size}`;
  const out = [`${path === '' ? '/' : path} ${t.type}${size}${t.nlink > 1 ? ` links ${t.nlink}` : ''}`];
  for (const [name, c] of Object.entries(t.children ?? {})) out.push(...treeLines(c, `${path}/${name}`));
  return out;
}
