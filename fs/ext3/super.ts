/**
 * super.ts: mounting an ext2/ext3 file system: checking the superblock, reading the group
 * descriptors, and the super operations (Linux fs/ext3/super.c).
 *
 * Layer: fs (ext3). Interface: `ext3_fs_type` (mounted on a block device), `ext3_check_super(dev)`
 * (the superblock, or a sentence saying why this image cannot be mounted, naming the feature),
 * `EXT3_SB(sb)` for the private state; `markMeta(sb, bh, change)`, the one place a metadata buffer
 * changes (so the journal has a single hook), `markGroupDesc`, `ext3_write_super`. Mount options:
 * `ro`. An image with an incompatible feature we do not implement, or one that needs journal
 * recovery, is refused and never written. Inodes of any on-disk size are read and written (their
 * first 128 bytes are what ext2 defines; the rest is left as it was). The superblock's free counts
 * and the group descriptors are kept in memory and written back at sync and unmount.
 */
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { BufferCache, type BufferHead } from '../../kernel/buffer.ts';
import { d_alloc_root } from '../../kernel/dcache.ts';
import { EINVAL, EIO, isErr, type Errno } from '../../kernel/errno.ts';
import { MS_RDONLY, type FileSystemType, type StatFs, type SuperBlock, type SuperOperations } from '../../kernel/fs.ts';
import { iget } from '../../kernel/inode.ts';
import type { Sys } from '../../kernel/sched.ts';
import {
  decodeGroupDesc, decodeSuperblock, encodeGroupDesc, encodeSuperblock, EXT2_ROOT_INO, EXT2_SUPER_MAGIC, GROUP_DESC_SIZE, INCOMPAT_NAMES, INCOMPAT_RECOVER,
  RO_COMPAT_NAMES, SUPERBLOCK_OFFSET, SUPPORTED_INCOMPAT, SUPPORTED_RO_COMPAT, type GroupDesc, type Superblock,
} from './ext3_fs.ts';
import { ext3_delete_inode, ext3_read_inode, ext3_write_inode_op } from './inode.ts';
import './namei.ts'; // fills the directory operations table

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'ext3.mount': { dev: string; blocks: number; groups: number; readonly: boolean };
    'ext3.refused': { dev: string; reason: string };
    'ext3.new_inode': { dev: string; ino: number; group: number; dir: boolean };
    'ext3.free_inode': { dev: string; ino: number };
    'ext3.new_block': { dev: string; blk: number; group: number };
    'ext3.free_block': { dev: string; blk: number };
    'ext3.add_entry': { dev: string; dir: number; name: string; ino: number; blk: number; offset: number };
    'ext3.del_entry': { dev: string; dir: number; name: string };
  }
}

export interface Ext3SbInfo {
  readonly cache: BufferCache;
  readonly raw: Superblock;
  readonly descs: GroupDesc[];
  readonly blockSize: number;
  readonly groups: number;
  /** Block holding the superblock and the byte it starts at. */
  readonly sbBlock: number;
  readonly sbOffset: number;
  /** First block of the group descriptor table. */
  readonly gdtStart: number;
  nextGeneration: number;
}

/** Change a metadata buffer: the one place every on-disk structure is modified. */
export function markMeta(sb: SuperBlock, bh: BufferHead, change: () => void): void {
  change();
  EXT3_SB(sb).cache.mark_buffer_dirty(bh);
}

/** Write group `g`'s in-memory descriptor into the descriptor table buffer. */
export function markGroupDesc(sb: SuperBlock, g: number): 0 | Errno {
  const s = EXT3_SB(sb);
  const off = g * GROUP_DESC_SIZE;
  const bh = s.cache.bread(s.gdtStart + Math.floor(off / s.blockSize));
  if (isErr(bh)) return EIO;
  markMeta(sb, bh, () => encodeGroupDesc(bh.data, off % s.blockSize, s.descs[g] as GroupDesc));
  s.cache.brelse(bh);
  return 0;
}

export function ext3_write_super_now(sb: SuperBlock): 0 | Errno {
  const s = EXT3_SB(sb);
  const bh = s.cache.bread(s.sbBlock);
  if (isErr(bh)) return EIO;
  markMeta(sb, bh, () => encodeSuperblock(bh.data.subarray(s.sbOffset, s.sbOffset + 1024), s.raw));
  s.cache.brelse(bh);
  return 0;
}

function* ext3_sync_fs(sb: SuperBlock): Sys<0 | Errno> {
  const s = EXT3_SB(sb);
  if ((sb.s_flags & MS_RDONLY) !== 0) return 0;
  const r = ext3_write_super_now(sb);
  if (isErr(r)) return r;
  const w = s.cache.sync_dirty_buffers();
  if (isErr(w)) return w;
  return s.cache.dev.flush();
}

function* ext3_put_super(sb: SuperBlock): Sys<void> {
  const s = EXT3_SB(sb);
  if ((sb.s_flags & MS_RDONLY) === 0) {
    s.raw.state = 1;
    yield* ext3_sync_fs(sb);
  }
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
  write_inode: ext3_write_inode_op,
  delete_inode: ext3_delete_inode,
  statfs: ext3_statfs,
  sync_fs: ext3_sync_fs,
  put_super: ext3_put_super,
};

function* ext3_read_super(sb: SuperBlock, dev: BlockDevice | null, data: string): Sys<0 | Errno> {
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
  const options = data.split(',').filter((o) => o !== '');
  const unknown = options.filter((o) => o !== 'ro' && o !== 'rw');
  if (unknown.length > 0) {
    sb.s_kernel.tracer.emit('ext3.refused', { dev: dev.name, reason: `unknown mount options: ${unknown.join(', ')}` });
    return EINVAL;
  }
  const generation = sb.s_kernel.random?.u32() ?? 1;
  sb.s_fs_info = {
    cache, raw, descs, blockSize: dev.blockSize, groups, gdtStart,
    sbBlock: dev.blockSize === 1024 ? 1 : 0, sbOffset: dev.blockSize === 1024 ? 0 : SUPERBLOCK_OFFSET, nextGeneration: generation,
  } satisfies Ext3SbInfo;
  sb.s_blocksize = dev.blockSize;
  sb.s_magic = EXT2_SUPER_MAGIC;
  sb.s_time_gran = 1_000_000_000;
  sb.s_maxbytes = maxBytes(dev.blockSize);
  sb.s_op = ext3_super_operations;
  if (options.includes('ro')) sb.s_flags |= MS_RDONLY;
  const root = yield* iget(sb, EXT2_ROOT_INO);
  if (isErr(root)) return root;
  sb.s_root = d_alloc_root(root);
  sb.s_kernel.tracer.emit('ext3.mount', { dev: dev.name, blocks: raw.blocksCount, groups, readonly: (sb.s_flags & MS_RDONLY) !== 0 });
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
