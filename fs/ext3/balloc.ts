/**
 * balloc.ts: block allocation (Linux fs/ext3/balloc.c).
 *
 * Layer: fs (ext3). Interface: `ext3_new_block(sb, goal)` finds a free block, preferring the goal's
 * group and the blocks just after the goal, marks it in the group's bitmap and counts it in the
 * group descriptor and superblock; ENOSPC (and nothing changed) when none is left;
 * `ext3_free_block(sb, blk)` undoes that. Bitmap, descriptor and superblock changes go through
 * `markMeta`, the single place a metadata buffer is changed (the journal hooks in there).
 * `ext3_allocatable_blocks(sb)` counts the free blocks an allocation can take now (a block freed by
 * a transaction that has not committed cannot be reused yet). A filter stacked on ext3 (presto) may
 * hold back blocks for its logs (`Ext3SbInfo.reserved`): an ordinary allocation never takes the
 * last `reserved` allocatable blocks; only inodes marked `fromReserve` (presto's log files) may.
 * Invariants: a block is set in its bitmap exactly while allocated; free counts equal the bitmaps.
 * A bitmap that breaks them was damaged on disk: ext3_error (EUCLEAN), never a panic.
 */
import { EIO, ENOSPC, isErr, type Errno } from '../../kernel/errno.ts';
import type { SuperBlock } from '../../kernel/fs.ts';
import { bh2jh } from '../jbd/transaction.ts';
import { EXT3_SB, ext3_error, markBitmap, markGroupDesc } from './super.ts';

function groupOf(sb: SuperBlock, blk: number): number {
  const s = EXT3_SB(sb);
  return Math.floor((blk - s.raw.firstDataBlock) / s.raw.blocksPerGroup);
}

function groupSize(sb: SuperBlock, g: number): number {
  const s = EXT3_SB(sb);
  return Math.min(s.raw.blocksPerGroup, s.raw.blocksCount - s.raw.firstDataBlock - g * s.raw.blocksPerGroup);
}

/**
 * The first bit in [from, n) clear in `bits` and, if given, in `committed` (the bitmap as of the last
 * commit: a block freed by a transaction that has not committed must not be reused yet), or -1.
 */
export function findClear(bits: Uint8Array, from: number, n: number, committed: Uint8Array | null = null): number {
  for (let i = from; i < n; i++) {
    if ((i & 7) === 0 && bits[i >> 3] === 0xff && i + 8 <= n) {
      i += 7;
      continue;
    }
    if ((((bits[i >> 3] as number) >> (i & 7)) & 1) !== 0) continue;
    if (committed !== null && (((committed[i >> 3] as number) >> (i & 7)) & 1) !== 0) continue;
    return i;
  }
  return -1;
}

/** Bits set in `committed` but clear in `bits`: blocks freed since the last commit. */
export function freedSinceCommit(bits: Uint8Array, committed: Uint8Array): number {
  // Counted a 32-bit word at a time where both buffers allow it (this runs for every allocation
  // and every presto space check, and a bitmap block is mostly words with nothing freed).
  const words = bits.length >>> 2;
  if (bits.byteOffset % 4 !== 0 || committed.byteOffset % 4 !== 0) return freedBytes(bits, committed, 0);
  const b = new Uint32Array(bits.buffer, bits.byteOffset, words);
  const c = new Uint32Array(committed.buffer, committed.byteOffset, words);
  let n = 0;
  for (let i = 0; i < words; i++) {
    let x = ((c[i] as number) & ~(b[i] as number)) >>> 0;
    if (x === 0) continue;
    x -= (x >>> 1) & 0x55555555;
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
    n += (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
  }
  return n + freedBytes(bits, committed, words << 2);
}

/** The same count, a byte at a time, from byte `from` on. */
function freedBytes(bits: Uint8Array, committed: Uint8Array, from: number): number {
  let n = 0;
  for (let i = from; i < bits.length; i++) {
    let x = (committed[i] as number) & ~(bits[i] as number) & 0xff;
    for (; x !== 0; x &= x - 1) n++;
  }
  return n;
}

/** Free blocks an allocation can take now: free, and not freed by a transaction still uncommitted. */
export function ext3_allocatable_blocks(sb: SuperBlock): number {
  const s = EXT3_SB(sb);
  let n = 0;
  for (const desc of s.descs) {
    n += desc.freeBlocksCount;
    // Only a bitmap a running or committing transaction changed keeps a committed copy; no I/O here.
    const bh = s.cache.getblk(desc.blockBitmap);
    const committed = bh2jh(bh)?.committedData ?? null;
    if (committed !== null) n -= freedSinceCommit(bh.data, committed);
    s.cache.brelse(bh);
  }
  return n;
}

/** Whether `blk` is one of group `g`'s bitmaps or inode table blocks (Linux's "system zone"). */
function inSystemZone(sb: SuperBlock, g: number, blk: number): boolean {
  const s = EXT3_SB(sb);
  const d = s.descs[g];
  if (d === undefined) return false;
  const tableBlocks = Math.ceil((s.raw.inodesPerGroup * s.raw.inodeSize) / s.blockSize);
  return blk === d.blockBitmap || blk === d.inodeBitmap || (blk >= d.inodeTable && blk < d.inodeTable + tableBlocks);
}

/** A block near `goal`; `fromReserve`: the allocation may take the blocks held back (presto's logs). */
export function ext3_new_block(sb: SuperBlock, goal: number, fromReserve = false): number | Errno {
  const s = EXT3_SB(sb);
  if (!fromReserve && s.reserved > 0 && ext3_allocatable_blocks(sb) <= s.reserved) return ENOSPC;
  const start = goal >= s.raw.firstDataBlock && goal < s.raw.blocksCount ? groupOf(sb, goal) : 0;
  for (let k = 0; k < s.groups; k++) {
    const g = (start + k) % s.groups;
    const desc = s.descs[g];
    if (desc === undefined || desc.freeBlocksCount === 0) continue;
    const bh = s.cache.bread(desc.blockBitmap);
    if (isErr(bh)) return EIO;
    const n = groupSize(sb, g);
    const from = k === 0 ? goal - s.raw.firstDataBlock - g * s.raw.blocksPerGroup : 0;
    const committed = bh2jh(bh)?.committedData ?? null;
    let bit = findClear(bh.data, Math.max(0, from), n, committed);
    if (bit < 0 && from > 0) bit = findClear(bh.data, 0, n, committed);
    if (bit < 0) {
      s.cache.brelse(bh);
      continue;
    }
    const found = s.raw.firstDataBlock + g * s.raw.blocksPerGroup + bit;
    if (inSystemZone(sb, g, found)) {
      // A bitmap that calls the group's own bitmaps or inode table free is damaged.
      s.cache.brelse(bh);
      return ext3_error(sb, 'ext3_new_block', `Allocating block in system zone - block = ${found}`);
    }
    markBitmap(sb, bh, () => {
      bh.data[bit >> 3] = (bh.data[bit >> 3] as number) | (1 << (bit & 7));
    });
    s.cache.brelse(bh);
    desc.freeBlocksCount--;
    s.raw.freeBlocksCount--;
    markGroupDesc(sb, g);
    const blk = s.raw.firstDataBlock + g * s.raw.blocksPerGroup + bit;
    sb.s_kernel.tracer.emit('ext3.new_block', { dev: s.cache.dev.name, blk, group: g });
    return blk;
  }
  return ENOSPC;
}

/**
 * Free `blk`. A block number read from a damaged inode (outside the data zone, or one of the
 * group's own metadata blocks) or a bit already clear is ext3_error, as in Linux's
 * ext3_free_blocks: the block is left alone and the caller goes on (0: a truncate finishes).
 */
export function ext3_free_block(sb: SuperBlock, blk: number): 0 | Errno {
  const s = EXT3_SB(sb);
  const g = groupOf(sb, blk);
  const desc = s.descs[g];
  if (desc === undefined || blk < s.raw.firstDataBlock || blk >= s.raw.blocksCount || inSystemZone(sb, g, blk)) {
    ext3_error(sb, 'ext3_free_blocks', `Freeing blocks not in datazone - block = ${blk}, count = 1`);
    return 0;
  }
  const bit = blk - s.raw.firstDataBlock - g * s.raw.blocksPerGroup;
  const bh = s.cache.bread(desc.blockBitmap);
  if (isErr(bh)) return EIO;
  if ((((bh.data[bit >> 3] as number) >> (bit & 7)) & 1) === 0) {
    s.cache.brelse(bh);
    ext3_error(sb, 'ext3_free_blocks', `bit already cleared for block ${blk}`);
    return 0;
  }
  markBitmap(sb, bh, () => {
    bh.data[bit >> 3] = (bh.data[bit >> 3] as number) & ~(1 << (bit & 7));
  });
  s.cache.brelse(bh);
  desc.freeBlocksCount++;
  s.raw.freeBlocksCount++;
  markGroupDesc(sb, g);
  sb.s_kernel.tracer.emit('ext3.free_block', { dev: s.cache.dev.name, blk });
  return 0;
}
