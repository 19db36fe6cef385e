/**
 * ext3_fs.ts: the ext2/ext3 on-disk format (Linux include/linux/ext3_fs.h), little-endian.
 *
 * Layer: fs (ext3; ext2 is ext3 without a journal, one implementation serves both). Interface:
 * constants, and decode/encode of the superblock (at byte 1024), the 32-byte group descriptor, the
 * 128-byte inode and directory entries, each at its real offset, working on Uint8Arrays. No I/O.
 * Features are a contract (super.ts enforces it at mount): incompat FILETYPE (and RECOVER with a
 * journal), ro_compat SPARSE_SUPER and LARGE_FILE, compat DIR_PREALLOC, IMAGIC_INODES, HAS_JOURNAL,
 * EXT_ATTR, RESIZE_INODE and DIR_INDEX are honoured; an incompat feature outside that set refuses
 * every mount, a compat or ro_compat one a read-write mount, each by name.
 * Invariants: encode(decode(x)) leaves every byte we do not model unchanged (we patch in place).
 */
import { assert } from '../../kernel/assert.ts';

export const EXT2_SUPER_MAGIC = 0xef53;
export const SUPERBLOCK_OFFSET = 1024;
export const GOOD_OLD_INODE_SIZE = 128;
export const EXT2_GOOD_OLD_FIRST_INO = 11;
export const EXT2_ROOT_INO = 2;
/** resize_inode: the inode whose block map reserves descriptor blocks for growing the file system. */
export const EXT2_RESIZE_INO = 7;
export const EXT3_JOURNAL_INO = 8;
export const EXT2_NDIR_BLOCKS = 12;
export const EXT2_IND_BLOCK = 12;
export const EXT2_DIND_BLOCK = 13;
export const EXT2_TIND_BLOCK = 14;
export const EXT2_N_BLOCKS = 15;
export const EXT2_NAME_LEN = 255;
export const GROUP_DESC_SIZE = 32;

export const EXT2_VALID_FS = 1;
export const EXT2_ERROR_FS = 2;

/** Revision 0 has no feature fields, first inode or inode size; revision 1 ("dynamic") has them. */
export const EXT2_GOOD_OLD_REV = 0;
export const EXT2_DYNAMIC_REV = 1;

export const COMPAT_DIR_PREALLOC = 0x1;
export const COMPAT_IMAGIC_INODES = 0x2;
export const COMPAT_HAS_JOURNAL = 0x4;
export const COMPAT_EXT_ATTR = 0x8;
export const COMPAT_RESIZE_INODE = 0x10;
export const COMPAT_DIR_INDEX = 0x20;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_RECOVER = 0x4;
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_LARGE_FILE = 0x2;

/**
 * What the model honours. Compat features: a directory-preallocation hint and AFS's imagic inodes
 * need nothing; the journal is ext3; EA blocks are kept and reference-counted (xattr.ts); the
 * resize inode (7) and its reserved descriptor blocks are left alone; an indexed directory loses
 * its index flag when it changes, as Linux 2.4 did (it did not know htree).
 */
export const SUPPORTED_COMPAT = COMPAT_DIR_PREALLOC | COMPAT_IMAGIC_INODES | COMPAT_HAS_JOURNAL | COMPAT_EXT_ATTR
  | COMPAT_RESIZE_INODE | COMPAT_DIR_INDEX;
export const SUPPORTED_INCOMPAT = INCOMPAT_FILETYPE | INCOMPAT_RECOVER;
export const SUPPORTED_RO_COMPAT = RO_COMPAT_SPARSE_SUPER | RO_COMPAT_LARGE_FILE;

/** Feature names (e2fsprogs' spelling), for refusing an image by name. */
export const COMPAT_NAMES: Readonly<Record<number, string>> = {
  0x1: 'dir_prealloc', 0x2: 'imagic_inodes', 0x4: 'has_journal', 0x8: 'ext_attr', 0x10: 'resize_inode',
  0x20: 'dir_index',
  0x40: 'lazy_bg', 0x80: 'exclude_inode', 0x100: 'snapshot_bitmap', 0x200: 'sparse_super2', 0x400: 'fast_commit',
  0x800: 'stable_inodes', 0x1000: 'orphan_file',
};
export const INCOMPAT_NAMES: Readonly<Record<number, string>> = {
  0x1: 'compression', 0x2: 'filetype', 0x4: 'needs_recovery', 0x8: 'journal_dev', 0x10: 'meta_bg', 0x40: 'extent',
  0x80: '64bit', 0x100: 'mmp', 0x200: 'flex_bg', 0x400: 'ea_inode', 0x1000: 'dirdata', 0x2000: 'metadata_csum_seed',
  0x4000: 'large_dir', 0x8000: 'inline_data', 0x10000: 'encrypt', 0x20000: 'casefold',
};
export const RO_COMPAT_NAMES: Readonly<Record<number, string>> = {
  0x1: 'sparse_super', 0x2: 'large_file', 0x4: 'btree_dir', 0x8: 'huge_file', 0x10: 'uninit_bg', 0x20: 'dir_nlink',
  0x40: 'extra_isize', 0x100: 'quota', 0x200: 'bigalloc', 0x400: 'metadata_csum', 0x1000: 'read-only', 0x2000: 'project',
  0x4000: 'shared_blocks', 0x8000: 'verity', 0x10000: 'orphan_present',
};

/** Inode flags. */
export const EXT2_INDEX_FL = 0x1000;
export const EXT3_JOURNAL_DATA_FL = 0x4000;

/** Directory entry file types (FILETYPE feature). */
export const FT_UNKNOWN = 0;
export const FT_REG_FILE = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;

export function fileTypeOfMode(mode: number): number {
  switch (mode & 0o170000) {
    case 0o100000: return FT_REG_FILE;
    case 0o040000: return FT_DIR;
    case 0o020000: return FT_CHRDEV;
    case 0o060000: return FT_BLKDEV;
    case 0o010000: return FT_FIFO;
    case 0o140000: return FT_SOCK;
    case 0o120000: return FT_SYMLINK;
    default: return FT_UNKNOWN;
  }
}

function dv(b: Uint8Array, off = 0, len = b.length - off): DataView {
  return new DataView(b.buffer, b.byteOffset + off, len);
}

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  rBlocksCount: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  firstDataBlock: number;
  logBlockSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  mtime: number;
  wtime: number;
  mntCount: number;
  maxMntCount: number;
  magic: number;
  state: number;
  errors: number;
  lastcheck: number;
  revLevel: number;
  firstIno: number;
  inodeSize: number;
  blockGroupNr: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: Uint8Array;
  volumeName: string;
  journalInum: number;
  lastOrphan: number;
  mkfsTime: number;
}

/** Decode the superblock from the 1024 bytes that hold it. */
export function decodeSuperblock(b: Uint8Array): Superblock {
  const v = dv(b);
  const name = b.subarray(0x78, 0x88);
  const end = name.indexOf(0);
  return {
    inodesCount: v.getUint32(0x00, true),
    blocksCount: v.getUint32(0x04, true),
    rBlocksCount: v.getUint32(0x08, true),
    freeBlocksCount: v.getUint32(0x0c, true),
    freeInodesCount: v.getUint32(0x10, true),
    firstDataBlock: v.getUint32(0x14, true),
    logBlockSize: v.getUint32(0x18, true),
    blocksPerGroup: v.getUint32(0x20, true),
    inodesPerGroup: v.getUint32(0x28, true),
    mtime: v.getUint32(0x2c, true),
    wtime: v.getUint32(0x30, true),
    mntCount: v.getUint16(0x34, true),
    maxMntCount: v.getInt16(0x36, true),
    magic: v.getUint16(0x38, true),
    state: v.getUint16(0x3a, true),
    errors: v.getUint16(0x3c, true),
    lastcheck: v.getUint32(0x40, true),
    revLevel: v.getUint32(0x4c, true),
    firstIno: v.getUint32(0x4c, true) === 0 ? EXT2_GOOD_OLD_FIRST_INO : v.getUint32(0x54, true),
    inodeSize: v.getUint32(0x4c, true) === 0 ? GOOD_OLD_INODE_SIZE : v.getUint16(0x58, true),
    blockGroupNr: v.getUint16(0x5a, true),
    featureCompat: v.getUint32(0x5c, true),
    featureIncompat: v.getUint32(0x60, true),
    featureRoCompat: v.getUint32(0x64, true),
    uuid: b.slice(0x68, 0x78),
    volumeName: String.fromCharCode(...name.subarray(0, end < 0 ? 16 : end)),
    journalInum: v.getUint32(0xe0, true),
    lastOrphan: v.getUint32(0xe8, true),
    mkfsTime: v.getUint32(0x108, true),
  };
}

/** Write the modelled fields into `b` (1024 bytes), leaving the rest as it is. */
export function encodeSuperblock(b: Uint8Array, s: Superblock): void {
  const v = dv(b);
  v.setUint32(0x00, s.inodesCount, true);
  v.setUint32(0x04, s.blocksCount, true);
  v.setUint32(0x08, s.rBlocksCount, true);
  v.setUint32(0x0c, s.freeBlocksCount, true);
  v.setUint32(0x10, s.freeInodesCount, true);
  v.setUint32(0x14, s.firstDataBlock, true);
  v.setUint32(0x18, s.logBlockSize, true);
  v.setUint32(0x1c, s.logBlockSize, true);
  v.setUint32(0x20, s.blocksPerGroup, true);
  v.setUint32(0x24, s.blocksPerGroup, true);
  v.setUint32(0x28, s.inodesPerGroup, true);
  v.setUint32(0x2c, s.mtime, true);
  v.setUint32(0x30, s.wtime, true);
  v.setUint16(0x34, s.mntCount, true);
  v.setInt16(0x36, s.maxMntCount, true);
  v.setUint16(0x38, s.magic, true);
  v.setUint16(0x3a, s.state, true);
  v.setUint16(0x3c, s.errors, true);
  v.setUint32(0x40, s.lastcheck, true);
  v.setUint32(0x4c, s.revLevel, true);
  // A revision 0 superblock ends at s_def_resgid: the dynamic fields stay as they are (zero).
  if (s.revLevel === EXT2_GOOD_OLD_REV) return;
  v.setUint32(0x54, s.firstIno, true);
  v.setUint16(0x58, s.inodeSize, true);
  v.setUint16(0x5a, s.blockGroupNr, true);
  v.setUint32(0x5c, s.featureCompat, true);
  v.setUint32(0x60, s.featureIncompat, true);
  v.setUint32(0x64, s.featureRoCompat, true);
  b.set(s.uuid.subarray(0, 16), 0x68);
  b.fill(0, 0x78, 0x88);
  for (let i = 0; i < Math.min(16, s.volumeName.length); i++) b[0x78 + i] = s.volumeName.charCodeAt(i) & 0xff;
  v.setUint32(0xe0, s.journalInum, true);
  v.setUint32(0xe8, s.lastOrphan, true);
  v.setUint32(0x108, s.mkfsTime, true);
}

export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  usedDirsCount: number;
}

export function decodeGroupDesc(b: Uint8Array, off: number): GroupDesc {
  const v = dv(b, off, GROUP_DESC_SIZE);
  return {
    blockBitmap: v.getUint32(0, true),
    inodeBitmap: v.getUint32(4, true),
    inodeTable: v.getUint32(8, true),
    freeBlocksCount: v.getUint16(12, true),
    freeInodesCount: v.getUint16(14, true),
    usedDirsCount: v.getUint16(16, true),
  };
}

export function encodeGroupDesc(b: Uint8Array, off: number, g: GroupDesc): void {
  const v = dv(b, off, GROUP_DESC_SIZE);
  v.setUint32(0, g.blockBitmap, true);
  v.setUint32(4, g.inodeBitmap, true);
  v.setUint32(8, g.inodeTable, true);
  v.setUint16(12, g.freeBlocksCount, true);
  v.setUint16(14, g.freeInodesCount, true);
  v.setUint16(16, g.usedDirsCount, true);
}

export interface RawInode {
  mode: number;
  uid: number;
  size: number;
  atime: number;
  ctime: number;
  mtime: number;
  dtime: number;
  gid: number;
  linksCount: number;
  /** 512-byte sectors, including indirect blocks. */
  blocks: number;
  flags: number;
  block: number[];
  generation: number;
  /** i_file_acl: the extended-attribute block, 0 for none. */
  fileAcl: number;
}

export function decodeInode(b: Uint8Array, off: number): RawInode {
  const v = dv(b, off, GOOD_OLD_INODE_SIZE);
  const block: number[] = [];
  for (let i = 0; i < EXT2_N_BLOCKS; i++) block.push(v.getUint32(40 + 4 * i, true));
  const isReg = (v.getUint16(0, true) & 0o170000) === 0o100000;
  return {
    mode: v.getUint16(0, true),
    uid: (v.getUint16(2, true) | (v.getUint16(120, true) << 16)) >>> 0,
    size: v.getUint32(4, true) + (isReg ? v.getUint32(108, true) * 0x1_0000_0000 : 0),
    atime: v.getUint32(8, true),
    ctime: v.getUint32(12, true),
    mtime: v.getUint32(16, true),
    dtime: v.getUint32(20, true),
    gid: (v.getUint16(24, true) | (v.getUint16(122, true) << 16)) >>> 0,
    linksCount: v.getUint16(26, true),
    blocks: v.getUint32(28, true),
    flags: v.getUint32(32, true),
    block,
    generation: v.getUint32(100, true),
    fileAcl: v.getUint32(104, true),
  };
}

export function encodeInode(b: Uint8Array, off: number, i: RawInode): void {
  const v = dv(b, off, GOOD_OLD_INODE_SIZE);
  v.setUint16(0, i.mode, true);
  v.setUint16(2, i.uid & 0xffff, true);
  v.setUint32(4, i.size % 0x1_0000_0000, true);
  v.setUint32(8, i.atime, true);
  v.setUint32(12, i.ctime, true);
  v.setUint32(16, i.mtime, true);
  v.setUint32(20, i.dtime, true);
  v.setUint16(24, i.gid & 0xffff, true);
  v.setUint16(26, i.linksCount, true);
  v.setUint32(28, i.blocks, true);
  v.setUint32(32, i.flags, true);
  for (let k = 0; k < EXT2_N_BLOCKS; k++) v.setUint32(40 + 4 * k, i.block[k] ?? 0, true);
  v.setUint32(100, i.generation, true);
  v.setUint32(104, i.fileAcl, true);
  // i_size_high for a regular file; i_dir_acl otherwise, which is not modelled and is left alone.
  if ((i.mode & 0o170000) === 0o100000) v.setUint32(108, Math.floor(i.size / 0x1_0000_0000), true);
  v.setUint16(120, i.uid >>> 16, true);
  v.setUint16(122, i.gid >>> 16, true);
}

export interface DirEntry {
  readonly offset: number;
  readonly inode: number;
  readonly recLen: number;
  readonly nameLen: number;
  readonly fileType: number;
  readonly name: string;
}

/** Minimum record length for a name of `len` bytes: 8 bytes of header, rounded to 4. */
export function dirRecLen(len: number): number {
  return (len + 8 + 3) & ~3;
}

/**
 * The rec_len rules for the entry at `off` of a `blockLen`-byte directory block (its header inside
 * the block; rec_len at least 8, 4-aligned, inside the block and holding the name, which with the
 * alignment makes it at least dirRecLen), or null: the one statement of them, for reading and for
 * the model's own writes.
 */
function dirEntryError(v: DataView, off: number, blockLen: number): string | null {
  if (off + 8 > blockLen) return `entry at ${off} runs past the block`;
  const recLen = v.getUint16(off + 4, true);
  if (recLen < 8 || recLen % 4 !== 0 || off + recLen > blockLen) return `entry at ${off} has rec_len ${recLen}`;
  const nameLen = v.getUint8(off + 6);
  if (nameLen + 8 > recLen) return `entry at ${off}: name_len ${nameLen} exceeds rec_len ${recLen}`;
  return null;
}

/** The entries of one directory block, or a message naming the offset of the first bad one. */
export function decodeDirBlock(b: Uint8Array): DirEntry[] | string {
  const v = dv(b);
  const out: DirEntry[] = [];
  for (let off = 0; off < b.length;) {
    const bad = dirEntryError(v, off, b.length);
    if (bad !== null) return bad;
    const inode = v.getUint32(off, true);
    const recLen = v.getUint16(off + 4, true);
    const nameLen = v.getUint8(off + 6);
    const fileType = v.getUint8(off + 7);
    out.push({ offset: off, inode, recLen, nameLen, fileType, name: String.fromCharCode(...b.subarray(off + 8, off + 8 + nameLen)) });
    off += recLen;
  }
  return out;
}

/**
 * Write one directory entry. The model makes every entry it writes, so a bad one is a bug here, not
 * damage: the rules namei.ts's essay states are asserted (4-aligned, at least its minimum, inside
 * the block, a name of one byte per character and at most 255).
 */
export function writeDirEntry(b: Uint8Array, off: number, inode: number, recLen: number, name: string, fileType: number): void {
  assert(off % 4 === 0 && recLen % 4 === 0, () => `dir entry at ${off}: rec_len ${recLen} or its offset is not 4-aligned`);
  assert(recLen >= dirRecLen(name.length), () => `dir entry at ${off}: rec_len ${recLen} is below the minimum for '${name}'`);
  assert(off + recLen <= b.length, () => `dir entry at ${off}: rec_len ${recLen} runs past the ${b.length}-byte block`);
  assert(name.length <= 255 && !/[^\x00-\xff]/.test(name), () => `dir entry at ${off}: name '${name}' is not 0-255 bytes`);
  const v = dv(b);
  v.setUint32(off, inode, true);
  v.setUint16(off + 4, recLen, true);
  v.setUint8(off + 6, name.length);
  v.setUint8(off + 7, fileType);
  for (let i = 0; i < name.length; i++) b[off + 8 + i] = name.charCodeAt(i);
}

/**
 * Assert that a directory block the model just changed is tiled by its entries, by decodeDirBlock's
 * rules (each rec_len 4-aligned, holding its name, inside the block, so the last reaches the end).
 * Only for blocks that decoded before the change: damage read from disk is decodeDirBlock's to report.
 */
export function assertDirBlockTiled(b: Uint8Array, where: string): void {
  const v = dv(b);
  for (let off = 0; off < b.length; off += v.getUint16(off + 4, true)) {
    const bad = dirEntryError(v, off, b.length);
    assert(bad === null, () => `${where}: ${bad}`);
  }
}

/** Does group `g` hold a superblock backup (sparse_super: 0, 1 and powers of 3, 5, 7)? */
export function groupHasSuper(g: number, sparse: boolean): boolean {
  if (!sparse || g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < g) p *= base;
    if (p === g) return true;
  }
  return false;
}
