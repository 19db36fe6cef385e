/**
 * inode.ts: ext2/ext3 inodes in core: reading them, mapping file blocks, reading data, directories
 * and symlinks (Linux fs/ext3/inode.c, dir.c, namei.c's lookup, symlink.c).
 *
 * Layer: fs (ext3). Interface: `ext3_read_inode` (the super operation iget calls), and the
 * operation tables for directories (lookup, readdir), regular files (read), symlinks (readlink).
 * Block mapping: 12 direct blocks, then single, double and triple indirect blocks; a zero entry is a
 * hole, which reads as zeros. A missing branch is allocated whole or not at all (ext3_alloc_branch):
 * a call that fails with ENOSPC leaves the block map, i_blocks, i_size and the bitmaps as they were.
 * A fast symlink (no data blocks; an EA block does not count) keeps its target in i_block.
 * Directory positions (f_pos) are byte offsets into the directory, as in Linux; readdir reports a
 * type only on a file system with the FILETYPE feature (DT_UNKNOWN otherwise, as Linux does).
 */
import { isErr, EIO, EFBIG, ENOSPC, EUCLEAN, type Errno } from '../../kernel/errno.ts';
import {
  S_IFMT, S_ISBLK, S_ISCHR, S_ISDIR, S_ISLNK, S_ISREG, type Dentry, type File, type FileOperations, type FillDir, type Inode,
  type InodeOperations,
} from '../../kernel/fs.ts';
import { d_add } from '../../kernel/dcache.ts';
import { current_fs_time, iget, inode_setattr } from '../../kernel/inode.ts';
import type { Process } from '../../kernel/process.ts';
import { ATTR_SIZE, type Iattr } from '../../kernel/fs.ts';
import { ext3_free_block, ext3_new_block } from './balloc.ts';
import { ext3_free_inode } from './ialloc.ts';
import type { Sys } from '../../kernel/sched.ts';
import { decodeDirBlock, decodeInode, encodeInode, EXT2_N_BLOCKS, EXT3_JOURNAL_DATA_FL, type RawInode } from './ext3_fs.ts';
import {
  EXT3_SB, ext3_error, ext3_force_commit, ext3_free_blocks, ext3_has_filetype, ext3_journaled, ext3_set_large_file, forgetBlock,
  markData, markMeta,
} from './super.ts';
import { ext3_xattr_delete_inode } from './xattr.ts';
import { ext3_orphan_add, ext3_orphan_del } from './orphan.ts';

export interface Ext3InodeInfo {
  readonly block: number[];
  flags: number;
  dtime: number;
  /** i_file_acl: the inode's extended-attribute block (xattr.ts), 0 for none. */
  fileAcl: number;
  /** In memory only: this file's blocks come from the blocks held back (presto's log files). */
  fromReserve?: boolean;
}

export function EXT3_I(inode: Inode): Ext3InodeInfo {
  return inode.i_private as Ext3InodeInfo;
}

export function* ext3_read_inode(inode: Inode): Sys<0 | Errno> {
  const s = EXT3_SB(inode.i_sb);
  const ino = inode.i_ino;
  if (ino < 1 || ino > s.raw.inodesCount) return ext3_error(inode.i_sb, 'ext3_read_inode', `bad inode number: ${ino}`);
  const g = Math.floor((ino - 1) / s.raw.inodesPerGroup);
  const idx = (ino - 1) % s.raw.inodesPerGroup;
  const desc = s.descs[g];
  if (desc === undefined) return EUCLEAN;
  const byte = idx * s.raw.inodeSize;
  const bh = s.cache.bread(desc.inodeTable + Math.floor(byte / s.blockSize));
  if (isErr(bh)) return EIO;
  const raw = decodeInode(bh.data, byte % s.blockSize);
  s.cache.brelse(bh);
  // A live inode of no known file type is damage (later Linux's "iget: bogus i_mode"); a free or
  // never-used one (mode 0, no links) may be read: orphan cleanup and a fresh allocation do.
  if (!VALID_TYPES.has(raw.mode & S_IFMT) && !(raw.mode === 0 && raw.linksCount === 0)) {
    return ext3_error(inode.i_sb, 'ext3_read_inode', `inode ${ino}: bogus i_mode (0${raw.mode.toString(8)})`);
  }
  // A size no file can have (past s_maxbytes) is damage too (later Linux's "bad i_size").
  if (raw.size > inode.i_sb.s_maxbytes) return ext3_error(inode.i_sb, 'ext3_read_inode', `inode ${ino}: bad i_size ${raw.size}`);
  fill(inode, raw);
  return 0;
}

/** The file types ext2 defines: fifo, character device, directory, block device, file, symlink, socket. */
const VALID_TYPES: ReadonlySet<number> = new Set([0o010000, 0o020000, 0o040000, 0o060000, 0o100000, 0o120000, 0o140000]);

export function fill(inode: Inode, raw: RawInode): void {
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
  inode.i_private = {
    block: raw.block.slice(0, EXT2_N_BLOCKS), flags: raw.flags, dtime: raw.dtime, fileAcl: raw.fileAcl,
  } satisfies Ext3InodeInfo;
  if (S_ISCHR(raw.mode) || S_ISBLK(raw.mode)) {
    // Old encoding in i_block[0] (major << 8 | minor); the new one in i_block[1].
    const old = raw.block[0] ?? 0;
    const nu = raw.block[1] ?? 0;
    inode.i_rdev = old !== 0 ? old : ((nu >> 8) & 0xfff) << 8 | (nu & 0xff);
  }
  if (S_ISDIR(raw.mode)) {
    inode.i_op = ext3_dir_inode_ops.ops;
    inode.i_fop = ext3_dir_operations;
  } else if (S_ISREG(raw.mode)) {
    inode.i_op = ext3_file_inode_operations;
    inode.i_fop = ext3_file_operations;
  } else if (S_ISLNK(raw.mode)) {
    inode.i_op = ext3_symlink_inode_operations;
  } else if ((raw.mode & S_IFMT) !== 0) {
    inode.i_op = ext3_file_inode_operations;
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
export function* walkDir(dir: Inode, from: number, each: (name: string, ino: number, type: number, next: number) => boolean): Sys<0 | Errno> {
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
    if (typeof ents === 'string') return ext3_error(dir.i_sb, 'ext3_check_dir_entry', `bad entry in directory #${dir.i_ino}, block ${phys}: ${ents}`);
    for (const e of ents) {
      const at = lblk * bs + e.offset;
      if (at < from || e.inode === 0) continue;
      if (!each(e.name, e.inode, e.fileType, at + e.recLen)) return 0;
    }
  }
  return 0;
}

const FT_TO_DT: readonly number[] = [0, 8, 4, 2, 6, 1, 12, 10];

function* ext3_readdir(file: File, filldir: FillDir): Sys<0 | Errno> {
  let full = false;
  const typed = ext3_has_filetype(file.f_inode.i_sb);
  const r = yield* walkDir(file.f_inode, file.f_pos, (name, ino, type, next) => {
    if (!filldir(name, ino, typed ? (FT_TO_DT[type] ?? 0) : 0)) {
      full = true;
      return false;
    }
    file.f_pos = next;
    return true;
  });
  // Only a walk that reached the end moves the position to the end (past trailing free space).
  if (!isErr(r) && !full) file.f_pos = Math.max(file.f_pos, file.f_inode.i_size);
  return r;
}

export function* ext3_lookup(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
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

/** A symlink whose target lives in i_block: no blocks but its EA block (ext3_inode_is_fast_symlink). */
export function ext3_is_fast_symlink(inode: Inode): boolean {
  const ea = EXT3_I(inode).fileAcl !== 0 ? EXT3_SB(inode.i_sb).blockSize / 512 : 0;
  return S_ISLNK(inode.i_mode) && inode.i_blocks - ea === 0;
}

function* ext3_readlink(dentry: Dentry): Sys<string | Errno> {
  const inode = dentry.d_inode as Inode;
  const info = EXT3_I(inode);
  if (ext3_is_fast_symlink(inode)) {
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

export const ext3_symlink_inode_operations: InodeOperations = { readlink: ext3_readlink, setattr: ext3_setattr };
export const ext3_file_operations: FileOperations = { read: ext3_file_read, write: ext3_file_write, fsync: ext3_fsync };
export const ext3_dir_operations: FileOperations = { readdir: ext3_readdir, fsync: ext3_fsync };

/** fsync: ext3 commits the running transaction and waits; ext2 writes everything and flushes. */
function* ext3_fsync(file: File): Sys<0 | Errno> {
  const sb = file.f_inode.i_sb;
  const s = EXT3_SB(sb);
  if (s.journal !== null) {
    // Data first (in writeback mode nothing else would write it), then the commit, whose barrier
    // makes both durable. Journaled metadata is not dirty for the cache and is not written here.
    const w = s.cache.sync_dirty_buffers();
    if (isErr(w)) return w;
    return yield* ext3_force_commit(sb);
  }
  const r = yield* (sb.s_op.sync_fs?.(sb, true) ?? noSync());
  return r;
}
function* noSync(): Sys<0 | Errno> {
  return 0;
}


// ---------------------------------------------------------------------------------------------
// Writing.

/** Where inode `ino` lives: its inode-table block and the byte offset inside it. */
function inodeLocation(inode: Inode): { blk: number; off: number } {
  const s = EXT3_SB(inode.i_sb);
  const g = Math.floor((inode.i_ino - 1) / s.raw.inodesPerGroup);
  const byte = ((inode.i_ino - 1) % s.raw.inodesPerGroup) * s.raw.inodeSize;
  return { blk: (s.descs[g] as { inodeTable: number }).inodeTable + Math.floor(byte / s.blockSize), off: byte % s.blockSize };
}

/** Copy the in-core inode into its inode-table buffer (ext3_mark_inode_dirty). */
export function ext3_write_inode(inode: Inode): 0 | Errno {
  const s = EXT3_SB(inode.i_sb);
  const info = EXT3_I(inode);
  const { blk, off } = inodeLocation(inode);
  const bh = s.cache.bread(blk);
  if (isErr(bh)) return EIO;
  const block = info.block.slice();
  if (S_ISCHR(inode.i_mode) || S_ISBLK(inode.i_mode)) block[0] = inode.i_rdev;
  markMeta(inode.i_sb, bh, () => encodeInode(bh.data, off, {
    mode: inode.i_mode, uid: inode.i_uid, gid: inode.i_gid, size: inode.i_size, linksCount: inode.i_nlink,
    atime: inode.i_atime.sec, mtime: inode.i_mtime.sec, ctime: inode.i_ctime.sec, dtime: info.dtime,
    blocks: inode.i_blocks, flags: info.flags, block, generation: inode.i_generation, fileAcl: info.fileAcl,
  }));
  s.cache.brelse(bh);
  // The first file over 2 GiB - 1 sets LARGE_FILE, as Linux 2.4's ext3_do_update_inode does.
  return S_ISREG(inode.i_mode) && inode.i_size > 0x7fff_ffff ? ext3_set_large_file(inode.i_sb) : 0;
}

export function* ext3_write_inode_op(inode: Inode): Sys<0 | Errno> {
  return ext3_write_inode(inode);
}

function readPtr(sb: Inode['i_sb'], blk: number, idx: number): number | Errno {
  const s = EXT3_SB(sb);
  const bh = s.cache.bread(blk);
  if (isErr(bh)) return EIO;
  const v = new DataView(bh.data.buffer, bh.data.byteOffset).getUint32(idx * 4, true);
  s.cache.brelse(bh);
  return v;
}

function writePtr(sb: Inode['i_sb'], blk: number, idx: number, value: number): 0 | Errno {
  const s = EXT3_SB(sb);
  const bh = s.cache.bread(blk);
  if (isErr(bh)) return EIO;
  markMeta(sb, bh, () => new DataView(bh.data.buffer, bh.data.byteOffset).setUint32(idx * 4, value, true));
  s.cache.brelse(bh);
  return 0;
}

/**
 * `n` new blocks, the first near `goal`, each next one after the one before; all of them or none
 * (ENOSPC with every bitmap and count as it was: the ones taken are given back).
 */
function allocBlocks(inode: Inode, goal: number, n: number): number[] | Errno {
  const sb = inode.i_sb;
  if (ext3_free_blocks(sb) < n) return ENOSPC;
  const got: number[] = [];
  for (let i = 0; i < n; i++) {
    const blk = ext3_new_block(sb, got[i - 1] ?? goal, EXT3_I(inode).fromReserve === true);
    if (isErr(blk)) {
      for (const b of got) ext3_free_block(sb, b);
      return blk;
    }
    got.push(blk);
  }
  return got;
}

/** The path through the block tree to logical block `lblk`: [slot in i_block, indexes...]. */
function blockPath(per: number, lblk: number): number[] | null {
  if (lblk < 12) return [lblk];
  let rel = lblk - 12;
  if (rel < per) return [12, rel];
  rel -= per;
  if (rel < per * per) return [13, Math.floor(rel / per), rel % per];
  rel -= per * per;
  if (rel < per * per * per) return [14, Math.floor(rel / (per * per)), Math.floor(rel / per) % per, rel % per];
  return null;
}

/**
 * The block behind logical block `lblk`, allocating it (and indirect blocks) when missing. As
 * Linux's ext3_get_block_handle: find how much of the branch exists (ext3_get_branch), allocate the
 * missing blocks all at once (ext3_alloc_branch), fill them (each new indirect block zeroed and
 * pointing at the next; the data block zeroed, for its writer to fill), and only then splice the
 * branch in (ext3_splice_branch): a failure leaves the inode's map and i_blocks untouched.
 */
export function ext3_get_block(inode: Inode, lblk: number): number | Errno {
  const s = EXT3_SB(inode.i_sb);
  const info = EXT3_I(inode);
  const path = blockPath(s.blockSize / 4, lblk);
  if (path === null) return EFBIG;
  const chain: number[] = [];
  let blk = info.block[path[0] as number] ?? 0;
  while (blk !== 0 && chain.length < path.length - 1) {
    chain.push(blk);
    const next = readPtr(inode.i_sb, blk, path[chain.length] as number);
    if (isErr(next)) return next;
    blk = next;
  }
  if (blk !== 0) return blk;
  const have = chain.length;
  const table = s.descs[Math.floor((inode.i_ino - 1) / s.raw.inodesPerGroup)]!.inodeTable;
  const goal = chain[have - 1] ?? ((info.block[0] ?? 0) || table);
  const fresh = allocBlocks(inode, goal, path.length - have);
  if (isErr(fresh)) return fresh;
  fresh.forEach((b, i) => {
    const bh = s.cache.getblk(b);
    const child = fresh[i + 1];
    if (child === undefined) {
      bh.data.fill(0);
      bh.uptodate = true;
    } else {
      markMeta(inode.i_sb, bh, () => {
        bh.data.fill(0);
        new DataView(bh.data.buffer, bh.data.byteOffset).setUint32((path[have + i + 1] as number) * 4, child, true);
      });
    }
    s.cache.brelse(bh);
  });
  const parent = chain[have - 1];
  if (parent === undefined) info.block[path[0] as number] = fresh[0] as number;
  else {
    const w = writePtr(inode.i_sb, parent, path[have] as number, fresh[0] as number);
    if (isErr(w)) return w;
  }
  inode.i_blocks += (fresh.length * s.blockSize) / 512;
  return fresh[fresh.length - 1] as number;
}

/**
 * How many blocks writing the byte ranges `[pos, pos + len)` would allocate: the data blocks that
 * are holes and the indirect blocks missing on their paths, each counted once (presto sizes its log
 * reservations with it). EFBIG past the block tree.
 */
export function ext3_blocks_to_allocate(inode: Inode, ranges: ReadonlyArray<readonly [number, number]>): number | Errno {
  const s = EXT3_SB(inode.i_sb);
  const bs = s.blockSize;
  const missing = new Set<string>();
  for (const [pos, len] of ranges) {
    for (let lblk = Math.floor(pos / bs); len > 0 && lblk <= Math.floor((pos + len - 1) / bs); lblk++) {
      const path = blockPath(bs / 4, lblk);
      if (path === null) return EFBIG;
      const m = missingOnPath(inode, path);
      if (isErr(m)) return m;
      for (let i = m; i < path.length; i++) missing.add(path.slice(0, i + 1).join('/'));
    }
  }
  return missing.size;
}

/** The depth on `path` from which nothing is allocated yet (path.length: the data block exists). */
function missingOnPath(inode: Inode, path: readonly number[]): number | Errno {
  let blk = EXT3_I(inode).block[path[0] as number] ?? 0;
  for (let i = 1; i < path.length; i++) {
    if (blk === 0) return i - 1;
    const next = readPtr(inode.i_sb, blk, path[i] as number);
    if (isErr(next)) return next;
    blk = next;
  }
  return blk === 0 ? path.length - 1 : path.length;
}

/** Free every block of the subtree at `blk` (depth 0: a data block) whose logical block >= from. */
function freeTree(inode: Inode, blk: number, depth: number, first: number, from: number): { empty: boolean } | Errno {
  const s = EXT3_SB(inode.i_sb);
  const per = s.blockSize / 4;
  const span = per ** depth;
  if (depth === 0) {
    if (first < from) return { empty: false };
    forgetBlock(inode.i_sb, blk, journaledBlocks(inode));
    const r = ext3_free_block(inode.i_sb, blk);
    if (isErr(r)) return r;
    inode.i_blocks -= s.blockSize / 512;
    return { empty: true };
  }
  let empty = true;
  for (let i = 0; i < per; i++) {
    const childFirst = first + i * (span / per);
    const child = readPtr(inode.i_sb, blk, i);
    if (isErr(child)) return child;
    if (child === 0) continue;
    if (childFirst + span / per <= from) {
      empty = false;
      continue;
    }
    const r = freeTree(inode, child, depth - 1, childFirst, from);
    if (isErr(r)) return r;
    if (r.empty) {
      const w = writePtr(inode.i_sb, blk, i, 0);
      if (isErr(w)) return w;
    } else {
      empty = false;
    }
  }
  if (empty) {
    forgetBlock(inode.i_sb, blk, true);
    const r = ext3_free_block(inode.i_sb, blk);
    if (isErr(r)) return r;
    inode.i_blocks -= s.blockSize / 512;
  }
  return { empty };
}

/** Free the blocks wholly past `size` and zero the tail of the last partial block. */
export function ext3_truncate_blocks(inode: Inode, size: number): 0 | Errno {
  const s = EXT3_SB(inode.i_sb);
  const bs = s.blockSize;
  const per = bs / 4;
  const info = EXT3_I(inode);
  if (ext3_is_fast_symlink(inode)) return 0;
  const from = Math.ceil(size / bs);
  const roots: Array<[number, number, number]> = [[12, 1, 12], [13, 2, 12 + per], [14, 3, 12 + per + per * per]];
  for (let i = 0; i < 12; i++) {
    const b = info.block[i] ?? 0;
    if (b !== 0 && i >= from) {
      forgetBlock(inode.i_sb, b, journaledBlocks(inode));
      const r = ext3_free_block(inode.i_sb, b);
      if (isErr(r)) return r;
      inode.i_blocks -= bs / 512;
      info.block[i] = 0;
    }
  }
  for (const [slot, depth, first] of roots) {
    const b = info.block[slot] ?? 0;
    if (b === 0 || first + per ** depth <= from) continue;
    const r = freeTree(inode, b, depth, first, from);
    if (isErr(r)) return r;
    if (r.empty) info.block[slot] = 0;
  }
  const tail = size % bs;
  if (tail !== 0) {
    const phys = ext3_bmap(inode, from - 1);
    if (isErr(phys)) return phys;
    if (phys !== 0) {
      const bh = s.cache.bread(phys);
      if (isErr(bh)) return EIO;
      if (S_ISREG(inode.i_mode)) markData(inode.i_sb, bh, () => bh.data.fill(0, tail), journalsData(inode));
      else markMeta(inode.i_sb, bh, () => bh.data.fill(0, tail));
      s.cache.brelse(bh);
    }
  }
  return 0;
}

/** Blocks written per journal handle: each write of a larger range takes several handles. */
const WRITE_CHUNK_BLOCKS = 16;
const WRITE_CREDITS = 2 * WRITE_CHUNK_BLOCKS + 12;

function* ext3_file_write(file: File, data: Uint8Array, pos: number): Sys<number | Errno> {
  const inode = file.f_inode;
  const chunk = WRITE_CHUNK_BLOCKS * EXT3_SB(inode.i_sb).blockSize;
  let done = 0;
  while (done < data.length) {
    const part = data.subarray(done, Math.min(data.length, done + chunk - ((pos + done) % EXT3_SB(inode.i_sb).blockSize)));
    const n = yield* ext3_journaled(inode.i_sb, WRITE_CREDITS, () => write_range(inode, part, pos + done));
    if (isErr(n)) return done > 0 ? done : n;
    done += n;
    if (n < part.length) break;
  }
  return done;
}

/** Write `data` at `pos` (one handle's worth); the count written, or an error if none was. */
function write_range(inode: Inode, data: Uint8Array, pos: number): number | Errno {
  const s = EXT3_SB(inode.i_sb);
  const bs = s.blockSize;
  let done = 0;
  let err: Errno | null = null;
  while (done < data.length) {
    const off = pos + done;
    const lblk = Math.floor(off / bs);
    const within = off - lblk * bs;
    const n = Math.min(bs - within, data.length - done);
    const phys = ext3_get_block(inode, lblk);
    if (isErr(phys)) {
      err = phys;
      break;
    }
    const bh = n === bs ? s.cache.getblk(phys) : s.cache.bread(phys);
    if (isErr(bh)) {
      err = bh;
      break;
    }
    markData(inode.i_sb, bh, () => bh.data.set(data.subarray(done, done + n), within), journalsData(inode));
    s.cache.brelse(bh);
    done += n;
  }
  // Only what was written moves the size: a write that fails wrote nothing and changes nothing.
  if (done > 0 && pos + done > inode.i_size) inode.i_size = pos + done;
  if (done > 0) {
    const now = current_fs_time(inode.i_sb);
    inode.i_mtime = now;
    inode.i_ctime = now;
  }
  const w = ext3_write_inode(inode);
  if (done === 0 && err !== null) return err;
  if (isErr(w)) return w;
  return done;
}

const TRUNCATE_CREDITS = 64;

/** One past the last mapped block of the subtree at `blk` (depth 0: a data block) below `limit`; 0 if none. */
function subtreeEnd(inode: Inode, blk: number, depth: number, first: number, limit: number): number | Errno {
  if (depth === 0) return first + 1;
  const per = EXT3_SB(inode.i_sb).blockSize / 4;
  const span = per ** (depth - 1);
  for (let i = Math.min(per - 1, Math.floor((limit - 1 - first) / span)); i >= 0; i--) {
    const child = readPtr(inode.i_sb, blk, i);
    if (isErr(child)) return child;
    if (child === 0) continue;
    const end = subtreeEnd(inode, child, depth - 1, first + i * span, limit);
    if (end !== 0) return end;
  }
  return 0;
}

/** One past the file's last mapped logical block below `limit` (0 if none): truncation skips holes. */
function mappedEnd(inode: Inode, limit: number): number | Errno {
  const per = EXT3_SB(inode.i_sb).blockSize / 4;
  const block = EXT3_I(inode).block;
  const roots: Array<[number, number, number]> = [[14, 3, 12 + per + per * per], [13, 2, 12 + per], [12, 1, 12]];
  for (const [slot, depth, first] of roots) {
    const b = block[slot] ?? 0;
    if (b === 0 || first >= limit) continue;
    const end = subtreeEnd(inode, b, depth, first, limit);
    if (end !== 0) return end;
  }
  for (let i = Math.min(11, limit - 1); i >= 0; i--) if ((block[i] ?? 0) !== 0) return i + 1;
  return 0;
}

/**
 * Free the inode's blocks past `size`, from byte `from` down, in steps small enough for one handle
 * each (a step frees at most the data under a bounded number of indirect blocks), writing the inode
 * after each, as Linux restarts its truncate handle; holes cost no steps (a file of s_maxbytes with
 * one block goes in one). With `all`, one pass over the whole block map (the orphan cleanup at
 * mount, which does not know where the blocks end).
 */
export function* truncate_in_steps(inode: Inode, size: number, all = false, from = inode.i_size): Sys<0 | Errno> {
  const s = EXT3_SB(inode.i_sb);
  if (all) {
    const max = s.journal?.maxTransactionBuffers ?? TRUNCATE_CREDITS;
    return yield* ext3_journaled(inode.i_sb, max, () => {
      const t = ext3_truncate_blocks(inode, size);
      return isErr(t) ? t : ext3_write_inode(inode);
    });
  }
  const per = s.blockSize / 4;
  const stepBytes = Math.floor(TRUNCATE_CREDITS / 4) * per * s.blockSize;
  for (let at = from; at > size;) {
    const end = mappedEnd(inode, Math.ceil(at / s.blockSize));
    if (isErr(end)) return end;
    at = Math.max(size, Math.min(at, end * s.blockSize));
    const next = Math.max(size, at - stepBytes);
    const r = yield* ext3_journaled(inode.i_sb, TRUNCATE_CREDITS, () => {
      const t = ext3_truncate_blocks(inode, next);
      return isErr(t) ? t : ext3_write_inode(inode);
    });
    if (isErr(r)) return r;
    at = next;
  }
  return 0;
}

export function* ext3_setattr(dentry: Dentry, attr: Iattr, p: Process): Sys<0 | Errno> {
  const inode = dentry.d_inode as Inode;
  const size = attr.ia_size;
  if ((attr.ia_valid & ATTR_SIZE) !== 0 && size !== undefined && size < inode.i_size && S_ISREG(inode.i_mode)) {
    // The new size first, on the orphan list: a crash in the middle is finished at the next mount.
    const old = inode.i_size;
    const first = yield* ext3_journaled(inode.i_sb, 8, () => {
      inode.i_size = size;
      const o = ext3_orphan_add(inode);
      return isErr(o) ? o : ext3_write_inode(inode);
    });
    if (isErr(first)) return first;
    const r = yield* truncate_in_steps(inode, size, false, old);
    if (isErr(r)) return r;
  }
  // Linux starts chmod/chown/utimes with 3 credits: the inode, and the orphan list's two links.
  return yield* ext3_journaled(inode.i_sb, 3, () => {
    inode_setattr(inode, attr, p.cred);
    const o = ext3_orphan_del(inode);
    return isErr(o) ? o : ext3_write_inode(inode);
  });
}

/** Last reference to an unlinked inode: free its blocks, its EA block's reference and the inode. */
export function* ext3_delete_inode(inode: Inode): Sys<void> {
  const info = EXT3_I(inode);
  const hasBlocks = !ext3_is_fast_symlink(inode) && !S_ISCHR(inode.i_mode) && !S_ISBLK(inode.i_mode);
  if (hasBlocks && S_ISREG(inode.i_mode)) yield* truncate_in_steps(inode, 0);
  yield* ext3_journaled(inode.i_sb, TRUNCATE_CREDITS, () => {
    if (hasBlocks) ext3_truncate_blocks(inode, 0);
    ext3_xattr_delete_inode(inode, info.fileAcl);
    info.fileAcl = 0;
    inode.i_size = 0;
    ext3_orphan_del(inode);
    info.dtime = current_fs_time(inode.i_sb).sec;
    ext3_write_inode(inode);
    return ext3_free_inode(inode.i_sb, inode.i_ino, S_ISDIR(inode.i_mode));
  });
}


export const ext3_file_inode_operations: InodeOperations = { setattr: ext3_setattr };

/** The directory operations live in namei.ts; this indirection avoids an import cycle at load. */
export const ext3_dir_inode_ops: { ops: InodeOperations } = { ops: { lookup: ext3_lookup, setattr: ext3_setattr } };

/**
 * Are this inode's blocks journaled (so a freed one needs a revoke record, or recovery could copy a
 * stale logged version over whatever reuses it)? Directories and symlinks always; a regular file
 * marked for data journaling (presto's logs) too: Linux's ext3_forget revokes exactly when
 * `is_metadata || ext3_should_journal_data(inode)` (data=journal is checked in forgetBlock).
 */
function journaledBlocks(inode: Inode): boolean {
  return !S_ISREG(inode.i_mode) || journalsData(inode);
}

function journalsData(inode: Inode): boolean {
  return (EXT3_I(inode).flags & EXT3_JOURNAL_DATA_FL) !== 0;
}

/**
 * Mark a file for data journaling (or not): its data then commits in the same transactions as the
 * metadata, whatever the mount's data mode. The journal operation presto calls for its log files
 * (tr_journal_data). A no-op on ext2.
 */
export function* ext3_set_journal_data(inode: Inode, on: boolean): Sys<0 | Errno> {
  return yield* ext3_journaled(inode.i_sb, 2, () => {
    const info = EXT3_I(inode);
    info.flags = on ? info.flags | EXT3_JOURNAL_DATA_FL : info.flags & ~EXT3_JOURNAL_DATA_FL;
    return ext3_write_inode(inode);
  });
}
