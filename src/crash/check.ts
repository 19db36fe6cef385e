/**
 * check.ts: recovering every crash state of a recorded workload and judging the result.
 *
 * Layer: user space harness (src/crash/; builds worlds). Interface: `checkWorkload(cfg, index,
 * steps)` records the workload, enumerates its crash states (states.ts), recovers each distinct
 * image once (mount: journal replay and orphan cleanup; snapshot; clean unmount; our fsck) and
 * checks, per state, the properties of ../shared/reference/ext3-jbd.md:
 * - 'mount': recovery and mount succeed;
 * - 'fsck': the unmounted image is clean;
 * - 'usable': the recovered file system can allocate, fill and free (PROBE), fsck clean after;
 * - 'prefix': the tree equals the tree some transaction T commits, last persisted <= T <= last
 *   issued (file contents compared in data=journal only: ordered data is written before its
 *   commit and in-place overwrites at any time, as in Linux; writeback promises no data order);
 * - 'fsync': a file whose fsync returned, and that no later command changed, has its size,
 *   bytes, links and mode at its name;
 * - 'ordered-data': (ordered, journal) every 512-byte chunk of every file is bytes a file that path
 *   named had at that offset in some model state, some possibly zero: never another file's or
 *   freed data;
 * - 'recovery-crash': a crash at a write of the recovery itself, recovered again, gives the same
 *   tree, clean (RECOVERY_CRASH_IMAGES images per workload, RECOVERY_CRASH_POINTS writes each, and
 *   always the point after the replay, before the journal is reset: recovery run twice);
 * - 'monitor-recovery': recovery writes home only unrevoked blocks of committed transactions;
 * - the trace monitors (monitors.ts), and 'model' when the model disagreed with the system.
 * Many states leave images recovery turns into the same thing; each distinct result (recoveryKey)
 * is recovered once, and every state is judged against its own window of legal transactions.
 * Returns counts and, per violation, the state that shows it, so it can be replayed alone.
 * Invariant: the result depends only on (cfg, index), never on which worker ran it.
 */
import { BlockDevice } from '../../kernel/blkdev.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { journalIo } from '../../fs/jbd/journal.ts';
import { JFS_FLAG_ESCAPE, JFS_MAGIC_NUMBER, tidGeq } from '../../fs/jbd/jbd.ts';
import { journal_scan, type JournalScan } from '../../fs/jbd/recovery.ts';
import { Prng } from '../../sim/prng.ts';
import type { TreeNode } from '../tree.ts';
import { monitorLog } from './monitors.ts';
import { chunkOracle, foreignChunks, sameNode, treeDiff, type ChunkOracle } from './oracle.ts';
import {
  host, mountData, nodeAt, record, runLine, snapshot, type BrokenRecovery, type CrashConfig, type Recording,
} from './record.ts';
import { blockIds, crashStates, formatState, imageOf, versionIds, type CrashState } from './states.ts';
import { workloadLines, type Step } from './workload.ts';

export const PROPERTIES = [
  'mount', 'fsck', 'usable', 'prefix', 'fsync', 'ordered-data', 'recovery-crash',
  'monitor-inplace', 'monitor-commit', 'monitor-ordered', 'monitor-tail', 'monitor-recovery', 'model',
] as const;
export type Property = (typeof PROPERTIES)[number];

/** Images per workload (of those that need replay) whose recovery is itself crashed. */
export const RECOVERY_CRASH_IMAGES = 2;
/** Crash points per crashed recovery (every write when it writes no more, evenly spread beyond). */
export const RECOVERY_CRASH_POINTS = 12;
/** Violations kept per workload (all are counted). */
const KEEP_PER_WORKLOAD = 3;

export interface Violation {
  readonly property: Property;
  readonly workload: number;
  /** The crash state (formatState), or '-' for properties of the whole recording. */
  readonly state: string;
  readonly message: string;
}

export interface WorkloadResult {
  readonly index: number;
  readonly states: number;
  readonly images: number;
  readonly recoveryCrashes: number;
  readonly counts: Partial<Record<Property, number>>;
  readonly violations: readonly Violation[];
}

export interface Recovered {
  readonly tree: TreeNode | null;
  readonly problems: readonly string[];
  /** Commands of the usability probe that failed after recovery. */
  readonly unusable: readonly string[];
  readonly error: string | null;
  /** I/O entries the mount (recovery included) wrote, when the image logged them. */
  readonly mountIos: number;
  readonly replayed: boolean;
}

/** What a recovered file system must still do: allocate, fill, free. */
const PROBE = ['mkdir /probe', 'writeb /probe/f 20000 5', 'ln /probe/f /probe/g', 'rm /probe/f', 'rm /probe/g',
  'rmdir /probe'];

/** Mount (recovering), snapshot, probe, unmount cleanly, fsck. Never throws: failures are values. */
export function recover(img: BlockDevice, cfg: CrashConfig, needed = true): Recovered {
  const fault = cfg.brokenRecovery === 'none' ? '' : `,recovery_fault=${cfg.brokenRecovery}`;
  try {
    const h = host(img, mountData(cfg) + fault, 2);
    const mountIos = img.log().length;
    const p = h.process('check');
    const tree = snapshot(h, p);
    // Usable after recovery: allocate, fill and free (then the fsck below judges the result too).
    const failed = PROBE.map((line) => [line, runLine(h, p, line)]).filter(([, st]) => st !== 'ok');
    h.shutdown();
    const problems = fsck(img).map((x) => `${x.code}: ${x.message}`);
    const unusable = failed.map(([line, st]) => `after recovery '${line}' failed: ${st}`);
    return { tree, problems, unusable, error: null, mountIos, replayed: needed };
  } catch (e) {
    return { tree: null, problems: [], unusable: [], error: (e as Error).message, mountIos: 0, replayed: needed };
  }
}

/**
 * What recovery of an image gives, as a name: the home blocks as replay leaves them (a block a
 * committed transaction logs ends with its last unrevoked logged copy, whatever was home before),
 * the journal superblock and where the committed log ends. Log blocks past the last commit (an
 * unfinished transaction, stale wraps) are never replayed. So states that differ only in what
 * recovery overwrites or ignores recover alike, and are recovered once. The replay is computed as
 * `journal_recover` does it, test-only faults included. Also: whether there is anything to replay.
 */
export function recoveryKey(
  img: BlockDevice, ids: ReadonlyMap<number, string>, journalBlocks: readonly number[], fault: BrokenRecovery,
): { key: string; replays: boolean; scan: JournalScan | null } {
  const inJournal = new Set(journalBlocks);
  const id = (n: number): string => ids.get(journalBlocks[n] as number) ?? 'b';
  const scan = journal_scan(journalIo({ dev: img, map: journalBlocks }, img.blockSize));
  const home = new Map<number, string>();
  for (const [blk, v] of ids) if (!inJournal.has(blk)) home.set(blk, v);
  if (typeof scan === 'string' || typeof scan === 'number') {
    // Unreadable: key on every block, so nothing is shared.
    return { key: [...ids].sort((a, b) => a[0] - b[0]).join(','), replays: true, scan: null };
  }
  const revoked = new Map<number, number>();
  for (const t of fault === 'skip-revoke' ? [] : scan.transactions) {
    for (const blk of t.revokes) {
      const prev = revoked.get(blk);
      if (prev === undefined || tidGeq(t.tid, prev)) revoked.set(blk, t.tid);
    }
  }
  for (const t of fault === 'first-transaction-only' ? scan.transactions.slice(0, 1) : scan.transactions) {
    for (const lb of t.blocks) {
      const r = revoked.get(lb.fsBlock);
      if (r === undefined || !tidGeq(r, t.tid)) home.set(lb.fsBlock, `r${id(lb.logBlock)}/${lb.flags}`);
    }
  }
  const parts = [...home].sort((a, b) => a[0] - b[0]).map(([b, v]) => `${b}:${v}`);
  parts.push(`jsb:${id(0)}:${scan.clean ? 'clean' : scan.endTid}`);
  return { key: parts.join(','), replays: !scan.clean, scan };
}

/**
 * What a correct recovery may write home: per block, the logged copies (escapes restored) of the
 * committed transactions that no revoke at or after them forbids. Read before recovery runs.
 */
function legalReplays(
  img: BlockDevice, scan: JournalScan, journalBlocks: readonly number[],
): Map<number, Uint8Array[]> {
  const revoked = new Map<number, number>();
  for (const t of scan.transactions) {
    for (const blk of t.revokes) {
      const prev = revoked.get(blk);
      if (prev === undefined || tidGeq(t.tid, prev)) revoked.set(blk, t.tid);
    }
  }
  const out = new Map<number, Uint8Array[]>();
  for (const t of scan.transactions) {
    for (const lb of t.blocks) {
      const r = revoked.get(lb.fsBlock);
      if (r !== undefined && tidGeq(r, t.tid)) continue;
      const b = new Uint8Array(img.blockSize);
      img.read(journalBlocks[lb.logBlock] as number, b);
      if ((lb.flags & JFS_FLAG_ESCAPE) !== 0) new DataView(b.buffer).setUint32(0, JFS_MAGIC_NUMBER);
      out.set(lb.fsBlock, [...(out.get(lb.fsBlock) ?? []), b]);
    }
  }
  return out;
}

/**
 * The recovery monitor: every home write before recovery resets the journal superblock is a
 * legal replay (never a revoked block, never a block of an uncommitted transaction).
 */
function checkReplays(
  img: BlockDevice, legal: ReadonlyMap<number, Uint8Array[]>, journalBlocks: readonly number[],
): string[] {
  const inJournal = new Set(journalBlocks);
  for (const e of img.log()) {
    if (e.op !== 'write') continue;
    if (e.blk === journalBlocks[0]) break;
    if (inJournal.has(e.blk)) continue;
    const ok = legal.get(e.blk)?.some((b) => b.every((x, i) => x === e.data[i])) === true;
    if (!ok) return [`recovery wrote block ${e.blk}, which is no unrevoked block of a committed transaction`];
  }
  return [];
}

interface Judge {
  readonly rec: Recording;
  readonly cfg: CrashConfig;
  readonly allowed: ChunkOracle;
}

/** The properties one recovered state breaks, as [property, message]. */
export function judge(j: Judge, s: CrashState, r: Recovered): Array<[Property, string]> {
  const out: Array<[Property, string]> = [];
  if (r.error !== null || r.tree === null) return [['mount', `recovery or mount failed: ${r.error ?? '?'}`]];
  for (const p of r.problems.slice(0, 3)) out.push(['fsck', p]);
  for (const u of r.unusable.slice(0, 1)) out.push(['usable', u]);
  const { rec, cfg } = j;
  const n = s.torn === null ? s.n : s.n - 1;
  const lo = Math.max(rec.commits[0]?.tid ?? -1, ...rec.persisted.filter((p) => p.io <= n).map((p) => p.tid));
  // Only data=journal makes data atomic with its transaction; ordered data reaches the disk
  // before the commit (and in-place overwrites at any time), writeback data whenever.
  const masked = cfg.mode !== 'journal';
  const fits = rec.commits.filter((c, i) => (i === 0 || (rec.issuedAt.get(c.tid) ?? Infinity) <= n) && c.tid >= lo);
  if (!fits.some((c) => treeDiff(c.tree, r.tree as TreeNode, masked).length === 0)) {
    const near = fits[fits.length - 1] ?? rec.commits[0];
    const diff = near === undefined ? [] : treeDiff(near.tree, r.tree, masked).slice(0, 2);
    out.push(['prefix', `the tree is no commit state from transaction ${lo} on (vs ${near?.tid}: ${diff.join('; ')})`]);
  }
  for (const p of rec.persisted) {
    if (p.file === null || p.io > n) continue;
    const { path, node, changedLater } = p.file;
    if (changedLater) continue;
    if (!sameNode(nodeAt(r.tree, path), node)) {
      out.push(['fsync', `${path} was fsynced (${p.command}) but differs or is gone`]);
    }
  }
  if (cfg.mode !== 'writeback') for (const m of foreignChunks(r.tree, j.allowed)) out.push(['ordered-data', m]);
  return out;
}

/** Crash the recovery of `img` at each of its writes; each must recover to `want`, clean. */
function crashRecovery(
  img: BlockDevice, cfg: CrashConfig, want: TreeNode, jsb: number,
): { runs: number; bad: string[] } {
  img.startLog();
  const first = recover(img, cfg);
  const bad: string[] = [];
  let runs = 0;
  const log = img.log();
  const writes: number[] = [];
  for (let m = 1; m <= first.mountIos; m++) if (log[m - 1]?.op === 'write') writes.push(m);
  // Every write of a short recovery; of a long one, evenly spread points and the last.
  const step = Math.max(1, Math.ceil(writes.length / RECOVERY_CRASH_POINTS));
  const points = writes.filter((_, i) => i % step === 0 || i === writes.length - 1);
  // Recovery done and flushed, the journal not yet reset: the next mount replays it all again.
  const reset = log.findIndex((e, i) => i < first.mountIos && e.op === 'write' && e.blk === jsb);
  if (reset > 0) points.push(reset);
  for (const m of points) {
    runs++;
    const again = recover(img.crashAfterIos(m), cfg);
    if (again.error !== null || again.tree === null) bad.push(`crash at recovery write ${m}: ${again.error ?? '?'}`);
    else if (again.problems.length > 0) bad.push(`crash at recovery write ${m}: fsck: ${again.problems[0]}`);
    else if (treeDiff(want, again.tree, false).length > 0) bad.push(`crash at recovery write ${m}: another tree`);
    if (bad.length > 0) break;
  }
  return { runs, bad };
}

export function checkWorkload(cfg: CrashConfig, index: number, steps: readonly Step[]): WorkloadResult {
  const rec = record(cfg, workloadLines(steps));
  const counts: Partial<Record<Property, number>> = {};
  const violations: Violation[] = [];
  const report = (property: Property, state: string, message: string): void => {
    counts[property] = (counts[property] ?? 0) + 1;
    if (violations.length < KEEP_PER_WORKLOAD) violations.push({ property, workload: index, state, message });
  };
  for (const p of rec.problems) report('model', '-', p);
  for (const v of monitorLog(rec.dev.log(), rec.journalMap, cfg.mode)) report(v.property, `n${v.io + 1}`, v.message);
  const j: Judge = { rec, cfg, allowed: chunkOracle(rec.modelStates, rec.modelIds) };
  const rng = Prng.fromSeed(cfg.seed).stream(`crash/${index}`);
  const states = crashStates(rec.dev, rec.journalMap, rng, cfg.maxStates);
  const seqOf = versionIds(rec.dev);
  const cache = new Map<string, Recovered>();
  const crashCandidates: Array<[CrashState, TreeNode]> = [];
  for (const s of states) {
    const img = imageOf(rec.dev, s, true);
    const { key, replays, scan } = recoveryKey(img, blockIds(rec.dev, s, seqOf), rec.journalBlocks, cfg.brokenRecovery);
    let r = cache.get(key);
    if (r === undefined) {
      const legal = scan === null ? null : legalReplays(img, scan, rec.journalBlocks);
      r = recover(img, cfg, replays);
      cache.set(key, r);
      if (r.replayed && r.tree !== null && r.error === null) crashCandidates.push([s, r.tree]);
      for (const m of legal === null ? [] : checkReplays(img, legal, rec.journalBlocks)) {
        report('monitor-recovery', formatState(s), m);
      }
    }
    for (const [property, message] of judge(j, s, r)) report(property, formatState(s), message);
  }
  let recoveryCrashes = 0;
  const pick = Prng.fromSeed(cfg.seed).stream(`crash/${index}/recovery`);
  for (let k = 0; k < RECOVERY_CRASH_IMAGES && crashCandidates.length > 0; k++) {
    const [s, want] = crashCandidates.splice(pick.below(crashCandidates.length), 1)[0] as [CrashState, TreeNode];
    const { runs, bad } = crashRecovery(imageOf(rec.dev, s), cfg, want, rec.journalBlocks[0] as number);
    recoveryCrashes += runs;
    for (const b of bad) report('recovery-crash', formatState(s), b);
  }
  return { index, states: states.length, images: cache.size, recoveryCrashes, counts, violations };
}
