/**
 * mkfs.ts: making an ext2 or ext3 file system on a block device (counterpart of e2fsprogs' mke2fs).
 *
 * Layer: fs (ext3). Interface: `geometry(blocks, blockSize, inodes?)` computes the layout;
 * `mkfs(dev, options)` writes it and returns the geometry, or a message saying why it cannot.
 * What it writes, so that Linux's own tools accept the image: revision 1, 128-byte inodes, first
 * inode 11; features filetype (incompat), sparse_super and large_file (ro_compat), and with a
 * journal has_journal (compat), a JBD v2 journal in inode 8 with its block map backed up in the
 * superblock (s_jnl_blocks), as mke2fs does. No dir_index, resize_inode or ext_attr.
 * Block groups of 8 x blocksize blocks; superblock and descriptor backups in groups 0, 1 and powers
 * of 3, 5, 7; per group a block bitmap, an inode bitmap and the inode table; bitmap padding bits
 * set. The root directory (inode 2) and lost+found (inode 11, 12 KiB on 1 KiB blocks, 16 KiB
 * otherwise, as mke2fs makes it); 5% of blocks reserved for root. Times come from the caller
 * (simulated time), the uuid from the caller's randomness.
 */
import type { BlockDevice, BlockSize } from '../../kernel/blkdev.ts';
import { isErr } from '../../kernel/errno.ts';
import { journal_create } from '../jbd/journal.ts';
import {
  COMPAT_HAS_JOURNAL, decodeSuperblock, EXT2_N_BLOCKS, EXT2_ROOT_INO, EXT2_SUPER_MAGIC, EXT2_VALID_FS, encodeGroupDesc,
  encodeInode, encodeSuperblock, EXT3_JOURNAL_INO, FT_DIR, GOOD_OLD_INODE_SIZE, GROUP_DESC_SIZE, groupHasSuper,
  INCOMPAT_FILETYPE, RO_COMPAT_LARGE_FILE, RO_COMPAT_SPARSE_SUPER, writeDirEntry, type GroupDesc,
  type RawInode, type Superblock,
} from './ext3_fs.ts';
import { superblockLocation, SUPERBLOCK_SIZE } from './geometry.ts';

export const LOST_AND_FOUND_INO = 11;

export interface GroupLayout {
  readonly start: number;
  readonly size: number;
  readonly hasSuper: boolean;
  readonly blockBitmap: number;
  readonly inodeBitmap: number;
  readonly inodeTable: number;
  /** First block after the group's metadata. */
  readonly firstData: number;
}

export interface Geometry {
  readonly blockSize: BlockSize;
  readonly blocks: number;
  readonly firstDataBlock: number;
  readonly blocksPerGroup: number;
  readonly groups: number;
  readonly inodesPerGroup: number;
  readonly inodeTableBlocks: number;
  readonly gdtBlocks: number;
  readonly layout: readonly GroupLayout[];
}

export interface MkfsOptions {
  readonly blockSize: BlockSize;
  /** Blocks to use (default: the whole device). */
  readonly blocks?: number;
  readonly inodes?: number;
  readonly label?: string;
  readonly uuid: Uint8Array;
  /** Creation time, seconds since 1970 (the simulated clock's). */
  readonly time: number;
  /** Journal length in blocks; 0 or absent makes ext2. */
  readonly journalBlocks?: number;
}

function defaultInodes(blocks: number, bs: number): number {
  const bytes = blocks * bs;
  const ratio = bytes < 3 << 20 ? 8192 : bytes < 512 << 20 ? 4096 : 16384;
  return Math.max(16, Math.floor(bytes / ratio));
}

export function geometry(blocksIn: number, bs: BlockSize, inodesIn?: number): Geometry | string {
  const firstDataBlock = bs === 1024 ? 1 : 0;
  const bpg = 8 * bs;
  let blocks = blocksIn;
  if (blocks < 64) return `${blocks} blocks is too small for a file system (64 at least)`;
  let groups = Math.ceil((blocks - firstDataBlock) / bpg);
  const perBlock = bs / GOOD_OLD_INODE_SIZE;
  const inodes = inodesIn ?? defaultInodes(blocks, bs);
  const ipgFor = (g: number): number => {
    let ipg = Math.max(16, Math.ceil(inodes / g));
    ipg = Math.ceil(ipg / perBlock) * perBlock;
    ipg = Math.ceil(ipg / 8) * 8;
    return Math.min(ipg, bpg);
  };
  let ipg = ipgFor(groups);
  let itb = (ipg * GOOD_OLD_INODE_SIZE) / bs;
  let gdtBlocks = Math.ceil((groups * GROUP_DESC_SIZE) / bs);
  // A last group too small for its own metadata and some data is dropped, as mke2fs does.
  const lastSize = blocks - firstDataBlock - (groups - 1) * bpg;
  if (groups > 1 && lastSize < 2 + itb + (groupHasSuper(groups - 1, true) ? 1 + gdtBlocks : 0) + 50) {
    blocks -= lastSize;
    groups--;
    ipg = ipgFor(groups);
    itb = (ipg * GOOD_OLD_INODE_SIZE) / bs;
    gdtBlocks = Math.ceil((groups * GROUP_DESC_SIZE) / bs);
  }
  const layout: GroupLayout[] = [];
  for (let g = 0; g < groups; g++) {
    const start = firstDataBlock + g * bpg;
    const size = Math.min(bpg, blocks - start);
    const hasSuper = groupHasSuper(g, true);
    const blockBitmap = start + (hasSuper ? 1 + gdtBlocks : 0);
    const firstData = blockBitmap + 2 + itb;
    if (firstData >= start + size) return `block group ${g} (${size} blocks) cannot hold its own metadata`;
    layout.push({ start, size, hasSuper, blockBitmap, inodeBitmap: blockBitmap + 1, inodeTable: blockBitmap + 2, firstData });
  }
  return { blockSize: bs, blocks, firstDataBlock, blocksPerGroup: bpg, groups, inodesPerGroup: ipg, inodeTableBlocks: itb, gdtBlocks, layout };
}

/** In-memory bitmaps while building. */
class Builder {
  readonly blockUsed: Uint8Array[];
  readonly inodeUsed: Uint8Array[];
  readonly dirs: number[];
  constructor(readonly geo: Geometry) {
    this.blockUsed = geo.layout.map((l) => {
      const bits = new Uint8Array(geo.blockSize);
      for (let b = l.start; b < l.firstData; b++) setBit(bits, b - l.start);
      for (let i = l.size; i < geo.blockSize * 8; i++) setBit(bits, i); // padding past the group's end
      return bits;
    });
    this.inodeUsed = geo.layout.map(() => {
      const bits = new Uint8Array(geo.blockSize);
      for (let i = geo.inodesPerGroup; i < geo.blockSize * 8; i++) setBit(bits, i);
      return bits;
    });
    this.dirs = geo.layout.map(() => 0);
  }
  /** The lowest free block from `goal` on. */
  allocBlock(goal = this.geo.firstDataBlock): number {
    for (let b = goal; b < this.geo.blocks; b++) {
      const g = Math.floor((b - this.geo.firstDataBlock) / this.geo.blocksPerGroup);
      const l = this.geo.layout[g] as GroupLayout;
      const bits = this.blockUsed[g] as Uint8Array;
      if (!testBit(bits, b - l.start)) {
        setBit(bits, b - l.start);
        return b;
      }
    }
    throw new Error('mkfs: out of blocks');
  }
  useInode(ino: number): void {
    const g = Math.floor((ino - 1) / this.geo.inodesPerGroup);
    setBit(this.inodeUsed[g] as Uint8Array, (ino - 1) % this.geo.inodesPerGroup);
  }
}

function setBit(b: Uint8Array, i: number): void {
  b[i >> 3] = (b[i >> 3] as number) | (1 << (i & 7));
}
export function testBit(b: Uint8Array, i: number): boolean {
  return (((b[i >> 3] as number) >> (i & 7)) & 1) === 1;
}
function countFree(bits: Uint8Array, n: number): number {
  let free = 0;
  for (let i = 0; i < n; i++) if (!testBit(bits, i)) free++;
  return free;
}

/** Map `data` (logical order) into i_block, allocating indirect blocks; returns blocks written. */
function mapBlocks(b: Builder, dev: BlockDevice, data: readonly number[], iblock: number[]): number {
  const bs = b.geo.blockSize;
  const per = bs / 4;
  let meta = 0;
  for (let i = 0; i < Math.min(12, data.length); i++) iblock[i] = data[i] as number;
  const writeIndirect = (entries: readonly number[]): number => {
    const blk = b.allocBlock(entries[0] ?? b.geo.firstDataBlock);
    const buf = new Uint8Array(bs);
    const v = new DataView(buf.buffer);
    entries.forEach((e, k) => v.setUint32(4 * k, e, true));
    dev.write(blk, buf);
    meta++;
    return blk;
  };
  let rest = data.slice(12);
  if (rest.length > 0) {
    iblock[12] = writeIndirect(rest.slice(0, per));
    rest = rest.slice(per);
  }
  if (rest.length > 0) {
    const inds: number[] = [];
    for (let k = 0; k < rest.length && inds.length < per; k += per) inds.push(writeIndirect(rest.slice(k, k + per)));
    iblock[13] = writeIndirect(inds);
    rest = rest.slice(per * per);
  }
  if (rest.length > 0) throw new Error('mkfs: journal too large for double indirection');
  return meta;
}

function emptyInode(mode: number, time: number): RawInode {
  return {
    mode, uid: 0, size: 0, atime: time, ctime: time, mtime: time, dtime: 0, gid: 0, linksCount: 1, blocks: 0, flags: 0,
    block: new Array<number>(EXT2_N_BLOCKS).fill(0), generation: 0, fileAcl: 0,
  };
}

export function mkfs(dev: BlockDevice, o: MkfsOptions): Geometry | string {
  if (dev.blockSize !== o.blockSize) return `device block size ${dev.blockSize} differs from the requested ${o.blockSize}`;
  const geo = geometry(o.blocks ?? dev.blocks, o.blockSize, o.inodes);
  if (typeof geo === 'string') return geo;
  const bs = geo.blockSize;
  const b = new Builder(geo);
  for (let ino = 1; ino < LOST_AND_FOUND_INO; ino++) b.useInode(ino);
  const inodes = new Map<number, RawInode>();
  const zero = new Uint8Array(bs);
  const scratch = new Uint8Array(bs);
  for (const l of geo.layout) {
    for (let blk = l.inodeTable; blk < l.firstData; blk++) {
      dev.read(blk, scratch);
      if (scratch.some((x) => x !== 0)) dev.write(blk, zero);
    }
  }

  // The root directory and lost+found.
  const rootBlk = b.allocBlock();
  const root = emptyInode(0o40755, o.time);
  root.size = bs;
  root.linksCount = 3;
  root.blocks = bs / 512;
  root.block[0] = rootBlk;
  const rb = new Uint8Array(bs);
  writeDirEntry(rb, 0, EXT2_ROOT_INO, 12, '.', FT_DIR);
  writeDirEntry(rb, 12, EXT2_ROOT_INO, 12, '..', FT_DIR);
  writeDirEntry(rb, 24, LOST_AND_FOUND_INO, bs - 24, 'lost+found', FT_DIR);
  dev.write(rootBlk, rb);
  inodes.set(EXT2_ROOT_INO, root);
  b.useInode(EXT2_ROOT_INO);
  const lfBlocks = Math.min(12, Math.ceil(16384 / bs));
  const lf = emptyInode(0o40700, o.time);
  lf.size = lfBlocks * bs;
  lf.linksCount = 2;
  lf.blocks = (lfBlocks * bs) / 512;
  for (let i = 0; i < lfBlocks; i++) {
    const blk = b.allocBlock();
    lf.block[i] = blk;
    const db = new Uint8Array(bs);
    if (i === 0) {
      writeDirEntry(db, 0, LOST_AND_FOUND_INO, 12, '.', FT_DIR);
      writeDirEntry(db, 12, EXT2_ROOT_INO, bs - 12, '..', FT_DIR);
    } else {
      writeDirEntry(db, 0, 0, bs, '', 0);
    }
    dev.write(blk, db);
  }
  inodes.set(LOST_AND_FOUND_INO, lf);
  b.useInode(LOST_AND_FOUND_INO);
  b.dirs[0] = 2;

  // The journal, in inode 8.
  const jblocks = o.journalBlocks ?? 0;
  let jnl: RawInode | null = null;
  if (jblocks > 0) {
    const goal = (geo.layout[Math.floor(geo.groups / 2)] as GroupLayout).firstData;
    const data: number[] = [];
    for (let i = 0; i < jblocks; i++) data.push(b.allocBlock(data.length === 0 ? goal : (data[data.length - 1] as number) + 1));
    jnl = emptyInode(0o100600, o.time);
    const meta = mapBlocks(b, dev, data, jnl.block);
    jnl.size = jblocks * bs;
    jnl.blocks = ((jblocks + meta) * bs) / 512;
    const r = journal_create({ dev, map: data }, bs, o.uuid);
    if (isErr(r)) return `cannot write the journal (${jblocks} blocks; 1024 at least)`;
    inodes.set(EXT3_JOURNAL_INO, jnl);
  }

  // Inode table entries.
  for (const [ino, raw] of inodes) {
    const g = Math.floor((ino - 1) / geo.inodesPerGroup);
    const idx = (ino - 1) % geo.inodesPerGroup;
    const blk = (geo.layout[g] as GroupLayout).inodeTable + Math.floor((idx * GOOD_OLD_INODE_SIZE) / bs);
    const buf = new Uint8Array(bs);
    dev.read(blk, buf);
    encodeInode(buf, (idx * GOOD_OLD_INODE_SIZE) % bs, raw);
    dev.write(blk, buf);
  }

  // Bitmaps, descriptors and superblocks.
  const descs: GroupDesc[] = geo.layout.map((l, g) => ({
    blockBitmap: l.blockBitmap, inodeBitmap: l.inodeBitmap, inodeTable: l.inodeTable,
    freeBlocksCount: countFree(b.blockUsed[g] as Uint8Array, l.size),
    freeInodesCount: countFree(b.inodeUsed[g] as Uint8Array, geo.inodesPerGroup),
    usedDirsCount: b.dirs[g] as number,
  }));
  geo.layout.forEach((l, g) => {
    dev.write(l.blockBitmap, b.blockUsed[g] as Uint8Array);
    dev.write(l.inodeBitmap, b.inodeUsed[g] as Uint8Array);
  });
  const gdt = new Uint8Array(geo.gdtBlocks * bs);
  descs.forEach((d, g) => encodeGroupDesc(gdt, g * GROUP_DESC_SIZE, d));
  const sbBytes = new Uint8Array(SUPERBLOCK_SIZE);
  const sb: Superblock = {
    inodesCount: geo.inodesPerGroup * geo.groups,
    blocksCount: geo.blocks,
    rBlocksCount: Math.floor(geo.blocks * 0.05),
    freeBlocksCount: descs.reduce((s, d) => s + d.freeBlocksCount, 0),
    freeInodesCount: descs.reduce((s, d) => s + d.freeInodesCount, 0),
    firstDataBlock: geo.firstDataBlock,
    logBlockSize: Math.log2(bs) - 10,
    blocksPerGroup: geo.blocksPerGroup,
    inodesPerGroup: geo.inodesPerGroup,
    mtime: 0, wtime: o.time, mntCount: 0, maxMntCount: -1, magic: EXT2_SUPER_MAGIC, state: EXT2_VALID_FS, errors: 1,
    lastcheck: o.time, revLevel: 1, firstIno: LOST_AND_FOUND_INO, inodeSize: GOOD_OLD_INODE_SIZE, blockGroupNr: 0,
    featureCompat: jnl !== null ? COMPAT_HAS_JOURNAL : 0,
    featureIncompat: INCOMPAT_FILETYPE,
    featureRoCompat: RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE,
    uuid: o.uuid.slice(0, 16), volumeName: o.label ?? '', journalInum: jnl !== null ? EXT3_JOURNAL_INO : 0, lastOrphan: 0, mkfsTime: o.time,
  };
  encodeSuperblock(sbBytes, sb);
  if (jnl !== null) {
    // mke2fs's backup of the journal inode's block map (s_jnl_blocks), type 1 = inode blocks.
    const v = new DataView(sbBytes.buffer);
    sbBytes[0xfd] = 1;
    jnl.block.forEach((blk, i) => v.setUint32(0x10c + 4 * i, blk, true));
    v.setUint32(0x10c + 4 * 16, jnl.size, true);
  }
  for (const [g, l] of geo.layout.entries()) {
    if (!l.hasSuper) continue;
    const copy = sbBytes.slice();
    new DataView(copy.buffer).setUint16(0x5a, g, true);
    writeSuperblockAt(dev, l.start, copy);
    for (let i = 0; i < geo.gdtBlocks; i++) dev.write(l.start + 1 + i, gdt.subarray(i * bs, (i + 1) * bs));
  }
  dev.flush();
  return geo;
}

/** Put the superblock bytes where the group starting at `groupStart` keeps its copy (geometry.ts). */
function writeSuperblockAt(dev: BlockDevice, groupStart: number, sbBytes: Uint8Array): void {
  const at = superblockLocation(dev.blockSize, groupStart);
  if (at.offset === 0 && sbBytes.length === dev.blockSize) {
    dev.write(at.block, sbBytes);
    return;
  }
  const buf = new Uint8Array(dev.blockSize);
  dev.read(at.block, buf);
  buf.set(sbBytes, at.offset);
  dev.write(at.block, buf);
}

export { decodeSuperblock };
