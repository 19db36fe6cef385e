/**
 * Differential testing through the command language: random scripts give the same results and the
 * same final tree on every pair of targets. Today: ramfs against ramfs under the test filter (the
 * filter must change nothing users can see). ext2/ext3 join as targets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { World } from '../../sim/host.ts';
import { makeCountFilter } from '../support/countfilter.ts';
import { script } from '../support/scripts.ts';
import { asRamfs, linuxAnswer } from '../support/linux.ts';
import { ramfs_fs_type } from '../../fs/ramfs/inode.ts';
import { formatStatus, parseScript, runScript } from '../../src/sh.ts';
import { diffTrees, snapshotTree, type TreeNode } from '../../src/tree.ts';
import { isErr } from '../../kernel/errno.ts';

interface Outcome {
  readonly status: string;
  readonly tree: TreeNode;
}

function runOn(rootfs: 'ramfs' | 'filtered', text: string): Outcome {
  const w = new World({ seed: 1 });
  const h = w.addHost('h');
  if (rootfs === 'filtered') {
    const { type } = makeCountFilter(ramfs_fs_type);
    h.registerFs(type);
    h.mountRoot(type.name, null);
  } else {
    h.mountRoot('ramfs', null);
  }
  const parsed = parseScript(text);
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  const p = h.process('sh');
  const status = formatStatus(h.run(p, runScript(p, parsed.commands)));
  const root = h.process('inspect');
  const tree = h.run(root, snapshotTree(root, '/'));
  if (isErr(tree)) throw new Error(`snapshot failed: ${tree}`);
  return { status, tree };
}

describe('differential: ramfs vs ramfs under a filter', () => {
  it('same statuses and same final tree for random scripts', () => {
    fc.assert(fc.property(script, (text) => {
      const a = runOn('ramfs', text);
      const b = runOn('filtered', text);
      expect(b.status).toBe(a.status);
      expect(diffTrees(a.tree, b.tree)).toEqual([]);
    }), { numRuns: 150 });
  });
});



describe('differential: ramfs vs Linux ext2 (live, LINUX_ORACLE=1)', () => {
  it.runIf(process.env.LINUX_ORACLE === '1')('same statuses for random scripts', () => {
    fc.assert(fc.property(script, (text) => {
      expect(runOn('ramfs', text).status).toBe(asRamfs(linuxAnswer(text)));
    }), { numRuns: Number(process.env.LINUX_ORACLE_RUNS ?? 60) });
  });
});
