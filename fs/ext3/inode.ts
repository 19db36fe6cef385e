/**
 * inode.ts: ext2/ext3 inodes in core: reading them, mapping file blocks, reading data, directories
 * and symlinks (Linux fs/ext3/inode.c, dir.c, namei.c's lookup, symlink.c).
 *
 * Layer: fs (ext3). Interface: `ext3_read_inode` (the super operation iget calls), and the
 * operation tables for directories (lookup, readdir), regular files (read), symlinks (readlink).
 * Block mapping: 12 direct blocks, then single, double and triple indirect blocks; a zero entry is a
 * hole, which reads as zeros. A fast symlink (no data blocks) keeps its target in i_block.
 * Directory positions (f_pos) are byte offsets into the directory, as in Linux.
 */
import { isErr, EIO, EUCLEAN, type Errno } from '../../kernel/errno.ts';
import {
  S_IFMT, S_ISBLK, S_ISCHR, S_ISDIR, S_ISLNK, S_ISREG, type Dentry, type File, type FileOperations, type FillDir, type Inode,
  type InodeOperations,
} from '../../kernel/fs.ts';
import { d_add } from '../../kernel/dcache.ts';
import { iget } from '../../kernel/inode.ts';
import type { Sys } from '../../kernel/sched.ts';
import { decodeDirBlock, decodeInode, EXT2_N_BLOCKS, type RawInode } from './ext3_fs.ts';
import { EXT3_SB } from './super.ts';

export interface Ext3InodeInfo {
  readonly block: number[];
  flags: number;
  dtime: number;
}

function EXT3_I(inode: Inode): Ext3InodeInfo {
  return inode.i_private as Ext3InodeInfo;
}

export function* ext3_read_inode(inode: Inode): Sys<0 | Errno> {
  const s = EXT3_SB(inode.i_sb);
  const ino = inode.i_ino;
  if (ino < 1 || ino > s.raw.inodesCount) return EUCLEAN;
  const g = Math.floor((ino - 1) / s.raw.inodesPerGroup);
  const idx = (ino - 1) % s.raw.inodesPerGroup;
  const desc = s.descs[g];
  if (desc === undefined) return EUCLEAN;
  const byte = idx * s.raw.inodeSize;
  const bh = s.cache.bread(desc.inodeTable + Math.floor(byte / s.blockSize));
  if (isErr(bh)) return EIO;
  const raw = decodeInode(bh.data, byte % s.blockSize);
  s.cache.brelse(bh);
  fill(inode, raw);
  return 0;
}

function fill(inode: Inode, raw: RawInode): void {
  inode.i_mode = raw.mode;
  inode.i_uid = raw.uid;
  inode.i_gid = raw.gid;
  inode.i_size = raw.size;
  inode.i_nlink = raw.linksCount;
  inode.i_blocks = raw.blocks;
  inode.i_generation = raw.generation;
  inode.i_flags = raw.flags;
  inode.i_atime = { sec: raw.atime, nsec: 0 };
  inode.i_mtime = { sec: raw.mtime, nsec: 0 };
  inode.i_ctime = { sec: raw.ctime, nsec: 0 };
  inode.i_private = { block: raw.block.slice(0, EXT2_N_BLOCKS), flags: raw.flags, dtime: raw.dtime } satisfies Ext3InodeInfo;
  if (S_ISCHR(raw.mode) || S_ISBLK(raw.mode)) {
    // Old encoding in i_block[0] (major << 8 | minor); the new one in i_block[1].
    const old = raw.block[0] ?? 0;
    const nu = raw.block[1] ?? 0;
    inode.i_rdev = old !== 0 ? old : ((nu >> 8) & 0xfff) << 8 | (nu & 0xff);
  }
  if (S_ISDIR(raw.mode)) {
    inode.i_op = ext3_dir_inode_operations;
    inode.i_fop = ext3_dir_operations;
  } else if (S_ISREG(raw.mode)) {
    inode.i_op = {};
    inode.i_fop = ext3_file_operations;
  } else if (S_ISLNK(raw.mode)) {
    inode.i_op = ext3_symlink_inode_operations;
  } else if ((raw.mode & S_IFMT) !== 0) {
    inode.i_op = {};
  }
}

/** The device block holding logical block `lblk` of the inode, 0 for a hole. */
export function ext3_bmap(inode: Inode, lblk: number): number | Errno {
  const s = EXT3_SB(inode.i_sb);
  const per = s.blockSize / 4;
  const block = EXT3_I(inode).block;
  if (lblk < 12) return block[lblk] ?? 0;
  let rel = lblk - 12;
  let depth = 1;
  let span = per;
  while (rel >= span) {
    rel -= span;
    depth++;
    span *= per;
    if (depth > 3) return 0;
  }
  let blk = block[11 + depth] ?? 0;
  for (let d = depth; d >= 1 && blk !== 0; d--) {
    span /= per;
    const idx = Math.floor(rel / span);
    rel %= span;
    const bh = s.cache.bread(blk);
    if (isErr(bh)) return EIO;
    blk = new DataView(bh.data.buffer, bh.data.byteOffset).getUint32(idx * 4, true);
    s.cache.brelse(bh);
  }
  return blk;
}

function* ext3_file_read(file: File, buf: Uint8Array, pos: number): Sys<number | Errno> {
  return read_data(file.f_inode, buf, pos);
}

/** Copy up to buf.length bytes of the inode's data from `pos`; holes read as zeros. */
function read_data(inode: Inode, buf: Uint8Array, pos: number): number | Errno {
  const s = EXT3_SB(inode.i_sb);
  const bs = s.blockSize;
  const end = Math.min(inode.i_size, pos + buf.length);
  for (let off = pos; off < end;) {
    const lblk = Math.floor(off / bs);
    const within = off - lblk * bs;
    const n = Math.min(bs - within, end - off);
    const dst = buf.subarray(off - pos, off - pos + n);
    const phys = ext3_bmap(inode, lblk);
    if (isErr(phys)) return phys;
    if (phys === 0) {
      dst.fill(0);
    } else {
      const bh = s.cache.bread(phys);
      if (isErr(bh)) return bh;
      dst.set(bh.data.subarray(within, within + n));
      s.cache.brelse(bh);
    }
    off += n;
  }
  return Math.max(0, end - pos);
}

/** Call `each` for every live entry from byte offset `from`; stops when it returns false. */
function* walkDir(dir: Inode, from: number, each: (name: string, ino: number, type: number, next: number) => boolean): Sys<0 | Errno> {
  const s = EXT3_SB(dir.i_sb);
  const bs = s.blockSize;
  for (let lblk = Math.floor(from / bs); lblk * bs < dir.i_size; lblk++) {
    const phys = ext3_bmap(dir, lblk);
    if (isErr(phys)) return phys;
    if (phys === 0) continue;
    const bh = s.cache.bread(phys);
    if (isErr(bh)) return bh;
    const ents = decodeDirBlock(bh.data);
    s.cache.brelse(bh);
    if (typeof ents === 'string') return EUCLEAN;
    for (const e of ents) {
      const at = lblk * bs + e.offset;
      if (at < from || e.inode === 0) continue;
      if (!each(e.name, e.inode, e.fileType, at + e.recLen)) return 0;
    }
  }
  return 0;
}

const FT_TO_DT = [0, 8, 4, 2, 6, 1, 12, 10];

function* ext3_readdir(file: File, filldir: FillDir): Sys<0 | Errno> {
  const r = yield* walkDir(file.f_inode, file.f_pos, (name, ino, type, next) => {
    if (!filldir(name, ino, FT_TO_DT[type] ?? 0)) return false;
    file.f_pos = next;
    return true;
  });
  if (!isErr(r) && file.f_pos < file.f_inode.i_size) file.f_pos = file.f_inode.i_size;
  return r;
}

function* ext3_lookup(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  let found = 0;
  const r = yield* walkDir(dir, 0, (name, ino) => {
    if (name !== dentry.d_name) return true;
    found = ino;
    return false;
  });
  if (isErr(r)) return r;
  if (found === 0) {
    d_add(dentry, null);
    return 0;
  }
  const inode = yield* iget(dir.i_sb, found);
  if (isErr(inode)) return inode;
  d_add(dentry, inode);
  return 0;
}

function* ext3_readlink(dentry: Dentry): Sys<string | Errno> {
  const inode = dentry.d_inode as Inode;
  const info = EXT3_I(inode);
  if (inode.i_blocks === 0) {
    // Fast symlink: the target is the bytes of i_block itself.
    const bytes = new Uint8Array(60);
    const v = new DataView(bytes.buffer);
    info.block.forEach((w, i) => v.setUint32(i * 4, w, true));
    return String.fromCharCode(...bytes.subarray(0, Math.min(60, inode.i_size)));
  }
  const buf = new Uint8Array(inode.i_size);
  const n = read_data(inode, buf, 0);
  if (isErr(n)) return n;
  return String.fromCharCode(...buf.subarray(0, n));
}

export const ext3_dir_inode_operations: InodeOperations = { lookup: ext3_lookup };
export const ext3_symlink_inode_operations: InodeOperations = { readlink: ext3_readlink };
export const ext3_file_operations: FileOperations = { read: ext3_file_read, *fsync() { return 0; } };
export const ext3_dir_operations: FileOperations = { readdir: ext3_readdir, *fsync() { return 0; } };

