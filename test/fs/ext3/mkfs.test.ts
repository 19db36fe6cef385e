import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlockDevice, type BlockSize } from '../../../kernel/blkdev.ts';
import { geometry, mkfs } from '../../../fs/ext3/mkfs.ts';
import { saveImage } from '../../../src/image.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';


function make(bs: BlockSize, bytes: number, journalBlocks = 0): { dir: string; path: string } {
  const dev = new BlockDevice({ name: 'd', blockSize: bs, blocks: bytes / bs });
  const geo = mkfs(dev, { blockSize: bs, uuid: new Uint8Array(16).fill(0x42), time: 1_009_843_200, label: 'izo', journalBlocks });
  if (typeof geo === 'string') throw new Error(geo);
  const dir = mkdtempSync(join(tmpdir(), 'izo-mkfs-'));
  const path = join(dir, 'fs.img');
  saveImage(path, dev);
  return { dir, path };
}

describe('mkfs', () => {
  for (const [bs, mib] of [[1024, 1], [1024, 8], [2048, 8], [4096, 8], [1024, 64], [4096, 300]] as const) {
    it(`makes an ext2 that e2fsck -fn finds clean: ${mib} MiB, ${bs}-byte blocks`, () => {
      const { dir, path } = make(bs, mib << 20);
      try {
        const r = e2fsck(path);
        expect(r.status, r.output).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  for (const bs of [1024, 4096] as const) {
    it(`makes an ext3 with a journal e2fsck accepts: ${bs}-byte blocks`, () => {
      const { dir, path } = make(bs, 32 << 20, 1024);
      try {
        const r = e2fsck(path);
        expect(r.status, r.output).toBe(0);
        const h = execFileSync('dumpe2fs', ['-h', path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
        expect(h).toMatch(/features:\s+has_journal filetype sparse_super large_file/);
        expect(h).toMatch(/Journal size:\s+1024k|Total journal blocks:\s+1024/);
        expect(h).toMatch(/Filesystem volume name:\s+izo/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('computes several groups with sparse superblock backups, and refuses impossible sizes', () => {
    const g = geometry(64 << 10, 1024);
    if (typeof g === 'string') throw new Error(g);
    expect(g.groups).toBe(8);
    expect(g.layout.map((l) => l.hasSuper)).toEqual([true, true, false, true, false, true, false, true]);
    expect(typeof geometry(10, 1024)).toBe('string');
  });
});
