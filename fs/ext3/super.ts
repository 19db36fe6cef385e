/**
 * super.ts: mounting an ext2/ext3 file system: checking the superblock, reading the group
 * descriptors, and the super operations (Linux fs/ext3/super.c).
 *
 * Layer: fs (ext3). Interface: `ext3_fs_type` (mounted on a block device), `ext3_check_super(dev,
 * readWrite)` (the superblock, or a sentence saying why this image cannot be mounted so, naming the
 * feature), `ext3_unhonoured_features`, `EXT3_SB(sb)` for the private state; `markMeta(sb, bh, change)`, the
 * one place a metadata buffer changes (so the journal has a single hook), `markGroupDesc`,
 * `ext3_write_super`, `ext3_set_large_file`, `maxBytes` (s_maxbytes). Mount options: `ro`...
 * The superblock's features are a contract: an image with an incompatible feature we do not
 * implement, or one that needs journal recovery, is refused and never written; one with a compat or
 * ro_compat feature we do not honour is refused read-write (as Linux refuses an unknown ro_compat
 * feature) and may be mounted read-only. Inodes of any on-disk size are read and written (their
 * first 128 bytes are what ext2 defines; the rest is left as it was, or zeroed for a new inode). The
 * superblock's free counts and the group descriptors are kept in memory and written back at sync
 * and unmount.
 */
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { assert, panic } from '../../kernel/assert.ts';
import { BufferCache, type BufferHead } from '../../kernel/buffer.ts';
import { d_alloc_root } from '../../kernel/dcache.ts';
import { EINVAL, EIO, errnoName, EUCLEAN, isErr, type Errno } from '../../kernel/errno.ts';
import { Inode, MS_RDONLY, S_ISDIR, type FileSystemType, type StatFs, type SuperBlock, type SuperOperations } from '../../kernel/fs.ts';
import { runSync } from '../../kernel/sched.ts';
import { iget } from '../../kernel/inode.ts';
import { DEFAULT_JOURNAL_OPTIONS, journal_load, type Journal } from '../jbd/journal.ts';
import { journal_destroy, journal_force_commit, journal_start_thread } from '../jbd/commit.ts';
import type { RecoveryFault } from '../jbd/recovery.ts';
import {
  journal_dirty_data, journal_dirty_metadata, journal_extend, journal_get_undo_access, journal_get_write_access, journal_revoke, journal_start,
  journal_stop, type Handle,
} from '../jbd/transaction.ts';
import type { Sys } from '../../kernel/sched.ts';
import {
  COMPAT_HAS_JOURNAL, COMPAT_NAMES, decodeGroupDesc, decodeSuperblock, encodeGroupDesc, encodeSuperblock,
  EXT2_DYNAMIC_REV, EXT2_ERROR_FS, EXT2_GOOD_OLD_FIRST_INO, EXT2_GOOD_OLD_REV, EXT2_ROOT_INO, EXT2_SUPER_MAGIC, EXT3_JOURNAL_INO,
  GOOD_OLD_INODE_SIZE, GROUP_DESC_SIZE, INCOMPAT_FILETYPE, INCOMPAT_NAMES, INCOMPAT_RECOVER, RO_COMPAT_LARGE_FILE,
  RO_COMPAT_NAMES, SUPPORTED_COMPAT, SUPPORTED_INCOMPAT, SUPPORTED_RO_COMPAT, type GroupDesc,
  type Superblock, EXT2_VALID_FS,
} from './ext3_fs.ts';
import { superblockLocation, SUPERBLOCK_SIZE } from './geometry.ts';
import { ext3_bmap, ext3_delete_inode, ext3_read_inode, ext3_write_inode_op } from './inode.ts';
import './namei.ts'; // fills the directory operations table
import { ext3_orphan_cleanup } from './orphan.ts';

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
    'ext3.feature': { dev: string; feature: string; rev: number };
    /**
     * Damage found in an on-disk structure at run time (ext3_error): `fn` is the function that
     * found it, `message` names the inode or block; `action` is what the errors= behaviour did.
     */
    'ext3.error': { dev: string; fn: string; message: string; action: 'continue' | 'remount-ro' | 'panic' | 'read-only' };
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
  /** The journal, while mounted read-write with one (ext3); null for ext2. */
  journal: Journal | null;
  /** The handle of the operation running now (operations never yield while they hold one). */
  handle: Handle | null;
  dataMode: DataMode;
  /** The orphan list in memory (head first), mirroring the on-disk chain. */
  readonly orphans: number[];
  /**
   * Blocks held back from ordinary allocation for a stacked filter's logs (presto's reservation,
   * its tr_hold); only inodes marked `fromReserve` allocate them. In memory only: 0 at mount.
   */
  reserved: number;
  /** The errors= behaviour: the mount option, else the superblock's s_errors. */
  readonly errors: ErrorsBehaviour;
  /** ext3_error remounted a read-write mount read-only: the journal is still to be closed at unmount. */
  remountedRo: boolean;
}

/** What ext3_error does after logging (Linux's errors=continue|remount-ro|panic). */
export type ErrorsBehaviour = 'continue' | 'remount-ro' | 'panic';

export type DataMode = 'ordered' | 'journal' | 'writeback';

function handleOf(sb: SuperBlock): Handle | null {
  const s = EXT3_SB(sb);
  if (s.journal === null) return null;
  assert(s.handle !== null, 'ext3: metadata changed outside a journal handle');
  return s.handle;
}

/**
 * Change a metadata buffer: the one place every on-disk structure is modified. Under a journal the
 * change joins the running handle: write access first (so a buffer the committing transaction has
 * not logged yet is frozen before it changes), then the change, then dirty_metadata.
 */
export function markMeta(sb: SuperBlock, bh: BufferHead, change: () => void): void {
  const h = handleOf(sb);
  if (h === null) {
    change();
    EXT3_SB(sb).cache.mark_buffer_dirty(bh);
    return;
  }
  assert(journal_get_write_access(h, bh) === 0, () => `ext3: no write access to block ${bh.blk}`);
  change();
  bh.uptodate = true;
  assert(journal_dirty_metadata(h, bh) === 0, () => `ext3: cannot journal block ${bh.blk}`);
}

/** An allocation bitmap: like markMeta, but keeps the last committed copy (undo access). */
export function markBitmap(sb: SuperBlock, bh: BufferHead, change: () => void): void {
  const h = handleOf(sb);
  if (h !== null) assert(journal_get_undo_access(h, bh) === 0, () => `ext3: no undo access to block ${bh.blk}`);
  markMeta(sb, bh, change);
}

/**
 * A file's data block: journaled like metadata in data=journal mode or for a file marked for data
 * journaling (EXT3_JOURNAL_DATA_FL), written before the commit in data=ordered, left to write-back
 * in data=writeback.
 */
export function markData(sb: SuperBlock, bh: BufferHead, change: () => void, journalData = false): void {
  const s = EXT3_SB(sb);
  if (s.journal !== null && (s.dataMode === 'journal' || journalData)) {
    markMeta(sb, bh, change);
    return;
  }
  change();
  s.cache.mark_buffer_dirty(bh);
  const h = s.journal === null ? null : handleOf(sb);
  if (h !== null && s.dataMode === 'ordered') journal_dirty_data(h, bh);
}

/** A block is being freed: a metadata block must never be replayed from older log copies. */
export function forgetBlock(sb: SuperBlock, blk: number, metadata: boolean): void {
  const s = EXT3_SB(sb);
  if (s.journal === null) return;
  if (!metadata && s.dataMode !== 'journal') return;
  const h = handleOf(sb) as Handle;
  const bh = s.cache.getblk(blk);
  journal_revoke(h, blk, bh);
  s.cache.brelse(bh);
}

/** Run `body` (which must not yield) inside a handle of `credits`; nests into a running one. */
export function* ext3_journaled<T>(sb: SuperBlock, credits: number, body: () => T): Sys<T | Errno> {
  const s = EXT3_SB(sb);
  if (s.journal === null) return body();
  if (s.handle !== null) {
    // Joining a caller's handle (presto's transaction): ask for these credits too, if there is room.
    journal_extend(s.handle, Math.min(credits, s.journal.maxTransactionBuffers));
    s.handle.refs++;
    const r = body();
    s.handle.refs--;
    return r;
  }
  const h = yield* journal_start(s.journal, Math.min(credits, s.journal.maxTransactionBuffers));
  if (isErr(h)) return h;
  s.handle = h;
  const r = body();
  s.handle = null;
  const stop = yield* journal_stop(h);
  return isErr(stop) ? stop : r;
}

/**
 * Open a handle that the ext3 operations called next join (presto's tr_start; null on ext2). The
 * caller must not block until `ext3_journal_stop`: the running handle is per super block.
 */
export function* ext3_journal_start(sb: SuperBlock, credits: number): Sys<Handle | null | Errno> {
  const s = EXT3_SB(sb);
  if (s.journal === null) return null;
  const h = yield* journal_start(s.journal, Math.min(credits, s.journal.maxTransactionBuffers));
  if (isErr(h)) return h;
  assert(s.handle === null, 'ext3: a handle is already running on this super block');
  s.handle = h;
  return h;
}

export function* ext3_journal_stop(sb: SuperBlock, h: Handle): Sys<0 | Errno> {
  const s = EXT3_SB(sb);
  assert(s.handle === h, 'ext3: stopping a handle that is not the running one');
  s.handle = null;
  return yield* journal_stop(h);
}

/** Free blocks, counted in the group descriptors. */
export function ext3_free_blocks(sb: SuperBlock): number {
  return EXT3_SB(sb).descs.reduce((n, d) => n + d.freeBlocksCount, 0);
}

export function* ext3_force_commit(sb: SuperBlock): Sys<0 | Errno> {
  const s = EXT3_SB(sb);
  if (s.journal === null) return s.cache.dev.flush();
  yield* journal_force_commit(s.journal);
  return s.journal.aborted ? EIO : 0;
}

/**
 * Write group `g`'s in-memory descriptor into the descriptor table buffer, and the superblock with
 * its free totals: Linux 2.4's ext3_new_block and ext3_free_blocks journal the superblock buffer
 * with every allocation, so the totals in the log agree with the descriptors they were logged with.
 */
export function markGroupDesc(sb: SuperBlock, g: number): 0 | Errno {
  const s = EXT3_SB(sb);
  const off = g * GROUP_DESC_SIZE;
  const bh = s.cache.bread(s.gdtStart + Math.floor(off / s.blockSize));
  if (isErr(bh)) return EIO;
  markMeta(sb, bh, () => encodeGroupDesc(bh.data, off % s.blockSize, s.descs[g] as GroupDesc));
  s.cache.brelse(bh);
  return ext3_write_super_now(sb);
}

export function ext3_write_super_now(sb: SuperBlock): 0 | Errno {
  const s = EXT3_SB(sb);
  const bh = s.cache.bread(s.sbBlock);
  if (isErr(bh)) return EIO;
  markMeta(sb, bh, () => encodeSuperblock(bh.data.subarray(s.sbOffset, s.sbOffset + SUPERBLOCK_SIZE), s.raw));
  s.cache.brelse(bh);
  return 0;
}

function* ext3_sync_fs(sb: SuperBlock): Sys<0 | Errno> {
  const s = EXT3_SB(sb);
  if ((sb.s_flags & MS_RDONLY) !== 0 && !s.remountedRo) return 0;
  const r = yield* ext3_journaled(sb, 4, () => ext3_write_super_now(sb));
  if (isErr(r)) return r;
  if (s.journal !== null) return yield* ext3_force_commit(sb);
  const w = s.cache.sync_dirty_buffers();
  if (isErr(w)) return w;
  return s.cache.dev.flush();
}

function* ext3_put_super(sb: SuperBlock): Sys<void> {
  const s = EXT3_SB(sb);
  if ((sb.s_flags & MS_RDONLY) !== 0 && !s.remountedRo) return;
  const r = yield* ext3_journaled(sb, 4, () => ext3_write_super_now(sb));
  if (s.journal !== null && !isErr(r)) {
    // Commit, write everything home, mark the journal clean; then the file system is clean too.
    yield* journal_destroy(s.journal);
    s.journal = null;
    s.raw.featureIncompat &= ~INCOMPAT_RECOVER;
  }
  // Clean, but an error found while mounted stays recorded (Linux writes back s_mount_state).
  s.raw.state = EXT2_VALID_FS | (s.raw.state & EXT2_ERROR_FS);
  ext3_write_super_now(sb);
  s.cache.sync_dirty_buffers();
  s.cache.dev.flush();
}

export function EXT3_SB(sb: SuperBlock): Ext3SbInfo {
  return sb.s_fs_info as Ext3SbInfo;
}

/**
 * Damage read from disk (Linux's ext3_error and ext3_handle_error): a trace event naming the
 * function and what is damaged, the file system marked with errors (s_state EXT3_ERROR_FS, written
 * to the disk at once unless the mount is read-only), then the errors= behaviour: carry on,
 * remount read-only, or panic (only when asked for: the mount option errors=panic). Returns
 * EUCLEAN, the errno the caller passes up (Linux's EFSCORRUPTED; 2.4 said EIO).
 */
export function ext3_error(sb: SuperBlock, fn: string, message: string): Errno {
  const s = EXT3_SB(sb);
  s.raw.state |= EXT2_ERROR_FS;
  const ro = (sb.s_flags & MS_RDONLY) !== 0;
  const action = ro ? 'read-only' : s.errors;
  sb.s_kernel.tracer.emit('ext3.error', { dev: s.cache.dev.name, fn, message, action });
  if (ro) return EUCLEAN;
  if (s.errors === 'panic') panic(`EXT3-fs (device ${s.cache.dev.name}): panic forced after error: ${fn}: ${message}`);
  commitSuperNow(s);
  if (s.errors === 'remount-ro') {
    sb.s_flags |= MS_RDONLY;
    s.remountedRo = true;
  }
  return EUCLEAN;
}

/** ext3_commit_super: the superblock straight to the disk, past the journal (it records an error). */
function commitSuperNow(s: Ext3SbInfo): void {
  const bh = s.cache.bread(s.sbBlock);
  if (isErr(bh)) return;
  const copy = bh.data.slice();
  encodeSuperblock(copy.subarray(s.sbOffset, s.sbOffset + SUPERBLOCK_SIZE), s.raw);
  s.cache.dev.write(s.sbBlock, copy);
  s.cache.brelse(bh);
}

function names(bits: number, table: Readonly<Record<number, string>>): string {
  const out: string[] = [];
  for (let bit = 1; bit !== 0 && bit <= bits; bit <<= 1) if ((bits & bit) !== 0) out.push(table[bit] ?? `0x${bit.toString(16)}`);
  return out.join(', ');
}

/**
 * The compatible and read-only-compatible features the model does not honour, named ("its
 * read-only-compatible feature huge_file"), or null: such an image may be read but not written
 * (Linux refuses a read-write mount for an unknown ro_compat feature; the model is as careful with
 * a compat one, whose structures it would not keep).
 */
export function ext3_unhonoured_features(raw: Superblock): string | null {
  const badRo = raw.featureRoCompat & ~SUPPORTED_RO_COMPAT;
  const badCompat = raw.featureCompat & ~SUPPORTED_COMPAT;
  const why = [
    badRo === 0 ? '' : `read-only-compatible feature${plural(badRo)} ${names(badRo, RO_COMPAT_NAMES)}`,
    badCompat === 0 ? '' : `compatible feature${plural(badCompat)} ${names(badCompat, COMPAT_NAMES)}`,
  ].filter((x) => x !== '');
  return why.length === 0 ? null : `its ${why.join(' and its ')}`;
}

function plural(bits: number): string {
  return (bits & (bits - 1)) === 0 ? '' : 's';
}

/**
 * The superblock, or why the image cannot be mounted (read-write, with `readWrite`: then a journal
 * that needs recovery is acceptable, recovery being a write). Reads only.
 */
export function ext3_check_super(dev: BlockDevice, readWrite = false): Superblock | string {
  const raw = ext3_valid_super(dev);
  if (typeof raw === 'string') return raw;
  const badIncompat = raw.featureIncompat & ~SUPPORTED_INCOMPAT;
  if (badIncompat !== 0) return `unsupported incompatible features: ${names(badIncompat, INCOMPAT_NAMES)}`;
  const unhonoured = readWrite ? ext3_unhonoured_features(raw) : null;
  if (unhonoured !== null) {
    return `cannot be mounted read-write: the model does not implement ${unhonoured} (a read-only mount works)`;
  }
  const journaled = (raw.featureCompat & COMPAT_HAS_JOURNAL) !== 0;
  if ((raw.featureIncompat & INCOMPAT_RECOVER) !== 0 && !(readWrite && journaled)) {
    return 'the journal needs recovery (run izo recover first, or mount it read-write)';
  }
  return raw;
}

/**
 * The superblock, if it describes a file system at all (magic, block size, geometry), whatever its
 * features and flags; or why not, with e2fsck's advice about the backup superblocks. Reads only.
 */
export function ext3_valid_super(dev: BlockDevice): Superblock | string {
  const buf = new Uint8Array(dev.blockSize);
  const at = superblockLocation(dev.blockSize);
  if (isErr(dev.read(at.block, buf))) return 'I/O error reading the superblock';
  const raw = decodeSuperblock(buf.subarray(at.offset, at.offset + SUPERBLOCK_SIZE));
  const invalid = (why: string): string => `${why}: the superblock is not valid (${backupHint(dev.blockSize)})`;
  if (raw.magic !== EXT2_SUPER_MAGIC) return invalid(`no ext2/ext3 superblock (magic 0x${raw.magic.toString(16)}, expected 0xef53)`);
  if (raw.logBlockSize > 2 || 1024 << raw.logBlockSize !== dev.blockSize) {
    const fsBs = raw.logBlockSize > 2 ? `2^(10+${raw.logBlockSize})` : String(1024 << raw.logBlockSize);
    return invalid(`the file system's block size is ${fsBs}, the device's ${dev.blockSize}`);
  }
  const bad = badGeometry(raw, dev);
  return bad === null ? raw : invalid(bad);
}

/** Where e2fsck is told to look for a backup superblock: the first block of group 1. */
export function backupHint(blockSize: number): string {
  return `a backup superblock may be found with e2fsck -b ${blockSize === 1024 ? 8193 : blockSize * 8}`;
}

/**
 * A superblock whose geometry cannot be trusted, named (ext3_fill_super's checks, with the later
 * "bad geometry" one: a file system longer than its device), or null.
 */
function badGeometry(raw: Superblock, dev: BlockDevice): string | null {
  const bs = dev.blockSize;
  if (raw.inodeSize < 128 || raw.inodeSize > bs || (raw.inodeSize & (raw.inodeSize - 1)) !== 0) return `bad inode size ${raw.inodeSize}`;
  if (raw.blocksPerGroup === 0 || raw.inodesPerGroup === 0) return 'zero blocks or inodes per group';
  if (raw.blocksPerGroup > 8 * bs) return `${raw.blocksPerGroup} blocks per group, more than a bitmap block maps (${8 * bs})`;
  if (raw.inodesPerGroup > 8 * bs) return `${raw.inodesPerGroup} inodes per group, more than a bitmap block maps (${8 * bs})`;
  if (raw.firstDataBlock !== (bs === 1024 ? 1 : 0)) return `first data block ${raw.firstDataBlock} (expected ${bs === 1024 ? 1 : 0})`;
  if (raw.blocksCount <= raw.firstDataBlock) return `block count ${raw.blocksCount} leaves no groups`;
  if (raw.blocksCount > dev.blocks) {
    return `bad geometry: block count ${raw.blocksCount} exceeds the size of the device (${dev.blocks} blocks; a truncated image?)`;
  }
  const groups = Math.ceil((raw.blocksCount - raw.firstDataBlock) / raw.blocksPerGroup);
  if (raw.inodesCount !== groups * raw.inodesPerGroup) return `inode count ${raw.inodesCount} is not ${groups} groups of ${raw.inodesPerGroup}`;
  if (raw.firstIno < EXT2_GOOD_OLD_FIRST_INO || raw.firstIno > raw.inodesCount) return `first inode ${raw.firstIno} out of range`;
  const gdtBlocks = Math.ceil((groups * GROUP_DESC_SIZE) / bs);
  if (raw.firstDataBlock + 1 + gdtBlocks > raw.blocksCount) return `${groups} groups' descriptors do not fit`;
  return null;
}

/**
 * ext3_check_descriptors: every group's bitmaps and inode table lie inside the group, or the
 * refusal naming the group and the block ("group descriptors corrupted").
 */
export function ext3_check_descriptors(raw: Superblock, descs: readonly GroupDesc[], blockSize: number): string | null {
  const tableBlocks = Math.ceil((raw.inodesPerGroup * raw.inodeSize) / blockSize);
  for (const [g, d] of descs.entries()) {
    const first = raw.firstDataBlock + g * raw.blocksPerGroup;
    const last = Math.min(first + raw.blocksPerGroup, raw.blocksCount) - 1;
    const inside = (b: number): boolean => b >= first && b <= last;
    const what = !inside(d.blockBitmap) ? `block bitmap (block ${d.blockBitmap})`
      : !inside(d.inodeBitmap) ? `inode bitmap (block ${d.inodeBitmap})`
        : !inside(d.inodeTable) || !inside(d.inodeTable + tableBlocks - 1) ? `inode table (blocks ${d.inodeTable}..${d.inodeTable + tableBlocks - 1})`
          : null;
    if (what !== null) return `group descriptors corrupted: the ${what} of group ${g} is not in the group (${first}..${last})`;
  }
  return null;
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

interface MountOptions {
  readonly ro: boolean;
  readonly dataMode: DataMode;
  readonly barrier: boolean;
  readonly commitSec: number;
  readonly recoveryFault: RecoveryFault;
  /** errors=: null to follow the superblock's s_errors. */
  readonly errors: ErrorsBehaviour | null;
}

const RECOVERY_FAULTS: readonly string[] = ['none', 'skip-revoke', 'first-transaction-only'];

/**
 * ext3's mount options: ro/rw, data=ordered|journal|writeback, barrier=0|1 (nobarrier), commit=N,
 * errors=continue|remount-ro|panic (what ext3_error does; without it, the superblock's s_errors,
 * except that s_errors=panic, a value read from disk, remounts read-only: the model panics only
 * when the mount asked for it),
 * and the test-only recovery_fault=skip-revoke|first-transaction-only (a crash harness's negative
 * control: a deliberately broken journal recovery, never for real use).
 */
export function parseMountOptions(data: string): MountOptions | string {
  let o: MountOptions = { ro: false, dataMode: 'ordered', barrier: true, commitSec: 5, recoveryFault: 'none', errors: null };
  for (const opt of data.split(',').filter((x) => x !== '')) {
    const [k, v] = opt.split('=');
    if (k === 'ro' || k === 'rw') o = { ...o, ro: k === 'ro' };
    else if (k === 'data' && (v === 'ordered' || v === 'journal' || v === 'writeback')) o = { ...o, dataMode: v };
    else if (k === 'barrier' && (v === '0' || v === '1')) o = { ...o, barrier: v === '1' };
    else if (k === 'nobarrier' && v === undefined) o = { ...o, barrier: false };
    else if (k === 'errors' && (v === 'continue' || v === 'remount-ro' || v === 'panic')) o = { ...o, errors: v };
    else if (k === 'commit' && v !== undefined && /^[1-9][0-9]*$/.test(v)) o = { ...o, commitSec: Number(v) };
    else if (k === 'recovery_fault' && v !== undefined && RECOVERY_FAULTS.includes(v)) {
      o = { ...o, recoveryFault: v as RecoveryFault };
    }
    else return `unknown or malformed mount option '${opt}'`;
  }
  return o;
}

function readDescs(cache: BufferCache, raw: Superblock, groups: number): GroupDesc[] | Errno {
  const descs: GroupDesc[] = [];
  for (let g = 0; g < groups; g++) {
    const off = g * GROUP_DESC_SIZE;
    const bh = cache.bread(raw.firstDataBlock + 1 + Math.floor(off / cache.blockSize));
    if (isErr(bh)) return EIO;
    descs.push(decodeGroupDesc(bh.data, off % cache.blockSize));
    cache.brelse(bh);
  }
  return descs;
}

/** The superblock's s_errors (1 continue, 2 remount-ro, 3 panic): a panic read from disk is read-only. */
function errorsOf(raw: Superblock): ErrorsBehaviour {
  return raw.errors === 2 || raw.errors === 3 ? 'remount-ro' : 'continue';
}

function refuse(sb: SuperBlock, dev: BlockDevice, reason: string): Errno {
  sb.s_kernel.tracer.emit('ext3.refused', { dev: dev.name, reason });
  return EINVAL;
}

function makeInfo(dev: BlockDevice, cache: BufferCache, raw: Superblock, descs: GroupDesc[], sb: SuperBlock, opts: MountOptions): Ext3SbInfo {
  // The superblock's totals are journaled with every allocation (markGroupDesc), as in Linux 2.4,
  // so they are exact after recovery; counting them from the descriptors at mount as well costs
  // nothing and mends an image written by a kernel that let them lag (later Linux does).
  raw.freeBlocksCount = descs.reduce((n, d) => n + d.freeBlocksCount, 0);
  const primary = superblockLocation(dev.blockSize);
  raw.freeInodesCount = descs.reduce((n, d) => n + d.freeInodesCount, 0);
  return {
    cache, raw, descs, blockSize: dev.blockSize, groups: descs.length, gdtStart: raw.firstDataBlock + 1,
    sbBlock: primary.block, sbOffset: primary.offset,
    nextGeneration: sb.s_kernel.random?.u32() ?? 1, journal: null, handle: null, dataMode: opts.dataMode, orphans: [],
    reserved: 0, errors: opts.errors ?? errorsOf(raw), remountedRo: false,
  };
}

/** The journal's blocks, from inode 8's map. */
function journalBlocks(sb: SuperBlock): number[] | string {
  const inode = new Inode(sb, EXT3_JOURNAL_INO);
  if (isErr(runSync(ext3_read_inode(inode)))) return 'cannot read the journal inode';
  const map: number[] = [];
  for (let n = 0; n * EXT3_SB(sb).blockSize < inode.i_size; n++) {
    const b = ext3_bmap(inode, n);
    if (isErr(b) || b === 0) return `journal block ${n} is not mapped`;
    const raw = EXT3_SB(sb).raw;
    if (b < raw.firstDataBlock || b >= raw.blocksCount) return `journal block ${n} maps to block ${b}, outside the file system`;
    map.push(b);
  }
  return map;
}

function* ext3_read_super(sb: SuperBlock, dev: BlockDevice | null, data: string): Sys<0 | Errno> {
  if (dev === null) return EINVAL;
  const opts = parseMountOptions(data);
  if (typeof opts === 'string') return refuse(sb, dev, opts);
  let raw = ext3_check_super(dev, !opts.ro);
  if (typeof raw === 'string') return refuse(sb, dev, raw);
  const groups = Math.ceil((raw.blocksCount - raw.firstDataBlock) / raw.blocksPerGroup);
  let cache = new BufferCache(dev);
  let descs = readDescs(cache, raw, groups);
  if (isErr(descs)) return descs;
  const badDescs = ext3_check_descriptors(raw, descs, dev.blockSize);
  if (badDescs !== null) return refuse(sb, dev, badDescs);
  sb.s_fs_info = makeInfo(dev, cache, raw, descs, sb, opts);
  sb.s_blocksize = dev.blockSize;
  sb.s_magic = EXT2_SUPER_MAGIC;
  sb.s_time_gran = 1_000_000_000;
  sb.s_maxbytes = maxBytes(dev.blockSize);
  sb.s_op = ext3_super_operations;
  if (opts.ro) sb.s_flags |= MS_RDONLY;
  let journal: Journal | null = null;
  if ((raw.featureCompat & COMPAT_HAS_JOURNAL) !== 0 && !opts.ro) {
    const map = journalBlocks(sb);
    if (typeof map === 'string') return refuse(sb, dev, map);
    const loaded = journal_load(sb.s_kernel, { dev, map }, dev.blockSize, {
      ...DEFAULT_JOURNAL_OPTIONS, barrier: opts.barrier, commitInterval: opts.commitSec * 1_000_000,
      recoveryFault: opts.recoveryFault,
    });
    if (typeof loaded === 'string') return refuse(sb, dev, `journal: ${loaded}`);
    journal = loaded.journal;
    if (loaded.recovery !== null) {
      // Recovery wrote blocks home behind the cache's back: start afresh from the disk.
      cache = new BufferCache(dev);
      const again = ext3_check_super(dev, true);
      if (typeof again === 'string') return refuse(sb, dev, again);
      raw = again;
      descs = readDescs(cache, raw, groups);
      if (isErr(descs)) return descs;
      sb.s_fs_info = makeInfo(dev, cache, raw, descs, sb, opts);
    }
    // Mounted with a journal: needs recovery until a clean unmount says otherwise.
    raw.featureIncompat |= INCOMPAT_RECOVER;
    if (isErr(ext3_write_super_now(sb)) || isErr(cache.sync_dirty_buffers()) || isErr(dev.flush())) return EIO;
    EXT3_SB(sb).journal = journal;
    journal_start_thread(journal);
    const cleaned = yield* ext3_orphan_cleanup(sb);
    if (isErr(cleaned)) return cleaned;
  }
  const root = yield* iget(sb, EXT2_ROOT_INO);
  if (isErr(root) || !S_ISDIR(root.i_mode) || root.i_blocks === 0 || root.i_size === 0) {
    // ext3_fill_super's check: a root that is no directory is damage, refused, never mounted.
    if (journal !== null) yield* journal_destroy(journal);
    return refuse(sb, dev, isErr(root) ? `cannot read the root inode (${errnoName(root)})` : 'corrupt root inode, run e2fsck');
  }
  sb.s_root = d_alloc_root(root);
  sb.s_kernel.tracer.emit('ext3.mount', { dev: dev.name, blocks: raw.blocksCount, groups, readonly: (sb.s_flags & MS_RDONLY) !== 0 });
  return 0;
}

/**
 * s_maxbytes, as Linux 2.4's ext3_max_size computes it: what the 12 + 1 + 1 + 1 block tree reaches,
 * capped one block below 2^32 sectors (i_blocks' 32 bits). A file may be exactly this long: 16 GiB
 * + 16 MiB + 64 KiB + 12 KiB on 1 KiB blocks, 256 GiB + ... on 2 KiB, 2 TiB - 4 KiB on 4 KiB (where
 * today's Linux stops sooner: it counts the indirect blocks in i_blocks too).
 */
export function maxBytes(bs: number): number {
  const per = bs / 4;
  const blocks = 12 + per + per * per + per * per * per;
  return Math.min(blocks * bs, 512 * 2 ** 32 - bs);
}

/** Does the file system record file types in its directory entries (incompat FILETYPE)? */
export function ext3_has_filetype(sb: SuperBlock): boolean {
  return (EXT3_SB(sb).raw.featureIncompat & INCOMPAT_FILETYPE) !== 0;
}

/**
 * A file has grown past 2 GiB - 1: say so in the superblock (ro_compat LARGE_FILE), first moving a
 * revision 0 file system to revision 1, which has feature fields (ext3_update_dynamic_rev), as
 * Linux 2.4's ext3_do_update_inode does. In the caller's handle.
 */
export function ext3_set_large_file(sb: SuperBlock): 0 | Errno {
  const raw = EXT3_SB(sb).raw;
  if ((raw.featureRoCompat & RO_COMPAT_LARGE_FILE) !== 0 && raw.revLevel !== EXT2_GOOD_OLD_REV) return 0;
  if (raw.revLevel === EXT2_GOOD_OLD_REV) {
    raw.revLevel = EXT2_DYNAMIC_REV;
    raw.firstIno = EXT2_GOOD_OLD_FIRST_INO;
    raw.inodeSize = GOOD_OLD_INODE_SIZE;
  }
  raw.featureRoCompat |= RO_COMPAT_LARGE_FILE;
  const dev = EXT3_SB(sb).cache.dev.name;
  sb.s_kernel.tracer.emit('ext3.feature', { dev, feature: 'large_file', rev: raw.revLevel });
  return ext3_write_super_now(sb);
}

export const ext3_fs_type: FileSystemType = { name: 'ext3', requiresDev: true, read_super: ext3_read_super };
export const ext2_fs_type: FileSystemType = { name: 'ext2', requiresDev: true, read_super: ext3_read_super };
