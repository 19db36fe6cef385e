/**
 * namei.ts: ext2/ext3 directory operations (Linux fs/ext3/namei.c and dir.c's entry handling).
 *
 * Layer: fs (ext3). Interface: the directory inode operations create, mknod, symlink, mkdir, link,
 * unlink, rmdir, rename (lookup and setattr come from inode.ts), filled into the shared directory
 * table at load. Directories are linear: `add_entry` reuses a free entry or the slack after a live
 * one (splitting rec_len as Linux does), else grows the directory by a block; `delete_entry` folds
 * the victim into the entry before it (or clears its inode number when it is first in its block).
 * Entries carry a file type only where the FILETYPE feature says so. A change to an indexed
 * directory (dir_index: mke2fs, e2fsck -D) clears its EXT2_INDEX_FL, as Linux 2.4 did: the index
 * is then stale, and the directory is linear again (htree keeps its blocks readable that way).
 * Symlinks shorter than 60 bytes live in i_block ("fast"); longer ones get a data block; a target
 * must fit in one block with its NUL (ENAMETOOLONG otherwise: 1023 bytes on 1 KiB blocks).
 * Invariants: every entry's rec_len stays 4-aligned, at least its minimum, inside its block; the
 * last entry of a block reaches the block's end; link counts change with the entries.
 */
import { d_instantiate } from '../../kernel/dcache.ts';
import { EIO, EMLINK, ENAMETOOLONG, ENOENT, ENOTEMPTY, isErr, type Errno } from '../../kernel/errno.ts';
import {
  S_IFDIR, S_IFLNK, S_ISDIR, S_ISLNK, S_ISREG, type Dentry, type Inode,
} from '../../kernel/fs.ts';
import { current_fs_time, ihold, inode_init_owner, iput, new_inode } from '../../kernel/inode.ts';
import type { Process } from '../../kernel/process.ts';
import { runSync, type Sys } from '../../kernel/sched.ts';
import {
  assertDirBlockTiled, decodeDirBlock, dirRecLen, EXT2_INDEX_FL, EXT2_N_BLOCKS, fileTypeOfMode, writeDirEntry, type DirEntry,
} from './ext3_fs.ts';
import { ext3_new_inode } from './ialloc.ts';
import {
  EXT3_I, ext3_bmap, ext3_dir_inode_ops, ext3_file_inode_operations, ext3_file_operations, ext3_dir_operations, ext3_get_block,
  ext3_symlink_inode_operations, ext3_write_inode, type Ext3InodeInfo,
} from './inode.ts';
import { EXT3_SB, ext3_error, ext3_has_filetype, ext3_journaled, markMeta } from './super.ts';
import { ext3_orphan_add } from './orphan.ts';

const EXT2_LINK_MAX = 32000;

function touch(inode: Inode, mtime: boolean): void {
  const now = current_fs_time(inode.i_sb);
  inode.i_ctime = now;
  if (mtime) inode.i_mtime = now;
}

/** A new inode in `dir`'s file system, owned by the caller, written to its table. */
function ext3_new(dir: Inode, mode: number, p: Process): Inode | Errno {
  const ino = ext3_new_inode(dir, mode);
  if (isErr(ino)) return ino;
  const s = EXT3_SB(dir.i_sb);
  const inode = new_inode(dir.i_sb, ino);
  inode_init_owner(inode, dir, mode, p.cred);
  const now = current_fs_time(dir.i_sb);
  inode.i_atime = now;
  inode.i_mtime = now;
  inode.i_ctime = now;
  inode.i_nlink = 1;
  inode.i_generation = s.nextGeneration = (s.nextGeneration + 1) >>> 0;
  const block = new Array<number>(EXT2_N_BLOCKS).fill(0);
  inode.i_private = { block, flags: 0, dtime: 0, fileAcl: 0 } satisfies Ext3InodeInfo;
  if (S_ISDIR(inode.i_mode)) {
    inode.i_op = ext3_dir_inode_ops.ops;
    inode.i_fop = ext3_dir_operations;
  } else if (S_ISREG(inode.i_mode)) {
    inode.i_op = ext3_file_inode_operations;
    inode.i_fop = ext3_file_operations;
  } else if (S_ISLNK(inode.i_mode)) {
    inode.i_op = ext3_symlink_inode_operations;
  } else {
    inode.i_op = ext3_file_inode_operations;
  }
  const w = ext3_write_inode(inode);
  return isErr(w) ? w : inode;
}

interface DirBlock {
  readonly phys: number;
  readonly ents: DirEntry[];
}

/** Directory `dir`'s logical block `lblk`, decoded; null for a hole; a damaged block is ext3_error (EUCLEAN). */
function dirBlock(dir: Inode, lblk: number): DirBlock | null | Errno {
  const s = EXT3_SB(dir.i_sb);
  const phys = ext3_bmap(dir, lblk);
  if (isErr(phys)) return phys;
  if (phys === 0) return null;
  const bh = s.cache.bread(phys);
  if (isErr(bh)) return EIO;
  const ents = decodeDirBlock(bh.data);
  s.cache.brelse(bh);
  if (typeof ents !== 'string') return { phys, ents };
  return ext3_error(dir.i_sb, 'ext3_check_dir_entry', `bad entry in directory #${dir.i_ino}, block ${phys}: ${ents}`);
}

function dirBlockCount(dir: Inode): number {
  return Math.ceil(dir.i_size / EXT3_SB(dir.i_sb).blockSize);
}

/** The type byte of an entry for `mode`: 0 (unknown) on a file system without FILETYPE. */
function entryType(sb: Inode['i_sb'], mode: number): number {
  return ext3_has_filetype(sb) ? fileTypeOfMode(mode) : 0;
}

/** Entries were added or removed: an htree index no longer describes the directory. */
function unindex(dir: Inode): void {
  const info = EXT3_I(dir);
  info.flags &= ~EXT2_INDEX_FL;
  dir.i_flags = info.flags;
}

/** Change directory block `phys` in place (it is in the buffer cache: dirBlock just read it). */
function changeDirBlock(dir: Inode, phys: number, change: (b: Uint8Array, v: DataView) => void): 0 | Errno {
  const s = EXT3_SB(dir.i_sb);
  const bh = s.cache.bread(phys);
  if (isErr(bh)) return EIO;
  markMeta(dir.i_sb, bh, () => {
    change(bh.data, new DataView(bh.data.buffer, bh.data.byteOffset));
    assertDirBlockTiled(bh.data, `directory ${dir.i_ino}, block ${phys}`);
  });
  s.cache.brelse(bh);
  touch(dir, true);
  return ext3_write_inode(dir);
}

/** Add `name` -> `inode` to directory `dir`. */
function add_entry(dir: Inode, name: string, inode: Inode): 0 | Errno {
  const s = EXT3_SB(dir.i_sb);
  const bs = s.blockSize;
  const need = dirRecLen(name.length);
  const type = entryType(dir.i_sb, inode.i_mode);
  const trace = (blk: number, offset: number): void =>
    dir.i_sb.s_kernel.tracer.emit('ext3.add_entry', { dev: s.cache.dev.name, dir: dir.i_ino, name, ino: inode.i_ino, blk, offset });
  const nblocks = dirBlockCount(dir);
  for (let lblk = 0; lblk < nblocks; lblk++) {
    const b = dirBlock(dir, lblk);
    if (isErr(b)) return b;
    if (b === null) continue;
    // A free entry, or the slack after a live one, big enough for the new name.
    const e = b.ents.find((x) => x.recLen - (x.inode === 0 ? 0 : dirRecLen(x.nameLen)) >= need);
    if (e === undefined) continue;
    const used = e.inode === 0 ? 0 : dirRecLen(e.nameLen);
    trace(b.phys, e.offset + used);
    unindex(dir);
    return changeDirBlock(dir, b.phys, (data, v) => {
      if (used !== 0) v.setUint16(e.offset + 4, used, true);
      writeDirEntry(data, e.offset + used, inode.i_ino, e.recLen - used, name, type);
    });
  }
  const phys = ext3_get_block(dir, nblocks);
  if (isErr(phys)) return phys;
  const bh = s.cache.getblk(phys);
  trace(phys, 0);
  markMeta(dir.i_sb, bh, () => {
    bh.data.fill(0);
    writeDirEntry(bh.data, 0, inode.i_ino, bs, name, type);
  });
  s.cache.brelse(bh);
  dir.i_size = (nblocks + 1) * bs;
  unindex(dir);
  touch(dir, true);
  return ext3_write_inode(dir);
}

interface Found {
  readonly phys: number;
  readonly offset: number;
  readonly prev: number | null;
  readonly recLen: number;
}

function find_entry(dir: Inode, name: string): Found | null | Errno {
  for (let lblk = 0; lblk < dirBlockCount(dir); lblk++) {
    const b = dirBlock(dir, lblk);
    if (isErr(b)) return b;
    if (b === null) continue;
    let prev: number | null = null;
    for (const e of b.ents) {
      if (e.inode !== 0 && e.name === name) return { phys: b.phys, offset: e.offset, prev, recLen: e.recLen };
      prev = e.offset;
    }
  }
  return null;
}

function delete_entry(dir: Inode, name: string): 0 | Errno {
  const f = find_entry(dir, name);
  if (isErr(f)) return f;
  if (f === null) return ENOENT;
  dir.i_sb.s_kernel.tracer.emit('ext3.del_entry', { dev: EXT3_SB(dir.i_sb).cache.dev.name, dir: dir.i_ino, name });
  unindex(dir);
  return changeDirBlock(dir, f.phys, (_data, v) => {
    if (f.prev === null) v.setUint32(f.offset, 0, true);
    else v.setUint16(f.prev + 4, v.getUint16(f.prev + 4, true) + f.recLen, true);
  });
}

/** Point an existing entry at another inode (rename over an existing name). */
function set_link(dir: Inode, name: string, inode: Inode): 0 | Errno {
  const f = find_entry(dir, name);
  if (isErr(f)) return f;
  if (f === null) return ENOENT;
  return changeDirBlock(dir, f.phys, (data, v) => {
    v.setUint32(f.offset, inode.i_ino, true);
    data[f.offset + 7] = entryType(dir.i_sb, inode.i_mode);
  });
}

function empty_dir(inode: Inode): boolean | Errno {
  for (let lblk = 0; lblk < dirBlockCount(inode); lblk++) {
    const b = dirBlock(inode, lblk);
    if (isErr(b)) return b;
    if (b !== null && b.ents.some((e) => e.inode !== 0 && e.name !== '.' && e.name !== '..')) return false;
  }
  return true;
}

/** Link a fresh inode under `dentry`, or undo it (drop the inode) if the entry cannot be added. */
function* instantiate(dir: Inode, dentry: Dentry, inode: Inode): Sys<0 | Errno> {
  const r = add_entry(dir, dentry.d_name, inode);
  if (isErr(r)) {
    inode.i_nlink = 0;
    yield* iput(inode);
    return r;
  }
  d_instantiate(dentry, inode);
  return 0;
}

function* ext3_create(dir: Inode, dentry: Dentry, mode: number, p: Process): Sys<0 | Errno> {
  const inode = ext3_new(dir, mode, p);
  if (isErr(inode)) return inode;
  return yield* instantiate(dir, dentry, inode);
}

function* ext3_mknod(dir: Inode, dentry: Dentry, mode: number, rdev: number, p: Process): Sys<0 | Errno> {
  const inode = ext3_new(dir, mode, p);
  if (isErr(inode)) return inode;
  inode.i_rdev = rdev;
  const w = ext3_write_inode(inode);
  if (isErr(w)) return w;
  return yield* instantiate(dir, dentry, inode);
}

function* ext3_symlink(dir: Inode, dentry: Dentry, target: string, p: Process): Sys<0 | Errno> {
  if (target.length + 1 > EXT3_SB(dir.i_sb).blockSize) return ENAMETOOLONG;
  const inode = ext3_new(dir, S_IFLNK | 0o777, p);
  if (isErr(inode)) return inode;
  const info = EXT3_I(inode);
  inode.i_size = target.length;
  if (target.length < 60) {
    const bytes = new Uint8Array(60);
    for (let i = 0; i < target.length; i++) bytes[i] = target.charCodeAt(i);
    const v = new DataView(bytes.buffer);
    for (let i = 0; i < EXT2_N_BLOCKS; i++) info.block[i] = v.getUint32(i * 4, true);
  } else {
    const s = EXT3_SB(dir.i_sb);
    const phys = ext3_get_block(inode, 0);
    if (isErr(phys)) {
      inode.i_nlink = 0;
      yield* iput(inode);
      return phys;
    }
    const bh = s.cache.getblk(phys);
    markMeta(dir.i_sb, bh, () => {
      bh.data.fill(0);
      for (let i = 0; i < target.length; i++) bh.data[i] = target.charCodeAt(i);
    });
    s.cache.brelse(bh);
  }
  const w = ext3_write_inode(inode);
  if (isErr(w)) return w;
  return yield* instantiate(dir, dentry, inode);
}

function* ext3_mkdir(dir: Inode, dentry: Dentry, mode: number, p: Process): Sys<0 | Errno> {
  if (dir.i_nlink >= EXT2_LINK_MAX) return EMLINK;
  const inode = ext3_new(dir, S_IFDIR | mode, p);
  if (isErr(inode)) return inode;
  const s = EXT3_SB(dir.i_sb);
  const phys = ext3_get_block(inode, 0);
  if (isErr(phys)) {
    inode.i_nlink = 0;
    yield* iput(inode);
    return phys;
  }
  const bh = s.cache.getblk(phys);
  markMeta(dir.i_sb, bh, () => {
    bh.data.fill(0);
    writeDirEntry(bh.data, 0, inode.i_ino, 12, '.', entryType(dir.i_sb, S_IFDIR));
    writeDirEntry(bh.data, 12, dir.i_ino, s.blockSize - 12, '..', entryType(dir.i_sb, S_IFDIR));
  });
  s.cache.brelse(bh);
  inode.i_size = s.blockSize;
  inode.i_nlink = 2;
  const w = ext3_write_inode(inode);
  if (isErr(w)) return w;
  const r = yield* instantiate(dir, dentry, inode);
  if (isErr(r)) return r;
  dir.i_nlink++;
  return ext3_write_inode(dir);
}

function* ext3_link(old: Dentry, dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const inode = old.d_inode as Inode;
  if (inode.i_nlink >= EXT2_LINK_MAX) return EMLINK;
  const r = add_entry(dir, dentry.d_name, inode);
  if (isErr(r)) return r;
  inode.i_nlink++;
  touch(inode, false);
  const w = ext3_write_inode(inode);
  if (isErr(w)) return w;
  d_instantiate(dentry, ihold(inode));
  return 0;
}

function* ext3_unlink(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const inode = dentry.d_inode as Inode;
  const r = delete_entry(dir, dentry.d_name);
  if (isErr(r)) return r;
  inode.i_nlink--;
  inode.i_ctime = dir.i_ctime;
  const w = ext3_write_inode(inode);
  // No links left: on the orphan list until the last close frees it (or the next mount does).
  return isErr(w) || inode.i_nlink > 0 ? w : ext3_orphan_add(inode);
}

function* ext3_rmdir(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const inode = dentry.d_inode as Inode;
  const empty = empty_dir(inode);
  if (isErr(empty)) return empty;
  if (!empty) return ENOTEMPTY;
  const r = delete_entry(dir, dentry.d_name);
  if (isErr(r)) return r;
  inode.i_nlink = 0;
  inode.i_size = 0;
  inode.i_ctime = dir.i_ctime;
  const w = ext3_orphan_add(inode);
  if (isErr(w)) return w;
  const wi = ext3_write_inode(inode);
  if (isErr(wi)) return wi;
  dir.i_nlink--;
  return ext3_write_inode(dir);
}

/** Rewrite a directory's ".." to point at `parent`. */
function set_dotdot(inode: Inode, parent: Inode): 0 | Errno {
  const s = EXT3_SB(inode.i_sb);
  const phys = ext3_bmap(inode, 0);
  if (isErr(phys)) return phys;
  const bh = s.cache.bread(phys);
  if (isErr(bh)) return EIO;
  markMeta(inode.i_sb, bh, () => new DataView(bh.data.buffer, bh.data.byteOffset).setUint32(12, parent.i_ino, true));
  s.cache.brelse(bh);
  return 0;
}

function* ext3_rename(old_dir: Inode, old: Dentry, new_dir: Inode, target: Dentry): Sys<0 | Errno> {
  const inode = old.d_inode as Inode;
  const victim = target.d_inode;
  const isdir = S_ISDIR(inode.i_mode);
  if (victim !== null) {
    if (S_ISDIR(victim.i_mode)) {
      const empty = empty_dir(victim);
      if (isErr(empty)) return empty;
      if (!empty) return ENOTEMPTY;
    }
    const r = set_link(new_dir, target.d_name, inode);
    if (isErr(r)) return r;
    victim.i_ctime = new_dir.i_ctime;
    if (S_ISDIR(victim.i_mode)) {
      victim.i_nlink = 0;
      victim.i_size = 0;
      new_dir.i_nlink--;
    } else {
      victim.i_nlink--;
    }
    const w = ext3_write_inode(victim);
    if (isErr(w)) return w;
    if (victim.i_nlink === 0) {
      const o = ext3_orphan_add(victim);
      if (isErr(o)) return o;
    }
  } else {
    if (isdir && new_dir !== old_dir && new_dir.i_nlink >= EXT2_LINK_MAX) return EMLINK;
    const r = add_entry(new_dir, target.d_name, inode);
    if (isErr(r)) return r;
  }
  const d = delete_entry(old_dir, old.d_name);
  if (isErr(d)) return d;
  if (isdir) {
    // The moved directory's ".." leaves the old parent and arrives at the new one.
    if (old_dir !== new_dir) {
      const r = set_dotdot(inode, new_dir);
      if (isErr(r)) return r;
    }
    old_dir.i_nlink--;
    new_dir.i_nlink++;
  }
  touch(inode, false);
  for (const i of new Set([inode, old_dir, new_dir])) {
    const w = ext3_write_inode(i);
    if (isErr(w)) return w;
  }
  return 0;
}

/**
 * Journal credits per operation, Linux 2.4's (include/linux/ext3_jbd.h, fs/ext3/namei.c): one data
 * block's worth is 8 (inode, bitmap, three indirect blocks, group and superblock summaries, the
 * block); a data-modifying transaction 3 x 8 - 2 = 22; a delete 2 x 22 + 64.
 */
export const EXT3_SINGLEDATA_TRANS_BLOCKS = 8;
export const EXT3_DATA_TRANS_BLOCKS = 3 * EXT3_SINGLEDATA_TRANS_BLOCKS - 2;
export const EXT3_DELETE_TRANS_BLOCKS = 2 * EXT3_DATA_TRANS_BLOCKS + 64;
const CREDITS = {
  create: EXT3_DATA_TRANS_BLOCKS + 3,
  mknod: EXT3_DATA_TRANS_BLOCKS + 3,
  symlink: EXT3_DATA_TRANS_BLOCKS + 5,
  mkdir: EXT3_DATA_TRANS_BLOCKS + 3,
  link: EXT3_DATA_TRANS_BLOCKS,
  unlink: EXT3_DELETE_TRANS_BLOCKS,
  rmdir: EXT3_DELETE_TRANS_BLOCKS,
  rename: 2 * EXT3_DATA_TRANS_BLOCKS + 2,
} as const;

/**
 * Each operation runs inside one journal handle (no-ops on ext2). The operations above never yield
 * between their first and last change, so the handle is theirs alone while it is open.
 */
function journaled<A extends unknown[]>(op: (...a: A) => Sys<0 | Errno>, credits: number, dirArg: (...a: A) => Inode): (...a: A) => Sys<0 | Errno> {
  return function* (...a: A): Sys<0 | Errno> {
    const sb = dirArg(...a).i_sb;
    const r = yield* ext3_journaled(sb, credits, () => runSync(op(...a)));
    return r;
  };
}

Object.assign(ext3_dir_inode_ops.ops, {
  create: journaled(ext3_create, CREDITS.create, (d) => d),
  mknod: journaled(ext3_mknod, CREDITS.mknod, (d) => d),
  symlink: journaled(ext3_symlink, CREDITS.symlink, (d) => d),
  mkdir: journaled(ext3_mkdir, CREDITS.mkdir, (d) => d),
  link: journaled(ext3_link, CREDITS.link, (_o, d) => d),
  unlink: journaled(ext3_unlink, CREDITS.unlink, (d) => d),
  rmdir: journaled(ext3_rmdir, CREDITS.rmdir, (d) => d),
  rename: journaled(ext3_rename, CREDITS.rename, (d) => d),
});
