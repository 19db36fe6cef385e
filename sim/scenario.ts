/**
 * scenario.ts: the scenario API: a world of InterMezzo nodes and a timeline of what happens to
 * it, as typed data; running one gives what became of every node.
 *
 * Layer: simulation. Interface: `runScenario(s, opts)` builds the cluster (sim/cluster.ts) and
 * plays the steps in time order (`at` absolute, `after` relative to the previous step, in µs):
 * run command-language lines on a node as a user (optionally expecting an errno or an output);
 * network faults (partition, cut, isolate, heal, jam, release, reset, latency, bandwidth); host
 * faults (crash, restart, pause, resume); waits (until quiet, or until converged, within a
 * deadline); repairs of parked conflicts (keep the local or the remote version). The result holds
 * each node's fileset tree, its KML and last_rcvd summary, its audit log, the conflicts (what each
 * policy did, both versions, copies, clock skews), per-node counters (records made, shipped,
 * applied, file bytes fetched), every step that did not go as it said, and the trace hash.
 * Counters come from trace events only, as everything users see does. The YAML form and `izo run`
 * are the scenarios issue's; tests use this.
 * A step runs at its time or, when an earlier step (a command, a wait) ran past it, at once.
 * Invariants: steps run in non-decreasing time; the same scenario and seed give the same result
 * and trace hash, byte for byte.
 */
import { assert } from '../kernel/assert.ts';
import { errnoName, isErr } from '../kernel/errno.ts';
import type { TreeNode } from '../src/tree.ts';
import type { AuditJson } from '../src/lento/state.ts';
import type { CommandResult } from '../src/sh.ts';
import { Cluster, type ClusterSpec, type NodeStatus } from './cluster.ts';
import type { LatencySpec } from './network.ts';
import type { TraceOptions, TraceRecord } from './trace.ts';

export type StepAction =
  | { readonly run: string; readonly on: string; readonly as?: readonly [number, number];
      readonly error?: string; readonly output?: string }
  | { readonly partition: readonly (readonly string[])[] }
  | { readonly cut: { readonly from: string; readonly to: string } }
  | { readonly isolate: string }
  | { readonly heal: 'all' | readonly string[] }
  | { readonly jam: readonly [string, string] }
  | { readonly release: readonly [string, string] }
  | { readonly reset: readonly [string, string] }
  | { readonly latency: { readonly between: readonly [string, string]; readonly value: number | LatencySpec } }
  | { readonly bandwidth: { readonly between: readonly [string, string]; readonly value: number | null } }
  | { readonly crash: string }
  | { readonly restart: string }
  | { readonly pause: string }
  | { readonly resume: string }
  | { readonly wait: 'quiet' | 'converged'; readonly within: number }
  /** Repair a parked conflict on node `on`: keep its local version or the remote one (src/lento/repair.ts). */
  | { readonly repair: { readonly on: string; readonly path: string; readonly keep: 'local' | 'remote' } };

export type Step = StepAction & { readonly at?: number; readonly after?: number };

export interface Scenario extends ClusterSpec {
  readonly name: string;
  readonly steps: readonly Step[];
  /** Run this long (µs) after the last step before the results are taken (default 0). */
  readonly settle?: number;
}

export interface Counters {
  /** KML records made by this node's own users (not re-logged replays). */
  made: number;
  /** Records sent to peers. */
  shipped: number;
  /** Peers' records replayed here. */
  applied: number;
  conflicts: number;
  /** File data fetched from peers: how many times, how many bytes. */
  fetches: number;
  fetchedBytes: number;
}

export interface StepFailure {
  readonly step: number;
  readonly what: string;
  readonly expected: string;
  readonly actual: string;
}

/** One version in a conflict: the node it comes from, its side of the link, mtime (SEC.NSEC), size. */
export interface ConflictVersion {
  readonly node: string;
  readonly side: string;
  readonly mtime: string;
  readonly size: number;
}

export interface ConflictReport {
  readonly node: string;
  readonly from: string;
  readonly recno: number;
  readonly cls: string;
  readonly op: string;
  readonly path: string;
  readonly reason: string;
  /** What the policy did (src/lento/resolve.ts), under which policy; the loser's copy, or ''. */
  readonly action: string;
  readonly policy: string;
  readonly local: ConflictVersion | null;
  readonly remote: ConflictVersion | null;
  readonly copy: string;
  /** When it was reported (simulated µs). */
  readonly time: number;
  /**
   * How far the clock of the node deciding runs ahead of the peer's (µs, from the spec): the
   * mtimes `newest` compares are read on these two clocks, so a skew is a bias it reports.
   */
  readonly skew: number;
}

export interface NodeResult {
  readonly up: boolean;
  readonly tree: TreeNode | null;
  /** lento's audit log here: the versions conflict policies discarded on this node. */
  readonly audit: readonly AuditJson[];
  readonly status: NodeStatus | null;
  readonly counters: Counters;
}

export interface ScenarioResult {
  readonly name: string;
  readonly seed: number;
  readonly nodes: Readonly<Record<string, NodeResult>>;
  readonly conflicts: readonly ConflictReport[];
  readonly failures: readonly StepFailure[];
  /** Per step: the command results of a `run` step. */
  readonly outputs: ReadonlyArray<readonly CommandResult[] | null>;
  /** Per step: when it really began (µs; later than its time when an earlier step ran past it). */
  readonly started: readonly number[];
  readonly traceHash: string;
  readonly events: number;
  readonly endTime: number;
}

function zero(): Counters {
  return { made: 0, shipped: 0, applied: 0, conflicts: 0, fetches: 0, fetchedBytes: 0 };
}

/** Tally the counters a trace event moves. */
function tally(counters: Map<string, Counters>, conflicts: ConflictReport[], r: TraceRecord,
  skews: ReadonlyMap<string, number>): void {
  const c = counters.get(r.host);
  if (c === undefined) return;
  const d = r.data as Record<string, unknown>;
  switch (r.ev) {
    case 'presto.kml':
      if (d.relog !== true) c.made++;
      return;
    case 'lento.ship':
      c.shipped += (d.records as number) - (d.noops as number);
      return;
    case 'lento.apply':
      c.applied += d.applied as number;
      return;
    case 'lento.conflict':
      c.conflicts++;
      conflicts.push({ node: r.host, from: d.from as string, recno: d.recno as number, cls: d.cls as string,
        op: d.op as string, path: d.path as string, reason: d.reason as string, action: d.action as string,
        policy: d.policy as string, local: d.local as ConflictVersion | null,
        remote: d.remote as ConflictVersion | null,
        copy: d.copy as string, time: r.t, skew: (skews.get(r.host) ?? 0) - (skews.get(d.from as string) ?? 0) });
      return;
    case 'lento.fetch':
      if (d.status === 'ok') {
        c.fetches++;
        c.fetchedBytes += d.bytes as number;
      }
      return;
    default:
  }
}

/** When each step happens (µs): `at`, or `after` the previous one (0 for the first). */
export function stepTimes(steps: readonly Step[]): number[] {
  const out: number[] = [];
  let t = 0;
  for (const s of steps) {
    t = s.at ?? t + (s.after ?? 0);
    out.push(t);
  }
  return out;
}

class Runner {
  readonly counters = new Map<string, Counters>();
  readonly conflicts: ConflictReport[] = [];
  readonly failures: StepFailure[] = [];
  readonly outputs: Array<readonly CommandResult[] | null> = [];
  readonly cluster: Cluster;

  constructor(readonly s: Scenario, trace: TraceOptions) {
    for (const n of s.nodes) this.counters.set(n.name, zero());
    const skews = new Map(s.nodes.map((n) => [n.name, n.clockSkew ?? 0]));
    const onEvent = (r: TraceRecord): void => {
      tally(this.counters, this.conflicts, r, skews);
      trace.onEvent?.(r);
    };
    this.cluster = Cluster.build({ ...s, trace: { ...trace, onEvent } });
  }

  fail(step: number, what: string, expected: string, actual: string): void {
    this.failures.push({ step, what, expected, actual });
  }

  play(i: number, step: Step): void {
    const c = this.cluster;
    const net = c.world.network;
    if ('run' in step) return this.runLines(i, step);
    if ('partition' in step) return net.partition(step.partition);
    if ('cut' in step) return net.cut(step.cut.from, step.cut.to);
    if ('isolate' in step) return net.isolate(step.isolate);
    if ('heal' in step) return step.heal === 'all' ? net.heal() : net.heal(step.heal);
    if ('jam' in step) return net.jam(step.jam[0], step.jam[1]);
    if ('release' in step) return net.release(step.release[0], step.release[1]);
    if ('reset' in step) return net.reset(step.reset[0], step.reset[1]);
    if ('latency' in step) {
      return net.setLinks(step.latency.between[0], step.latency.between[1], { latency: step.latency.value });
    }
    if ('bandwidth' in step) {
      return net.setLinks(step.bandwidth.between[0], step.bandwidth.between[1], { bandwidth: step.bandwidth.value });
    }
    if ('crash' in step) return c.node(step.crash).crash();
    if ('restart' in step) return c.node(step.restart).restart();
    if ('pause' in step) return c.node(step.pause).pause();
    if ('resume' in step) return c.node(step.resume).resume();
    if ('repair' in step) {
      const r = c.node(step.repair.on).requestRepair(step.repair.path, step.repair.keep);
      if (r !== 0) this.fail(i, `repair on ${step.repair.on}`, 'the request written', errnoName(r));
      return;
    }
    return this.wait(i, step);
  }

  private runLines(i: number, step: Extract<StepAction, { run: string }>): void {
    const node = this.cluster.node(step.on);
    if (!node.host.up) {
      this.fail(i, `run on ${step.on}`, 'a running host', 'the host is down');
      this.outputs[i] = null;
      return;
    }
    const [uid, gid] = step.as ?? [0, 0];
    const r = node.sh(step.run, uid, gid);
    this.outputs[i] = r;
    const last = r[r.length - 1];
    const failed = r.find((x) => x.status !== 'ok');
    if (step.error !== undefined) {
      const got = last?.status ?? 'nothing ran';
      if (got !== step.error) this.fail(i, `run on ${step.on}: ${last?.command ?? ''}`, step.error, got);
    } else if (failed !== undefined) {
      this.fail(i, `run on ${step.on}: ${failed.command} ${failed.args.join(' ')}`, 'ok', failed.status);
    }
    if (step.output !== undefined) {
      const out = last?.output;
      const got = typeof out === 'string' ? Buffer.from(out, 'latin1').toString('utf8') : JSON.stringify(out ?? null);
      if (got !== step.output) this.fail(i, `output of ${last?.command ?? ''} on ${step.on}`, step.output, got);
    }
  }

  private wait(i: number, step: Extract<StepAction, { wait: string }>): void {
    const c = this.cluster;
    const ok = step.wait === 'converged' ? c.runUntilConverged(step.within) : c.runUntilQuiet(step.within);
    if (!ok) this.fail(i, `wait ${step.wait}`, `${step.wait} within ${step.within / 1e6} s`, 'not reached');
  }
}

export function runScenario(s: Scenario, trace: TraceOptions = {}): ScenarioResult {
  const run = new Runner(s, trace);
  const c = run.cluster;
  const w = c.world;
  const times = stepTimes(s.steps);
  const started: number[] = [];
  s.steps.forEach((step, i) => {
    const t = times[i] as number;
    // A step runs at its time, or at once when an earlier one ran past it (a write cut off from the
    // server waits for the permit); the times as written must not go backwards.
    assert(i === 0 || t >= (times[i - 1] as number), () => `step ${i} at ${t} µs is before the previous one`);
    if (t > w.sched.now()) w.runUntil(t as never);
    started.push(w.sched.now());
    run.outputs[i] = null;
    run.play(i, step);
  });
  if ((s.settle ?? 0) > 0) w.runFor(s.settle ?? 0);
  const nodes: Record<string, NodeResult> = {};
  for (const n of c.nodes.values()) {
    const tree = n.host.up ? n.tree() : null;
    const status = n.host.up ? n.status() : null;
    nodes[n.name] = {
      up: n.host.up,
      tree: tree === null || isErr(tree) ? null : tree,
      audit: n.host.up ? n.audit() : [],
      status: status === null || isErr(status) ? null : status,
      counters: run.counters.get(n.name) ?? zero(),
    };
  }
  void errnoName;
  return {
    name: s.name, seed: s.seed, nodes, conflicts: run.conflicts, failures: run.failures, outputs: run.outputs, started,
    traceHash: w.trace.hash(), events: w.sched.executed, endTime: w.sched.now(),
  };
}
