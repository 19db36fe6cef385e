import { describe, expect, it } from 'vitest';
import { BlockDevice } from '../../kernel/blkdev.ts';
import { BufferCache } from '../../kernel/buffer.ts';
import { EIO, isErr } from '../../kernel/errno.ts';
import { KernelPanic } from '../../kernel/assert.ts';

function setup() {
  const dev = new BlockDevice({ name: 'd', blockSize: 1024, blocks: 64, log: true });
  return { dev, cache: new BufferCache(dev) };
}

describe('buffer cache', () => {
  it('reads on a miss, serves hits from memory, one buffer per block', () => {
    const { dev, cache } = setup();
    dev.write(5, new Uint8Array(1024).fill(5));
    const a = cache.bread(5);
    const b = cache.bread(5);
    expect(a).toBe(b);
    if (typeof a === 'number') throw new Error('read failed');
    expect(a.data[0]).toBe(5);
    expect(cache.stats).toMatchObject({ misses: 1, hits: 1 });
    expect(dev.stats.reads).toBe(1);
  });

  it('writes dirty buffers back in block order, once', () => {
    const { dev, cache } = setup();
    for (const blk of [9, 3, 7]) {
      const bh = cache.getblk(blk);
      bh.data.fill(blk);
      cache.mark_buffer_dirty(bh);
      cache.brelse(bh);
    }
    expect(cache.sync_dirty_buffers()).toBe(0);
    expect(dev.log().filter((e) => e.op === 'write').map((e) => (e.op === 'write' ? e.blk : -1))).toEqual([3, 7, 9]);
    expect(cache.sync_dirty_buffers()).toBe(0);
    expect(cache.stats.writes).toBe(3);
  });

  it('passes EIO up from the device and keeps the buffer not up to date', () => {
    const { dev, cache } = setup();
    dev.setFaults({ readErrors: new Set([4]) });
    expect(cache.bread(4)).toBe(EIO);
    const failed = cache.getblk(4);
    expect(failed.uptodate).toBe(false); // the failed read left nothing to trust
    cache.brelse(failed);
    dev.setFaults({});
    const again = cache.bread(4);
    if (isErr(again)) throw new Error(`the read failed again: ${again}`);
    expect(again.uptodate).toBe(true);
    dev.setFaults({ writeErrors: new Set([6]) });
    const bh = cache.getblk(6);
    cache.mark_buffer_dirty(bh);
    expect(cache.sync_dirty_buffers()).toBe(EIO);
    expect(bh.dirty).toBe(true);
  });

  it('asserts references never go below zero; invalidate forgets only clean unused buffers', () => {
    const { cache } = setup();
    const bh = cache.getblk(1);
    cache.brelse(bh);
    expect(() => cache.brelse(bh)).toThrow(KernelPanic);
    const dirty = cache.getblk(2);
    cache.mark_buffer_dirty(dirty);
    cache.brelse(dirty);
    cache.invalidate();
    expect(cache.size).toBe(1);
  });
});
