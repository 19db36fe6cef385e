/**
 * super.ts: mounting an ext2/ext3 file system: checking the superblock, reading the group
 * descriptors, and the super operations (Linux fs/ext3/super.c).
 *
 * Layer: fs (ext3). Interface: `ext3_fs_type` (mounted on a block device), `ext3_check_super(dev)`
 * (the superblock, or a sentence saying why this image cannot be mounted, naming the feature),
 * `EXT3_SB(sb)` for the private state. This stage mounts read-only: every change is refused with
 * EROFS by the VFS. An image with an incompatible feature we do not implement, or one that needs
 * journal recovery, is refused and never written. Inodes of any on-disk size are read (their first
 * 128 bytes are what ext2 defines).
 */
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { BufferCache } from '../../kernel/buffer.ts';
import { d_alloc_root } from '../../kernel/dcache.ts';
import { EINVAL, EIO, isErr, type Errno } from '../../kernel/errno.ts';
import { MS_RDONLY, type FileSystemType, type StatFs, type SuperBlock, type SuperOperations } from '../../kernel/fs.ts';
import { iget } from '../../kernel/inode.ts';
import type { Sys } from '../../kernel/sched.ts';
import {
  decodeGroupDesc, decodeSuperblock, EXT2_ROOT_INO, EXT2_SUPER_MAGIC, GROUP_DESC_SIZE, INCOMPAT_NAMES, INCOMPAT_RECOVER,
  RO_COMPAT_NAMES, SUPERBLOCK_OFFSET, SUPPORTED_INCOMPAT, SUPPORTED_RO_COMPAT, type GroupDesc, type Superblock,
} from './ext3_fs.ts';
import { ext3_read_inode } from './inode.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'ext3.mount': { dev: string; blocks: number; groups: number; readonly: boolean };
    'ext3.refused': { dev: string; reason: string };
  }
}

export interface Ext3SbInfo {
  readonly cache: BufferCache;
  readonly raw: Superblock;
  readonly descs: GroupDesc[];
  readonly blockSize: number;
  readonly groups: number;
}

export function EXT3_SB(sb: SuperBlock): Ext3SbInfo {
  return sb.s_fs_info as Ext3SbInfo;
}

function names(bits: number, table: Readonly<Record<number, string>>): string {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= bits; bit <<= 1) if ((bits & bit) !== 0) out.push(table[bit] ?? `0x${bit.toString(16)}`);
  return out.join(', ');
}

/** The superblock, or why the image cannot be mounted. Reads only. */
export function ext3_check_super(dev: BlockDevice): Superblock | string {
  const buf = new Uint8Array(dev.blockSize);
  const blk = dev.blockSize === 1024 ? 1 : 0;
  if (isErr(dev.read(blk, buf))) return 'I/O error reading the superblock';
  const raw = decodeSuperblock(dev.blockSize === 1024 ? buf : buf.subarray(SUPERBLOCK_OFFSET, SUPERBLOCK_OFFSET + 1024));
  if (raw.magic !== EXT2_SUPER_MAGIC) return `no ext2/ext3 superblock (magic 0x${raw.magic.toString(16)}, expected 0xef53)`;
  if (1024 << raw.logBlockSize !== dev.blockSize) return `the file system's block size is ${1024 << raw.logBlockSize}, the device's ${dev.blockSize}`;
  const badIncompat = raw.featureIncompat & ~SUPPORTED_INCOMPAT;
  if (badIncompat !== 0) return `unsupported incompatible features: ${names(badIncompat, INCOMPAT_NAMES)}`;
  const badRo = raw.featureRoCompat & ~SUPPORTED_RO_COMPAT;
  if (badRo !== 0) return `unsupported read-only-compatible features: ${names(badRo, RO_COMPAT_NAMES)}`;
  if ((raw.featureIncompat & INCOMPAT_RECOVER) !== 0) return 'the journal needs recovery (run izo recover first)';
  if (raw.inodeSize < 128 || (raw.inodeSize & (raw.inodeSize - 1)) !== 0) return `bad inode size ${raw.inodeSize}`;
  if (raw.blocksPerGroup === 0 || raw.inodesPerGroup === 0) return 'zero blocks or inodes per group';
  return raw;
}

function* ext3_statfs(sb: SuperBlock): Sys<StatFs | Errno> {
  const s = EXT3_SB(sb);
  const free = s.descs.reduce((n, d) => n + d.freeBlocksCount, 0);
  return {
    f_type: EXT2_SUPER_MAGIC, f_bsize: s.blockSize, f_blocks: s.raw.blocksCount, f_bfree: free,
    f_bavail: Math.max(0, free - s.raw.rBlocksCount), f_files: s.raw.inodesCount,
    f_ffree: s.descs.reduce((n, d) => n + d.freeInodesCount, 0), f_namelen: 255,
  };
}

export const ext3_super_operations: SuperOperations = {
  read_inode: ext3_read_inode,
  statfs: ext3_statfs,
};

function* ext3_read_super(sb: SuperBlock, dev: BlockDevice | null): Sys<0 | Errno> {
  if (dev === null) return EINVAL;
  const raw = ext3_check_super(dev);
  if (typeof raw === 'string') {
    sb.s_kernel.tracer.emit('ext3.refused', { dev: dev.name, reason: raw });
    return EINVAL;
  }
  const cache = new BufferCache(dev);
  const groups = Math.ceil((raw.blocksCount - raw.firstDataBlock) / raw.blocksPerGroup);
  const descs: GroupDesc[] = [];
  const gdtStart = raw.firstDataBlock + 1;
  for (let g = 0; g < groups; g++) {
    const off = g * GROUP_DESC_SIZE;
    const bh = cache.bread(gdtStart + Math.floor(off / dev.blockSize));
    if (isErr(bh)) return EIO;
    descs.push(decodeGroupDesc(bh.data, off % dev.blockSize));
    cache.brelse(bh);
  }
  sb.s_fs_info = { cache, raw, descs, blockSize: dev.blockSize, groups } satisfies Ext3SbInfo;
  sb.s_blocksize = dev.blockSize;
  sb.s_magic = EXT2_SUPER_MAGIC;
  sb.s_time_gran = 1_000_000_000;
  sb.s_maxbytes = maxBytes(dev.blockSize);
  sb.s_op = ext3_super_operations;
  sb.s_flags |= MS_RDONLY;
  const root = yield* iget(sb, EXT2_ROOT_INO);
  if (isErr(root)) return root;
  sb.s_root = d_alloc_root(root);
  sb.s_kernel.tracer.emit('ext3.mount', { dev: dev.name, blocks: raw.blocksCount, groups, readonly: true });
  return 0;
}

/** Largest file: what the 12 + 1 + 1 + 1 block tree reaches, capped by i_blocks' 32 bits. */
export function maxBytes(bs: number): number {
  const per = bs / 4;
  const blocks = 12 + per + per * per + per * per * per;
  return Math.min(blocks * bs, (2 ** 32 - 1) * 512) - 1;
}

export const ext3_fs_type: FileSystemType = { name: 'ext3', requiresDev: true, read_super: ext3_read_super };
export const ext2_fs_type: FileSystemType = { name: 'ext2', requiresDev: true, read_super: ext3_read_super };
