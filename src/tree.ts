/**
 * tree.ts: a file tree as data, read through system calls, and the differences between two.
 *
 * Layer: user space (src/). Interface: `snapshotTree(p, path, opts)` walks a directory with
 * getdents and lstat (as a process would) and returns a canonical, JSON-serializable TreeNode:
 * per entry its type, permission bits, owner, link count, size, content (files: the bytes as a
 * Latin-1 string or, past a threshold, a digest) and link target; times only when asked for.
 * `diffTrees(a, b)` lists the differences as sentences naming the path; empty means equal. Used
 * to compare a file system with a model or another file system, and replicas with each other.
 */
import { isErr, errnoName, type Errno } from '../kernel/errno.ts';
import { S_ISDIR, S_ISLNK, S_ISREG, type Stat } from '../kernel/fs.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { read_dir, read_file } from './libc.ts';
import { sys_lstat, sys_readlink } from '../kernel/syscalls.ts';

export interface TreeNode {
  readonly type: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly size: number;
  readonly content?: string;
  readonly target?: string;
  readonly mtime?: readonly [number, number];
  readonly ctime?: readonly [number, number];
  readonly children?: Readonly<Record<string, TreeNode>>;
}

export interface SnapshotOptions {
  /** Include mtime and ctime ([sec, nsec]). */
  readonly times?: boolean;
  /** Include directory sizes and link counts (they differ between file systems by design). */
  readonly dirSizes?: boolean;
  /** Names to leave out at the top level (e.g. lost+found, .intermezzo). */
  readonly skip?: readonly string[];
  /** Files larger than this are summarized by a digest instead of their bytes. */
  readonly maxContent?: number;
}

function typeOf(mode: number): string {
  const t = (mode >>> 12) & 0o17;
  return ({ 1: 'fifo', 2: 'chr', 4: 'dir', 6: 'blk', 8: 'file', 10: 'symlink', 12: 'sock' } as Record<number, string>)[t] ?? 'unknown';
}

/** FNV-1a over bytes, hex: a short stand-in for large contents. */
function digest(b: Uint8Array): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ (b[i] as number), 0x01000193);
  return `fnv1a:${(h >>> 0).toString(16).padStart(8, '0')}:${b.length}`;
}

function join(dir: string, name: string): string {
  return dir.endsWith('/') ? dir + name : `${dir}/${name}`;
}

function* node(p: Process, path: string, st: Stat, o: SnapshotOptions, top: boolean): Sys<TreeNode | Errno> {
  const isDir = S_ISDIR(st.st_mode);
  const base = {
    type: typeOf(st.st_mode),
    mode: st.st_mode & 0o7777,
    uid: st.st_uid,
    gid: st.st_gid,
    nlink: isDir && o.dirSizes !== true ? 0 : st.st_nlink,
    size: isDir && o.dirSizes !== true ? 0 : st.st_size,
    ...(o.times === true ? { mtime: [st.st_mtime.sec, st.st_mtime.nsec] as const, ctime: [st.st_ctime.sec, st.st_ctime.nsec] as const } : {}),
  };
  if (S_ISREG(st.st_mode)) {
    const data = yield* read_file(p, path);
    if (isErr(data)) return data;
    const content = data.length > (o.maxContent ?? 1 << 16) ? digest(data) : Buffer.from(data).toString('latin1');
    return { ...base, content };
  }
  if (S_ISLNK(st.st_mode)) {
    const target = yield* sys_readlink(p, path);
    return isErr(target) ? target : { ...base, target };
  }
  if (!isDir) return base;
  const ents = yield* read_dir(p, path);
  if (isErr(ents)) return ents;
  const names = ents.map((e) => e.d_name).sort();
  const children: Record<string, TreeNode> = {};
  for (const name of names) {
    if (top && o.skip?.includes(name) === true) continue;
    const child = join(path, name);
    const cst = yield* sys_lstat(p, child);
    if (isErr(cst)) return cst;
    const n = yield* node(p, child, cst, o, false);
    if (isErr(n)) return n;
    children[name] = n;
  }
  return { ...base, children };
}

/** The tree under `path` as seen by process `p`. */
export function* snapshotTree(p: Process, path = '/', o: SnapshotOptions = {}): Sys<TreeNode | Errno> {
  const st = yield* sys_lstat(p, path);
  if (isErr(st)) return st;
  return yield* node(p, path, st, o, true);
}

/** Differences between two trees, one sentence each, naming the path. */
export function diffTrees(a: TreeNode, b: TreeNode, path = '/'): string[] {
  const out: string[] = [];
  for (const key of ['type', 'mode', 'uid', 'gid', 'nlink', 'size', 'target', 'content'] as const) {
    const x = a[key];
    const y = b[key];
    if (x !== y) out.push(`${path}: ${key} ${show(x)} != ${show(y)}`);
  }
  for (const key of ['mtime', 'ctime'] as const) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) out.push(`${path}: ${key} ${JSON.stringify(a[key])} != ${JSON.stringify(b[key])}`);
  }
  const ca = a.children ?? {};
  const cb = b.children ?? {};
  for (const name of new Set([...Object.keys(ca), ...Object.keys(cb)])) {
    const child = join(path, name);
    const x = ca[name];
    const y = cb[name];
    if (x === undefined) out.push(`${child}: only in the second tree`);
    else if (y === undefined) out.push(`${child}: only in the first tree`);
    else out.push(...diffTrees(x, y, child));
  }
  return out;
}

function show(v: unknown): string {
  if (typeof v === 'string' && v.length > 40) return JSON.stringify(v.slice(0, 40) + '...');
  return JSON.stringify(v);
}

export function describeErr(e: Errno): string {
  return errnoName(e);
}
