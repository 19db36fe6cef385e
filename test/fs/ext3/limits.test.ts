/**
 * Sizes and names at their limits on our ext3, for 1, 2 and 4 KiB blocks (issue 19): the unit-level
 * regression tests beside the conformance table (test/conformance/limits-cases.json, checked
 * against the real kernel). s_maxbytes is Linux 2.4's ext3_max_size: 12 + b + b^2 + b^3 blocks of
 * b = blocksize/4 pointers, capped one block below 2^32 512-byte sectors. A write that starts
 * below it succeeds (cut at it), one at or past it is EFBIG (generic_file_write); a truncate to it
 * succeeds, one byte past is EFBIG (vmtruncate). A symlink target plus its NUL must fit one block
 * (ext3_symlink: `l > blocksize` is ENAMETOOLONG). Every image left behind must pass e2fsck -fn
 * (a target that did not fit would be "Symlink ... is invalid"; a size past the tree, "bad size").
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockDevice, type BlockSize } from '../../../kernel/blkdev.ts';
import { EFBIG, ENAMETOOLONG } from '../../../kernel/errno.ts';
import { O_CREAT, O_RDWR, type Stat } from '../../../kernel/fs.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { ext3_fs_type, maxBytes } from '../../../fs/ext3/super.ts';
import { World, type Host } from '../../../sim/host.ts';
import { saveImage } from '../../../src/image.ts';
import { enc, hostSys, type SyncSys } from '../../support/boot.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';

const work = mkdtempSync(join(tmpdir(), 'izo-ext3-limits-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Linux 2.4's s_maxbytes per block size, worked out by hand (fs/ext3/super.c, ext3_max_size). */
const LINUX_MAX: Record<BlockSize, number> = {
  1024: (12 + 256 + 256 ** 2 + 256 ** 3) * 1024, // 17247252480: the block tree
  2048: (12 + 512 + 512 ** 2 + 512 ** 3) * 2048, // 275415851008: the block tree
  4096: 2 ** 41 - 4096, // 2199023251456: 2^32 sectors less one block (the tree reaches 4 TiB)
};
const SIZES: readonly BlockSize[] = [1024, 2048, 4096];

function boot(bs: BlockSize): { h: Host; s: SyncSys; dev: BlockDevice } {
  const dev = new BlockDevice({ name: 'hda', blockSize: bs, blocks: (8 << 20) / bs });
  const geo = mkfs(dev, { blockSize: bs, uuid: new Uint8Array(16).fill(7), time: 1_009_843_200, journalBlocks: 1024 });
  if (typeof geo === 'string') throw new Error(geo);
  const h = new World({ seed: 1 }).addHost('t');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', '');
  return { h, s: hostSys(h, h.process('t')), dev };
}

/** Unmount cleanly and require e2fsck -fn to find the image clean. */
function fsckClean(h: Host, dev: BlockDevice, name: string): void {
  h.shutdown();
  const img = join(work, `${name}.img`);
  saveImage(img, dev);
  const r = e2fsck(img);
  expect(r.status, r.output).toBe(0);
}

function sizeOf(s: SyncSys, path: string): number {
  return (s.sys_stat(path) as Stat).st_size;
}

for (const bs of SIZES) {
  const max = LINUX_MAX[bs];
  describe(`${bs / 1024} KiB blocks`, () => {
    it(`s_maxbytes is Linux 2.4's ${max}`, () => {
      expect(maxBytes(bs)).toBe(max);
      const { h, s, dev } = boot(bs);
      expect(s.sys_statfs('/')).toMatchObject({ f_bsize: bs });
      fsckClean(h, dev, `max-${bs}`);
    });

    it(`a ${bs - 1}-byte symlink target fits; ${bs} and ${bs + 1} bytes are ENAMETOOLONG`, () => {
      const { h, s, dev } = boot(bs);
      expect(s.sys_symlink('t'.repeat(bs - 1), '/longest')).toBe(0);
      expect(s.sys_readlink('/longest')).toBe('t'.repeat(bs - 1));
      expect(s.sys_symlink('t'.repeat(bs), '/toolong')).toBe(ENAMETOOLONG);
      expect(s.sys_symlink('t'.repeat(bs + 1), '/toolong')).toBe(ENAMETOOLONG);
      // The longest target a path may name (PATH_MAX less its NUL) fits only a 4 KiB block.
      expect(s.sys_symlink('t'.repeat(4095), '/pathmax')).toBe(bs === 4096 ? 0 : ENAMETOOLONG);
      if (bs === 4096) expect(s.sys_readlink('/pathmax')).toBe('t'.repeat(4095));
      fsckClean(h, dev, `symlink-${bs}`);
    });

    it(`pwrite at max-1 writes (cut to one byte), at max and max+1 is EFBIG`, () => {
      const { h, s, dev } = boot(bs);
      const fd = s.sys_open('/f', O_RDWR | O_CREAT, 0o644) as number;
      expect(s.sys_pwrite(fd, enc('x'), max + 1)).toBe(EFBIG);
      expect(s.sys_pwrite(fd, enc('x'), max)).toBe(EFBIG);
      expect(sizeOf(s, '/f')).toBe(0);
      expect(s.sys_pwrite(fd, enc('xy'), max - 1)).toBe(1);
      expect(sizeOf(s, '/f')).toBe(max);
      expect(s.sys_pwrite(fd, enc('z'), max - 2)).toBe(1);
      expect(s.sys_pwrite(fd, enc(''), max)).toBe(0);
      expect(s.sys_close(fd)).toBe(0);
      fsckClean(h, dev, `write-${bs}`);
    });

    it(`truncate to max-1 and max succeeds, to max+1 is EFBIG and changes nothing`, () => {
      const { h, s, dev } = boot(bs);
      const fd = s.sys_open('/f', O_RDWR | O_CREAT, 0o644) as number;
      expect(s.sys_ftruncate(fd, max - 1)).toBe(0);
      expect(sizeOf(s, '/f')).toBe(max - 1);
      expect(s.sys_ftruncate(fd, max)).toBe(0);
      expect(sizeOf(s, '/f')).toBe(max);
      expect(s.sys_ftruncate(fd, max + 1)).toBe(EFBIG);
      expect(s.sys_truncate('/f', max + 1)).toBe(EFBIG);
      expect(sizeOf(s, '/f')).toBe(max);
      expect(s.sys_close(fd)).toBe(0);
      expect(s.sys_truncate('/f', max - 1)).toBe(0);
      expect(s.sys_truncate('/f', max)).toBe(0);
      expect(sizeOf(s, '/f')).toBe(max);
      fsckClean(h, dev, `truncate-${bs}`);
    });
  });
}
