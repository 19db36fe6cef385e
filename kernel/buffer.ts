/**
 * buffer.ts: the buffer cache: block-sized copies of a device's blocks, shared by everyone who
 * reads them (Linux fs/buffer.c).
 *
 * Layer: kernel, over the block device. Interface: `bread(blk)` returns the block's buffer, reading
 * it on a miss (EIO passes up); `getblk(blk)` the buffer without reading (for a block about to be
 * overwritten whole); `mark_buffer_dirty`, `brelse` (drop a reference), `sync_dirty_buffers`
 * (write back every dirty buffer in block order), `invalidate`. Statistics count hits, misses and
 * writes. JBD's hook: `b_jh`, a slot the journal owns (its journal head), opaque here; a buffer
 * with a journal head is written home only by the journal (its `dirty` bit is left clear until
 * the journal allows write-back).
 * Invariants: one buffer per block; a buffer's data is exactly one block; references never
 * go below zero.
 */
import { assert } from './assert.ts';
import type { BlockDevice } from './blkdev.ts';
import { isErr, type Errno } from './errno.ts';

export class BufferHead {
  /** References held by callers (bread/getblk take one, brelse drops it). */
  count = 0;
  dirty = false;
  uptodate = false;
  /** The journal's bookkeeping for this buffer (JBD's journal head), or null. */
  jh: unknown = null;
  constructor(
    readonly blk: number,
    readonly data: Uint8Array,
  ) {}
}

export interface BufferStats {
  hits: number;
  misses: number;
  writes: number;
}

export class BufferCache {
  private readonly buffers = new Map<number, BufferHead>();
  readonly stats: BufferStats = { hits: 0, misses: 0, writes: 0 };
  constructor(readonly dev: BlockDevice) {}

  get blockSize(): number {
    return this.dev.blockSize;
  }

  getblk(blk: number): BufferHead {
    let bh = this.buffers.get(blk);
    if (bh === undefined) {
      bh = new BufferHead(blk, new Uint8Array(this.dev.blockSize));
      this.buffers.set(blk, bh);
    }
    bh.count++;
    return bh;
  }

  bread(blk: number): BufferHead | Errno {
    const bh = this.getblk(blk);
    if (bh.uptodate) {
      this.stats.hits++;
      return bh;
    }
    this.stats.misses++;
    const r = this.dev.read(blk, bh.data);
    if (isErr(r)) {
      this.brelse(bh);
      return r;
    }
    bh.uptodate = true;
    return bh;
  }

  brelse(bh: BufferHead): void {
    assert(bh.count > 0, () => `brelse of block ${bh.blk} with no reference`);
    bh.count--;
  }

  mark_buffer_dirty(bh: BufferHead): void {
    bh.uptodate = true;
    bh.dirty = true;
  }

  /** Write one buffer home now if dirty. */
  write_buffer(bh: BufferHead): 0 | Errno {
    if (!bh.dirty) return 0;
    const r = this.dev.write(bh.blk, bh.data);
    if (isErr(r)) return r;
    bh.dirty = false;
    this.stats.writes++;
    return 0;
  }

  /** Write every dirty buffer, in block order; the first error is returned (others still tried). */
  sync_dirty_buffers(): 0 | Errno {
    let first: 0 | Errno = 0;
    const dirty = [...this.buffers.values()].filter((b) => b.dirty).sort((a, b) => a.blk - b.blk);
    for (const bh of dirty) {
      const r = this.write_buffer(bh);
      if (first === 0 && isErr(r)) first = r;
    }
    return first;
  }

  /** Forget clean, unreferenced buffers (after unmount, or to re-read after recovery). */
  invalidate(): void {
    for (const [blk, bh] of this.buffers) if (!bh.dirty && bh.count === 0 && bh.jh === null) this.buffers.delete(blk);
  }

  /** Buffers held in memory. */
  get size(): number {
    return this.buffers.size;
  }
}
