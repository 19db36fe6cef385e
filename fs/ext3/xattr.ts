/**
 * xattr.ts: extended attributes as the file system keeps them (Linux fs/ext3/xattr.c, the format of
 * e2fsprogs' ext2_ext_attr.h), read but never written by the model.
 *
 * Layer: fs (ext3). Interface: `decodeXattrs` (the entries of an EA block or of an inode's in-inode
 * area), `ext3_xattr_list(inode, blk)` (an inode's attributes, by full name: `user.color`...), and
 * `ext3_xattr_delete_inode(inode, blk)`: an inode's last reference is going, so its EA block loses a
 * reference and is freed at zero, as Linux's ext3_xattr_delete_inode does. Linux 2.4's ext3 had no
 * attribute system calls, nor have we: attributes made by other tools (`debugfs ea_set`, a later
 * kernel) are kept as they are, readable here and through `izo stat`, and copied nowhere.
 * On disk: an EA block starts with a 32-byte header (magic 0xEA020000, reference count, blocks = 1,
 * hash), then 16-byte entries (name length, name index, value offset, value inode, value size, hash,
 * the name padded to 4 bytes) up to four zero bytes; values sit at the end of the block. An inode
 * larger than 128 bytes may hold entries after i_extra_isize, behind the same magic, with value
 * offsets counted from the first entry. Damage (bad magic, entries or values out of bounds) is an
 * error (EUCLEAN), and a damaged EA block is left alone rather than freed.
 */
import { EIO, EUCLEAN, isErr, type Errno } from '../../kernel/errno.ts';
import type { Inode } from '../../kernel/fs.ts';
import { ext3_free_block } from './balloc.ts';
import { EXT3_SB, forgetBlock, markMeta } from './super.ts';

export const EXT2_EXT_ATTR_MAGIC = 0xea020000;
const HEADER = 32;
const ENTRY = 16;

/** The name prefixes of e_name_index (e2fsprogs' table). */
const PREFIXES: Readonly<Record<number, string>> = {
  1: 'user.', 2: 'system.posix_acl_access', 3: 'system.posix_acl_default', 4: 'trusted.', 6: 'security.', 7: 'system.',
  8: 'system.richacl',
};

export interface Xattr {
  readonly name: string;
  readonly value: Uint8Array;
}

/**
 * The entries that start at `first` in `b`, values at `base` + e_value_offs, none past `end`; or
 * a sentence naming the first damage.
 */
export function decodeXattrs(b: Uint8Array, first: number, base: number, end: number): Xattr[] | string {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  const out: Xattr[] = [];
  for (let off = first; ;) {
    if (off + 4 > end) return `attribute entries run past byte ${end}`;
    if (v.getUint32(off, true) === 0) return out;
    if (off + ENTRY > end) return `attribute entry at ${off} runs past byte ${end}`;
    const nameLen = v.getUint8(off);
    const index = v.getUint8(off + 1);
    const valueOffs = v.getUint16(off + 2, true);
    const valueInum = v.getUint32(off + 4, true);
    const size = v.getUint32(off + 8, true);
    if (nameLen === 0 || off + ENTRY + nameLen > end) return `attribute entry at ${off} has a name of ${nameLen} bytes`;
    if (valueInum !== 0) return `attribute entry at ${off} keeps its value in inode ${valueInum} (ea_inode)`;
    if (base + valueOffs + size > end) return `attribute entry at ${off}: its ${size}-byte value runs past byte ${end}`;
    const suffix = String.fromCharCode(...b.subarray(off + ENTRY, off + ENTRY + nameLen));
    const name = (PREFIXES[index] ?? `index${index}.`) + suffix;
    out.push({ name, value: b.slice(base + valueOffs, base + valueOffs + size) });
    off += (ENTRY + nameLen + 3) & ~3;
  }
}

interface EaBlock {
  readonly refcount: number;
  readonly attrs: Xattr[];
}

/** An EA block's header and entries, or a sentence naming the damage. */
export function decodeXattrBlock(b: Uint8Array): EaBlock | string {
  const v = new DataView(b.buffer, b.byteOffset, b.length);
  if (v.getUint32(0, true) !== EXT2_EXT_ATTR_MAGIC) return `bad magic 0x${v.getUint32(0, true).toString(16)}`;
  if (v.getUint32(8, true) !== 1) return `it claims ${v.getUint32(8, true)} blocks`;
  const attrs = decodeXattrs(b, HEADER, 0, b.length);
  return typeof attrs === 'string' ? attrs : { refcount: v.getUint32(4, true), attrs };
}

/** The attributes in the inode's own body (inodes over 128 bytes), read from its table block. */
function inodeBodyXattrs(inode: Inode): Xattr[] | Errno {
  const s = EXT3_SB(inode.i_sb);
  const size = s.raw.inodeSize;
  if (size <= 128) return [];
  const g = Math.floor((inode.i_ino - 1) / s.raw.inodesPerGroup);
  const byte = ((inode.i_ino - 1) % s.raw.inodesPerGroup) * size;
  const bh = s.cache.bread((s.descs[g] as { inodeTable: number }).inodeTable + Math.floor(byte / s.blockSize));
  if (isErr(bh)) return EIO;
  const raw = bh.data.slice(byte % s.blockSize, (byte % s.blockSize) + size);
  s.cache.brelse(bh);
  const v = new DataView(raw.buffer);
  const extra = v.getUint16(128, true);
  const magicAt = 128 + extra;
  if (extra % 4 !== 0 || magicAt + 4 > size || v.getUint32(magicAt, true) !== EXT2_EXT_ATTR_MAGIC) return [];
  const attrs = decodeXattrs(raw, magicAt + 4, magicAt + 4, size);
  return typeof attrs === 'string' ? EUCLEAN : attrs;
}

/** The inode's attributes: those in its body, then those in its EA block `blk` (i_file_acl). */
export function ext3_xattr_list(inode: Inode, blk: number): Xattr[] | Errno {
  const body = inodeBodyXattrs(inode);
  if (isErr(body)) return body;
  if (blk === 0) return body;
  const s = EXT3_SB(inode.i_sb);
  if (blk >= s.raw.blocksCount) return EUCLEAN;
  const bh = s.cache.bread(blk);
  if (isErr(bh)) return EIO;
  const ea = decodeXattrBlock(bh.data);
  s.cache.brelse(bh);
  return typeof ea === 'string' ? EUCLEAN : [...body, ...ea.attrs];
}

/**
 * The inode is being freed: drop its reference to its EA block, freeing the block when it was the
 * last (forgotten as metadata: a freed block is never replayed from an older log copy). In the
 * caller's handle. A damaged block is left where it is (e2fsck will name it), the inode let go.
 */
export function ext3_xattr_delete_inode(inode: Inode, blk: number): 0 | Errno {
  const s = EXT3_SB(inode.i_sb);
  if (blk === 0 || blk < s.raw.firstDataBlock || blk >= s.raw.blocksCount) return 0;
  const bh = s.cache.bread(blk);
  if (isErr(bh)) return EIO;
  const ea = decodeXattrBlock(bh.data);
  if (typeof ea === 'string') {
    s.cache.brelse(bh);
    return 0;
  }
  if (ea.refcount <= 1) {
    s.cache.brelse(bh);
    forgetBlock(inode.i_sb, blk, true);
    const r = ext3_free_block(inode.i_sb, blk);
    if (isErr(r)) return r;
  } else {
    const v = new DataView(bh.data.buffer, bh.data.byteOffset);
    markMeta(inode.i_sb, bh, () => v.setUint32(4, ea.refcount - 1, true));
    s.cache.brelse(bh);
  }
  inode.i_blocks -= s.blockSize / 512;
  return 0;
}
