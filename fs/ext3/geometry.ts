/**
 * geometry.ts: where ext2/ext3 keeps things on the disk, computed in one place (Linux: the
 * arithmetic ext3_fill_super and mke2fs each do inline).
 *
 * Layer: fs (ext3). Interface: `superblockLocation(blockSize, groupStart?)`, the block holding a
 * superblock and the byte offset of its 1024 bytes inside that block; `SUPERBLOCK_SIZE`. No I/O.
 * Invariants: the primary superblock is at byte 1024 of the device whatever the block size (block
 * 1 offset 0 for 1 KiB blocks, block 0 offset 1024 for larger ones); a backup in a later group
 * (sparse_super) starts that group's first block, at offset 0.
 */
import { SUPERBLOCK_OFFSET } from './ext3_fs.ts';

/** The superblock's length on disk, in bytes. */
export const SUPERBLOCK_SIZE = 1024;

/** A superblock's place: the block that holds it and the byte offset inside that block. */
export interface SuperblockLocation {
  readonly block: number;
  readonly offset: number;
}

/**
 * The primary superblock's location (no `groupStart`, or the first group's), or the backup at the
 * start of the group beginning at block `groupStart`.
 */
export function superblockLocation(blockSize: number, groupStart?: number): SuperblockLocation {
  const primary = { block: Math.floor(SUPERBLOCK_OFFSET / blockSize), offset: SUPERBLOCK_OFFSET % blockSize };
  if (groupStart === undefined || groupStart <= primary.block) return primary;
  return { block: groupStart, offset: 0 };
}
