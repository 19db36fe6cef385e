/**
 * scenario.ts: the scenario API: a world of InterMezzo nodes and a timeline of what happens to
 * it, as typed data; running one gives what became of every node.
 *
 * Layer: simulation. Interface: `runScenario(s, opts)` builds the cluster (sim/cluster.ts) and
 * plays the steps in time order (`at` absolute, `after` relative to when the previous step ended,
 * in µs; a step whose time a wait or a command went past runs at once):
 * run command-language lines on a node as a user (optionally expecting an errno or an output);
 * network faults (partition, cut, isolate, heal, jam, release, reset, latency, bandwidth); host
 * faults (crash, restart, pause, resume); waits (until quiet, or until converged, within a
 * deadline); repairs of parked conflicts (keep the local or the remote version). A crash may wait
 * for a trigger: the nth trace event of a kind on that node (say the server's first `lento.apply`
 * from the laptop: the middle of a reintegration), optionally followed by a restart a given time
 * later. After the last step the world runs `settle` µs, or until it is quiet (at most `quiet` µs).
 * A step that cannot be done as written (a restart of a host that is up, a command on a host that
 * is down or paused, a trigger that never fired) is a failure of that step, never a panic. A step
 * runs at its time or, when an earlier step (a command, a wait) ran past it, at once. The result
 * holds each node's fileset tree, its KML and last_rcvd summary, its audit log, the conflicts (what
 * each policy did, both versions, copies, clock skews), per-node counters (records made, shipped,
 * applied, file bytes fetched, refusals, KML truncations), every step that did not go as it said,
 * when each step began, and the trace hash. Counters come from trace events only, as everything
 * users see does. The YAML form is src/cli/scenario_file.ts's (`izo run`).
 * Invariants: steps run in non-decreasing time; the same scenario and seed give the same result
 * and trace hash, byte for byte.
 */
import { assert } from '../kernel/assert.ts';
import { PowerCut } from '../kernel/blkdev.ts';
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
  | { readonly crash: string; readonly when?: CrashTrigger; readonly restartAfter?: number }
  | { readonly restart: string }
  | { readonly pause: string }
  | { readonly resume: string }
  | { readonly wait: 'quiet' | 'converged'; readonly within: number }
  /** Repair a parked conflict on node `on`: keep its local version or the remote one (src/lento/repair.ts). */
  | { readonly repair: { readonly on: string; readonly path: string; readonly keep: 'local' | 'remote' } };

/** Crash when the `nth` (default 1) event `event` on the node's host (from `peer`, if given) is traced. */
export interface CrashTrigger {
  readonly event: string;
  readonly nth?: number;
  /** Matches the event's `from`, `peer` or `to` field. */
  readonly peer?: string;
}

export type Step = StepAction & { readonly at?: number; readonly after?: number };

export interface Scenario extends ClusterSpec {
  readonly name: string;
  readonly steps: readonly Step[];
  /** Run this long (µs) after the last step before the results are taken (default 0). */
  readonly settle?: number;
  /** Without `settle`: run after the last step until the world is quiet, at most this long (µs). */
  readonly quiet?: number;
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
  /** Peers this node refused (a wrong secret, an unknown node, damage) and refusals it heard. */
  refused: number;
  /** Times lento cut the head of this node's KML. */
  truncations: number;
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
  return { made: 0, shipped: 0, applied: 0, conflicts: 0, fetches: 0, fetchedBytes: 0, refused: 0, truncations: 0 };
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
    case 'lento.refused':
      c.refused++;
      return;
    case 'lento.truncate':
      c.truncations++;
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

/** When each step is written to happen (µs): `at`, or `after` the previous one's (0 for the first). */
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
    if ('crash' in step) return this.crash(i, step);
    if ('restart' in step) return this.restart(i, step.restart);
    if ('pause' in step) return c.node(step.pause).pause();
    if ('resume' in step) return c.node(step.resume).resume();
    if ('repair' in step) {
      const r = c.node(step.repair.on).requestRepair(step.repair.path, step.repair.keep);
      if (r !== 0) this.fail(i, `repair on ${step.repair.on}`, 'the request written', errnoName(r));
      return;
    }
    return this.wait(i, step);
  }

  /** Crash now, or arm the trigger: the crash (and the restart after it) happen when it fires. */
  private crash(i: number, step: Extract<StepAction, { crash: string }>): void {
    const node = this.cluster.node(step.crash);
    const when = step.when;
    if (when === undefined) {
      node.crash();
      if (step.restartAfter !== undefined) this.restartLater(i, step.crash, step.restartAfter);
      return;
    }
    const sched = this.cluster.world.sched;
    const pending = { seen: 0, step: i, fired: false };
    this.triggers.push(pending);
    this.cluster.world.trace.listen((r) => {
      if (pending.fired || r.host !== step.crash || r.ev !== when.event) return;
      const d = r.data as Record<string, unknown>;
      if (when.peer !== undefined && ![d.from, d.peer, d.to].includes(when.peer)) return;
      if (++pending.seen < (when.nth ?? 1)) return;
      pending.fired = true;
      // After the event's own work is done: a power cut between two events, as every crash is.
      sched.at(sched.now(), `crash ${step.crash}`, () => {
        node.crash();
        if (step.restartAfter !== undefined) this.restartLater(i, step.crash, step.restartAfter);
      });
    });
  }

  private restartLater(i: number, name: string, delay: number): void {
    const sched = this.cluster.world.sched;
    sched.at((sched.now() + delay) as never, `restart ${name}`, () => this.restart(i, name));
  }

  private restart(i: number, name: string): void {
    const node = this.cluster.node(name);
    if (node.host.up) return this.fail(i, `restart ${name}`, 'a crashed host', `the host is ${node.host.state}`);
    node.restart();
  }

  /** Triggers armed by crash steps; one that never fired is a failure of its step. */
  readonly triggers: Array<{ seen: number; step: number; fired: boolean }> = [];

  private runLines(i: number, step: Extract<StepAction, { run: string }>): void {
    const node = this.cluster.node(step.on);
    if (node.host.state !== 'up') {
      const why = node.host.state === 'paused' ? 'the host is paused' : 'the host is down';
      this.fail(i, `run on ${step.on}`, 'a running host', why);
      this.outputs[i] = null;
      return;
    }
    const [uid, gid] = step.as ?? [0, 0];
    let r: CommandResult[];
    try {
      r = node.sh(step.run, uid, gid);
    } catch (e) {
      // The host lost power while the commands ran (a crash trigger fired meanwhile).
      if (!(e instanceof PowerCut)) throw e;
      this.fail(i, `run on ${step.on}`, 'the commands to finish', 'the host crashed while they ran');
      this.outputs[i] = null;
      return;
    }
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

/**
 * Play `s`. `end`, if given, is called with the cluster and the result once the results are taken
 * (to look at files, shut the nodes down, save their disks); what it does is not in the result or its hash.
 */
export function runScenario(
  s: Scenario, trace: TraceOptions = {}, end?: (c: Cluster, r: ScenarioResult) => void,
): ScenarioResult {
  const run = new Runner(s, trace);
  const c = run.cluster;
  const w = c.world;
  const written = stepTimes(s.steps);
  const started: number[] = [];
  s.steps.forEach((step, i) => {
    // `after` counts from when the previous step ended (a wait ends when its condition held); a
    // step whose time a wait or a command already went past runs at once.
    const t = step.at ?? (i === 0 ? 0 : w.sched.now()) + (step.after ?? 0);
    assert(i === 0 || (written[i] as number) >= (written[i - 1] as number), () => `step ${i}: time goes backwards`);
    if (t > w.sched.now()) w.runUntil(t as never);
    started.push(w.sched.now());
    run.outputs[i] = null;
    run.play(i, step);
  });
  if ((s.settle ?? 0) > 0) w.runFor(s.settle ?? 0);
  else if ((s.quiet ?? 0) > 0) c.runUntilQuiet(s.quiet ?? 0);
  for (const t of run.triggers) {
    if (!t.fired) run.fail(t.step, 'crash trigger', 'the event to happen', 'it never happened');
  }
  const nodes: Record<string, NodeResult> = {};
  for (const n of c.nodes.values()) {
    // A paused host answers nothing (it is frozen): like a crashed one, it has no tree to show.
    const live = n.host.state === 'up';
    const tree = live ? n.tree() : null;
    const status = live ? n.status() : null;
    nodes[n.name] = {
      up: live,
      tree: tree === null || isErr(tree) ? null : tree,
      audit: n.host.up ? n.audit() : [],
      status: status === null || isErr(status) ? null : status,
      counters: run.counters.get(n.name) ?? zero(),
    };
  }
  const result: ScenarioResult = {
    name: s.name, seed: s.seed, nodes, conflicts: run.conflicts, failures: run.failures, outputs: run.outputs,
    traceHash: w.trace.hash(), events: w.sched.executed, endTime: w.sched.now(), started,
  };
  end?.(c, result);
  return result;
}
