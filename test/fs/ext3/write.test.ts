/**
 * ext2 read-write: the command-language scripts whose answers Linux gave on a fresh ext2
 * (test/src/sh-scripts/*.linux) must give exactly those answers on ours, and the image afterwards
 * must pass Linux's e2fsck -fn. Random scripts must end with the same tree as ramfs and a clean fsck.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockDevice } from '../../../kernel/blkdev.ts';
import { isErr } from '../../../kernel/errno.ts';
import { sys_sync } from '../../../kernel/syscalls.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../../fs/ext3/super.ts';
import { World } from '../../../sim/host.ts';
import { formatStatus, parseScript, runScript } from '../../../src/sh.ts';
import { diffTrees, snapshotTree, type TreeNode } from '../../../src/tree.ts';
import { saveImage } from '../../../src/image.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';
import { script } from '../../support/scripts.ts';

const SCRIPTS = join(import.meta.dirname, '../../src/sh-scripts');

interface Run {
  readonly status: string;
  readonly tree: TreeNode;
  readonly dev: BlockDevice;
}

interface Flavour {
  readonly name: string;
  readonly journalBlocks: number;
  readonly data: string;
}
const FLAVOURS: readonly Flavour[] = [
  { name: 'ext2', journalBlocks: 0, data: '' },
  { name: 'ext3 data=ordered', journalBlocks: 1024, data: 'data=ordered' },
  { name: 'ext3 data=journal', journalBlocks: 1024, data: 'data=journal' },
  { name: 'ext3 data=writeback', journalBlocks: 1024, data: 'data=writeback' },
];

function runOnExt2(text: string, f: Flavour = FLAVOURS[0] as Flavour): Run {
  const dev = new BlockDevice({ name: 'hda', blockSize: 1024, blocks: 8192 });
  const geo = mkfs(dev, { blockSize: 1024, uuid: new Uint8Array(16).fill(1), time: 1_009_843_200, journalBlocks: f.journalBlocks });
  if (typeof geo === 'string') throw new Error(geo);
  const h = new World({ seed: 1 }).addHost('h');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', f.data);
  const parsed = parseScript(text);
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  const p = h.process('sh');
  const status = formatStatus(h.run(p, runScript(p, parsed.commands)));
  const q = h.process('inspect');
  const tree = h.run(q, snapshotTree(q, '/', { skip: ['lost+found'] }));
  if (isErr(tree)) throw new Error(`snapshot: ${tree}`);
  h.shutdown();
  return { status, tree, dev };
}

function fsckClean(dev: BlockDevice): void {
  const dir = mkdtempSync(join(tmpdir(), 'izo-w-'));
  try {
    const img = join(dir, 'fs.img');
    saveImage(img, dev);
    const r = e2fsck(img);
    expect(r.status, r.output).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runOnRamfs(text: string): TreeNode {
  const h = new World({ seed: 1 }).addHost('h');
  h.mountRoot('ramfs', null);
  const parsed = parseScript(text);
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  const p = h.process('sh');
  h.run(p, runScript(p, parsed.commands));
  const q = h.process('inspect');
  const tree = h.run(q, snapshotTree(q, '/'));
  if (isErr(tree)) throw new Error('snapshot');
  return tree;
}

describe('ext2 read-write', () => {
  for (const f of FLAVOURS) {
    for (const name of readdirSync(SCRIPTS).filter((x) => x.endsWith('.sh')).map((x) => x.slice(0, -3))) {
      it(`${f.name}, ${name}: Linux ext2's answers exactly, then e2fsck -fn clean`, () => {
        const r = runOnExt2(readFileSync(join(SCRIPTS, `${name}.sh`), 'utf8'), f);
        expect(r.status).toBe(readFileSync(join(SCRIPTS, `${name}.linux`), 'utf8'));
        fsckClean(r.dev);
      });
    }
    it(`${f.name}: random scripts end with the tree ramfs has, and a clean e2fsck (property)`, () => {
      fc.assert(fc.property(script, (text) => {
        const r = runOnExt2(text, f);
        expect(diffTrees(r.tree, runOnRamfs(text))).toEqual([]);
        fsckClean(r.dev);
      }), { numRuns: Number(process.env.EXT2_RUNS ?? 25) });
    });
  }

  it('renaming a directory within its parent keeps the parent\'s link count (found by the property below)', () => {
    const r = runOnExt2('mkdir /x\nmv /x /d\nmkdir /a\nmkdir /d/s\nmv /d/s /a/s\nmkdir /e\nmv /a /e');
    expect(r.status).toBe('ok\n'.repeat(7));
    fsckClean(r.dev);
  });

});

describe('ext2 running out of space', () => {
  function fill(script: string, blocks: number, inodes?: number): { status: string[]; dev: BlockDevice } {
    const dev = new BlockDevice({ name: 'hda', blockSize: 1024, blocks });
    const geo = mkfs(dev, { blockSize: 1024, uuid: new Uint8Array(16), time: 1_009_843_200, ...(inodes !== undefined ? { inodes } : {}) });
    if (typeof geo === 'string') throw new Error(geo);
    const h = new World({ seed: 1 }).addHost('h');
    h.registerFs(ext3_fs_type);
    h.addDisk('hda', dev);
    h.mountRoot('ext3', 'hda');
    const parsed = parseScript(script) as { commands: Parameters<typeof runScript>[1] };
    const p = h.process('sh');
    const status = formatStatus(h.run(p, runScript(p, parsed.commands))).trim().split('\n');
    h.run(p, sys_sync(p));
    return { status, dev };
  }

  it('returns ENOSPC when blocks run out, and the image stays clean', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `writeb /f${i} 20000 ${i + 1}`).join('\n');
    const { status, dev } = fill(lines, 512);
    expect(status).toContain('ENOSPC');
    expect(status[0]).toBe('ok');
    fsckClean(dev);
  });

  it('returns ENOSPC when inodes run out, and the image stays clean', () => {
    const lines = Array.from({ length: 40 }, (_, i) => `mkdir /d${i}`).join('\n');
    const { status, dev } = fill(lines, 1024, 16);
    expect(status.filter((s) => s === 'ENOSPC').length).toBeGreaterThan(30);
    fsckClean(dev);
  });
});

describe('ext2 big sparse files', () => {
  it('a file past the double-indirect range (triple indirect) round-trips, and e2fsck agrees', () => {
    // 1 KiB blocks: 12 direct + 256 + 65536 blocks end at 65804 KiB; write beyond that.
    const text = 'pwrite /big 70000000 far\npwrite /big 5000 near\nstat /big\ntruncate /big 80000000\nstat /big\ncat /small';
    const r = runOnExt2(`${text}\nwrite /small x`);
    expect(r.status.split('\n').slice(0, 3)).toEqual(['ok', 'ok', 'ok {"type":"file","mode":"0644","nlink":1,"size":70000003,"uid":0,"gid":0}']);
    const h = new World({ seed: 2 }).addHost('h2');
    h.registerFs(ext3_fs_type);
    h.addDisk('hda', r.dev);
    h.mountRoot('ext3', 'hda');
    const p = h.process('reader');
    const script = parseScript('cat /big') as { commands: Parameters<typeof runScript>[1] };
    const [res] = h.run(p, runScript(p, script.commands));
    const content = res?.output as string;
    expect(content.length).toBe(80_000_000);
    expect(content.slice(70_000_000, 70_000_003)).toBe('far');
    expect(content.slice(5000, 5004)).toBe('near');
    expect(content.slice(100_000, 100_010)).toBe('\0'.repeat(10));
    fsckClean(r.dev);
  });
});
