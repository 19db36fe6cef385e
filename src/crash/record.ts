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

type FileStamp = { path: string; node: TreeNode; changedLater: boolean };

/**
 * One recording under way: the trace handling (each commit's tree, checked against the model), the
 * model check after each command, and the durability promises (fsync, sync) made on the way.
 */
class Recorder {
  readonly state = { lastCommitted: -1, inCommand: -1 };
  readonly commits: Array<{ tid: number; tree: TreeNode }> = [];
  readonly issuedAt = new Map<number, number>();
  readonly problems: string[] = [];
  readonly modelStates: TreeNode[] = [];
  readonly modelIds: Array<Map<string, number>> = [];
  readonly persisted: Persisted[] = [];
  readonly statuses: string[] = [];
  private readonly stamps = new Map<FileStamp, string | null>();
  model: Model | null = null;
  recording = false;
  inspector: ReturnType<Host['process']> | null = null;

  constructor(readonly dev: BlockDevice, readonly lines: readonly string[]) {}

  /** A jbd.commit event: note the commit, and check the tree a recorded transaction commits. */
  onCommit(d: TraceEventMap['jbd.commit']): void {
    if (d.phase === 'finished') this.state.lastCommitted = d.tid;
    if (!this.recording || this.model === null || this.inspector === null) return;
    if (d.phase === 'commit') this.issuedAt.set(d.tid, this.dev.log().length);
    if (d.phase !== 'drained') return;
    const t = runSync(snapshotTree(this.inspector, '/', SNAPSHOT));
    if (isErr(t)) throw new Error('snapshot at commit failed');
    // What the transaction commits must be a state of the model between two commands.
    const now = this.modelStates[this.modelStates.length - 1] as TreeNode;
    const diff = treeDiff(now, t, false);
    if (diff.length > 0) {
      const i = this.state.inCommand;
      this.problems.push(`transaction ${d.tid} commits a state inside command ${i + 1} `
        + `('${this.lines[i] ?? '?'}'): ${diff.slice(0, 2).join('; ')}`);
    }
    this.commits.push({ tid: d.tid, tree: t });
  }

  /** The state before the workload: the model starts from it. */
  begin(h: Host): void {
    const start = snapshot(h, this.inspector as ReturnType<Host['process']>);
    this.model = Model.fromTree(start);
    this.modelStates.push(start);
    this.modelIds.push(this.model.fileIds());
    this.commits.push({ tid: this.state.lastCommitted, tree: start });
  }

  /** Run command `i` and check the system against the model after it. */
  step(h: Host, p: ReturnType<Host['process']>, i: number): void {
    const line = this.lines[i] as string;
    const c = parseOne(line);
    const model = this.model as Model;
    this.state.inCommand = i;
    const [r] = h.run(p, runScript(p, [c]));
    this.state.inCommand = -1;
    const status = r?.status ?? 'none';
    this.statuses.push(status);
    if (status === 'ok') {
      const e = model.apply(c.name, c.args);
      if (e !== null) this.problems.push(`the model cannot apply '${line}': ${e}`);
    }
    const mt = model.tree();
    this.modelStates.push(mt);
    this.modelIds.push(model.fileIds());
    const diff = treeDiff(mt, snapshot(h, this.inspector as ReturnType<Host['process']>), false);
    if (diff.length > 0) {
      this.problems.push(`after '${line}' the model and the system differ: ${diff.slice(0, 3).join('; ')}`);
    }
    this.promise(c, line, status, mt);
  }

  /** Files fsynced earlier that this command changed; a new promise if it was an fsync or sync that worked. */
  private promise(c: Command, line: string, status: string, mt: TreeNode): void {
    const model = this.model as Model;
    for (const [f, stamp] of this.stamps) {
      if (model.stamp(f.path) !== stamp || !sameNode(nodeAt(mt, f.path), f.node)) f.changedLater = true;
    }
    if ((c.name !== 'fsync' && c.name !== 'sync') || status !== 'ok') return;
    const node = c.name === 'fsync' ? nodeAt(mt, c.args[0] as string) : null;
    const file = node?.type === 'file' ? { path: c.args[0] as string, node, changedLater: false } : null;
    if (file !== null) this.stamps.set(file, model.stamp(file.path));
    this.persisted.push({ io: this.dev.log().length, tid: this.state.lastCommitted, command: line, file });
  }
}

export function record(cfg: CrashConfig, lines: readonly string[]): Recording {
  const dev = BlockDevice.fromBlocks({ ...DEVICE, lyingFlush: cfg.lyingFlush }, base());
  const rec = new Recorder(dev, lines);
  const world = new World({
    seed: 1,
    trace: { onEvent: (r) => { if (r.ev === 'jbd.commit') rec.onCommit(r.data as TraceEventMap['jbd.commit']); } },
  });
  const h = host(dev, mountData(cfg), 1, world);
  rec.inspector = h.process('inspect');
  const p = h.process('sh');
  if (cfg.aged) age(h, p);
  rec.begin(h);
  const j = EXT3_SB(h.kernel.mounts[0]!.mnt_sb).journal;
  const journalBlocks = [...(j?.placement.map ?? [])];
  const journalMap = new Map<number, number>(journalBlocks.map((blk, n) => [blk, n]));
  dev.startLog();
  rec.recording = true;
  lines.forEach((_, i) => {
    rec.step(h, p, i);
    world.sched.runFor(GAP_US);
  });
  world.sched.runFor(TAIL_US);
  rec.recording = false;
  const { commits, issuedAt, persisted, modelStates, modelIds, statuses, problems } = rec;
  return {
    dev, lines, commits, issuedAt, persisted, modelStates, modelIds, journalMap, journalBlocks, statuses, problems,
  };
}

export function nodeAt(t: TreeNode, path: string): TreeNode | null {
  let n: TreeNode | undefined = t;
  for (const part of path.split('/').filter((s) => s.length > 0)) n = n?.children?.[part];
  return n ?? null;
}
