/**
 * fsck.ts: a pure, read-only file system checker (counterpart of e2fsck's passes).
 *
 * Layer: fs (ext3). Interface: `fsck(dev)` reads the device (never writes) and returns the problems
 * it finds, each with a pass, a stable code, the inode or block concerned and a sentence. Empty
 * means clean. Order of work, as e2fsck's: the superblock and group descriptors (pass 0; a journal
 * that needs recovery stops the check: it must be recovered first), the orphan list, pass 1 (each
 * inode: mode, dtime, block map in range, not claimed twice, i_blocks, sizes, symlinks, the EA
 * block; the resize inode's reserved blocks), pass 2 (directory entries: rec_len, names, inode
 * numbers, file types where FILETYPE says so and none where it does not, "." and ".."), pass 3
 * (connectivity: the root, reachability, ".." against the real parent), pass 4 (link counts, EA
 * block reference counts) and pass 5 (bitmaps and the group and superblock free counts, exactly;
 * files over 2 GiB - 1 need LARGE_FILE). An indexed directory is read as linear, as htree allows.
 */
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { isErr } from '../../kernel/errno.ts';
import { decodeJournalSuperblock } from '../jbd/jbd.ts';
import {
  COMPAT_EXT_ATTR, COMPAT_HAS_JOURNAL, COMPAT_RESIZE_INODE, decodeDirBlock, decodeGroupDesc, decodeInode,
  EXT2_RESIZE_INO, EXT2_ROOT_INO, EXT3_JOURNAL_INO, fileTypeOfMode, GROUP_DESC_SIZE, groupHasSuper, INCOMPAT_FILETYPE,
  INCOMPAT_RECOVER,
  RO_COMPAT_LARGE_FILE, RO_COMPAT_SPARSE_SUPER, type GroupDesc, type RawInode, type Superblock,
} from './ext3_fs.ts';
import { ext3_check_super, ext3_unhonoured_features } from './super.ts';
import { decodeXattrBlock } from './xattr.ts';

export interface Problem {
  readonly pass: number;
  readonly code: string;
  readonly ino?: number;
  readonly blk?: number;
  readonly message: string;
}

const VALID_TYPES: ReadonlySet<number> = new Set([0o010000, 0o020000, 0o040000, 0o060000, 0o100000, 0o120000, 0o140000]);
const MAX_PER_CODE = 20;

class Checker {
  readonly problems: Problem[] = [];
  private readonly perCode = new Map<string, number>();
  readonly bs: number;
  readonly descs: GroupDesc[] = [];
  readonly groups: number;
  /** Block -> who owns it: 'meta' or an inode number. */
  readonly owner = new Map<number, number | 'meta'>();
  readonly inodes = new Map<number, RawInode>();
  readonly inUse = new Set<number>();
  readonly refs = new Map<number, number>();
  readonly dotdot = new Map<number, number>();
  readonly parents = new Map<number, number[]>();
  readonly blocksOf = new Map<number, number[]>();
  readonly orphans = new Set<number>();
  /** EA block -> [its h_refcount, the inodes naming it]. */
  readonly eaBlocks = new Map<number, { refcount: number; users: number }>();
  largeFiles = 0;

  constructor(readonly dev: BlockDevice, readonly sb: Superblock) {
    this.bs = dev.blockSize;
    this.groups = Math.ceil((sb.blocksCount - sb.firstDataBlock) / sb.blocksPerGroup);
  }

  report(p: Problem): void {
    const n = (this.perCode.get(p.code) ?? 0) + 1;
    this.perCode.set(p.code, n);
    if (n <= MAX_PER_CODE) this.problems.push(p);
  }

  read(blk: number): Uint8Array | null {
    const b = new Uint8Array(this.bs);
    return isErr(this.dev.read(blk, b)) ? null : b;
  }

  groupOf(blk: number): number {
    return Math.floor((blk - this.sb.firstDataBlock) / this.sb.blocksPerGroup);
  }

  inodeAt(ino: number): RawInode | null {
    const g = Math.floor((ino - 1) / this.sb.inodesPerGroup);
    const d = this.descs[g];
    if (d === undefined) return null;
    const byte = ((ino - 1) % this.sb.inodesPerGroup) * this.sb.inodeSize;
    const b = this.read(d.inodeTable + Math.floor(byte / this.bs));
    return b === null ? null : decodeInode(b, byte % this.bs);
  }
}

/** Pass 0: group descriptors and the metadata blocks they name. */
function checkGroups(c: Checker): boolean {
  const gdtBlocks = Math.ceil((c.groups * GROUP_DESC_SIZE) / c.bs);
  const sparse = (c.sb.featureRoCompat & RO_COMPAT_SPARSE_SUPER) !== 0;
  for (let g = 0; g < c.groups; g++) {
    const off = g * GROUP_DESC_SIZE;
    const b = c.read(c.sb.firstDataBlock + 1 + Math.floor(off / c.bs));
    if (b === null) return false;
    const d = decodeGroupDesc(b, off % c.bs);
    c.descs.push(d);
    const start = c.sb.firstDataBlock + g * c.sb.blocksPerGroup;
    const end = Math.min(start + c.sb.blocksPerGroup, c.sb.blocksCount);
    if (groupHasSuper(g, sparse)) for (let i = 0; i <= gdtBlocks; i++) c.owner.set(start + i, 'meta');
    const itb = Math.ceil((c.sb.inodesPerGroup * c.sb.inodeSize) / c.bs);
    const meta: Array<[string, number, number]> = [['block bitmap', d.blockBitmap, 1], ['inode bitmap', d.inodeBitmap, 1], ['inode table', d.inodeTable, itb]];
    for (const [what, first, n] of meta) {
      if (first < start || first + n > end) {
        c.report({
          pass: 0, code: 'group-metadata-out-of-group', blk: first,
          message: `group ${g}: its ${what} at block ${first} lies outside the group (${start}-${end - 1})`,
        });
        return false;
      }
      for (let i = 0; i < n; i++) c.owner.set(first + i, 'meta');
    }
  }
  if (c.sb.firstDataBlock === 1) c.owner.set(0, 'meta');
  return true;
}

/** Blocks of an inode's map: data and indirect; reports range errors. Returns [data, indirect]. */
function mapOf(c: Checker, ino: number, raw: RawInode): { data: Array<[number, number]>; meta: number[] } {
  const per = c.bs / 4;
  const data: Array<[number, number]> = [];
  const meta: number[] = [];
  const bad = (blk: number): boolean => {
    if (blk >= c.sb.firstDataBlock && blk < c.sb.blocksCount) return false;
    c.report({ pass: 1, code: 'block-out-of-range', ino, blk, message: `inode ${ino} refers to block ${blk}, outside the file system` });
    return true;
  };
  const walk = (blk: number, depth: number, first: number): void => {
    if (bad(blk)) return;
    if (depth === 0) {
      data.push([first, blk]);
      return;
    }
    meta.push(blk);
    const b = c.read(blk);
    if (b === null) return;
    const v = new DataView(b.buffer);
    const span = per ** (depth - 1);
    for (let i = 0; i < per; i++) {
      const child = v.getUint32(i * 4, true);
      if (child !== 0) walk(child, depth - 1, first + i * span);
    }
  };
  raw.block.slice(0, 12).forEach((b, i) => {
    if (b !== 0 && !bad(b)) data.push([i, b]);
  });
  const starts = [12, 12 + per, 12 + per + per * per];
  [12, 13, 14].forEach((slot, k) => {
    const b = raw.block[slot] ?? 0;
    if (b !== 0) walk(b, k + 1, starts[k] as number);
  });
  return { data, meta };
}

function claim(c: Checker, ino: number, blk: number): void {
  const prev = c.owner.get(blk);
  if (prev === undefined) {
    c.owner.set(blk, ino);
    return;
  }
  const who = prev === 'meta' ? 'file system metadata' : `inode ${prev}`;
  c.report({
    pass: 1, code: prev === 'meta' ? 'block-is-metadata' : 'block-claimed-twice', ino, blk,
    message: `block ${blk} of inode ${ino} is also used by ${who}`,
  });
}

function eaSectors(c: Checker, raw: RawInode): number {
  return raw.fileAcl === 0 ? 0 : c.bs / 512;
}

function isFastSymlink(c: Checker, raw: RawInode): boolean {
  return (raw.mode & 0o170000) === 0o120000 && raw.blocks - eaSectors(c, raw) === 0;
}

/** The inode's EA block: in range, a valid header, claimed once however many inodes share it. */
function checkEaBlock(c: Checker, ino: number, raw: RawInode): void {
  const blk = raw.fileAcl;
  if (blk === 0) return;
  const bad = (message: string): void => {
    c.report({ pass: 1, code: 'bad-ea-block', ino, blk, message: `inode ${ino}: ${message}` });
  };
  if ((c.sb.featureCompat & COMPAT_EXT_ATTR) === 0) {
    return bad(`i_file_acl is ${blk}, but the file system has no ext_attr feature`);
  }
  if (blk < c.sb.firstDataBlock || blk >= c.sb.blocksCount) return bad(`its EA block ${blk} is out of range`);
  const known = c.eaBlocks.get(blk);
  if (known !== undefined) {
    known.users++;
    return;
  }
  const b = c.read(blk);
  const ea = b === null ? 'unreadable' : decodeXattrBlock(b);
  if (typeof ea === 'string') return bad(`its EA block ${blk} is damaged: ${ea}`);
  claim(c, ino, blk);
  c.eaBlocks.set(blk, { refcount: ea.refcount, users: 1 });
}

function checkInode(c: Checker, ino: number, raw: RawInode): void {
  const type = raw.mode & 0o170000;
  if (!VALID_TYPES.has(type)) {
    c.report({ pass: 1, code: 'bad-mode', ino, message: `inode ${ino} has an impossible mode 0${raw.mode.toString(8)}` });
    return;
  }
  if (raw.dtime !== 0 && !c.orphans.has(ino)) c.report({ pass: 1, code: 'dtime-set', ino, message: `inode ${ino} is in use but has a deletion time` });
  checkEaBlock(c, ino, raw);
  if (type === 0o100000 && raw.size > 0x7fff_ffff) c.largeFiles++;
  if (isFastSymlink(c, raw) || type === 0o020000 || type === 0o060000 || type === 0o010000 || type === 0o140000) {
    if (isFastSymlink(c, raw) && (raw.size === 0 || raw.size >= 60)) {
      c.report({ pass: 1, code: 'bad-symlink', ino, message: `fast symlink ${ino} has length ${raw.size}` });
    }
    c.blocksOf.set(ino, []);
    return;
  }
  const { data, meta } = mapOf(c, ino, raw);
  for (const [, blk] of data) claim(c, ino, blk);
  for (const blk of meta) claim(c, ino, blk);
  c.blocksOf.set(ino, data.map(([, b]) => b));
  const sectors = ((data.length + meta.length) * c.bs) / 512 + eaSectors(c, raw);
  if (raw.blocks !== sectors) c.report({
    pass: 1, code: 'i-blocks-wrong', ino,
    message: `inode ${ino}: i_blocks is ${raw.blocks}, its map holds ${sectors} sectors`,
  });
  const last = data.reduce((m, [l]) => Math.max(m, l), -1);
  if (type === 0o040000 && (raw.size % c.bs !== 0 || raw.size < (last + 1) * c.bs)) {
    c.report({ pass: 1, code: 'dir-size-wrong', ino, message: `directory ${ino} has size ${raw.size} but maps block ${last}` });
  } else if (type !== 0o040000 && last >= 0 && last * c.bs >= raw.size) {
    c.report({ pass: 1, code: 'block-past-size', ino, message: `inode ${ino} maps block ${last}, past its size ${raw.size}` });
  }
  if (type === 0o120000 && (data.length !== 1 || raw.size === 0 || raw.size >= c.bs)) {
    c.report({ pass: 1, code: 'bad-symlink', ino, message: `slow symlink ${ino} has ${data.length} blocks and length ${raw.size}` });
  }
}

function pass1(c: Checker): void {
  for (let ino = 1; ino <= c.sb.inodesCount; ino++) {
    const raw = c.inodeAt(ino);
    if (raw === null) continue;
    c.inodes.set(ino, raw);
    if (ino === EXT2_RESIZE_INO && (c.sb.featureCompat & COMPAT_RESIZE_INODE) !== 0) {
      // Its map reserves descriptor blocks (those after each descriptor table, and the index).
      const { data, meta } = mapOf(c, ino, raw);
      for (const blk of [...data.map(([, b]) => b), ...meta]) claim(c, ino, blk);
      continue;
    }
    const reserved = ino < c.sb.firstIno && ino !== EXT2_ROOT_INO && ino !== EXT3_JOURNAL_INO;
    if (reserved) continue;
    if (ino === EXT3_JOURNAL_INO && (c.sb.featureCompat & COMPAT_HAS_JOURNAL) === 0) continue;
    if (raw.linksCount === 0 && ino !== EXT3_JOURNAL_INO) {
      if (raw.mode !== 0 && raw.dtime === 0 && !c.orphans.has(ino) && inodeBit(c, ino)) {
        c.report({ pass: 1, code: 'zero-dtime', ino, message: `deleted inode ${ino} has no deletion time` });
      }
      continue;
    }
    c.inUse.add(ino);
    checkInode(c, ino, raw);
  }
}

function inodeBit(c: Checker, ino: number): boolean {
  const g = Math.floor((ino - 1) / c.sb.inodesPerGroup);
  const b = c.read((c.descs[g] as GroupDesc).inodeBitmap);
  const i = (ino - 1) % c.sb.inodesPerGroup;
  return b !== null && (((b[i >> 3] as number) >> (i & 7)) & 1) === 1;
}

function checkDir(c: Checker, ino: number): void {
  const blocks = c.blocksOf.get(ino) ?? [];
  const filetype = (c.sb.featureIncompat & INCOMPAT_FILETYPE) !== 0;
  let index = 0;
  for (const blk of blocks) {
    const b = c.read(blk);
    if (b === null) continue;
    const ents = decodeDirBlock(b);
    if (typeof ents === 'string') {
      c.report({ pass: 2, code: 'dirent-corrupt', ino, blk, message: `directory ${ino}, block ${blk}: ${ents}` });
      continue;
    }
    for (const e of ents) {
      const i = index++;
      if (e.inode === 0) continue;
      if (i === 0 && (e.name !== '.' || e.inode !== ino)) c.report({ pass: 2, code: 'missing-dot', ino, message: `directory ${ino} does not begin with "."` });
      if (i === 1 && e.name !== '..') c.report({ pass: 2, code: 'missing-dotdot', ino, message: `directory ${ino}'s second entry is not ".."` });
      if (e.nameLen === 0 || e.name.includes('/') || e.name.includes('\0')) {
        c.report({ pass: 2, code: 'bad-name', ino, message: `directory ${ino} has an entry with an illegal name ${JSON.stringify(e.name)}` });
      }
      if (e.inode > c.sb.inodesCount) {
        c.report({ pass: 2, code: 'dirent-bad-inode', ino, message: `directory ${ino}: "${e.name}" names inode ${e.inode}, outside the table` });
        continue;
      }
      const target = c.inodes.get(e.inode);
      if (!c.inUse.has(e.inode) || target === undefined) {
        c.report({ pass: 2, code: 'dirent-unused-inode', ino, message: `directory ${ino}: "${e.name}" names inode ${e.inode}, which is not in use` });
        continue;
      }
      const want = filetype ? fileTypeOfMode(target.mode) : 0;
      if (e.fileType !== want) {
        c.report({
          pass: 2, code: 'dirent-file-type', ino,
          message: `directory ${ino}: "${e.name}" has file type ${e.fileType}, ${filetype
            ? `inode ${e.inode} is type ${want}` : 'on a file system without the filetype feature'}`,
        });
      }
      c.refs.set(e.inode, (c.refs.get(e.inode) ?? 0) + 1);
      if (e.name === '..') c.dotdot.set(ino, e.inode);
      else if (e.name !== '.' && (target.mode & 0o170000) === 0o040000) c.parents.set(e.inode, [...(c.parents.get(e.inode) ?? []), ino]);
    }
  }
}

function pass2(c: Checker): void {
  for (const ino of c.inUse) if (((c.inodes.get(ino) as RawInode).mode & 0o170000) === 0o040000) checkDir(c, ino);
}

function pass3(c: Checker): void {
  const root = c.inodes.get(EXT2_ROOT_INO);
  if (root === undefined || !c.inUse.has(EXT2_ROOT_INO) || (root.mode & 0o170000) !== 0o040000) {
    c.report({ pass: 3, code: 'root-not-dir', ino: EXT2_ROOT_INO, message: 'the root inode is not a directory in use' });
    return;
  }
  const reached = new Set([EXT2_ROOT_INO]);
  const queue = [EXT2_ROOT_INO];
  const children = new Map<number, number[]>();
  for (const [child, ps] of c.parents) for (const p of ps) children.set(p, [...(children.get(p) ?? []), child]);
  for (let d = queue.shift(); d !== undefined; d = queue.shift()) {
    for (const ch of children.get(d) ?? []) if (!reached.has(ch)) {
      reached.add(ch);
      queue.push(ch);
    }
  }
  for (const ino of c.inUse) {
    if (((c.inodes.get(ino) as RawInode).mode & 0o170000) !== 0o040000) continue;
    const ps = c.parents.get(ino) ?? [];
    if (ino !== EXT2_ROOT_INO && !reached.has(ino)) c.report({
      pass: 3, code: 'unreachable-dir', ino,
      message: `directory ${ino} cannot be reached from the root`,
    });
    if (ps.length > 1) c.report({ pass: 3, code: 'dir-hardlink', ino, message: `directory ${ino} has ${ps.length} parents` });
    const real = ino === EXT2_ROOT_INO ? EXT2_ROOT_INO : ps[0];
    const dd = c.dotdot.get(ino);
    if (real !== undefined && dd !== undefined && dd !== real) c.report({
      pass: 3, code: 'dotdot-wrong', ino,
      message: `directory ${ino}: ".." is ${dd}, its parent is ${real}`,
    });
  }
}

function pass4(c: Checker): void {
  for (const [blk, { refcount, users }] of c.eaBlocks) {
    if (refcount !== users) c.report({
      pass: 4, code: 'ea-refcount-wrong', blk,
      message: `EA block ${blk} has reference count ${refcount}, ${users} inode${users === 1 ? '' : 's'} name it`,
    });
  }
  for (const ino of c.inUse) {
    if (ino === EXT3_JOURNAL_INO) continue;
    const raw = c.inodes.get(ino) as RawInode;
    const refs = c.refs.get(ino) ?? 0;
    if (refs === 0) c.report({ pass: 4, code: 'unattached-inode', ino, message: `inode ${ino} is in use but no directory names it` });
    else if (refs !== raw.linksCount) c.report({
      pass: 4, code: 'link-count-wrong', ino,
      message: `inode ${ino} has link count ${raw.linksCount}, counted ${refs}`,
    });
  }
}

function pass5(c: Checker): void {
  let freeBlocks = 0;
  let freeInodes = 0;
  for (let g = 0; g < c.groups; g++) {
    const d = c.descs[g] as GroupDesc;
    const start = c.sb.firstDataBlock + g * c.sb.blocksPerGroup;
    const size = Math.min(c.sb.blocksPerGroup, c.sb.blocksCount - start);
    const bb = c.read(d.blockBitmap);
    const ib = c.read(d.inodeBitmap);
    if (bb === null || ib === null) continue;
    let gFreeB = 0;
    for (let i = 0; i < size; i++) {
      const used = c.owner.has(start + i);
      const bit = (((bb[i >> 3] as number) >> (i & 7)) & 1) === 1;
      if (!used) gFreeB++;
      if (used !== bit) c.report({
        pass: 5, code: 'block-bitmap-differs', blk: start + i,
        message: `block ${start + i} is ${used ? 'used' : 'free'} but marked ${bit ? 'used' : 'free'} in the bitmap`,
      });
    }
    let gFreeI = 0;
    let dirs = 0;
    for (let i = 0; i < c.sb.inodesPerGroup; i++) {
      const ino = g * c.sb.inodesPerGroup + i + 1;
      const used = c.inUse.has(ino) || ino < c.sb.firstIno;
      const bit = (((ib[i >> 3] as number) >> (i & 7)) & 1) === 1;
      if (!used) gFreeI++;
      if (c.inUse.has(ino) && ((c.inodes.get(ino) as RawInode).mode & 0o170000) === 0o040000) dirs++;
      if (used !== bit) c.report({
        pass: 5, code: 'inode-bitmap-differs', ino,
        message: `inode ${ino} is ${used ? 'used' : 'free'} but marked ${bit ? 'used' : 'free'} in the bitmap`,
      });
    }
    if (gFreeB !== d.freeBlocksCount) c.report({
      pass: 5, code: 'group-free-blocks-wrong',
      message: `group ${g}: ${d.freeBlocksCount} free blocks recorded, ${gFreeB} counted`,
    });
    if (gFreeI !== d.freeInodesCount) c.report({
      pass: 5, code: 'group-free-inodes-wrong',
      message: `group ${g}: ${d.freeInodesCount} free inodes recorded, ${gFreeI} counted`,
    });
    if (dirs !== d.usedDirsCount) c.report({
      pass: 5, code: 'group-dirs-wrong',
      message: `group ${g}: ${d.usedDirsCount} directories recorded, ${dirs} counted`,
    });
    freeBlocks += gFreeB;
    freeInodes += gFreeI;
  }
  if (freeBlocks !== c.sb.freeBlocksCount) c.report({
    pass: 5, code: 'sb-free-blocks-wrong',
    message: `superblock: ${c.sb.freeBlocksCount} free blocks recorded, ${freeBlocks} counted`,
  });
  if (freeInodes !== c.sb.freeInodesCount) c.report({
    pass: 5, code: 'sb-free-inodes-wrong',
    message: `superblock: ${c.sb.freeInodesCount} free inodes recorded, ${freeInodes} counted`,
  });
  if (c.largeFiles > 0 && (c.sb.featureRoCompat & RO_COMPAT_LARGE_FILE) === 0) c.report({
    pass: 5, code: 'large-file-flag-missing',
    message: `${c.largeFiles} file${c.largeFiles === 1 ? ' is' : 's are'} over 2 GiB - 1, `
      + 'but the superblock lacks LARGE_FILE',
  });
}

/**
 * The orphan list: a chain through i_dtime from s_last_orphan. An orphan with no links is waiting to
 * be freed; one with links, to be truncated to its size (a truncate a crash interrupted). Both are
 * legitimate until the next mount finishes them; a chain that leaves the table or loops is not.
 */
function checkOrphans(c: Checker): void {
  const seen = new Set<number>();
  for (let ino = c.sb.lastOrphan; ino !== 0;) {
    if (ino > c.sb.inodesCount || seen.has(ino)) {
      const why = seen.has(ino) ? ' twice' : ', outside the table';
      c.report({ pass: 0, code: 'orphan-list-corrupt', ino, message: `the orphan list reaches inode ${ino}${why}` });
      return;
    }
    seen.add(ino);
    const raw = c.inodeAt(ino);
    if (raw === null) return;
    if (raw.mode === 0) c.report({ pass: 0, code: 'orphan-list-corrupt', ino, message: `the orphan list holds inode ${ino}, which is not in use` });
    c.orphans.add(ino);
    ino = raw.dtime;
  }
}

function checkJournal(c: Checker): boolean {
  if ((c.sb.featureIncompat & INCOMPAT_RECOVER) !== 0) {
    c.report({ pass: 0, code: 'needs-recovery', message: 'the journal needs recovery: recover it (izo recover) before checking' });
    return false;
  }
  if ((c.sb.featureCompat & COMPAT_HAS_JOURNAL) === 0) return true;
  const j = c.inodeAt(EXT3_JOURNAL_INO);
  const first = j?.block[0] ?? 0;
  const b = first === 0 ? null : c.read(first);
  const jsb = b === null ? 'no journal blocks' : decodeJournalSuperblock(b);
  if (typeof jsb === 'string') c.report({ pass: 0, code: 'journal-superblock', ino: EXT3_JOURNAL_INO, message: `journal: ${jsb}` });
  else if (jsb.start !== 0) c.report({
    pass: 0, code: 'journal-not-clean',
    message: `the journal holds transactions (s_start ${jsb.start}) but the file system is not marked for recovery`,
  });
  return true;
}

/** Check the file system on `dev`; the problems found (none: clean). Reads only. */
export function fsck(dev: BlockDevice): Problem[] {
  const sb = ext3_check_super(dev);
  if (typeof sb === 'string') {
    const code = /needs recovery/.test(sb) ? 'needs-recovery' : 'bad-superblock';
    return [{ pass: 0, code, message: sb }];
  }
  // Features the model does not honour change what is correct: judging the image would mislead.
  const unhonoured = ext3_unhonoured_features(sb);
  if (unhonoured !== null) {
    return [{ pass: 0, code: 'bad-superblock', message: `cannot be checked: the model does not implement ${unhonoured}` }];
  }
  const c = new Checker(dev, sb);
  if (sb.blocksCount > dev.blocks) return [{ pass: 0, code: 'bad-superblock', message: `${sb.blocksCount} blocks claimed, the device has ${dev.blocks}` }];
  if (!checkGroups(c) || !checkJournal(c)) return c.problems;
  checkOrphans(c);
  pass1(c);
  pass2(c);
  pass3(c);
  pass4(c);
  pass5(c);
  return c.problems;
}
