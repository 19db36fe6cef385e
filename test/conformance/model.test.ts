/**
 * Model-based test: random sequences of system calls by four users (root; 1000 and 1001 sharing
 * group 1000; 1002 alone) against a deliberately simple model of a directory tree, which predicts
 * each result (ok or the errno, in Linux's order of checks) and the final tree. Names come from a
 * small set so that collisions and permission failures are common. Runs on every target.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TARGETS } from './targets.ts';
import { hostSys, enc, dec, type SyncSys } from '../support/boot.ts';
import { EACCES, EEXIST, EISDIR, ENOENT, ENOTDIR, ENOTEMPTY, EPERM, errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY } from '../../kernel/fs.ts';
import { snapshotTree, type TreeNode } from '../../src/tree.ts';
import type { Host } from '../../sim/host.ts';

interface Node {
  type: 'dir' | 'file';
  mode: number;
  uid: number;
  gid: number;
  content: string;
}
type Model = Map<string, Node>;
interface User {
  readonly uid: number;
  readonly gid: number;
}
const USERS: readonly User[] = [{ uid: 0, gid: 0 }, { uid: 1000, gid: 1000 }, { uid: 1001, gid: 1000 }, { uid: 1002, gid: 1002 }];
const PATHS = ['/a', '/b', '/d', '/d/x', '/d/y', '/d/x/z'] as const;

function parentOf(p: string): string {
  const i = p.lastIndexOf('/');
  return i === 0 ? '/' : p.slice(0, i);
}
function allows(n: Node, u: User, mask: number): boolean {
  if (u.uid === 0) return true; // root: files here never need execute
  const bits = u.uid === n.uid ? n.mode >> 6 : u.gid === n.gid ? n.mode >> 3 : n.mode;
  return (bits & mask) === mask;
}
/** Walk to the parent of `p`: every ancestor must exist, be a directory, and be searchable. */
function walk(m: Model, u: User, p: string): Errno | 0 {
  const parts = p.split('/').filter((x) => x !== '');
  let cur = '/';
  for (let i = 0; i < parts.length; i++) {
    const n = m.get(cur);
    if (n === undefined) return ENOENT;
    if (n.type !== 'dir') return ENOTDIR;
    if (!allows(n, u, 1)) return EACCES;
    cur = cur === '/' ? `/${parts[i]}` : `${cur}/${parts[i]}`;
  }
  return 0;
}

type Op =
  | { op: 'mkdir'; user: number; path: string; mode: number }
  | { op: 'write'; user: number; path: string; text: string }
  | { op: 'unlink'; user: number; path: string }
  | { op: 'rmdir'; user: number; path: string }
  | { op: 'chmod'; user: number; path: string; mode: number }
  | { op: 'cat'; user: number; path: string };

function predict(m: Model, o: Op): Errno | 0 | string {
  const u = USERS[o.user] as User;
  const w = walk(m, u, o.path);
  if (w !== 0) return w;
  const parent = m.get(parentOf(o.path)) as Node;
  const node = m.get(o.path);
  const now = (n: Node): void => void m.set(o.path, n);
  switch (o.op) {
    case 'mkdir':
      if (node !== undefined) return EEXIST;
      if (!allows(parent, u, 3)) return EACCES;
      now({ type: 'dir', mode: o.mode & ~0o022, uid: u.uid, gid: u.gid, content: '' });
      return 0;
    case 'write':
      if (node !== undefined) {
        if (node.type === 'dir') return EISDIR;
        if (!allows(node, u, 2)) return EACCES;
        node.content = o.text;
        return 0;
      }
      if (!allows(parent, u, 3)) return EACCES;
      now({ type: 'file', mode: 0o644, uid: u.uid, gid: u.gid, content: o.text });
      return 0;
    case 'unlink':
      if (node === undefined) return ENOENT;
      if (!allows(parent, u, 3)) return EACCES;
      if (node.type === 'dir') return EISDIR;
      m.delete(o.path);
      return 0;
    case 'rmdir':
      if (node === undefined) return ENOENT;
      if (!allows(parent, u, 3)) return EACCES;
      if (node.type !== 'dir') return ENOTDIR;
      if ([...m.keys()].some((k) => k.startsWith(`${o.path}/`))) return ENOTEMPTY;
      m.delete(o.path);
      return 0;
    case 'chmod':
      if (node === undefined) return ENOENT;
      if (u.uid !== 0 && u.uid !== node.uid) return EPERM;
      node.mode = o.mode;
      return 0;
    case 'cat':
      if (node === undefined) return ENOENT;
      if (!allows(node, u, 4)) return EACCES;
      if (node.type === 'dir') return EISDIR;
      return node.content;
  }
}

function real(s: SyncSys, o: Op): Errno | 0 | string {
  switch (o.op) {
    case 'mkdir': return s.sys_mkdir(o.path, o.mode);
    case 'write': {
      const fd = s.sys_open(o.path, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
      if (isErr(fd)) return fd;
      s.sys_write(fd, enc(o.text));
      return s.sys_close(fd);
    }
    case 'unlink': return s.sys_unlink(o.path);
    case 'rmdir': return s.sys_rmdir(o.path);
    case 'chmod': return s.sys_chmod(o.path, o.mode);
    case 'cat': {
      const fd = s.sys_open(o.path, O_RDONLY);
      if (isErr(fd)) return fd;
      const buf = new Uint8Array(256);
      const n = s.sys_read(fd, buf);
      s.sys_close(fd);
      return isErr(n) ? n : dec(buf.subarray(0, n));
    }
  }
}

const user = fc.integer({ min: 0, max: 3 });
const path = fc.constantFrom(...PATHS);
const mode = fc.constantFrom(0o755, 0o700, 0o777, 0o750, 0o644, 0o600, 0o711, 0o000);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('mkdir' as const), user, path, mode }),
  fc.record({ op: fc.constant('write' as const), user, path, text: fc.constantFrom('', 'x', 'hello', 'zz') }),
  fc.record({ op: fc.constant('unlink' as const), user, path }),
  fc.record({ op: fc.constant('rmdir' as const), user, path }),
  fc.record({ op: fc.constant('chmod' as const), user, path, mode }),
  fc.record({ op: fc.constant('cat' as const), user, path }),
);

interface Real {
  readonly h: Host;
  readonly procs: SyncSys[];
}

class Cmd implements fc.Command<Model, Real> {
  constructor(readonly o: Op) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const want = predict(m, this.o);
    const got = real(r.procs[this.o.user] as SyncSys, this.o);
    const show = (x: Errno | 0 | string): string => (typeof x === 'string' ? JSON.stringify(x) : x === 0 ? 'ok' : errnoName(x));
    expect(show(got), this.toString()).toBe(show(want));
  }
  toString(): string {
    return `${this.o.op}(${JSON.stringify(this.o).slice(1, -1)})`;
  }
}

function modelTree(m: Model, dir = '/'): TreeNode {
  const n = m.get(dir) as Node;
  const children: Record<string, TreeNode> = {};
  for (const [p, c] of m) {
    if (p === '/' || parentOf(p) !== dir) continue;
    const name = p.slice(p.lastIndexOf('/') + 1);
    children[name] = c.type === 'dir' ? modelTree(m, p) : { type: 'file', mode: c.mode, uid: c.uid, gid: c.gid, nlink: 1, size: c.content.length, content: c.content };
  }
  return { type: 'dir', mode: n.mode, uid: n.uid, gid: n.gid, nlink: 0, size: 0, children };
}

for (const t of TARGETS) {
  describe(`model-based test on ${t.name}`, () => {
    it('random syscalls by several users match the model, results and final tree', () => {
      const cmdArb: fc.Arbitrary<fc.Command<Model, Real>> = opArb.map((o) => new Cmd(o));
      fc.assert(fc.property(fc.commands([cmdArb], { maxCommands: 25 }), (cmds) => {
        const h = t.boot();
        const procs = USERS.map((u) => hostSys(h, h.process(`u${u.uid}`, u.uid, u.gid, [u.gid])));
        const m: Model = new Map([['/', { type: 'dir', mode: 0o755, uid: 0, gid: 0, content: '' }]]);
        fc.modelRun(() => ({ model: m, real: { h, procs } }), cmds);
        const root = h.process('inspect');
        const tree = h.run(root, snapshotTree(root, '/', { skip: ['lost+found', '.intermezzo'] }));
        if (isErr(tree)) throw new Error(`snapshot: ${errnoName(tree)}`);
        expect(tree).toEqual(modelTree(m));
      }), { numRuns: Number(process.env.MODEL_RUNS ?? 1000) });
    });
  });
}
