/**
 * Our recovery against Linux's: for many crash points of several workloads (the world stopped after
 * the device's N-th write, pending writes surviving at random), one copy of the crashed image is
 * recovered by e2fsck -fy, another by our mount-time recovery; both must give the same tree and
 * contents, and both must then pass e2fsck -fn.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlockDevice, PowerCut } from '../../../kernel/blkdev.ts';
import { isErr } from '../../../kernel/errno.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../../fs/ext3/super.ts';
import { World } from '../../../sim/host.ts';
import { Prng } from '../../../sim/prng.ts';
import { parseScript, runScript } from '../../../src/sh.ts';
import { diffTrees, snapshotTree, type TreeNode } from '../../../src/tree.ts';
import { loadImage, saveImage } from '../../../src/image.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';

const WORKLOADS = [
  'mkdir /d\nwrite /d/f hello\nfsync /d/f\nwriteb /d/big 20000 3\nsync\nrm /d/f\nmkdir /d/e\nmv /d/big /d/e/big\nsymlink /d/e /s',
  'writeb /a 3000 1\nmkdir /x\nln /a /x/a2\ntruncate /a 100\nsync\nwrite /x/b bee\nrmdir /x\nrm /x/a2\nrmdir /x\nwrite /c sea',
];

function fresh(): BlockDevice {
  const dev = new BlockDevice({ name: 'hda', blockSize: 1024, blocks: 8192 });
  const geo = mkfs(dev, { blockSize: 1024, uuid: new Uint8Array(16).fill(7), time: 1_009_843_200, journalBlocks: 1024 });
  if (typeof geo === 'string') throw new Error(geo);
  return dev;
}

/** Run the workload and stop the world after `cut` writes (null: to the end); the crash image. */
function crashAt(script: string, cut: number | null, seed: number): { dev: BlockDevice; writes: number } {
  const dev = fresh();
  const base = dev.stats.writes;
  if (cut !== null) dev.cutPowerAfterWrites(base + cut);
  const h = new World({ seed }).addHost('h');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  try {
    h.mountRoot('ext3', 'hda');
    const p = h.process('sh');
    const parsed = parseScript(script) as { commands: Parameters<typeof runScript>[1] };
    for (const c of parsed.commands) {
      h.run(p, runScript(p, [c]));
      h.world.sched.runFor(2_000_000);
    }
    h.shutdown();
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    return { dev: dev.crash({ random: Prng.fromSeed(seed).stream('crash') }), writes: dev.stats.writes - base };
  }
  return { dev, writes: dev.stats.writes - base };
}

function tree(dev: BlockDevice, data: string): TreeNode {
  const h = new World({ seed: 0 }).addHost('r');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', data);
  const p = h.process('inspect');
  const t = h.run(p, snapshotTree(p, '/', { dirSizes: true }));
  if (isErr(t)) throw new Error(`snapshot ${t}`);
  if (data !== 'ro') h.shutdown();
  return t;
}

describe('recovery agrees with e2fsck', () => {
  for (const [w, script] of WORKLOADS.entries()) {
    it(`workload ${w}: at many crash points, e2fsck -fy and our recovery give the same tree`, () => {
      const total = crashAt(script, null, 1).writes;
      expect(total).toBeGreaterThan(20);
      const dir = mkdtempSync(join(tmpdir(), 'izo-xc-'));
      try {
        const step = Math.max(1, Math.floor(total / 12));
        for (let cut = 1; cut < total; cut += step) {
          const crashed = crashAt(script, cut, cut);
          const theirs = join(dir, 'theirs.img');
          saveImage(theirs, crashed.dev);
          const fy = e2fsck(theirs, '-fy');
          expect(fy.status, `cut ${cut}: ${fy.output}`).toBeLessThanOrEqual(1);
          expect(e2fsck(theirs).status, `cut ${cut}: e2fsck -fn after its own recovery`).toBe(0);
          const ours = BlockDevice.fromBlocks({ name: 'hda', blockSize: 1024, blocks: 8192 }, crashed.dev.writtenBlocks());
          const ourTree = tree(ours, '');
          const oursPath = join(dir, 'ours.img');
          saveImage(oursPath, ours);
          expect(e2fsck(oursPath).status, `cut ${cut}: e2fsck -fn after our recovery`).toBe(0);
          const theirTree = tree(loadImage(theirs, 1024), 'ro');
          expect(diffTrees(theirTree, ourTree), `cut ${cut}`).toEqual([]);
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
