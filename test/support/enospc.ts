/**
 * enospc.ts: random system-call scripts that drive a small file system past full (fast-check
 * arbitraries and their interpreter), for the property that a failing call changes nothing.
 *
 * A script is a list of operations over a small set of names (a directory that grows past one
 * block, files written at offsets that need indirect blocks, slow symlinks, links, renames,
 * truncations, removals that free space again). `runOp` makes each system call through `call`,
 * which the property test wraps: it snapshots the state before every call and, when the call
 * fails, checks that nothing changed. The same scripts can drive any target (ext2, ext3, presto).
 */
import fc from 'fast-check';
import { O_APPEND, O_CREAT, O_WRONLY } from '../../kernel/fs.ts';
import type { SyncSys } from './boot.ts';

export type FsOp =
  | { readonly op: 'pwrite'; readonly path: string; readonly off: number; readonly len: number; readonly seed: number }
  | { readonly op: 'append'; readonly path: string; readonly len: number; readonly seed: number }
  | { readonly op: 'truncate'; readonly path: string; readonly size: number }
  | { readonly op: 'mkdir' | 'rmdir' | 'unlink'; readonly path: string }
  | { readonly op: 'symlink'; readonly len: number; readonly path: string }
  | { readonly op: 'link' | 'rename'; readonly from: string; readonly to: string };

/** Names: a few files, two directories, and long names that make /d grow block by block. */
const FILES = ['/a', '/b', '/c', '/d/x', '/d/e/y'];
const LONG = Array.from({ length: 24 }, (_, i) => `/d/${'n'.repeat(50)}${i}`);
export const ENOSPC_PATHS: readonly string[] = [...FILES, ...LONG, '/d', '/d/e', '/s'];
const file = fc.constantFrom(...FILES, ...LONG.slice(0, 6));
const anyName = fc.constantFrom(...FILES, ...LONG, '/s');
const dir = fc.constantFrom('/d', '/d/e');

export function fsOpArb(blockSize: number): fc.Arbitrary<FsOp> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.record({
      op: fc.constant('pwrite' as const), path: file,
      off: fc.oneof(fc.integer({ min: 0, max: 20_000 }), fc.integer({ min: 0, max: 4_000_000 })),
      len: fc.integer({ min: 1, max: 150_000 }), seed: fc.integer({ min: 1, max: 1000 }),
    }) },
    // Small writes far out: near full, the branch of indirect blocks they need runs out half way.
    { weight: 4, arbitrary: fc.record({
      op: fc.constant('pwrite' as const), path: file, off: fc.integer({ min: 12 * blockSize, max: 70_000 * blockSize }),
      len: fc.integer({ min: 1, max: 64 }), seed: fc.integer({ min: 1, max: 1000 }),
    }) },
    { weight: 2, arbitrary: fc.record({
      op: fc.constant('append' as const), path: file, len: fc.integer({ min: 1, max: 30_000 }), seed: fc.nat(1000),
    }) },
    { weight: 2, arbitrary: fc.record({
      op: fc.constant('truncate' as const), path: file, size: fc.integer({ min: 0, max: 400_000 }),
    }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constantFrom('mkdir' as const, 'rmdir' as const), path: dir }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('unlink' as const), path: anyName }) },
    { weight: 3, arbitrary: fc.record({
      op: fc.constant('symlink' as const), len: fc.integer({ min: 1, max: blockSize }), path: anyName,
    }) },
    { weight: 3, arbitrary: fc.record({
      op: fc.constantFrom('link' as const, 'rename' as const), from: anyName, to: anyName,
    }) },
  );
}

/** Deterministic bytes for a write (xorshift32 from `seed`). */
function bytes(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed | 1;
  for (let i = 0; i < len; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Makes one system call: `what` names it (for messages), `f` makes it and returns its result. */
export type Call = (what: string, f: () => number) => number;

/** Run one operation through `call`, one system call at a time. */
export function runOp(s: SyncSys, o: FsOp, call: Call): void {
  switch (o.op) {
    case 'pwrite':
    case 'append': {
      const flags = O_WRONLY | O_CREAT | (o.op === 'append' ? O_APPEND : 0);
      const how = `O_WRONLY|O_CREAT${o.op === 'append' ? '|O_APPEND' : ''}`;
      const fd = call(`open(${o.path}, ${how})`, () => s.sys_open(o.path, flags, 0o644));
      if (fd < 0) return;
      const data = bytes(o.len, o.seed);
      if (o.op === 'append') call(`write(${o.path}, ${o.len} bytes)`, () => s.sys_write(fd, data));
      else call(`pwrite(${o.path}, ${o.len} bytes, ${o.off})`, () => s.sys_pwrite(fd, data, o.off));
      call(`close(${o.path})`, () => s.sys_close(fd));
      return;
    }
    case 'truncate': call(`truncate(${o.path}, ${o.size})`, () => s.sys_truncate(o.path, o.size)); return;
    case 'mkdir': call(`mkdir(${o.path})`, () => s.sys_mkdir(o.path, 0o755)); return;
    case 'rmdir': call(`rmdir(${o.path})`, () => s.sys_rmdir(o.path)); return;
    case 'unlink': call(`unlink(${o.path})`, () => s.sys_unlink(o.path)); return;
    case 'symlink':
      call(`symlink(${o.len}-byte target, ${o.path})`, () => s.sys_symlink('t'.repeat(o.len), o.path));
      return;
    case 'link': call(`link(${o.from}, ${o.to})`, () => s.sys_link(o.from, o.to)); return;
    case 'rename': call(`rename(${o.from}, ${o.to})`, () => s.sys_rename(o.from, o.to));
  }
}
