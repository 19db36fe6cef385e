import { describe, expect, it } from 'vitest';
import { bootKernel, sys, enc } from '../support/boot.ts';
import { runSync } from '../../kernel/sched.ts';
import { diffTrees, snapshotTree, type TreeNode } from '../../src/tree.ts';
import { O_CREAT, O_WRONLY } from '../../kernel/fs.ts';

function build(extra: (s: ReturnType<typeof sys>) => void): TreeNode {
  const { root } = bootKernel();
  const s = sys(root);
  s.sys_mkdir('/d', 0o750);
  const fd = s.sys_open('/d/f', O_CREAT | O_WRONLY, 0o640) as number;
  s.sys_write(fd, enc('content'));
  s.sys_close(fd);
  s.sys_symlink('d/f', '/l');
  extra(s);
  const t = runSync(snapshotTree(root, '/'));
  if (typeof t === 'number') throw new Error(`snapshot failed: ${t}`);
  return t;
}

describe('tree snapshots', () => {
  it('captures types, modes, owners, contents and link targets', () => {
    const t = build(() => {});
    expect(t.children?.['d']?.type).toBe('dir');
    expect(t.children?.['d']?.mode).toBe(0o750);
    expect(t.children?.['d']?.children?.['f']).toMatchObject({ type: 'file', mode: 0o640, size: 7, content: 'content', nlink: 1 });
    expect(t.children?.['l']).toMatchObject({ type: 'symlink', target: 'd/f' });
  });

  it('finds no difference between equal trees and names each difference', () => {
    expect(diffTrees(build(() => {}), build(() => {}))).toEqual([]);
    const changed = build((s) => {
      s.sys_chmod('/d/f', 0o600);
      s.sys_mkdir('/extra', 0o755);
    });
    expect(diffTrees(build(() => {}), changed)).toEqual(['/d/f: mode 416 != 384', '/extra: only in the second tree']);
  });
});
