/**
 * kml.ts: the record format of the KML (kernel modification log), the LML (pending closes) and
 * last_rcvd (Linux fs/intermezzo/journal.c writes records, kml_unpack.c reads them, and
 * intermezzo_idl.h defines the structures).
 *
 * Layer: fs (presto). Interface: `kml_encode(rec)` gives a record's bytes, `kml_decode(buf, at)`
 * reads one back (or says what is wrong, and where), `kml_scan(buf)` walks a whole log skipping the
 * zero words a chunk boundary leaves, `kml_last_record(buf)` finds the tail record by scanning back
 * from the end (how presto restores recno and offset at mount), `kml_place(offset, size)` applies the
 * 64 KiB chunk rule, and `rcvd_encode`/`rcvd_decode` handle last_rcvd's fixed 56-byte records.
 * Layout (all little-endian, every part a multiple of 4 bytes):
 *   prefix (8 x u32): len, version, pid, auid, fsuid, fsgid, opcode, ngroups
 *   groups (ngroups x u32)
 *   body: the fixed fields of the opcode (LAYOUTS below, in journal.c's order; each string's
 *         length is a u32 in the fixed part), then the strings, each padded with zeros to 4 bytes
 *   suffix (4 x u32): prevrec (always 0), recno, time, len (= prefix len)
 * One table (LAYOUTS) drives both directions, so writer and reader cannot disagree on a width: the
 * original's LML writer and reader did. Strings are byte strings (one char per byte).
 * Invariants: decode(encode(r)) equals r; a record never crosses a 64 KiB chunk boundary.
 */
import { assert, panic } from '../../kernel/assert.ts';

export const KML_VERSION = 0x00010002; // KML_MAJOR_VERSION | KML_MINOR_VERSION
export const KML_CHUNK_SIZE = 1 << 16;
export const KML_PREFIX_SIZE = 32;
export const KML_SUFFIX_SIZE = 16;
export const PRESTO_VERSION_SIZE = 24;
export const ROLLBACK_SIZE = 24;
export const NGROUPS_MAX = 32;
/** The largest record presto writes or accepts: one page of path and two names, as the original. */
export const KML_MAX_RECORD = 3 * 4096 + 1024;

export const KML_OPCODE_NOOP = 0;
export const KML_OPCODE_CREATE = 1;
export const KML_OPCODE_MKDIR = 2;
export const KML_OPCODE_UNLINK = 3;
export const KML_OPCODE_RMDIR = 4;
export const KML_OPCODE_CLOSE = 5;
export const KML_OPCODE_SYMLINK = 6;
export const KML_OPCODE_RENAME = 7;
export const KML_OPCODE_SETATTR = 8;
export const KML_OPCODE_LINK = 9;
export const KML_OPCODE_OPEN = 10;
export const KML_OPCODE_MKNOD = 11;
export const KML_OPCODE_WRITE = 12;
export const KML_OPCODE_RELEASE = 13;
export const KML_OPCODE_TRUNC = 14;
export const KML_OPCODE_SETEXTATTR = 15;
export const KML_OPCODE_DELEXTATTR = 16;
export const KML_OPCODE_KML_TRUNC = 17;
export const KML_OPCODE_GET_FILEID = 18;

export const KML_OPCODE_NAMES: readonly string[] = [
  'NOOP',
  'CREATE',
  'MKDIR',
  'UNLINK',
  'RMDIR',
  'CLOSE',
  'SYMLINK',
  'RENAME',
  'SETATTR',
  'LINK',
  'OPEN',
  'MKNOD',
  'WRITE',
  'RELEASE',
  'TRUNC',
  'SETEXTATTR',
  'DELEXTATTR',
  'KML_TRUNC',
  'GET_FILEID',
];

/** `struct presto_version`: what a receiver compares to detect a conflict, and forces on replay. */
export interface PrestoVersion {
  readonly mtime_sec: number;
  readonly mtime_nsec: number;
  readonly ctime_sec: number;
  readonly ctime_nsec: number;
  readonly size: number;
}

export const ZERO_VERSION: PrestoVersion = { mtime_sec: 0, mtime_nsec: 0, ctime_sec: 0, ctime_nsec: 0, size: 0 };

/** `struct izo_rollback_data`: what an unlink, rmdir or setattr destroyed, to undo it. */
export interface Rollback {
  readonly mode: number;
  readonly rdev: number;
  readonly uid: number;
  readonly gid: number;
}

export const ZERO_ROLLBACK: Rollback = { mode: 0, rdev: 0, uid: 0, gid: 0 };

type V = PrestoVersion;
export interface CreateBody {
  readonly op: 'CREATE' | 'MKDIR';
  readonly old_parent: V;
  readonly new_parent: V;
  readonly new_object: V;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly path: string;
}
export interface MknodBody {
  readonly op: 'MKNOD';
  readonly old_parent: V;
  readonly new_parent: V;
  readonly new_object: V;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly major: number;
  readonly minor: number;
  readonly path: string;
}
export interface SymlinkBody {
  readonly op: 'SYMLINK';
  readonly old_parent: V;
  readonly new_parent: V;
  readonly new_object: V;
  readonly uid: number;
  readonly gid: number;
  readonly path: string;
  readonly target: string;
}
export interface LinkBody {
  readonly op: 'LINK';
  readonly old_parent: V;
  readonly new_parent: V;
  readonly new_object: V;
  readonly source: string;
  readonly path: string;
}
export interface RenameBody {
  readonly op: 'RENAME';
  readonly old_source_parent: V;
  readonly new_source_parent: V;
  readonly old_target_parent: V;
  readonly new_target_parent: V;
  readonly source: string;
  readonly path: string;
}
export interface UnlinkBody {
  readonly op: 'UNLINK';
  readonly old_parent: V;
  readonly new_parent: V;
  readonly old_object: V;
  readonly rollback: Rollback;
  /** The directory's path; `name` the entry removed; `old_target` a removed symlink's target. */
  readonly path: string;
  readonly name: string;
  readonly old_target: string;
}
export interface RmdirBody {
  readonly op: 'RMDIR';
  readonly old_parent: V;
  readonly new_parent: V;
  readonly old_object: V;
  readonly rollback: Rollback;
  readonly path: string;
  readonly name: string;
}
export interface SetattrBody {
  readonly op: 'SETATTR';
  readonly old_object: V;
  /** ATTR_* bits (kernel/fs.ts), without the atime bits, as the original logged them. */
  readonly valid: number;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Whole seconds (the original's time_t, widened to 64 bits). */
  readonly mtime: number;
  readonly ctime: number;
  readonly flags: number;
  readonly rollback: Rollback;
  readonly path: string;
}
export interface CloseBody {
  readonly op: 'CLOSE';
  readonly open_mode: number;
  readonly open_uid: number;
  readonly open_gid: number;
  readonly old_object: V;
  readonly new_object: V;
  readonly ino: number;
  readonly generation: number;
  readonly path: string;
}
/** An LML record: a close not yet logged (remote_ino 0), or a half-done backfetch. */
export interface LmlCloseBody {
  readonly op: 'LML_CLOSE';
  readonly new_object: V;
  readonly ino: number;
  readonly generation: number;
  readonly remote_ino: number;
  readonly remote_generation: number;
  readonly remote_version: V;
  readonly lml_offset: number;
  readonly path: string;
}
/**
 * A record that changes nothing (opcode NOOP, no body): what a server logs when it replays a peer's
 * record that turned out to change nothing here (a record a conflict policy skipped), so each
 * replayed record re-logs exactly one record; and what it forwards
 * to a peer in place of that peer's own record. Replaying it only advances last_rcvd.
 */
export interface NoopBody {
  readonly op: 'NOOP';
}

export type KmlBody =
  | NoopBody
  | CreateBody
  | MknodBody
  | SymlinkBody
  | LinkBody
  | RenameBody
  | UnlinkBody
  | RmdirBody
  | SetattrBody
  | CloseBody
  | LmlCloseBody;
export type KmlOp = KmlBody['op'];

export interface KmlCreds {
  readonly pid: number;
  /** The real uid of the caller (the original's `auid`). */
  readonly auid: number;
  readonly fsuid: number;
  readonly fsgid: number;
  readonly groups: readonly number[];
}

/**
 * The `pid` of a record re-logged by a replay (REINT_RELOG): this base plus the last_rcvd slot of
 * the peer the change came from. The original logged the replaying process's pid, which means
 * nothing to a receiver; a pid never reaches 2^22 on Linux, so the two cannot be confused. It tells
 * a server forwarding its log, exactly and in the same transaction as the record, which peer each
 * record came from (lento sends that peer a NOOP in its place).
 */
export const KML_RELOG_PID = 0x8000_0000;

/** The last_rcvd slot of the peer a re-logged record came from, or null for a local change. */
export function kml_relog_slot(rec: KmlCreds): number | null {
  return rec.pid >= KML_RELOG_PID ? rec.pid - KML_RELOG_PID : null;
}

export interface KmlRecord extends KmlCreds {
  readonly recno: number;
  /** Seconds, the suffix's `time` (CURRENT_TIME when written). */
  readonly time: number;
  /** An LML record whose close was logged: its opcode became NOOP (body kept). */
  readonly cancelled?: boolean;
  readonly body: KmlBody;
}

// ---------------------------------------------------------------------------------------------
// The layout table: fixed fields in order; a 'str' field is a u32 length whose bytes follow the
// fixed part, in the order the 'str' fields appear.

type FieldKind = 'u32' | 'u64' | 'ver' | 'rb' | 'str';
type Field = readonly [name: string, kind: FieldKind];
interface Layout {
  readonly opcode: number;
  readonly fields: readonly Field[];
}

const V3 = (a: string, b: string, c: string): Field[] => [
  [a, 'ver'],
  [b, 'ver'],
  [c, 'ver'],
];
const PARENTS: Field[] = V3('old_parent', 'new_parent', 'new_object');

export const LAYOUTS: Readonly<Record<KmlOp, Layout>> = {
  CREATE: {
    opcode: KML_OPCODE_CREATE,
    fields: [...PARENTS, ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['path', 'str']],
  },
  MKDIR: {
    opcode: KML_OPCODE_MKDIR,
    fields: [...PARENTS, ['mode', 'u32'], ['uid', 'u32'], ['gid', 'u32'], ['path', 'str']],
  },
  MKNOD: {
    opcode: KML_OPCODE_MKNOD,
    fields: [
      ...PARENTS,
      ['mode', 'u32'],
      ['uid', 'u32'],
      ['gid', 'u32'],
      ['major', 'u32'],
      ['minor', 'u32'],
      ['path', 'str'],
    ],
  },
  SYMLINK: {
    opcode: KML_OPCODE_SYMLINK,
    fields: [...PARENTS, ['uid', 'u32'], ['gid', 'u32'], ['path', 'str'], ['target', 'str']],
  },
  LINK: { opcode: KML_OPCODE_LINK, fields: [...PARENTS, ['source', 'str'], ['path', 'str']] },
  RENAME: {
    opcode: KML_OPCODE_RENAME,
    fields: [
      ['old_source_parent', 'ver'],
      ['new_source_parent', 'ver'],
      ['old_target_parent', 'ver'],
      ['new_target_parent', 'ver'],
      ['source', 'str'],
      ['path', 'str'],
    ],
  },
  UNLINK: {
    opcode: KML_OPCODE_UNLINK,
    fields: [
      ...V3('old_parent', 'new_parent', 'old_object'),
      ['rollback', 'rb'],
      ['path', 'str'],
      ['name', 'str'],
      ['old_target', 'str'],
    ],
  },
  RMDIR: {
    opcode: KML_OPCODE_RMDIR,
    fields: [...V3('old_parent', 'new_parent', 'old_object'), ['rollback', 'rb'], ['path', 'str'], ['name', 'str']],
  },
  SETATTR: {
    opcode: KML_OPCODE_SETATTR,
    fields: [
      ['old_object', 'ver'],
      ['valid', 'u32'],
      ['mode', 'u32'],
      ['uid', 'u32'],
      ['gid', 'u32'],
      ['size', 'u64'],
      ['mtime', 'u64'],
      ['ctime', 'u64'],
      ['flags', 'u32'],
      ['rollback', 'rb'],
      ['path', 'str'],
    ],
  },
  CLOSE: {
    opcode: KML_OPCODE_CLOSE,
    fields: [
      ['open_mode', 'u32'],
      ['open_uid', 'u32'],
      ['open_gid', 'u32'],
      ['old_object', 'ver'],
      ['new_object', 'ver'],
      ['ino', 'u64'],
      ['generation', 'u32'],
      ['path', 'str'],
    ],
  },
  NOOP: { opcode: KML_OPCODE_NOOP, fields: [] },
  LML_CLOSE: {
    opcode: KML_OPCODE_CLOSE,
    fields: [
      ['new_object', 'ver'],
      ['ino', 'u64'],
      ['generation', 'u32'],
      ['path', 'str'],
      ['remote_ino', 'u64'],
      ['remote_generation', 'u32'],
      ['remote_version', 'ver'],
      ['lml_offset', 'u64'],
    ],
  },
};

const SIZE_OF: Readonly<Record<FieldKind, number>> = {
  u32: 4,
  u64: 8,
  ver: PRESTO_VERSION_SIZE,
  rb: ROLLBACK_SIZE,
  str: 4,
};

/** Round up to 4 (arithmetic, not 32-bit bitwise: a corrupt length near 2^32 must stay huge). */
export const size_round = (n: number): number => Math.ceil(n / 4) * 4;

/** Each op's fixed part and the names of its strings, worked out once from its layout. */
const SHAPES: ReadonlyMap<KmlOp, { readonly fixed: number; readonly strings: readonly string[] }> = new Map(
  (Object.keys(LAYOUTS) as KmlOp[]).map((op) => [op, {
    fixed: LAYOUTS[op].fields.reduce((n, [, k]) => n + SIZE_OF[k], 0),
    strings: LAYOUTS[op].fields.filter(([, k]) => k === 'str').map(([name]) => name),
  }]),
);

function shapeOf(op: KmlOp): { readonly fixed: number; readonly strings: readonly string[] } {
  const s = SHAPES.get(op);
  assert(s !== undefined, 'kml: an op without a layout');
  return s;
}

/** Bytes of the fixed part of a body (string lengths included, strings not). */
export function fixedSize(op: KmlOp): number {
  return shapeOf(op).fixed;
}

/** The byte length of a record of `op` with `ngroups` groups and strings of `strBytes` bytes (rounded). */
function sizeWith(op: KmlOp, ngroups: number, strBytes: number): number {
  return KML_PREFIX_SIZE + 4 * ngroups + shapeOf(op).fixed + KML_SUFFIX_SIZE + strBytes;
}

/** The byte length of a record of `op` with `ngroups` groups and these strings. */
export function kml_size(op: KmlOp, ngroups: number, strings: readonly string[]): number {
  let n = 0;
  for (const str of strings) n += size_round(str.length);
  return sizeWith(op, ngroups, n);
}

/** The byte length a record will have. */
export function kml_record_size(rec: KmlRecord): number {
  const body = rec.body as unknown as Record<string, string>;
  let n = 0;
  for (const name of shapeOf(rec.body.op).strings) n += size_round((body[name] as string).length);
  return sizeWith(rec.body.op, rec.groups.length, n);
}

// ---------------------------------------------------------------------------------------------
// Encoding.

class Writer {
  readonly buf: Uint8Array;
  readonly view: DataView;
  at = 0;
  constructor(size: number) {
    this.buf = new Uint8Array(size);
    this.view = new DataView(this.buf.buffer);
  }
  // The checks are written out, not passed to assert as closures: this runs for every field of
  // every record, and a closure per call was a measurable share of presto's cost.
  u32(v: number): void {
    if (!(Number.isInteger(v) && v >= 0 && v <= 0xffffffff)) panic(`kml: ${v} does not fit a u32`);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }
  /** Two little-endian words: the same bytes as a u64, without a BigInt per field. */
  u64(v: number): void {
    if (!(Number.isSafeInteger(v) && v >= 0)) panic(`kml: ${v} does not fit a u64`);
    this.view.setUint32(this.at, v % 0x1_0000_0000, true);
    this.view.setUint32(this.at + 4, Math.floor(v / 0x1_0000_0000), true);
    this.at += 8;
  }
  ver(v: PrestoVersion): void {
    this.u32(v.mtime_sec);
    this.u32(v.mtime_nsec);
    this.u32(v.ctime_sec);
    this.u32(v.ctime_nsec);
    this.u64(v.size);
  }
  rb(r: Rollback): void {
    this.u32(r.mode);
    this.u32(r.rdev);
    this.u64(r.uid);
    this.u64(r.gid);
  }
  bytes(s: string): void {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      assert(c <= 0xff, 'kml: strings are byte strings');
      this.buf[this.at + i] = c;
    }
    this.at += size_round(s.length);
  }
}

/** The bytes of a record, as presto_log writes them (prefix, groups, fixed body, strings, suffix). */
export function kml_encode(rec: KmlRecord): Uint8Array {
  assert(rec.groups.length <= NGROUPS_MAX, () => `kml: ${rec.groups.length} groups (at most ${NGROUPS_MAX})`);
  const len = kml_record_size(rec);
  // A longer record would read back as damage: presto refuses such a change before making it.
  assert(len <= KML_MAX_RECORD, () => `kml: a ${len}-byte record (at most ${KML_MAX_RECORD})`);
  const layout = LAYOUTS[rec.body.op];
  const body = rec.body as unknown as Record<string, unknown>;
  const w = new Writer(len);
  w.u32(len);
  w.u32(KML_VERSION);
  w.u32(rec.pid);
  w.u32(rec.auid);
  w.u32(rec.fsuid);
  w.u32(rec.fsgid);
  w.u32(rec.cancelled === true ? KML_OPCODE_NOOP : layout.opcode);
  w.u32(rec.groups.length);
  for (const g of rec.groups) w.u32(g);
  const strings: string[] = [];
  for (const [name, kind] of layout.fields) {
    const v = body[name];
    if (kind === 'u32') w.u32(v as number);
    else if (kind === 'u64') w.u64(v as number);
    else if (kind === 'ver') w.ver(v as PrestoVersion);
    else if (kind === 'rb') w.rb(v as Rollback);
    else {
      w.u32((v as string).length);
      strings.push(v as string);
    }
  }
  for (const s of strings) w.bytes(s);
  w.u32(0);
  w.u32(rec.recno);
  w.u32(rec.time);
  w.u32(len);
  if (w.at !== len) panic(`kml: encoded ${w.at} bytes of a ${len}-byte record`);
  return w.buf;
}

// ---------------------------------------------------------------------------------------------
// Decoding.

/** Where a record is damaged and how. */
export interface KmlDamage {
  readonly offset: number;
  readonly reason: string;
}

export interface Decoded {
  readonly rec: KmlRecord;
  readonly len: number;
}

export function isDamage(x: unknown): x is KmlDamage {
  return typeof x === 'object' && x !== null && 'reason' in x;
}

class Reader {
  readonly view: DataView;
  constructor(
    readonly buf: Uint8Array,
    public at: number,
    readonly end: number,
  ) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  u32(): number {
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  /** Saturates at MAX_SAFE_INTEGER, as the BigInt read it replaces did. */
  u64(): number {
    const lo = this.view.getUint32(this.at, true);
    const hi = this.view.getUint32(this.at + 4, true);
    this.at += 8;
    return hi >= 0x200000 ? Number.MAX_SAFE_INTEGER : hi * 0x1_0000_0000 + lo;
  }
  ver(): PrestoVersion {
    return {
      mtime_sec: this.u32(),
      mtime_nsec: this.u32(),
      ctime_sec: this.u32(),
      ctime_nsec: this.u32(),
      size: this.u64(),
    };
  }
  rb(): Rollback {
    return { mode: this.u32(), rdev: this.u32(), uid: this.u64(), gid: this.u64() };
  }
  bytes(n: number): string {
    // Names are byte strings: one char per byte (n is bounded by the record length, checked first).
    const s = String.fromCharCode(...this.buf.subarray(this.at, this.at + n));
    this.at += size_round(n);
    return s;
  }
}

/**
 * Read the record at `at`. `lml` reads CLOSE records as LML closes (the LML file's layout).
 * Returns what is wrong, with its offset, if the bytes are not a whole, well-formed record.
 */
export function kml_decode(buf: Uint8Array, at: number, lml = false): Decoded | KmlDamage {
  const bad = (reason: string, off = at): KmlDamage => ({ offset: off, reason });
  if (at % 4 !== 0) return bad('record not 4-byte aligned');
  if (buf.length - at < KML_PREFIX_SIZE + KML_SUFFIX_SIZE)
    return bad(`only ${buf.length - at} bytes left, too short for a record`);
  const r = new Reader(buf, at, buf.length);
  const [len, version, pid, auid, fsuid, fsgid, opcode, ngroups] = [
    r.u32(),
    r.u32(),
    r.u32(),
    r.u32(),
    r.u32(),
    r.u32(),
    r.u32(),
    r.u32(),
  ];
  if (len % 4 !== 0 || len < KML_PREFIX_SIZE + KML_SUFFIX_SIZE || len > KML_MAX_RECORD)
    return bad(`bad record length ${len}`);
  if (at + len > buf.length) return bad(`record of ${len} bytes runs past the end of the log (${buf.length})`);
  if (version !== KML_VERSION)
    return bad(`version 0x${version.toString(16)}, expected 0x${KML_VERSION.toString(16)}`, at + 4);
  if (ngroups > NGROUPS_MAX) return bad(`${ngroups} groups (at most ${NGROUPS_MAX})`, at + 28);
  if (KML_PREFIX_SIZE + 4 * ngroups + KML_SUFFIX_SIZE > len) {
    return bad(`${ngroups} groups do not fit a ${len}-byte record`, at + 28);
  }
  const tail = new DataView(buf.buffer, buf.byteOffset + at + len - KML_SUFFIX_SIZE, KML_SUFFIX_SIZE);
  const [recno, time, len2] = [tail.getUint32(4, true), tail.getUint32(8, true), tail.getUint32(12, true)];
  if (len2 !== len) return bad(`suffix length ${len2} differs from prefix length ${len}`, at + len - 4);
  const groups: number[] = [];
  for (let i = 0; i < ngroups; i++) groups.push(r.u32());
  const op = opOf(opcode, lml);
  if (op === null)
    return bad(`opcode ${opcode} (${KML_OPCODE_NAMES[opcode] ?? 'unknown'}) is never written to a log`, at + 24);
  const body = decodeBody(r, op, at, len);
  if (isDamage(body)) return body;
  const rec: KmlRecord = {
    pid,
    auid,
    fsuid,
    fsgid,
    groups,
    recno,
    time,
    body,
    ...(opcode === KML_OPCODE_NOOP && op !== 'NOOP' ? { cancelled: true } : {}),
  };
  return { rec, len };
}

function opOf(opcode: number, lml: boolean): KmlOp | null {
  if (lml && (opcode === KML_OPCODE_CLOSE || opcode === KML_OPCODE_NOOP)) return 'LML_CLOSE';
  for (const [op, l] of Object.entries(LAYOUTS) as Array<[KmlOp, Layout]>) {
    if (op !== 'LML_CLOSE' && l.opcode === opcode) return op;
  }
  return null;
}

function decodeBody(r: Reader, op: KmlOp, at: number, len: number): KmlBody | KmlDamage {
  const suffixAt = at + len - KML_SUFFIX_SIZE;
  const bad = (reason: string, off = r.at): KmlDamage => ({ offset: off, reason });
  const out: Record<string, unknown> = { op };
  /** Each string: its name, its length, and where that length word is. */
  const strs: Array<[string, number, number]> = [];
  if (r.at + fixedSize(op) > suffixAt) {
    return bad(`${op} body needs ${fixedSize(op)} bytes, record has ${suffixAt - r.at}`);
  }
  for (const [name, kind] of LAYOUTS[op].fields) {
    if (kind === 'u32') out[name] = r.u32();
    else if (kind === 'u64') out[name] = r.u64();
    else if (kind === 'ver') out[name] = r.ver();
    else if (kind === 'rb') out[name] = r.rb();
    else strs.push([name, r.at, r.u32()]);
  }
  for (const [name, lenAt, n] of strs) {
    if (n > len) return bad(`string '${name}' of ${n} bytes is longer than its ${len}-byte record`, lenAt);
    if (r.at + size_round(n) > suffixAt) return bad(`string '${name}' of ${n} bytes runs into the suffix`);
    out[name] = r.bytes(n);
  }
  if (r.at !== suffixAt) return bad(`${suffixAt - r.at} unexplained bytes before the suffix`);
  return out as unknown as KmlBody;
}

// ---------------------------------------------------------------------------------------------
// Logs.

export interface ScannedRecord {
  /** Byte offset in the file (add the log's logical offset for what user space sees). */
  readonly offset: number;
  readonly len: number;
  readonly rec: KmlRecord;
}

export interface Scan {
  readonly records: ScannedRecord[];
  /** The first damaged place, if any; records after it are not read. */
  readonly damage: KmlDamage | null;
}

/** Every record of a log, in order; zero words between records (chunk padding) are skipped. */
export function kml_scan(buf: Uint8Array, lml = false): Scan {
  const records: ScannedRecord[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  while (at + 4 <= buf.length) {
    if (view.getUint32(at, true) === 0) {
      at += 4;
      continue;
    }
    const d = kml_decode(buf, at, lml);
    if (isDamage(d)) return { records, damage: d };
    records.push({ offset: at, len: d.len, rec: d.rec });
    at += d.len;
  }
  return { records, damage: null };
}

/** The tail of a log: the end of its last record and that record's number (0, 0 if none). */
export interface LogTail {
  readonly end: number;
  readonly recno: number;
}

/**
 * Scan back from the end of the log past zero words to the last suffix, as presto does at mount to
 * restore its record number and write offset. A damaged tail is reported, not guessed around.
 */
export function kml_last_record(buf: Uint8Array, lml = false): LogTail | KmlDamage {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let end = buf.length & ~3;
  while (end >= 4 && view.getUint32(end - 4, true) === 0) end -= 4;
  if (end === 0) return { end: 0, recno: 0 };
  if (end < KML_PREFIX_SIZE + KML_SUFFIX_SIZE)
    return { offset: 0, reason: `log tail of ${end} bytes is too short for a record` };
  const len = view.getUint32(end - 4, true);
  if (len % 4 !== 0 || len > end || len < KML_PREFIX_SIZE + KML_SUFFIX_SIZE) {
    return { offset: end - 4, reason: `last suffix gives a length of ${len}` };
  }
  const d = kml_decode(buf.subarray(0, end), end - len, lml);
  if (isDamage(d)) return d;
  return { end, recno: d.rec.recno };
}

/**
 * Where a record of `size` bytes goes when the log's write offset is `offset`: presto's rule is to
 * move to the next 64 KiB boundary when the record would reach it (a record ending exactly on the
 * boundary moves too, as in the original).
 */
export function kml_place(offset: number, size: number, chunk = KML_CHUNK_SIZE): number {
  assert(size > 0 && size <= chunk, () => `kml: a ${size}-byte record cannot fit a ${chunk}-byte chunk`);
  const boundary = Math.ceil(offset / chunk) * chunk;
  return offset + size >= boundary ? boundary : offset;
}

// ---------------------------------------------------------------------------------------------
// last_rcvd: one fixed record per peer (izo_rcvd_rec).

export const RCVD_RECORD_SIZE = 56;

export interface RcvdRecord {
  readonly uuid: Uint8Array;
  readonly remote_recno: number;
  readonly remote_offset: number;
  readonly local_recno: number;
  readonly local_offset: number;
  readonly last_ctime: number;
}

export function rcvd_encode(r: RcvdRecord): Uint8Array {
  assert(r.uuid.length === 16, 'last_rcvd: a uuid is 16 bytes');
  const w = new Writer(RCVD_RECORD_SIZE);
  w.buf.set(r.uuid, 0);
  w.at = 16;
  for (const v of [r.remote_recno, r.remote_offset, r.local_recno, r.local_offset, r.last_ctime]) w.u64(v);
  return w.buf;
}

export function rcvd_decode(buf: Uint8Array, at: number): RcvdRecord {
  const r = new Reader(buf, at + 16, buf.length);
  const uuid = buf.slice(at, at + 16);
  return {
    uuid,
    remote_recno: r.u64(),
    remote_offset: r.u64(),
    local_recno: r.u64(),
    local_offset: r.u64(),
    last_ctime: r.u64(),
  };
}

export function isZeroUuid(u: Uint8Array): boolean {
  return u.every((b) => b === 0);
}
