import fc from 'fast-check';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlockDevice, type BlockSize } from '../../kernel/blkdev.ts';
import { Prng } from '../../sim/prng.ts';
import { loadImage, saveImage, ImageError } from '../../src/image.ts';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'izo-img-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const blocksOf = (dev: BlockDevice): Array<[number, number[]]> => [...dev.writtenBlocks()].map(([b, d]) => [b, [...d]]);

describe('raw images', () => {
  it('saves sparsely and loads back the same blocks', () => {
    const dev = new BlockDevice({ name: 'd', blockSize: 4096, blocks: 65_536 });
    dev.write(7, new Uint8Array(4096).fill(7));
    dev.write(60_000, new Uint8Array(4096).fill(9));
    dev.write(61_000, new Uint8Array(4096)); // written, but zeros: a hole in the file
    const path = join(dir, 'a.img');
    saveImage(path, dev);
    expect(statSync(path).size).toBe(1 << 28);
    expect(statSync(path).blocks * 512).toBeLessThan(1 << 20); // sparse on disk
    const back = loadImage(path, 4096);
    expect([...back.writtenBlocks()].map(([b]) => b)).toEqual([7, 60_000]);
    expect(back.blocks).toBe(65_536);
    expect(back.storedBlocks).toBe(2);
    expect(back.pendingBlocks()).toEqual([]); // a loaded image is all durable
  });

  it('export then import is the identity, block for block (property)', () => {
    const op = fc.record({ blk: fc.nat({ max: 299 }), seed: fc.nat(), zero: fc.boolean(), flush: fc.boolean() });
    const bs = fc.constantFrom<BlockSize>(1024, 2048, 4096);
    let n = 0;
    fc.assert(fc.property(bs, fc.integer({ min: 1, max: 300 }), fc.array(op, { maxLength: 30 }), (blockSize, blocks, ops) => {
      const dev = new BlockDevice({ name: 'd', blockSize, blocks });
      for (const o of ops) {
        const data = new Uint8Array(blockSize);
        if (!o.zero) Prng.fromSeed(o.seed).fill(data);
        dev.write(o.blk % blocks, data);
        if (o.flush) dev.flush();
      }
      const path = join(dir, `p${n++}.img`);
      saveImage(path, dev);
      expect(statSync(path).size).toBe(blocks * blockSize);
      const back = loadImage(path, blockSize);
      expect(back.blocks).toBe(blocks);
      expect(Buffer.compare(back.toImage(), dev.toImage())).toBe(0);
      expect(blocksOf(back)).toEqual(blocksOf(dev).filter(([, d]) => d.some((x) => x !== 0)));
      const viaMemory = BlockDevice.fromImage({ name: 'm', blockSize }, dev.toImage());
      if (typeof viaMemory === 'number') throw new Error('fromImage refused a whole image');
      expect(blocksOf(viaMemory)).toEqual(blocksOf(back));
      rmSync(path);
    }), { numRuns: 40 });
  });

  it('names the file and the problem on bad input', () => {
    const missing = join(dir, 'missing.img');
    expect(() => loadImage(missing, 1024)).toThrow(ImageError);
    expect(() => loadImage(missing, 1024)).toThrow(`${missing}: cannot open image`);
    const odd = join(dir, 'odd.img');
    writeFileSync(odd, new Uint8Array(1000));
    expect(() => loadImage(odd, 1024)).toThrow(`${odd}: size 1000 is not a positive multiple of the block size 1024`);
    const empty = join(dir, 'empty.img');
    writeFileSync(empty, new Uint8Array(0));
    expect(() => loadImage(empty, 1024)).toThrow(`${empty}: size 0 is not a positive multiple`);
    expect(() => loadImage(odd, 1000)).toThrow(`${odd}: block size must be 1024, 2048 or 4096, not 1000`);
    const aDir = join(dir, 'a-directory');
    mkdirSync(aDir);
    const dev = new BlockDevice({ name: 'd', blockSize: 1024, blocks: 4 });
    expect(() => saveImage(aDir, dev)).toThrow(`${aDir}: cannot write image`);
  });
});
