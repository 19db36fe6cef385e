/**
 * orphan.ts: ext3's orphan list (Linux fs/ext3/namei.c ext3_orphan_add/del, super.c
 * ext3_orphan_cleanup).
 *
 * Layer: fs (ext3). Interface: `ext3_orphan_add(inode)` puts an inode on the list when its last link
 * goes (it may still be open) or while a truncate runs in several handles; `ext3_orphan_del`
 * takes it off when the inode is freed or the truncate is done; `ext3_orphan_cleanup` runs at
 * mount: each inode left on the list by a crash is freed (no links) or truncated to its size.
 * On disk the list is a chain: the superblock's s_last_orphan names the first inode, and each
 * orphan's i_dtime names the next. Both changes are metadata changes in the caller's handle, so
 * the list is exactly as durable as the operations that put inodes on it. ext2 keeps none.
 */
import { EIO, isErr, type Errno } from '../../kernel/errno.ts';
import type { Inode, SuperBlock } from '../../kernel/fs.ts';
import { iget, iput } from '../../kernel/inode.ts';
import type { Sys } from '../../kernel/sched.ts';
import { encodeInode, decodeInode } from './ext3_fs.ts';
import { EXT3_I, ext3_write_inode, truncate_in_steps } from './inode.ts';
import { EXT3_SB, ext3_journaled, ext3_write_super_now, markMeta } from './super.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'ext3.orphan': { dev: string; ino: number; action: 'add' | 'del' | 'free' | 'truncate' };
  }
}

function trace(sb: SuperBlock, ino: number, action: 'add' | 'del' | 'free' | 'truncate'): void {
  sb.s_kernel.tracer.emit('ext3.orphan', { dev: EXT3_SB(sb).cache.dev.name, ino, action });
}

export function ext3_orphan_add(inode: Inode): 0 | Errno {
  const sb = inode.i_sb;
  const s = EXT3_SB(sb);
  if (s.journal === null || s.orphans.includes(inode.i_ino)) return 0;
  EXT3_I(inode).dtime = s.raw.lastOrphan;
  const w = ext3_write_inode(inode);
  if (isErr(w)) return w;
  s.raw.lastOrphan = inode.i_ino;
  s.orphans.unshift(inode.i_ino);
  trace(sb, inode.i_ino, 'add');
  return ext3_write_super_now(sb);
}

/** The on-disk inode `ino` (read straight from its table block, without bringing it in core). */
function rawInode(sb: SuperBlock, ino: number): ReturnType<typeof decodeInode> | Errno {
  const s = EXT3_SB(sb);
  const g = Math.floor((ino - 1) / s.raw.inodesPerGroup);
  const byte = ((ino - 1) % s.raw.inodesPerGroup) * s.raw.inodeSize;
  const bh = s.cache.bread((s.descs[g] as { inodeTable: number }).inodeTable + Math.floor(byte / s.blockSize));
  if (isErr(bh)) return EIO;
  const raw = decodeInode(bh.data, byte % s.blockSize);
  s.cache.brelse(bh);
  return raw;
}

/** Set the next-orphan pointer (i_dtime) of inode `ino` in its inode-table block. */
function setNext(sb: SuperBlock, ino: number, next: number): 0 | Errno {
  const cached = sb.s_inodes.get(ino);
  if (cached !== undefined) {
    EXT3_I(cached).dtime = next;
    return ext3_write_inode(cached);
  }
  const s = EXT3_SB(sb);
  const g = Math.floor((ino - 1) / s.raw.inodesPerGroup);
  const byte = ((ino - 1) % s.raw.inodesPerGroup) * s.raw.inodeSize;
  const bh = s.cache.bread((s.descs[g] as { inodeTable: number }).inodeTable + Math.floor(byte / s.blockSize));
  if (isErr(bh)) return EIO;
  markMeta(sb, bh, () => {
    const raw = decodeInode(bh.data, byte % s.blockSize);
    encodeInode(bh.data, byte % s.blockSize, { ...raw, dtime: next });
  });
  s.cache.brelse(bh);
  return 0;
}

export function ext3_orphan_del(inode: Inode): 0 | Errno {
  const sb = inode.i_sb;
  const s = EXT3_SB(sb);
  const idx = s.orphans.indexOf(inode.i_ino);
  if (s.journal === null || idx < 0) return 0;
  const next = EXT3_I(inode).dtime;
  s.orphans.splice(idx, 1);
  EXT3_I(inode).dtime = 0;
  trace(sb, inode.i_ino, 'del');
  if (idx === 0) {
    s.raw.lastOrphan = next;
    const w = ext3_write_super_now(sb);
    if (isErr(w)) return w;
  } else {
    const r = setNext(sb, s.orphans[idx - 1] as number, next);
    if (isErr(r)) return r;
  }
  return ext3_write_inode(inode);
}

/** At mount, after journal recovery: finish what a crash interrupted. */
export function* ext3_orphan_cleanup(sb: SuperBlock): Sys<0 | Errno> {
  const s = EXT3_SB(sb);
  const chain: number[] = [];
  for (let ino = s.raw.lastOrphan; ino !== 0 && ino <= s.raw.inodesCount && !chain.includes(ino);) {
    chain.push(ino);
    const raw = rawInode(sb, ino);
    if (isErr(raw)) return raw;
    ino = raw.dtime;
  }
  s.orphans.splice(0, s.orphans.length, ...chain);
  for (const ino of chain) {
    const inode = yield* iget(sb, ino);
    if (isErr(inode)) return inode;
    if (inode.i_nlink === 0) {
      trace(sb, ino, 'free');
      yield* iput(inode); // delete_inode frees it and takes it off the list
      continue;
    }
    trace(sb, ino, 'truncate');
    const r = yield* truncate_in_steps(inode, inode.i_size, true);
    if (isErr(r)) return r;
    const d = yield* ext3_journaled(sb, 4, () => ext3_orphan_del(inode));
    yield* iput(inode);
    if (isErr(d)) return d;
  }
  return 0;
}
