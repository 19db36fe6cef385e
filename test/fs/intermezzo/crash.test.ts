/**
 * presto under crashes, through the crash harness. A workload runs on an InterMezzo fileset over
 * ext3 while the device logs every I/O; then, for the harness's crash states (a crash after every
 * write with every choice of surviving cached writes, or a seeded sample of them, and torn commit
 * blocks), the image is mounted through presto again (journal recovery, log tails restored, LML
 * completed) and checked:
 * - a KML record survives if and only if the change it describes survives: with n records left
 *   (numbered 1..n, undamaged), the tree is exactly the tree after the operation that wrote record n;
 * - a crash between a write and its close is completed from the LML at mount: no live LML record is
 *   left, and every file whose new size survived has a CLOSE record;
 * - the image is clean for our fsck after every crash (and for e2fsck -fn on a sample).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { BlockDevice } from '../../../kernel/blkdev.ts';
import { isErr } from '../../../kernel/errno.ts';
import { TICKS_PER_SEC } from '../../../kernel/types.ts';
import { O_APPEND, O_CREAT, O_WRONLY } from '../../../kernel/fs.ts';
import type { Process } from '../../../kernel/process.ts';
import { sleepFor, type Sys } from '../../../kernel/sched.ts';
import { sys_close, sys_open, sys_write } from '../../../kernel/syscalls.ts';
import { enc } from '../../support/boot.ts';
import { fsck } from '../../../fs/ext3/fsck.ts';
import { kml_scan } from '../../../fs/intermezzo/kml.ts';
import { World, type Host } from '../../../sim/host.ts';
import { Prng } from '../../../sim/prng.ts';
import { saveImage } from '../../../src/image.ts';
import { crashStates, formatState, imageOf } from '../../../src/crash/states.ts';
import { EXT3_SB } from '../../../fs/ext3/super.ts';
import { parseScript, runScript } from '../../../src/sh.ts';
import { snapshotTree, type TreeNode } from '../../../src/tree.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';
import { newExt3Disk, prestoHost, readWhole } from '../../support/presto.ts';

const TREE = { times: true, skip: ['lost+found', '.intermezzo'] } as const;
/** Crash states checked per workload (a seeded sample when there are more); PRESTO_CRASH_STATES=0: all. */
const STATES = Number(process.env.PRESTO_CRASH_STATES ?? 600) || Number.MAX_SAFE_INTEGER;

/** One record per command, no file data: the tree is a function of the records. */
const NAMESPACE = [
  'mkdir /d', "write /d/a ''", 'mkdir /d/s', 'mv /d/a /d/s/b', 'chmod 600 /d/s/b', 'ln /d/s/b /c', 'symlink /c /l',
  'rm /d/s/b', 'mkfifo /p', 'rmdir /d/s', 'mv /c /d/c', 'chown 5:5 /d/c', 'mkdir /e', 'mv /e /d/e', 'rm /l',
];

/** A file held open across commits: LML record, data, time passing, more data, then the close. */
function* heldOpen(p: Process, path: string, parts: readonly string[], w: World): Sys<0> {
  const fd = (yield* sys_open(p, path, O_CREAT | O_WRONLY | O_APPEND, 0o644)) as number;
  for (const part of parts) {
    yield* sys_write(p, fd, enc(part));
    yield* sleepFor(6 * TICKS_PER_SEC, 'think');
  }
  void w;
  yield* sys_close(p, fd);
  return 0;
}

type Step = string | ((p: Process, w: World) => Sys<0>);

const DATA: Step[] = [
  "write /f 'first'",
  (p, w) => heldOpen(p, '/g', ['second ', 'file'], w),
  "append /f ' more'",
  (p, w) => heldOpen(p, '/h', ['x'.repeat(3000), 'y'.repeat(2000)], w),
];

type Mode = 'ordered' | 'journal';

interface Recorded {
  readonly dev: BlockDevice;
  /** The tree after the command that wrote KML record n (index n; index 0: before any). */
  readonly treeAt: Map<number, TreeNode>;
  /** Journal block -> its index in the journal (the harness tears commit blocks and the superblock). */
  readonly journalMap: ReadonlyMap<number, number>;
}

function tree(h: Host): TreeNode {
  const p = h.process('snap');
  const t = h.run(p, snapshotTree(p, '/', TREE));
  if (isErr(t)) throw new Error(`snapshot: ${t}`);
  return t;
}

function kmlOf(h: Host, log: 'kml' | 'lml' = 'kml') {
  const p = h.process('kml');
  return kml_scan(h.run(p, readWhole(p, `/.intermezzo/f/${log}`)), log === 'lml');
}

function record(steps: readonly Step[], data: Mode): Recorded {
  const dev = newExt3Disk(4096, 9);
  const w = new World({ seed: 21 });
  const h = prestoHost(w, 'a', { dev, data });
  w.sched.runFor(6 * TICKS_PER_SEC); // the fileset's creation commits before the log starts
  const journal = EXT3_SB(h.kernel.rootMnt.mnt_sb).journal;
  const journalMap = new Map<number, number>((journal?.placement.map ?? []).map((blk, i) => [blk, i]));
  dev.startLog();
  const p = h.process('sh');
  const treeAt = new Map<number, TreeNode>([[0, tree(h)]]);
  for (const step of steps) {
    if (typeof step === 'string') {
      const parsed = parseScript(step);
      if (!('commands' in parsed)) throw new Error(step);
      const [r] = h.run(p, runScript(p, parsed.commands));
      expect(r?.status, step).toBe('ok');
    } else {
      h.run(p, step(p, w));
    }
    treeAt.set(kmlOf(h).records.length, tree(h));
    w.sched.runFor(6 * TICKS_PER_SEC); // each step commits in a transaction of its own
  }
  h.shutdown();
  return { dev, treeAt, journalMap };
}

interface AfterCrash {
  readonly tree: TreeNode;
  readonly recnos: number[];
  readonly ops: string[];
  readonly closes: string[];
  readonly damage: string | null;
  readonly liveLml: number;
  readonly sizes: Map<string, number>;
  readonly fsck: string[];
  /** LML records turned into KML CLOSE records by this mount. */
  readonly completed: number;
}

function remount(dev: BlockDevice, data: Mode): AfterCrash {
  const w = new World({ seed: 22, trace: { keep: true } });
  const h = prestoHost(w, 'r', { dev, data });
  const completed = w.trace.records().filter((r) => r.ev === 'presto.lml' && (r.data as { what: string }).what === 'complete');
  const kml = kmlOf(h);
  const lml = kmlOf(h, 'lml');
  const sizes = new Map<string, number>();
  const t = tree(h);
  for (const [name, node] of Object.entries(t.children ?? {})) sizes.set(`/${name}`, node.size);
  h.shutdown();
  return {
    tree: t,
    recnos: kml.records.map((r) => r.rec.recno),
    ops: kml.records.map((r) => r.rec.body.op),
    closes: kml.records.flatMap((r) => (r.rec.body.op === 'CLOSE' ? [r.rec.body.path] : [])),
    damage: kml.damage === null ? null : `${kml.damage.reason} at ${kml.damage.offset}`,
    liveLml: lml.records.filter((r) => r.rec.cancelled !== true).length,
    sizes,
    fsck: fsck(dev).map((x) => `${x.code}: ${x.message}`),
    completed: completed.length,
  };
}

/**
 * The crash states of the recording, from the crash harness (src/crash/states.ts): a crash after
 * every write, every choice of surviving cached writes when there are few (a seeded sample when
 * many), commit blocks and the journal superblock torn at every sector mask; `max` in all, sampled.
 */
function crashes(rec: Recorded, seed: number, max: number): Array<{ n: string; crashed: BlockDevice }> {
  const rng = Prng.fromSeed(seed).stream('crash');
  const states = crashStates(rec.dev, rec.journalMap, rng, max);
  return states.map((s) => ({ n: formatState(s), crashed: imageOf(rec.dev, s) }));
}

describe('presto crash consistency', () => {
  for (const data of ['ordered', 'journal'] as const) {
    it(`data=${data}: a KML record survives if and only if its change does (seed 31)`, () => {
      const rec = record(NAMESPACE, data);
      expect(rec.treeAt.size).toBe(NAMESPACE.length + 1);
      const bad: string[] = [];
      const seen = new Set<number>();
      for (const { n, crashed } of crashes(rec, 31, STATES)) {
        const r = remount(crashed, data);
        const count = r.recnos.length;
        seen.add(count);
        if (r.damage !== null) bad.push(`crash ${n}: KML damaged: ${r.damage}`);
        if (r.recnos.some((x, i) => x !== i + 1)) bad.push(`crash ${n}: recnos ${r.recnos.join(',')}`);
        const want = rec.treeAt.get(count);
        if (want === undefined) bad.push(`crash ${n}: ${count} records match no operation boundary`);
        else if (JSON.stringify(r.tree) !== JSON.stringify(want)) {
          bad.push(`crash ${n}: ${count} records but the tree is not the tree after record ${count}`);
        }
        for (const f of r.fsck) bad.push(`crash ${n}: fsck: ${f}`);
      }
      expect(bad.slice(0, 5), `seed 31: ${bad.length} violations`).toEqual([]);
      // Not vacuous: crashes landed between many different operations.
      expect(seen.size).toBeGreaterThan(NAMESPACE.length / 2);
    });
  }

  it('data=ordered: a crash between a write and its close is completed from the LML at mount', () => {
    const rec = record(DATA, 'ordered');
    const bad: string[] = [];
    let completed = 0;
    let states = 0;
    const dir = mkdtempSync(join(tmpdir(), 'izo-prestocrash-'));
    try {
      for (const { n, crashed } of crashes(rec, 32, STATES)) {
        const r = remount(crashed, 'ordered');
        if (r.liveLml !== 0) bad.push(`crash ${n}: ${r.liveLml} live LML records after mount`);
        for (const [path, size] of r.sizes) {
          if (size > 0 && !r.closes.includes(path)) bad.push(`crash ${n}: ${path} has data but no CLOSE`);
        }
        completed += r.completed;
        for (const f of r.fsck) bad.push(`crash ${n}: fsck: ${f}`);
        if (++states % 40 === 0) {
          const img = join(dir, 'c.img');
          saveImage(img, crashed);
          const e = e2fsck(img, '-fn');
          if (e.status !== 0) bad.push(`crash ${n}: e2fsck -fn exit ${e.status}`);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(bad.slice(0, 5), `seed 32: ${bad.length} violations`).toEqual([]);
    expect(completed, 'some crash fell between a write and its close').toBeGreaterThan(0);
  });
});
