/**
 * workload.ts: the crash harness's workloads, B3-style: every sequence of 1 to 3 operations over
 * a small fixed set of names, each followed by a persistence point.
 *
 * Layer: user space (src/crash/, pure data). Interface: `SETUP` is the script that makes the names
 * the operations act on (run and synced before recording starts); `OPS` the operations, one command
 * each, with the file its fsync persists; `PERSIST` the persistence points (fsync of the file,
 * fsync of its parent, sync, none); `workloadCount(maxOps, minOps)` and `workloadAt(i, ...)` number
 * the space in a fixed order (shorter first, then by operation and persistence point, mixed radix),
 * so a workload is named by its index alone and workers can split the space by index.
 * `AGING` is the prefix an aged file system runs first (allocation, frees and log wrap).
 * Invariant: `workloadAt` is a bijection from 0..count-1 onto the sequences; names never leave
 * the fixed set, so the model and the real system meet the same collisions.
 */

export interface Op {
  readonly kind: string;
  readonly command: string;
  /** The file an fsync persists after this operation (its parent for the parent fsync). */
  readonly file: string;
}

export const SETUP: readonly string[] = [
  'mkdir /d', 'mkdir /e', 'writeb /a 2048 3', "pwrite /a 6144 'tail of a'", "write /d/b 'bee'", 'sync',
];

export const OPS: readonly Op[] = [
  { kind: 'creat', command: "write /c ''", file: '/c' },
  { kind: 'mkdir', command: 'mkdir /d/f', file: '/d/f' },
  { kind: 'write', command: 'writeb /c 3000 7', file: '/c' },
  { kind: 'overwrite', command: "pwrite /a 100 'overwritten bytes'", file: '/a' },
  { kind: 'append', command: "append /d/b 'more bytes'", file: '/d/b' },
  { kind: 'pwrite-hole', command: "pwrite /a 3072 'into the hole'", file: '/a' },
  { kind: 'link', command: 'ln /a /d/l', file: '/d/l' },
  { kind: 'unlink', command: 'rm /a', file: '/a' },
  { kind: 'rename-file', command: 'mv /a /d/b', file: '/d/b' },
  { kind: 'rename-dir', command: 'mv /d /e', file: '/e' },
  { kind: 'truncate-shrink', command: 'truncate /a 1000', file: '/a' },
  { kind: 'truncate-extend', command: 'truncate /d/b 5000', file: '/d/b' },
  { kind: 'symlink', command: 'symlink /a /s', file: '/s' },
  { kind: 'rmdir', command: 'rmdir /e', file: '/e' },
];

export type Persist = 'fsync' | 'fsync-parent' | 'sync' | 'none';
export const PERSIST: readonly Persist[] = ['fsync', 'fsync-parent', 'sync', 'none'];

/** One step: an operation and its persistence point. */
export interface Step {
  readonly op: Op;
  readonly persist: Persist;
}

export const MAX_OPS = 3;
const RADIX = OPS.length * PERSIST.length;

function parentOf(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

/** The command that makes a step's persistence point, or null for none. */
export function persistCommand(s: Step): string | null {
  switch (s.persist) {
    case 'fsync': return `fsync ${s.op.file}`;
    case 'fsync-parent': return `fsync ${parentOf(s.op.file)}`;
    case 'sync': return 'sync';
    case 'none': return null;
  }
}

/** The command lines a workload runs, in order. */
export function workloadLines(steps: readonly Step[]): string[] {
  const out: string[] = [];
  for (const s of steps) {
    out.push(s.op.command);
    const p = persistCommand(s);
    if (p !== null) out.push(p);
  }
  return out;
}

/** How many workloads have between `minOps` and `maxOps` operations. */
export function workloadCount(maxOps: number, minOps = 1): number {
  let n = 0;
  for (let k = minOps; k <= maxOps; k++) n += RADIX ** k;
  return n;
}

/** The `i`-th workload of those with `minOps`..`maxOps` operations (shorter first). */
export function workloadAt(i: number, maxOps: number, minOps = 1): Step[] {
  if (!Number.isSafeInteger(i) || i < 0 || i >= workloadCount(maxOps, minOps)) {
    throw new RangeError(`no workload ${i} with ${minOps}..${maxOps} operations`);
  }
  let rest = i;
  let len = minOps;
  while (rest >= RADIX ** len) {
    rest -= RADIX ** len;
    len++;
  }
  const steps: Step[] = [];
  for (let k = 0; k < len; k++) {
    const digit = Math.floor(rest / RADIX ** (len - 1 - k)) % RADIX;
    const op = OPS[Math.floor(digit / PERSIST.length)] as Op;
    steps.push({ op, persist: PERSIST[digit % PERSIST.length] as Persist });
  }
  return steps;
}

/** A short name for people: `overwrite+fsync; unlink+none`. */
export function describeWorkload(steps: readonly Step[]): string {
  return steps.map((s) => `${s.op.kind}+${s.persist}`).join('; ');
}

/**
 * One round of what an aged file system runs before the workload, in the same mount: files made,
 * grown, cut and removed in /old (which the workload never touches), each round synced, so that
 * blocks are allocated and freed and the log's head travels (the harness repeats rounds until the
 * head is near the end of the log, so the workload's commits wrap it).
 */
export function agingRound(r: number): string[] {
  const out = r === 0 ? ['mkdir /old'] : [];
  const d = `/old/d${r % 4}`;
  const gone = `/old/d${(r + 2) % 4}`;
  out.push(`writeb /old/f${r % 5} ${9000 + 700 * (r % 13)} ${r + 11}`, `mkdir ${d}`, `write ${d}/x 'round ${r}'`);
  out.push(`rm ${gone}/x`, `rmdir ${gone}`, `truncate /old/f${(r + 2) % 5} ${300 * (r % 7)}`, 'sync');
  return out;
}
