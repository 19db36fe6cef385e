/**
 * states.ts: the crash states of a recorded workload, enumerated from the device's I/O log.
 *
 * Layer: user space harness (src/crash/). Interface: `crashStates(dev, journalMap, rng, maxStates)`
 * lists, for a crash after every block write (and before the first), every choice of surviving
 * version per pending block (0 = the durable content, k = the k-th pending version) when the
 * product of choices is at most EXHAUSTIVE_MAX, else the two extremes (all lost, all newest) plus a
 * seeded sample; and for every write of a commit block or of the journal superblock, that write
 * torn at each 512-byte sector mask. `imageOf(dev, s)` builds the device a state describes, and
 * `stateKey(dev, s)` names its content (two states with one key are one image: the harness
 * recovers it once). `formatState`/`parseState` are the reproducer's textual form.
 * Invariant: the list depends only on the log and the seed, in a fixed order.
 */
import { BlockDevice, SECTOR_SIZE, type IoLogEntry } from '../../kernel/blkdev.ts';
import type { Random } from '../../kernel/random.ts';
import { JFS_COMMIT_BLOCK, JFS_MAGIC_NUMBER, readHeader } from '../../fs/jbd/jbd.ts';

/** Enumerate every version choice up to this many combinations per crash point. */
export const EXHAUSTIVE_MAX = 64;
/** Random combinations drawn per crash point beyond that. */
export const SAMPLE_PER_POINT = 12;

export interface CrashState {
  /** Crash after this many I/O log entries. */
  readonly n: number;
  /** Per pending block: the surviving version (0 = durable; unlisted = 0). */
  readonly versions: ReadonlyArray<readonly [blk: number, version: number]>;
  /** The write at log index n-1, torn: sectors whose bit is set are new. */
  readonly torn: { readonly blk: number; readonly mask: number } | null;
}

export function isCommitOrSuper(e: IoLogEntry, journalMap: ReadonlyMap<number, number>): boolean {
  if (e.op !== 'write') return false;
  const n = journalMap.get(e.blk);
  if (n === undefined) return false;
  if (n === 0) return true;
  const h = readHeader(e.data);
  return h.magic === JFS_MAGIC_NUMBER && h.blocktype === JFS_COMMIT_BLOCK;
}

/** Every crash state of the log, in order (at most `maxStates`: a seeded sample beyond). */
export function crashStates(
  dev: BlockDevice, journalMap: ReadonlyMap<number, number>, rng: Random, maxStates: number,
): CrashState[] {
  const log = dev.log();
  const out: CrashState[] = [];
  const points = [0];
  log.forEach((e, i) => {
    if (e.op === 'write') points.push(i + 1);
  });
  if (points[points.length - 1] !== log.length) points.push(log.length);
  for (const n of points) {
    const pending = dev.pendingAfter(n);
    const total = pending.reduce((acc, [, c]) => acc * (c + 1), 1);
    if (total <= EXHAUSTIVE_MAX) {
      for (let k = 0; k < total; k++) out.push({ n, versions: digits(pending, k), torn: null });
    } else {
      out.push({ n, versions: [], torn: null });
      out.push({ n, versions: pending.map(([blk, c]) => [blk, c] as const), torn: null });
      for (let s = 0; s < SAMPLE_PER_POINT; s++) {
        out.push({ n, versions: pending.map(([blk, c]) => [blk, rng.below(c + 1)] as const), torn: null });
      }
    }
    const last = log[n - 1];
    if (last !== undefined && isCommitOrSuper(last, journalMap) && last.op === 'write') {
      const sectors = dev.blockSize / SECTOR_SIZE;
      for (let mask = 1; mask < 2 ** sectors - 1; mask++) out.push({ n, versions: [], torn: { blk: last.blk, mask } });
    }
  }
  if (out.length <= maxStates) return out;
  // A seeded sample, kept in log order.
  const keep = new Set<number>();
  while (keep.size < maxStates) keep.add(rng.below(out.length));
  return out.filter((_, i) => keep.has(i));
}

function digits(pending: ReadonlyArray<readonly [number, number]>, k: number): Array<readonly [number, number]> {
  const out: Array<readonly [number, number]> = [];
  let rest = k;
  for (const [blk, c] of pending) {
    const v = rest % (c + 1);
    rest = Math.floor(rest / (c + 1));
    if (v !== 0) out.push([blk, v]);
  }
  return out;
}

/** The device a crash state leaves (all content durable). */
export function imageOf(dev: BlockDevice, s: CrashState, log = false): BlockDevice {
  if (s.torn === null) {
    const img = dev.crashAfterIos(s.n, { versions: new Map(s.versions) });
    if (log) img.startLog();
    return img;
  }
  // The torn write is at log index n-1: the state before it, then that block half old, half new.
  const e = dev.log()[s.n - 1];
  if (e === undefined || e.op !== 'write') throw new Error(`no write at I/O ${s.n - 1} to tear`);
  const img = dev.crashAfterIos(s.n - 1, { versions: new Map(s.versions) });
  const before = new Uint8Array(dev.blockSize);
  img.read(e.blk, before);
  const torn = before.slice();
  for (let i = 0; i < dev.blockSize / SECTOR_SIZE; i++) {
    if ((s.torn.mask >>> i) & 1) torn.set(e.data.subarray(i * SECTOR_SIZE, (i + 1) * SECTOR_SIZE), i * SECTOR_SIZE);
  }
  img.write(e.blk, torn);
  img.flush();
  if (log) img.startLog();
  return img;
}

/**
 * Which version of each block the image of a state holds: block -> the sequence number of the log
 * entry that wrote it, or `t<seq>/<mask>` for the torn block. Blocks the log never wrote (the base
 * image) are absent. Equal maps, equal images.
 */
export function blockIds(dev: BlockDevice, s: CrashState, seqOf: ReadonlyMap<Uint8Array, number>): Map<number, string> {
  const n = s.torn === null ? s.n : s.n - 1;
  const st = dev.stateAfterIos(n);
  const chosen = new Map(s.versions);
  const out = new Map<number, string>();
  for (const [blk, data] of st.durable) {
    if (chosen.has(blk)) continue;
    const id = seqOf.get(data);
    if (id !== undefined) out.set(blk, String(id));
  }
  for (const [blk, v] of chosen) {
    const data = st.pending.get(blk)?.[v - 1];
    const id = data === undefined ? undefined : seqOf.get(data);
    if (id !== undefined) out.set(blk, String(id));
  }
  if (s.torn !== null) out.set(s.torn.blk, `t${s.n - 1}/${s.torn.mask}`);
  return out;
}

/** Data arrays of the log -> the sequence number of the write that made them. */
export function versionIds(dev: BlockDevice): Map<Uint8Array, number> {
  const m = new Map<Uint8Array, number>();
  for (const e of dev.log()) if (e.op === 'write') m.set(e.data, e.seq);
  return m;
}

/** `n45` or `n45:v12=1,40=2` or `n45:t12=1`: the crash point of a reproducer. */
export function formatState(s: CrashState): string {
  const v = s.versions.map(([b, k]) => `${b}=${k}`).join(',');
  const t = s.torn === null ? '' : `t${s.torn.blk}=${s.torn.mask}`;
  return `n${s.n}${v === '' ? '' : `:v${v}`}${t === '' ? '' : `:${t}`}`;
}

export function parseState(text: string): CrashState | string {
  const m = /^n(\d+)(?::v((?:\d+=\d+,?)+))?(?::t(\d+)=(\d+))?$/.exec(text);
  if (m === null) return `'${text}' is no crash state (like n45, n45:v12=1,40=2 or n45:t12=1)`;
  const versions = (m[2] ?? '').split(',').filter((x) => x !== '').map((x) => {
    const [b, k] = x.split('=');
    return [Number(b), Number(k)] as const;
  });
  const torn = m[3] === undefined ? null : { blk: Number(m[3]), mask: Number(m[4]) };
  return { n: Number(m[1]), versions, torn };
}
