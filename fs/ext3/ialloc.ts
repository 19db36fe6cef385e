/**
 * ialloc.ts: inode allocation (Linux fs/ext3/ialloc.c).
 *
 * Layer: fs (ext3). Interface: `ext3_new_inode(dir, mode)` picks a group (a directory goes to a
 * group with free inodes and fewer directories than average, spreading the tree, as 2.4's
 * find_group_dir; anything else stays in its parent's group, then tries others), marks the inode in
 * the bitmap, counts it, clears its slot in the inode table (all s_inode_size bytes, as Linux 2.4
 * writes a new inode from zeros: nothing of a former life, an i_file_acl or in-inode attributes,
 * survives) and returns its number; ENOSPC when none is left. `ext3_free_inode` undoes that.
 * Generation numbers come from a per-mount counter seeded from the kernel's randomness.
 */
import { assert } from '../../kernel/assert.ts';
import { EIO, ENOSPC, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISDIR, type Inode, type SuperBlock } from '../../kernel/fs.ts';
import { findClear } from './balloc.ts';
import { EXT3_SB, ext3_error, markBitmap, markGroupDesc, markMeta } from './super.ts';

function pickGroup(sb: SuperBlock, parentGroup: number, isDir: boolean): number {
  const s = EXT3_SB(sb);
  if (isDir) {
    const avgFree = s.raw.freeInodesCount / s.groups;
    let best = -1;
    for (let g = 0; g < s.groups; g++) {
      const d = s.descs[g];
      if (d === undefined || d.freeInodesCount === 0 || d.freeInodesCount < avgFree) continue;
      const bd = best < 0 ? undefined : s.descs[best];
      if (bd === undefined || d.freeBlocksCount > bd.freeBlocksCount) best = g;
    }
    if (best >= 0) return best;
  }
  for (let k = 0; k < s.groups; k++) {
    const g = (parentGroup + k) % s.groups;
    if ((s.descs[g]?.freeInodesCount ?? 0) > 0) return g;
  }
  return -1;
}

export function ext3_new_inode(dir: Inode, mode: number): number | Errno {
  const sb = dir.i_sb;
  const s = EXT3_SB(sb);
  const g = pickGroup(sb, Math.floor((dir.i_ino - 1) / s.raw.inodesPerGroup), S_ISDIR(mode));
  if (g < 0) return ENOSPC;
  const desc = s.descs[g];
  assert(desc !== undefined, 'picked a group that does not exist');
  const bh = s.cache.bread(desc.inodeBitmap);
  if (isErr(bh)) return EIO;
  const first = g === 0 ? s.raw.firstIno - 1 : 0;
  const bit = findClear(bh.data, first, s.raw.inodesPerGroup);
  if (bit < 0) {
    s.cache.brelse(bh);
    return ENOSPC;
  }
  const ino = g * s.raw.inodesPerGroup + bit + 1;
  if (sb.s_inodes.has(ino)) {
    // The bitmap calls an inode free that is in use (in core): the bitmap is damaged.
    s.cache.brelse(bh);
    const why = `bit clear in the inode bitmap of group ${g} for inode ${ino}, which is in use`;
    return ext3_error(sb, 'ext3_new_inode', why);
  }
  const table = s.cache.bread(desc.inodeTable + Math.floor((bit * s.raw.inodeSize) / s.blockSize));
  if (isErr(table)) {
    s.cache.brelse(bh);
    return EIO;
  }
  const at = (bit * s.raw.inodeSize) % s.blockSize;
  markMeta(sb, table, () => table.data.fill(0, at, at + s.raw.inodeSize));
  s.cache.brelse(table);
  markBitmap(sb, bh, () => {
    bh.data[bit >> 3] = (bh.data[bit >> 3] as number) | (1 << (bit & 7));
  });
  s.cache.brelse(bh);
  desc.freeInodesCount--;
  s.raw.freeInodesCount--;
  if (S_ISDIR(mode)) desc.usedDirsCount++;
  markGroupDesc(sb, g);
  sb.s_kernel.tracer.emit('ext3.new_inode', { dev: s.cache.dev.name, ino, group: g, dir: S_ISDIR(mode) });
  return ino;
}

export function ext3_free_inode(sb: SuperBlock, ino: number, wasDir: boolean): 0 | Errno {
  const s = EXT3_SB(sb);
  const g = Math.floor((ino - 1) / s.raw.inodesPerGroup);
  const bit = (ino - 1) % s.raw.inodesPerGroup;
  const desc = s.descs[g];
  if (desc === undefined || ino < s.raw.firstIno) {
    ext3_error(sb, 'ext3_free_inode', `reserved or nonexistent inode ${ino}`);
    return 0;
  }
  const bh = s.cache.bread(desc.inodeBitmap);
  if (isErr(bh)) return EIO;
  if ((((bh.data[bit >> 3] as number) >> (bit & 7)) & 1) === 0) {
    // Linux's ext3_free_inode: damage, logged; the inode is left as it is.
    s.cache.brelse(bh);
    ext3_error(sb, 'ext3_free_inode', `bit already cleared for inode ${ino}`);
    return 0;
  }
  markBitmap(sb, bh, () => {
    bh.data[bit >> 3] = (bh.data[bit >> 3] as number) & ~(1 << (bit & 7));
  });
  s.cache.brelse(bh);
  desc.freeInodesCount++;
  s.raw.freeInodesCount++;
  if (wasDir) desc.usedDirsCount--;
  markGroupDesc(sb, g);
  sb.s_kernel.tracer.emit('ext3.free_inode', { dev: s.cache.dev.name, ino });
  return 0;
}
