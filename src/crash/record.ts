/**
 * record.ts: running one workload on ext3 while the disk logs every I/O, and writing down what a
 * crash at any point may legally leave.
 *
 * Layer: user space harness (src/crash/; builds simulated worlds, as entry points do). Interface:
 * `record(cfg, lines)` mounts a copy of the base image (mkfs plus SETUP, made once per process),
 * ages it first when asked (in the same mount, so the log's head has travelled), starts the I/O
 * log and runs the workload one command at a time, letting simulated time pass between commands
 * (commit timers fire). It returns the log and:
 * - `commits`: for each transaction, the tree it commits, snapshotted at its 'drained' trace event
 *   (every handle stopped, none of the next started) and checked against the abstract model;
 * - `issuedAt`: the I/O count when each transaction's commit began (it cannot be durable earlier);
 * - `persisted`: each persistence point that returned: the I/O count, the last committed tid, and
 *   for a file fsync the file as the model had it;
 * - `modelStates`: the model after every command (for the data check), and the journal's block map.
 * Invariant: the real tree equals the model after every command; a difference is reported as a
 * 'model' violation, since every later verdict would rest on it.
 */
import { BlockDevice, isZero } from '../../kernel/blkdev.ts';
import { isErr } from '../../kernel/errno.ts';
import { runSync } from '../../kernel/sched.ts';
import type { TraceEventMap } from '../../kernel/trace.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { EXT3_SB, ext3_fs_type } from '../../fs/ext3/super.ts';
import type { RecoveryFault } from '../../fs/jbd/recovery.ts';
import { World, type Host } from '../../sim/host.ts';
import { parseScript, runScript, type Command } from '../sh.ts';
import { snapshotTree, type TreeNode } from '../tree.ts';
import { Model, sameNode, treeDiff } from './oracle.ts';
import { agingRound, SETUP } from './workload.ts';

export type DataMode = 'ordered' | 'journal' | 'writeback';
export type BrokenRecovery = RecoveryFault;

export interface CrashConfig {
  readonly mode: DataMode;
  readonly barrier: boolean;
  readonly aged: boolean;
  /** Negative control: the device acknowledges flushes and FUA it does not do. */
  readonly lyingFlush: boolean;
  /** Negative control: recovery broken on purpose (fs/jbd/recovery.ts's test-only switch). */
  readonly brokenRecovery: BrokenRecovery;
  readonly seed: number;
  /** At most this many crash states per workload (a seeded sample beyond). */
  readonly maxStates: number;
}

export const DEVICE = { name: 'hda', blockSize: 1024, blocks: 4096 } as const;
const JOURNAL_BLOCKS = 1024;
/** Simulated time between commands (µs): less than the 5 s commit interval. */
const GAP_US = 700_000;
/** After the last command: long enough for the commit timer to fire. */
const TAIL_US = 6_000_000;
export const SNAPSHOT = { skip: ['lost+found'] } as const;
/** Aging stops when the log head is this close to the end of the log (or after so many rounds). */
const AGING_HEAD_MARGIN = 8;
const AGING_ROUNDS_MAX = 400;

export interface Persisted {
  readonly io: number;
  readonly tid: number;
  readonly command: string;
  /**
   * For an fsync of a regular file: its path and the model's node then, and whether a later
   * command touched the file at that path (then the durability promise is about a past state).
   */
  readonly file: { readonly path: string; readonly node: TreeNode; changedLater: boolean } | null;
}

export interface Recording {
  readonly dev: BlockDevice;
  readonly lines: readonly string[];
  /** Transactions in commit order: tid and the tree it commits. The first entry is the start state. */
  readonly commits: ReadonlyArray<{ readonly tid: number; readonly tree: TreeNode }>;
  readonly issuedAt: ReadonlyMap<number, number>;
  readonly persisted: readonly Persisted[];
  /** The model's tree before the workload and after each command. */
  readonly modelStates: readonly TreeNode[];
  /** For each model state: path -> file identity. */
  readonly modelIds: ReadonlyArray<ReadonlyMap<string, number>>;
  /** Device block -> journal block number, for the trace monitors. */
  readonly journalMap: ReadonlyMap<number, number>;
  /** Journal block -> device block. */
  readonly journalBlocks: readonly number[];
  readonly statuses: readonly string[];
  /** Harness-level problems (the model disagreed with the system). */
  readonly problems: readonly string[];
}

let baseImage: Map<number, Uint8Array> | null = null;

/** mkfs plus SETUP, cleanly unmounted: every workload starts from a copy. Made once per process. */
export function base(): Map<number, Uint8Array> {
  if (baseImage !== null) return baseImage;
  const dev = new BlockDevice(DEVICE);
  const geo = mkfs(dev, {
    blockSize: 1024, uuid: new Uint8Array(16).fill(7), time: 1_009_843_200, journalBlocks: JOURNAL_BLOCKS, inodes: 128,
  });
  if (typeof geo === 'string') throw new Error(`mkfs: ${geo}`);
  const h = host(dev, 'data=ordered', 1);
  const p = h.process('setup');
  for (const line of SETUP) runLine(h, p, line);
  h.shutdown();
  baseImage = new Map([...dev.writtenBlocks()].filter(([, b]) => !isZero(b)));
  return baseImage;
}

export function host(dev: BlockDevice, data: string, seed: number, world?: World): Host {
  const h = (world ?? new World({ seed })).addHost('h');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', data);
  return h;
}

export function mountData(cfg: CrashConfig): string {
  return `data=${cfg.mode}${cfg.barrier ? '' : ',barrier=0'}`;
}

function parseOne(line: string): Command {
  const parsed = parseScript(line);
  if ('errors' in parsed) throw new Error(`bad workload line '${line}'`);
  const c = parsed.commands[0];
  if (c === undefined) throw new Error(`empty workload line '${line}'`);
  return c;
}

export function runLine(h: Host, p: ReturnType<Host['process']>, line: string): string {
  const c = parseOne(line);
  const [r] = h.run(p, runScript(p, [c]));
  return r?.status ?? 'none';
}

export function snapshot(h: Host, p: ReturnType<Host['process']>): TreeNode {
  const t = h.run(p, snapshotTree(p, '/', SNAPSHOT));
  if (isErr(t)) throw new Error(`snapshot failed: ${t}`);
  return t;
}

/** Age the mounted file system until the log head is near its end, so the workload wraps it. */
function age(h: Host, p: ReturnType<Host['process']>): void {
  const j = EXT3_SB(h.kernel.mounts[0]!.mnt_sb).journal;
  if (j === null) return;
  for (let r = 0; r < AGING_ROUNDS_MAX && j.head < j.maxlen - AGING_HEAD_MARGIN; r++) {
    for (const line of agingRound(r)) runLine(h, p, line);
  }
}

export function record(cfg: CrashConfig, lines: readonly string[]): Recording {
  const dev = BlockDevice.fromBlocks({ ...DEVICE, lyingFlush: cfg.lyingFlush }, base());
  const state = { lastCommitted: -1, inCommand: -1 };
  const commits: Array<{ tid: number; tree: TreeNode }> = [];
  const issuedAt = new Map<number, number>();
  const problems: string[] = [];
  let model: Model | null = null;
  const modelStates: TreeNode[] = [];
  const modelIds: Array<Map<string, number>> = [];
  let recording = false;
  const world = new World({
    seed: 1,
    trace: {
      onEvent: (r) => {
        if (r.ev !== 'jbd.commit') return;
        const d = r.data as TraceEventMap['jbd.commit'];
        if (d.phase === 'finished') state.lastCommitted = d.tid;
        if (!recording || model === null) return;
        if (d.phase === 'commit') issuedAt.set(d.tid, dev.log().length);
        if (d.phase !== 'drained') return;
        const t = runSync(snapshotTree(inspector, '/', SNAPSHOT));
        if (isErr(t)) throw new Error('snapshot at commit failed');
        // What the transaction commits must be a state of the model between two commands.
        const now = modelStates[modelStates.length - 1] as TreeNode;
        if (treeDiff(now, t, false).length > 0) {
          problems.push(`transaction ${d.tid} commits a state inside command ${state.inCommand + 1} `
            + `('${lines[state.inCommand] ?? '?'}'): ${treeDiff(now, t, false).slice(0, 2).join('; ')}`);
        }
        commits.push({ tid: d.tid, tree: t });
      },
    },
  });
  const h = host(dev, mountData(cfg), 1, world);
  const inspector = h.process('inspect');
  const p = h.process('sh');
  if (cfg.aged) age(h, p);
  const start = snapshot(h, inspector);
  model = Model.fromTree(start);
  modelStates.push(start);
  modelIds.push(model.fileIds());
  commits.push({ tid: state.lastCommitted, tree: start });
  const j = EXT3_SB(h.kernel.mounts[0]!.mnt_sb).journal;
  const journalBlocks = [...(j?.placement.map ?? [])];
  const journalMap = new Map<number, number>(journalBlocks.map((blk, n) => [blk, n]));
  dev.startLog();
  recording = true;
  const persisted: Persisted[] = [];
  const statuses: string[] = [];
  const stamps = new Map<{ path: string; node: TreeNode; changedLater: boolean }, string | null>();
  lines.forEach((line, i) => {
    const c = parseOne(line);
    state.inCommand = i;
    const [r] = h.run(p, runScript(p, [c]));
    state.inCommand = -1;
    const status = r?.status ?? 'none';
    statuses.push(status);
    if (status === 'ok') {
      const e = model?.apply(c.name, c.args);
      if (e !== null && e !== undefined) problems.push(`the model cannot apply '${line}': ${e}`);
    }
    const mt = (model as Model).tree();
    modelStates.push(mt);
    modelIds.push((model as Model).fileIds());
    const real = snapshot(h, inspector);
    const diff = treeDiff(mt, real, false);
    if (diff.length > 0) {
      problems.push(`after '${line}' the model and the system differ: ${diff.slice(0, 3).join('; ')}`);
    }
    for (const [f, stamp] of stamps) {
      if (model?.stamp(f.path) !== stamp || !sameNode(nodeAt(mt, f.path), f.node)) f.changedLater = true;
    }
    if ((c.name === 'fsync' || c.name === 'sync') && status === 'ok') {
      const node = c.name === 'fsync' ? nodeAt(mt, c.args[0] as string) : null;
      const file = node?.type === 'file' ? { path: c.args[0] as string, node, changedLater: false } : null;
      if (file !== null) stamps.set(file, model?.stamp(file.path) ?? null);
      persisted.push({ io: dev.log().length, tid: state.lastCommitted, command: line, file });
    }
    world.sched.runFor(GAP_US);
  });
  world.sched.runFor(TAIL_US);
  recording = false;
  return {
    dev, lines, commits, issuedAt, persisted, modelStates, modelIds, journalMap, journalBlocks, statuses, problems,
  };
}

export function nodeAt(t: TreeNode, path: string): TreeNode | null {
  let n: TreeNode | undefined = t;
  for (const part of path.split('/').filter((s) => s.length > 0)) n = n?.children?.[part];
  return n ?? null;
}
