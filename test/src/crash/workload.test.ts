/**
 * The crash harness's pure parts (src/crash/workload.ts, states.ts, oracle.ts): the workload space
 * is numbered one to one; crash-state tokens round-trip; the model gives snapshotTree's shape.
 */
import { describe, expect, it } from 'vitest';
import { Model, treeDiff } from '../../../src/crash/oracle.ts';
import { formatState, parseState } from '../../../src/crash/states.ts';
import {
  describeWorkload, OPS, PERSIST, workloadAt, workloadCount, workloadLines,
} from '../../../src/crash/workload.ts';
import type { TreeNode } from '../../../src/tree.ts';

describe('workload space', () => {
  it('counts every sequence of 1..3 steps, and workloadAt is one to one', () => {
    const k = OPS.length * PERSIST.length;
    expect(workloadCount(1)).toBe(k);
    expect(workloadCount(2)).toBe(k + k * k);
    expect(workloadCount(3, 3)).toBe(k ** 3);
    const seen = new Set<string>();
    for (let i = 0; i < workloadCount(2); i++) seen.add(describeWorkload(workloadAt(i, 2)));
    expect(seen.size).toBe(workloadCount(2));
    expect(workloadAt(0, 2).length).toBe(1);
    expect(workloadAt(k, 2).length).toBe(2);
    expect(() => workloadAt(workloadCount(2), 2)).toThrow(RangeError);
  });

  it('covers every operation the issue names, each with every persistence point', () => {
    const kinds = OPS.map((o) => o.kind);
    for (const k of ['creat', 'mkdir', 'write', 'overwrite', 'append', 'pwrite-hole', 'link', 'unlink', 'rename-file',
      'rename-dir', 'truncate-shrink', 'truncate-extend', 'symlink', 'rmdir']) expect(kinds).toContain(k);
    expect(workloadLines(workloadAt(0, 1))).toEqual(["write /c ''", 'fsync /c']);
    expect(workloadLines(workloadAt(1, 1))).toEqual(["write /c ''", 'fsync /']);
    expect(workloadLines(workloadAt(2, 1))).toEqual(["write /c ''", 'sync']);
    expect(workloadLines(workloadAt(3, 1))).toEqual(["write /c ''"]);
  });
});

describe('crash-state tokens', () => {
  it('round-trip, and bad ones are refused with a sentence', () => {
    for (const s of [
      { n: 0, versions: [], torn: null },
      { n: 45, versions: [[12, 1], [40, 2]] as const, torn: null },
      { n: 9, versions: [], torn: { blk: 300, mask: 1 } },
    ]) expect(parseState(formatState(s))).toEqual(s);
    expect(typeof parseState('x45')).toBe('string');
  });
});

describe('the model', () => {
  const empty: TreeNode = { type: 'dir', mode: 0o755, uid: 0, gid: 0, nlink: 0, size: 0, children: {} };
  it('tracks hard links, renames onto targets, holes and truncation', () => {
    const m = Model.fromTree(empty);
    for (const [c, ...a] of [['write', '/a', 'hello'], ['mkdir', '/d'], ['ln', '/a', '/d/l'],
      ['pwrite', '/a', '8', 'x'],
      ['write', '/b', 'bee'], ['mv', '/b', '/d/l'], ['truncate', '/a', '2'], ['symlink', '/a', '/s']] as string[][]) {
      expect(m.apply(c as string, a), `${c} ${a.join(' ')}`).toBeNull();
    }
    const t = m.tree();
    expect(t.children?.a).toMatchObject({ type: 'file', nlink: 1, size: 2, content: 'he' });
    expect(t.children?.d?.children?.l).toMatchObject({ content: 'bee', nlink: 1 });
    expect(t.children?.s).toMatchObject({ type: 'symlink', target: '/a', size: 2 });
    expect(treeDiff(t, t, false)).toEqual([]);
    expect(m.apply('rmdir', ['/nope'])).not.toBeNull();
  });
});
