import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlockDevice } from '../../kernel/blkdev.ts';
import { loadImage, saveImage, ImageError } from '../../src/image.ts';

describe('raw images', () => {
  it('saves sparsely and loads back the same blocks', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-img-'));
    try {
      const dev = new BlockDevice({ name: 'd', blockSize: 4096, blocks: 65_536 });
      dev.write(7, new Uint8Array(4096).fill(7));
      dev.write(60_000, new Uint8Array(4096).fill(9));
      const path = join(dir, 'a.img');
      saveImage(path, dev);
      expect(statSync(path).size).toBe(1 << 28);
      expect(statSync(path).blocks * 512).toBeLessThan(1 << 20); // sparse on disk
      const back = loadImage(path, 4096);
      expect([...back.writtenBlocks()].map(([b]) => b)).toEqual([7, 60_000]);
      expect(back.blocks).toBe(65_536);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the file and the problem on bad input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-img-'));
    try {
      expect(() => loadImage(join(dir, 'missing.img'), 1024)).toThrow(/missing\.img: cannot open image/);
      writeFileSync(join(dir, 'odd.img'), new Uint8Array(1000));
      expect(() => loadImage(join(dir, 'odd.img'), 1024)).toThrow(ImageError);
      expect(() => loadImage(join(dir, 'odd.img'), 1000)).toThrow(/block size must be/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
