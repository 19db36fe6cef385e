/**
 * The JBD runtime under crashes: tasks run handles that change buffers while kjournald commits
 * (with I/O time, so transactions overlap and frozen copies happen), the log wraps and is
 * checkpointed; then, for a crash after every device I/O with a random choice of surviving
 * pending versions, recovery must give the state of one commit boundary T (the same T for every
 * block: atomicity) with lastSync <= T <= lastCommitIssued. With barriers off, the same harness
 * must find violations: it has teeth.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockDevice } from '../../../kernel/blkdev.ts';
import { isErr } from '../../../kernel/errno.ts';
import { Kernel } from '../../../kernel/kernel.ts';
import { sleepFor, type Sys } from '../../../kernel/sched.ts';
import { Scheduler } from '../../../sim/scheduler.ts';
import { Prng } from '../../../sim/prng.ts';
import { journal_create, journal_load, journalIo, type Journal, type JournalPlacement } from '../../../fs/jbd/journal.ts';
import { journal_force_commit, journal_start_thread, journal_destroy } from '../../../fs/jbd/commit.ts';
import {
  journal_dirty_metadata, journal_extend, journal_forget, journal_get_create_access, journal_get_write_access, journal_restart,
  journal_revoke, journal_set_sync, journal_start, journal_stop, type JbdBuffer,
} from '../../../fs/jbd/transaction.ts';
import { journal_recover } from '../../../fs/jbd/recovery.ts';
import type { TraceEventMap, TraceKind } from '../../../kernel/trace.ts';

const BS = 1024;
const HOME = 16; // home blocks 1..16 are what handles change
const JSTART = 200;
const JLEN = 1024;

interface Op {
  readonly task: number;
  readonly blocks: readonly number[];
  readonly sync: boolean;
  readonly think: number;
}

interface RunResult {
  readonly dev: BlockDevice;
  readonly placement: JournalPlacement;
  /** Block contents after each committed tid, oldest first: [tid, state]. */
  readonly states: Array<[number, Map<number, number>]>;
  /** I/O index at which each tid's commit record write was issued. */
  readonly commitIssuedAt: Map<number, number>;
  /** [I/O index, tid] where a sync returned (that tid is durable from then on). */
  readonly syncs: Array<[number, number]>;
  readonly journal: Journal;
}

function run(ops: readonly Op[], barrier: boolean, seed: number): RunResult {
  const sched = new Scheduler();
  const events: Array<{ ev: TraceKind; data: unknown }> = [];
  const dev = new BlockDevice({ name: 'sda', blockSize: BS, blocks: JSTART + JLEN, random: Prng.fromSeed(seed).stream('storage') });
  const k = new Kernel({
    hostname: 'h', timers: sched,
    tracer: { emit: <K extends TraceKind>(ev: K, data: TraceEventMap[K]) => { events.push({ ev, data }); onEvent(ev, data); } },
  });
  const placement: JournalPlacement = { dev, map: Array.from({ length: JLEN }, (_, i) => JSTART + i) };
  expect(journal_create(placement, BS, new Uint8Array(16).fill(1))).toBe(0);
  dev.flush();
  dev.startLog();
  const loaded = journal_load(k, placement, BS, { barrier, commitInterval: 3_000, ioLatency: 50 });
  if (typeof loaded === 'string') throw new Error(loaded);
  const j = loaded.journal;
  journal_start_thread(j);
  const buffers = new Map<number, JbdBuffer>();
  for (let b = 1; b <= HOME; b++) buffers.set(b, { blk: b, data: new Uint8Array(BS), dirty: false, jh: null });
  // Logical state: per block, the number of the last op that wrote it; per tid, the ops it holds.
  const opsOfTid = new Map<number, number[]>();
  const commitIssuedAt = new Map<number, number>();
  const committed: number[] = [];
  const syncs: Array<[number, number]> = [];
  function onEvent(ev: TraceKind, data: unknown): void {
    if (ev !== 'jbd.commit') return;
    const d = data as TraceEventMap['jbd.commit'];
    if (d.phase === 'commit') commitIssuedAt.set(d.tid, dev.log().length);
    if (d.phase === 'finished') committed.push(d.tid);
  }
  function* worker(task: number): Sys<number> {
    for (const [i, op] of ops.entries()) {
      if (op.task !== task) continue;
      yield* sleepFor(op.think, 'think');
      const h = yield* journal_start(j, op.blocks.length);
      if (isErr(h)) throw new Error('journal_start failed');
      for (const b of op.blocks) {
        const bh = buffers.get(b)!;
        expect(journal_get_write_access(h, bh)).toBe(0);
        bh.data.fill(0);
        new DataView(bh.data.buffer).setUint32(8, i + 1);
        bh.data[0] = b;
        expect(journal_dirty_metadata(h, bh)).toBe(0);
      }
      const tid = h.transaction.tid;
      opsOfTid.set(tid, [...(opsOfTid.get(tid) ?? []), i]);
      yield* journal_stop(h);
      if (op.sync) {
        yield* journal_force_commit(j);
        syncs.push([dev.log().length, tid]);
      }
    }
    return 0;
  }
  for (const t of [0, 1]) k.kthread_run(`worker${t}`, worker(t));
  sched.runUntilQuiescent(1_000_000);
  const fin = journal_destroy(j);
  for (let r = fin.next(); !r.done; r = fin.next()) sched.runUntilQuiescent();
  // Build the state after each committed tid.
  const states: Array<[number, Map<number, number>]> = [];
  const cur = new Map<number, number>();
  for (const tid of committed) {
    for (const i of opsOfTid.get(tid) ?? []) for (const b of ops[i]!.blocks) cur.set(b, i + 1);
    states.push([tid, new Map(cur)]);
  }
  void events;
  return { dev, placement, states, commitIssuedAt, syncs, journal: j };
}

function homeState(dev: BlockDevice): Map<number, number> {
  const out = new Map<number, number>();
  const b = new Uint8Array(BS);
  for (let blk = 1; blk <= HOME; blk++) {
    dev.read(blk, b);
    const v = new DataView(b.buffer).getUint32(8);
    if (v !== 0) out.set(blk, v);
  }
  return out;
}

function sameState(a: Map<number, number>, b: Map<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) if (b.get(k) !== v) return false;
  return true;
}

/** Check every crash point; returns the violations found. */
function crashCheck(r: RunResult, seed: number, plansPerPoint: number): string[] {
  const violations: string[] = [];
  const rng = Prng.fromSeed(seed).stream('crash');
  const total = r.dev.log().length;
  for (let n = 0; n <= total; n++) {
    const durableTid = Math.max(-1, ...r.syncs.filter(([at]) => at <= n).map(([, tid]) => tid));
    const issued = r.states.filter(([tid]) => (r.commitIssuedAt.get(tid) ?? Infinity) <= n).map(([tid]) => tid);
    for (let p = 0; p < plansPerPoint; p++) {
      const crashed = r.dev.crashAfterIos(n, { random: rng });
      const rec = journal_recover(journalIo({ dev: crashed, map: r.placement.map }, BS));
      if (typeof rec === 'string' || isErr(rec)) {
        violations.push(`crash after I/O ${n}: recovery failed: ${String(rec)}`);
        continue;
      }
      const got = homeState(crashed);
      const candidates: Array<[number, Map<number, number>]> = [[-1, new Map()], ...r.states];
      const ok = candidates.some(([tid, st]) => tid >= durableTid && (tid === -1 || issued.includes(tid)) && sameState(st, got));
      if (!ok) violations.push(`crash after I/O ${n} (plan ${p}): state ${JSON.stringify([...got])} is no commit boundary in [${durableTid}, ${issued.at(-1) ?? -1}]`);
    }
  }
  return violations;
}

const opArb = fc.record({
  task: fc.integer({ min: 0, max: 1 }),
  blocks: fc.uniqueArray(fc.integer({ min: 1, max: HOME }), { minLength: 1, maxLength: 4 }),
  sync: fc.boolean(),
  think: fc.integer({ min: 0, max: 200 }),
});

describe('JBD runtime', () => {
  it('commits, wraps the log, checkpoints, and freezes buffers changed during a commit', () => {
    const ops: Op[] = [];
    for (let i = 0; i < 2400; i++) ops.push({ task: i % 2, blocks: [1 + (i % HOME), 1 + ((i * 7) % HOME)].filter((v, k, a) => a.indexOf(v) === k), sync: i % 3 === 2, think: (i * 37) % 120 });
    const r = run(ops, true, 1);
    expect(r.journal.stats.commits).toBeGreaterThan(10);
    expect(r.journal.stats.blocksLogged).toBeGreaterThan(3 * JLEN); // the log wrapped several times
    expect(r.journal.stats.checkpoints).toBeGreaterThan(0);
    expect(r.journal.stats.frozen).toBeGreaterThan(0);
    // After a clean shutdown the journal is clean and the home blocks hold the final state.
    const rec = journal_recover(journalIo(r.placement, BS));
    expect(typeof rec === 'object' && !isErr(rec) && rec.scan.clean).toBe(true);
    expect(sameState(homeState(r.dev), r.states.at(-1)![1])).toBe(true);
  });

  it('recovers to one commit boundary after a crash at any I/O, with barriers (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { minLength: 1, maxLength: 14 }), fc.integer({ min: 1, max: 1 << 30 }), (ops, seed) => {
      const r = run(ops, true, seed);
      const v = crashCheck(r, seed, 2);
      expect(v, `seed ${seed}: ${v.slice(0, 3).join('\n')}`).toEqual([]);
    }), { numRuns: 25 });
  });

  it('negative control: without barriers the harness finds crash states that break atomicity', () => {
    let found = 0;
    for (let seed = 1; seed <= 30 && found === 0; seed++) {
      const ops: Op[] = Array.from({ length: 12 }, (_, i) => ({ task: i % 2, blocks: [1 + (i % 5), 6 + (i % 3)], sync: i % 4 === 3, think: 10 }));
      // Atomicity broken: a recovered state that is no commit boundary (not a recovery failure).
      found += crashCheck(run(ops, false, seed), seed, 3).filter((v) => / is no commit boundary in /.test(v)).length;
    }
    expect(found).toBeGreaterThan(0);
  });
});

describe('JBD buffer protocol details', () => {
  function setup() {
    const sched = new Scheduler();
    const dev = new BlockDevice({ name: 'sda', blockSize: BS, blocks: JSTART + JLEN });
    const k = new Kernel({ hostname: 'h', timers: sched });
    const placement: JournalPlacement = { dev, map: Array.from({ length: JLEN }, (_, i) => JSTART + i) };
    journal_create(placement, BS, new Uint8Array(16));
    dev.flush();
    const loaded = journal_load(k, placement, BS, { barrier: true, commitInterval: 1_000_000, ioLatency: 10 });
    if (typeof loaded === 'string') throw new Error(loaded);
    journal_start_thread(loaded.journal);
    return { sched, dev, k, j: loaded.journal, placement };
  }
  const buf = (blk: number): JbdBuffer => ({ blk, data: new Uint8Array(BS), dirty: false, jh: null });
  function* drive<T>(sched: Scheduler, k: Kernel, body: Sys<T>): Generator<never, T> {
    let out: { v: T } | null = null;
    k.kthread_run('t', (function* () { out = { v: yield* body }; return 0; })());
    sched.runUntilQuiescent();
    if (out === null) throw new Error('did not finish');
    return (out as { v: T }).v;
  }
  const run = <T,>(sched: Scheduler, k: Kernel, body: Sys<T>): T => drive(sched, k, body).next().value as T;

  it('extend adds credits while the transaction has room; restart starts over with fresh credits', () => {
    const { sched, k, j } = setup();
    const r = run(sched, k, (function* () {
      const h = yield* journal_start(j, 2);
      if (isErr(h)) return 'start failed';
      const before = h.transaction.tid;
      const ext = journal_extend(h, 3);
      const credits = h.credits;
      const big = journal_extend(h, j.maxTransactionBuffers);
      yield* journal_restart(h, 4);
      // As in Linux, restart hands back the old credits, asks for a commit and starts afresh with
      // the new count; the handle may rejoin the transaction if kjournald has not locked it yet.
      const after = `${h.credits} ${h.transaction.tid >= before}`;
      yield* journal_stop(h);
      return `${ext} ${credits} ${big} ${after}`;
    })());
    expect(r).toBe('0 5 1 4 true');
  });

  it('forget drops a buffer from the transaction and gives its credit back; create access cancels a revoke', () => {
    const { sched, k, j } = setup();
    const r = run(sched, k, (function* () {
      const h = yield* journal_start(j, 2);
      if (isErr(h)) return 'start failed';
      const a = buf(10);
      journal_get_write_access(h, a);
      journal_dirty_metadata(h, a);
      const used = h.credits;
      journal_forget(h, a);
      const back = h.credits;
      journal_revoke(h, 11, null);
      const revoked = h.transaction.revokes.has(11);
      journal_get_create_access(h, buf(11));
      const cancelled = !h.transaction.revokes.has(11);
      yield* journal_stop(h);
      return `${used} ${back} ${revoked} ${cancelled} ${h.transaction.metadata.has(10)}`;
    })());
    expect(r).toBe('1 2 true true false');
  });

  it('a block that begins with the journal magic is escaped in the log and restored by recovery', () => {
    const { sched, k, j, dev, placement } = setup();
    const b = buf(20);
    run(sched, k, (function* () {
      const h = yield* journal_start(j, 1);
      if (isErr(h)) return 1;
      journal_get_write_access(h, b);
      new DataView(b.data.buffer).setUint32(0, 0xc03b3998);
      b.data[100] = 42;
      journal_dirty_metadata(h, b);
      journal_set_sync(h);
      yield* journal_stop(h);
      return 0;
    })());
    const crashed = dev.crash({});
    const rec = journal_recover(journalIo({ dev: crashed, map: placement.map }, BS));
    expect(typeof rec === 'object' && !isErr(rec) && rec.replayed).toBe(1);
    const home = new Uint8Array(BS);
    crashed.read(20, home);
    expect([...home.subarray(0, 4)]).toEqual([0xc0, 0x3b, 0x39, 0x98]);
    expect(home[100]).toBe(42);
  });
});
