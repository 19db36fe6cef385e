/**
 * jbd.ts: the journal's on-disk format (Linux include/linux/jbd.h), big-endian throughout.
 *
 * Layer: fs (JBD). Interface: constants, and encode/decode functions for the journal superblock
 * (v2), the common block header, descriptor tags, commit blocks and revoke blocks. Every function
 * works on a block-sized Uint8Array; nothing here does I/O. JBD1's format, which e2fsprogs (whose
 * journal code is JBD2's) reads as JBD2 with no optional features.
 * Invariants: a log block starts with {magic, blocktype, sequence}; a descriptor's tags end at the
 * tag flagged LAST_TAG or at the end of the block; the first tag (and any without SAME_UUID) is
 * followed by the 16-byte journal uuid; a revoke block's r_count counts bytes, header included.
 */
import { assert } from '../../kernel/assert.ts';

export const JFS_MAGIC_NUMBER = 0xc03b3998;

export const JFS_DESCRIPTOR_BLOCK = 1;
export const JFS_COMMIT_BLOCK = 2;
export const JFS_SUPERBLOCK_V1 = 3;
export const JFS_SUPERBLOCK_V2 = 4;
export const JFS_REVOKE_BLOCK = 5;

export const JFS_FLAG_ESCAPE = 1;
export const JFS_FLAG_SAME_UUID = 2;
export const JFS_FLAG_DELETED = 4;
export const JFS_FLAG_LAST_TAG = 8;

export const JFS_FEATURE_INCOMPAT_REVOKE = 1;
/** Incompat features we understand; a journal with others is refused. */
export const JFS_KNOWN_INCOMPAT = JFS_FEATURE_INCOMPAT_REVOKE;

export const HEADER_SIZE = 12;
export const TAG_SIZE = 8;
export const UUID_SIZE = 16;
export const REVOKE_HEADER_SIZE = 16;
export const JSB_SIZE = 1024;

export interface JournalHeader {
  readonly magic: number;
  readonly blocktype: number;
  readonly sequence: number;
}

export function readHeader(b: Uint8Array): JournalHeader {
  const v = view(b);
  return { magic: v.getUint32(0), blocktype: v.getUint32(4), sequence: v.getUint32(8) };
}

export function writeHeader(b: Uint8Array, blocktype: number, sequence: number): void {
  const v = view(b);
  v.setUint32(0, JFS_MAGIC_NUMBER);
  v.setUint32(4, blocktype);
  v.setUint32(8, sequence >>> 0);
}

/** The journal superblock (journal block 0): static layout plus the dynamic tail pointers. */
export interface JournalSuperblock {
  readonly blocktype: number;
  readonly blocksize: number;
  /** Journal length in blocks (the journal file's size). */
  readonly maxlen: number;
  /** First block of log information (1: right after the superblock). */
  readonly first: number;
  /** The first transaction id expected in the log. */
  readonly sequence: number;
  /** Journal block of the start of the log; 0 means the journal is clean (nothing to recover). */
  readonly start: number;
  readonly errno: number;
  readonly featureCompat: number;
  readonly featureIncompat: number;
  readonly featureRoCompat: number;
  readonly uuid: Uint8Array;
  readonly nrUsers: number;
  readonly maxTransaction: number;
  readonly maxTransData: number;
}

export function decodeJournalSuperblock(b: Uint8Array): JournalSuperblock | string {
  const h = readHeader(b);
  if (h.magic !== JFS_MAGIC_NUMBER) return `bad journal superblock magic 0x${h.magic.toString(16)}`;
  if (h.blocktype !== JFS_SUPERBLOCK_V1 && h.blocktype !== JFS_SUPERBLOCK_V2) return `bad journal superblock type ${h.blocktype}`;
  const v = view(b);
  const v2 = h.blocktype === JFS_SUPERBLOCK_V2;
  return {
    blocktype: h.blocktype,
    blocksize: v.getUint32(0x0c),
    maxlen: v.getUint32(0x10),
    first: v.getUint32(0x14),
    sequence: v.getUint32(0x18),
    start: v.getUint32(0x1c),
    errno: v.getInt32(0x20),
    featureCompat: v2 ? v.getUint32(0x24) : 0,
    featureIncompat: v2 ? v.getUint32(0x28) : 0,
    featureRoCompat: v2 ? v.getUint32(0x2c) : 0,
    uuid: b.slice(0x30, 0x40),
    nrUsers: v2 ? v.getUint32(0x40) : 1,
    maxTransaction: v2 ? v.getUint32(0x48) : 0,
    maxTransData: v2 ? v.getUint32(0x4c) : 0,
  };
}

/** Write a v2 journal superblock into `b` (the first JSB_SIZE bytes; the rest is left as it is). */
export function encodeJournalSuperblock(b: Uint8Array, s: JournalSuperblock): void {
  assert(b.length >= JSB_SIZE, 'journal superblock buffer too small');
  b.fill(0, 0, JSB_SIZE);
  writeHeader(b, JFS_SUPERBLOCK_V2, 0);
  const v = view(b);
  v.setUint32(0x0c, s.blocksize);
  v.setUint32(0x10, s.maxlen);
  v.setUint32(0x14, s.first);
  v.setUint32(0x18, s.sequence >>> 0);
  v.setUint32(0x1c, s.start);
  v.setInt32(0x20, s.errno);
  v.setUint32(0x24, s.featureCompat);
  v.setUint32(0x28, s.featureIncompat);
  v.setUint32(0x2c, s.featureRoCompat);
  b.set(s.uuid.subarray(0, UUID_SIZE), 0x30);
  v.setUint32(0x40, s.nrUsers);
  v.setUint32(0x48, s.maxTransaction);
  v.setUint32(0x4c, s.maxTransData);
}

/** Update only the dynamic tail (s_sequence, s_start) of an encoded superblock, leaving the rest. */
export function patchJournalTail(b: Uint8Array, sequence: number, start: number): void {
  const v = view(b);
  v.setUint32(0x18, sequence >>> 0);
  v.setUint32(0x1c, start);
}

export interface BlockTag {
  /** The file system block this log block belongs to. */
  readonly blocknr: number;
  readonly flags: number;
}

/** The tags of a descriptor block, in order. */
export function decodeTags(b: Uint8Array): BlockTag[] {
  const v = view(b);
  const tags: BlockTag[] = [];
  let off = HEADER_SIZE;
  while (off + TAG_SIZE <= b.length) {
    const blocknr = v.getUint32(off);
    const flags = v.getUint32(off + 4);
    tags.push({ blocknr, flags });
    off += TAG_SIZE;
    if ((flags & JFS_FLAG_SAME_UUID) === 0) off += UUID_SIZE;
    if ((flags & JFS_FLAG_LAST_TAG) !== 0) break;
  }
  return tags;
}

/** Bytes a tag takes: the first (without SAME_UUID) carries the uuid. */
export function tagBytes(first: boolean): number {
  return TAG_SIZE + (first ? UUID_SIZE : 0);
}

/** Build a descriptor block for `tags` (flags LAST_TAG and SAME_UUID are set here). */
export function encodeDescriptor(b: Uint8Array, sequence: number, tags: readonly BlockTag[], uuid: Uint8Array): void {
  b.fill(0);
  writeHeader(b, JFS_DESCRIPTOR_BLOCK, sequence);
  const v = view(b);
  let off = HEADER_SIZE;
  tags.forEach((t, i) => {
    const first = i === 0;
    const last = i === tags.length - 1;
    const flags = (t.flags & (JFS_FLAG_ESCAPE | JFS_FLAG_DELETED)) | (first ? 0 : JFS_FLAG_SAME_UUID) | (last ? JFS_FLAG_LAST_TAG : 0);
    assert(off + tagBytes(first) <= b.length, 'descriptor block overflow');
    v.setUint32(off, t.blocknr);
    v.setUint32(off + 4, flags);
    off += TAG_SIZE;
    if (first) {
      b.set(uuid.subarray(0, UUID_SIZE), off);
      off += UUID_SIZE;
    }
  });
}

/** How many tags fit in one descriptor block. */
export function tagsPerDescriptor(blocksize: number): number {
  return Math.floor((blocksize - HEADER_SIZE - UUID_SIZE) / TAG_SIZE);
}

export function encodeCommit(b: Uint8Array, sequence: number): void {
  b.fill(0);
  writeHeader(b, JFS_COMMIT_BLOCK, sequence);
}

/** The block numbers a revoke block revokes. Returns a message if r_count is impossible. */
export function decodeRevoke(b: Uint8Array): number[] | string {
  const v = view(b);
  const count = v.getUint32(HEADER_SIZE);
  if (count < REVOKE_HEADER_SIZE || count > b.length || (count - REVOKE_HEADER_SIZE) % 4 !== 0) return `bad revoke r_count ${count}`;
  const out: number[] = [];
  for (let off = REVOKE_HEADER_SIZE; off < count; off += 4) out.push(v.getUint32(off));
  return out;
}

export function encodeRevoke(b: Uint8Array, sequence: number, blocks: readonly number[]): void {
  assert(REVOKE_HEADER_SIZE + blocks.length * 4 <= b.length, 'revoke block overflow');
  b.fill(0);
  writeHeader(b, JFS_REVOKE_BLOCK, sequence);
  const v = view(b);
  v.setUint32(HEADER_SIZE, REVOKE_HEADER_SIZE + blocks.length * 4);
  blocks.forEach((blk, i) => v.setUint32(REVOKE_HEADER_SIZE + i * 4, blk));
}

export function revokesPerBlock(blocksize: number): number {
  return Math.floor((blocksize - REVOKE_HEADER_SIZE) / 4);
}

/** Does this block begin with the journal magic (and so need escaping when logged)? */
export function needsEscape(b: Uint8Array): boolean {
  return view(b).getUint32(0) === JFS_MAGIC_NUMBER;
}

/** Transaction ids wrap at 2^32; compare them as JBD's tid_gt does. */
export function tidGt(x: number, y: number): boolean {
  return ((x - y) | 0) > 0;
}
export function tidGeq(x: number, y: number): boolean {
  return ((x - y) | 0) >= 0;
}

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}
