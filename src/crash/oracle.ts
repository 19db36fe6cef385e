/**
 * oracle.ts: the abstract file-system model the crash harness judges recovered trees against.
 *
 * Layer: user space (src/crash/, no kernel calls). Interface: `Model.fromTree(tree)` starts from
 * a snapshot (the tree before the workload); `apply(command)` advances it by one command of the
 * command language (src/sh.ts) that the real system ran with status ok (the harness does not make
 * the model predict errnos: it applies only what succeeded, then checks that the real tree equals
 * the model's after every command, so a model that drifts is reported, never trusted);
 * `tree()` gives the state as a TreeNode in snapshotTree's shape (with `dirSizes` off, as the
 * harness snapshots). Invariants: inodes are shared between names (hard links) and a file's link
 * count is the number of names it has; directories hold no size or link count in the model.
 * Counterpart: the "abstract persistence model" of ALICE and the oracle snapshots of B3.
 * Also here: `sameTree` (exact, or with file contents masked for data=writeback) and `fileChunks`,
 * the ordered-mode data check.
 */
import { writebBytes } from '../sh.ts';
import { diffTrees, type TreeNode } from '../tree.ts';

type Node =
  | { kind: 'file'; mode: number; data: Uint8Array; gen: number }
  | { kind: 'symlink'; target: string }
  | { kind: 'dir'; mode: number; entries: Map<string, Node> };

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

/** Latin-1 string of bytes (the form snapshotTree gives contents in). */
function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

export class Model {
  private constructor(private readonly root: Extract<Node, { kind: 'dir' }>) {}

  /** A model holding `tree` (files in it are taken to have one name each). */
  static fromTree(tree: TreeNode): Model {
    const build = (t: TreeNode): Node => {
      if (t.type === 'dir') {
        const entries = new Map<string, Node>();
        for (const [name, c] of Object.entries(t.children ?? {})) entries.set(name, build(c));
        return { kind: 'dir', mode: t.mode, entries };
      }
      if (t.type === 'symlink') return { kind: 'symlink', target: t.target ?? '' };
      return { kind: 'file', mode: t.mode, data: new Uint8Array(Buffer.from(t.content ?? '', 'latin1')), gen: 0 };
    };
    const root = build(tree);
    if (root.kind !== 'dir') throw new Error('model root must be a directory');
    return new Model(root);
  }

  /** Apply one command that succeeded on the real system. Returns an error sentence if it cannot. */
  apply(name: string, args: readonly string[]): string | null {
    const a = (i: number): string => args[i] ?? '';
    switch (name) {
      case 'write': return this.writeAt(a(0), bytes(a(1)), 'trunc');
      case 'append': return this.writeAt(a(0), bytes(a(1)), 'append');
      case 'writeb': return this.writeAt(a(0), writebBytes(Number(a(1)), Number(args[2] ?? 1)), 'trunc');
      case 'pwrite': return this.writeAt(a(0), bytes(a(2)), Number(a(1)));
      case 'mkdir': return this.add(a(0), { kind: 'dir', mode: DIR_MODE, entries: new Map() });
      case 'symlink': return this.add(a(1), { kind: 'symlink', target: a(0) });
      case 'ln': {
        const n = this.lookup(a(0));
        return n === null ? `ln: no ${a(0)}` : this.add(a(1), n);
      }
      case 'rm': case 'rmdir': return this.remove(a(0));
      case 'mv': return this.rename(a(0), a(1));
      case 'truncate': {
        const n = this.lookup(a(0));
        if (n?.kind !== 'file') return `truncate: no file ${a(0)}`;
        n.data = resize(n.data, Number(a(1)));
        n.gen++;
        return null;
      }
      case 'fsync': case 'sync': case 'cat': case 'ls': case 'stat': return null;
      default: return `the model does not know '${name}'`;
    }
  }

  /**
   * Which file is at `path` and how often its bytes were changed: equal stamps mean no command
   * touched it in between (even one that left the same bytes, like a truncating rewrite).
   */
  stamp(path: string): string | null {
    const n = this.lookup(path);
    if (n === null) return null;
    let id = this.ids.get(n);
    if (id === undefined) this.ids.set(n, (id = this.ids.size + 1));
    return `${id}:${n.kind === 'file' ? n.gen : 0}`;
  }

  private readonly ids = new Map<Node, number>();

  /** Path -> file identity, for every regular file (the identities `stamp` uses). */
  fileIds(): Map<string, number> {
    const out = new Map<string, number>();
    const walk = (d: Extract<Node, { kind: 'dir' }>, prefix: string): void => {
      for (const [name, n] of d.entries) {
        const path = `${prefix}/${name}`;
        if (n.kind === 'dir') walk(n, path);
        else if (n.kind === 'file') {
          let id = this.ids.get(n);
          if (id === undefined) this.ids.set(n, (id = this.ids.size + 1));
          out.set(path, id);
        }
      }
    };
    walk(this.root, '');
    return out;
  }

  tree(): TreeNode {
    const links = new Map<Node, number>();
    const count = (d: Extract<Node, { kind: 'dir' }>): void => {
      for (const n of d.entries.values()) {
        links.set(n, (links.get(n) ?? 0) + 1);
        if (n.kind === 'dir') count(n);
      }
    };
    count(this.root);
    const out = (n: Node): TreeNode => {
      if (n.kind === 'dir') {
        const children: Record<string, TreeNode> = {};
        for (const name of [...n.entries.keys()].sort()) children[name] = out(n.entries.get(name) as Node);
        return { type: 'dir', mode: n.mode, uid: 0, gid: 0, nlink: 0, size: 0, children };
      }
      if (n.kind === 'symlink') {
        return { type: 'symlink', mode: 0o777, uid: 0, gid: 0, nlink: 1, size: n.target.length, target: n.target };
      }
      const nlink = links.get(n) ?? 1;
      return { type: 'file', mode: n.mode, uid: 0, gid: 0, nlink, size: n.data.length, content: latin1(n.data) };
    };
    return out(this.root);
  }

  private split(path: string): { dir: Extract<Node, { kind: 'dir' }> | null; name: string } {
    const parts = path.split('/').filter((s) => s.length > 0);
    const name = parts.pop() ?? '';
    let d: Node = this.root;
    for (const p of parts) {
      const next: Node | undefined = d.kind === 'dir' ? d.entries.get(p) : undefined;
      if (next === undefined || next.kind !== 'dir') return { dir: null, name };
      d = next;
    }
    return { dir: d.kind === 'dir' ? d : null, name };
  }

  private lookup(path: string): Node | null {
    const { dir, name } = this.split(path);
    if (name === '') return this.root;
    return dir?.entries.get(name) ?? null;
  }

  private add(path: string, n: Node): string | null {
    const { dir, name } = this.split(path);
    if (dir === null || dir.entries.has(name)) return `cannot add ${path}`;
    dir.entries.set(name, n);
    return null;
  }

  private remove(path: string): string | null {
    const { dir, name } = this.split(path);
    if (dir === null || !dir.entries.delete(name)) return `cannot remove ${path}`;
    return null;
  }

  private rename(from: string, to: string): string | null {
    const s = this.split(from);
    const t = this.split(to);
    const n = s.dir?.entries.get(s.name);
    if (n === undefined || t.dir === null) return `cannot rename ${from} to ${to}`;
    if (t.dir.entries.get(t.name) === n) return null; // two names of one file: nothing happens
    s.dir?.entries.delete(s.name);
    t.dir.entries.set(t.name, n);
    return null;
  }

  private writeAt(path: string, data: Uint8Array, at: number | 'trunc' | 'append'): string | null {
    let n = this.lookup(path);
    if (n === null) {
      const e = this.add(path, { kind: 'file', mode: FILE_MODE, data: new Uint8Array(0), gen: 0 });
      if (e !== null) return e;
      n = this.lookup(path);
    }
    if (n?.kind !== 'file') return `write: ${path} is no file`;
    const off = at === 'trunc' ? 0 : at === 'append' ? n.data.length : at;
    const base = at === 'trunc' ? new Uint8Array(0) : n.data;
    const out = resize(base, Math.max(base.length, off + data.length));
    out.set(data, off);
    n.data = out;
    n.gen++;
    return null;
  }
}

function resize(b: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(b.subarray(0, Math.min(size, b.length)));
  return out;
}

/** Differences between two trees; with `masked`, file contents are not compared (writeback). */
export function treeDiff(a: TreeNode, b: TreeNode, masked: boolean): string[] {
  return masked ? diffTrees(maskContent(a), maskContent(b)) : diffTrees(a, b);
}

function maskContent(t: TreeNode): TreeNode {
  if (t.type === 'file') return { ...t, content: '' };
  if (t.children === undefined) return t;
  const children: Record<string, TreeNode> = {};
  for (const [k, v] of Object.entries(t.children)) children[k] = maskContent(v);
  return { ...t, children };
}

/** The same file as far as fsync promises: type, mode, link count, size and bytes. */
export function sameNode(a: TreeNode | null, b: TreeNode): boolean {
  return a !== null && a.type === b.type && a.mode === b.mode && a.nlink === b.nlink && a.size === b.size
    && a.content === b.content;
}

/** Every regular file in a tree: path -> content. */
export function filesOf(t: TreeNode, path = '', out = new Map<string, string>()): Map<string, string> {
  if (t.type === 'file') out.set(path === '' ? '/' : path, t.content ?? '');
  for (const [name, c] of Object.entries(t.children ?? {})) filesOf(c, `${path}/${name}`, out);
  return out;
}

export const CHUNK = 512;

/**
 * What the ordered-mode data check accepts: per file (by identity, not name: renames and links
 * move bytes between names) and offset, every 512-byte chunk it held in some model state; and per
 * path, every file that path named in some state.
 */
export interface ChunkOracle {
  readonly chunks: ReadonlyMap<string, ReadonlySet<string>>;
  readonly filesAt: ReadonlyMap<string, ReadonlySet<number>>;
}

/** The oracle of model states `trees`, with `ids[i]` naming the file at each path of `trees[i]`. */
export function chunkOracle(trees: readonly TreeNode[], ids: ReadonlyArray<ReadonlyMap<string, number>>): ChunkOracle {
  const chunks = new Map<string, Set<string>>();
  const filesAt = new Map<string, Set<number>>();
  trees.forEach((t, i) => {
    for (const [path, content] of filesOf(t)) {
      const id = ids[i]?.get(path);
      if (id === undefined) continue;
      if (!filesAt.has(path)) filesAt.set(path, new Set());
      filesAt.get(path)?.add(id);
      for (let off = 0; off < content.length; off += CHUNK) {
        const key = `${id}@${off}`;
        if (!chunks.has(key)) chunks.set(key, new Set());
        chunks.get(key)?.add(content.slice(off, off + CHUNK));
      }
    }
  });
  return { chunks, filesAt };
}

/**
 * The ordered-mode data check: every 512-byte chunk of every recovered file is zeros, or a chunk
 * at the same offset of a file that path named in some model state (some bytes possibly zero).
 * Another file's bytes or a freed block's old bytes fail this.
 */
export function foreignChunks(t: TreeNode, o: ChunkOracle): string[] {
  const out: string[] = [];
  for (const [path, content] of filesOf(t)) {
    const files = [...(o.filesAt.get(path) ?? [])];
    for (let off = 0; off < content.length; off += CHUNK) {
      const c = content.slice(off, off + CHUNK);
      if (/^\0*$/.test(c) || files.some((id) => fitsSome(c, o.chunks.get(`${id}@${off}`)))) continue;
      out.push(`${path}: bytes at ${off} were never written to any file there`);
      break;
    }
  }
  return out;
}

/**
 * Is `c` one of the chunks, where any byte may also be zero (a truncate zeroes the tail of its last
 * block as ordered data, which may reach the disk before the truncate commits, as in Linux)?
 */
function fitsSome(c: string, chunks: ReadonlySet<string> | undefined): boolean {
  if (chunks === undefined) return false;
  if (chunks.has(c)) return true;
  for (const a of chunks) {
    let ok = true;
    for (let i = 0; i < c.length && ok; i++) ok = c.charCodeAt(i) === 0 || c.charCodeAt(i) === a.charCodeAt(i);
    if (ok) return true;
  }
  return false;
}
