/**
 * journal.ts: writing presto's logs: KML records, LML pending closes and last_rcvd records, and
 * finding where each log ends at mount (Linux fs/intermezzo/journal.c and replicator.c).
 *
 * Layer: fs (presto). Interface: `presto_log(fset, body, p)` appends one KML record (next recno,
 * the 64 KiB chunk rule) through the cache file system's own write, inside the caller's transaction;
 * `presto_write_lml_close` / `presto_clear_lml_close` / `presto_truncate_lml` keep the LML;
 * `izo_rcvd_get` / `izo_rcvd_write` read and update one peer's last_rcvd record;
 * `izo_init_log(fset, fd)` restores a log's recno and offset by scanning back from its end;
 * `presto_kml_dispatch` tells lento (asynchronously) that a new KML range exists.
 * Invariants: KML records are numbered 1, 2, 3... without gaps; a record is written whole inside one
 * transaction (the log files are data-journaled on ext3), so after a crash the log ends on a record
 * boundary; offsets handed to user space are logical (plus kml_logical_off).
 */
import { assert } from '../../kernel/assert.ts';
import { EFBIG, ENOSPC, isErr, type Errno } from '../../kernel/errno.ts';
import { ATTR_SIZE, type File } from '../../kernel/fs.ts';
import { current_fs_time } from '../../kernel/inode.ts';
import type { Process } from '../../kernel/process.ts';
import { EMPTY_BODY, izo_upc_upcall, IZO_UPC_KML } from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import type { Fileset, LogFd } from './intermezzo_fs.ts';
import { presto_in_trans, type LogWrite } from './journal_ops.ts';
import {
  isDamage,
  isZeroUuid,
  kml_encode,
  kml_last_record,
  kml_scan,
  kml_place,
  kml_record_size,
  KML_OPCODE_NOOP,
  KML_RELOG_PID,
  KML_PREFIX_SIZE,
  rcvd_decode,
  rcvd_encode,
  RCVD_RECORD_SIZE,
  type KmlBody,
  type KmlCreds,
  type KmlDamage,
  type KmlRecord,
  type RcvdRecord,
} from './kml.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    /** A record appended to the KML; `relog`: a replayed peer's change re-logged (REINT_RELOG). */
    'presto.kml': {
      fset: string; recno: number; op: string; offset: number; len: number; path: string; relog: boolean;
    };
    'presto.lml': {
      fset: string;
      offset: number;
      what: 'write' | 'clear' | 'truncate' | 'complete' | 'deferred';
      path: string;
    };
    'presto.rcvd': { fset: string; uuid: string; remote_recno: number; local_recno: number };
    'presto.log_damage': { fset: string; log: string; offset: number; reason: string };
  }
}

/** Where a record went: its number and logical offset (rec_info). */
export interface RecInfo {
  readonly recno: number;
  readonly offset: number;
  readonly len: number;
}

export function credsOf(p: Process): KmlCreds {
  return { pid: p.pid, auid: p.cred.uid, fsuid: p.cred.fsuid, fsgid: p.cred.fsgid, groups: p.cred.groups.slice(0, 32) };
}

/**
 * Write log bytes in the caller's transaction, whose blocks presto_in_trans reserved: a write cut
 * short by space would tear the log without any crash, so it is a broken invariant, not an error.
 */
function* log_write(fd: LogFd, at: number, bytes: Uint8Array, p: Process): Sys<0 | Errno> {
  const write = fd.file.f_op.write;
  assert(write !== undefined, () => `presto: the ${fd.name} file cannot be written`);
  const n = yield* write(fd.file, bytes, at, p);
  const short = n === ENOSPC || n === EFBIG || (!isErr(n) && n !== bytes.length);
  assert(!short, () => `presto: ${bytes.length} bytes at ${at} of the ${fd.name} got ${n}: blocks not reserved`);
  return isErr(n) ? n : 0;
}

/** The whole content of a log file, read through the cache file system. */
export function* log_read_all(file: File, p: Process): Sys<Uint8Array | Errno> {
  const size = file.f_inode.i_size;
  const buf = new Uint8Array(size);
  const read = file.f_op.read;
  assert(read !== undefined, 'presto: a log file cannot be read');
  let done = 0;
  while (done < size) {
    const n = yield* read(file, buf.subarray(done), done, p);
    if (isErr(n)) return n;
    if (n === 0) break;
    done += n;
  }
  return buf;
}

/**
 * Append a KML record for `body`, written by `creds` (the caller's, or a replayed record's), in
 * the transaction the caller holds, which reserved `planned` bytes for it. Returns the record's
 * number and logical offset.
 */
export function* presto_log(
  fset: Fileset,
  body: KmlBody,
  creds: KmlCreds,
  p: Process,
  planned: number | undefined,
): Sys<RecInfo | Errno> {
  const fd = fset.kml;
  const time = current_fs_time(fset.cache.sb).sec;
  const draft: KmlRecord = { ...creds, recno: fd.recno + 1, time, body };
  const len = kml_record_size(draft);
  assert(planned !== undefined && len <= planned, () => `presto: a ${len}-byte ${body.op} record, ${planned} planned`);
  const at = kml_place(fd.offset, len);
  const w = yield* log_write(fd, at, kml_encode(draft), p);
  if (isErr(w)) return w;
  fd.recno++;
  fd.offset = at + len;
  const offset = at + fset.kml_logical_off;
  const path = 'path' in body ? body.path : '';
  fset.cache.sb.s_kernel.tracer.emit('presto.kml', {
    fset: fset.name,
    recno: fd.recno,
    op: body.op,
    offset,
    len,
    path,
    relog: creds.pid >= KML_RELOG_PID,
  });
  return { recno: fd.recno, offset, len };
}

/** Tell lento that records up to the end of the KML exist (nothing is sent while it is away). */
export function* presto_kml_dispatch(fset: Fileset): Sys<0 | Errno> {
  const fd = fset.kml;
  if (fd.recno === fset.lento_recno || fset.channel.openCount === 0) return 0;
  const body = {
    ...EMPTY_BODY,
    fset: fset.name,
    offset: fset.lento_off + fset.kml_logical_off,
    length: fd.offset - fset.lento_off,
    firstRecno: fset.lento_recno + 1,
    lastRecno: fd.recno,
  };
  const r = yield* izo_upc_upcall(fset.psdev, fset.channel, IZO_UPC_KML, body, { async: true });
  if (isErr(r)) return r;
  fset.lento_off = fd.offset;
  fset.lento_recno = fd.recno;
  return 0;
}

// ---------------------------------------------------------------------------------------------
// The LML.

/** Write a pending-close record; returns its offset in the LML (kept by the open file). */
export function* presto_write_lml_close(fset: Fileset, rec: KmlRecord, p: Process): Sys<number | Errno> {
  assert(rec.body.op === 'LML_CLOSE', 'presto: only closes go to the LML');
  const fd = fset.lml;
  const at = fd.offset;
  const withOffset: KmlRecord = { ...rec, recno: fd.recno + 1, body: { ...rec.body, lml_offset: at } };
  const bytes = kml_encode(withOffset);
  const w = yield* log_write(fd, at, bytes, p);
  if (isErr(w)) return w;
  fd.recno++;
  fd.offset = at + bytes.length;
  fset.cache.sb.s_kernel.tracer.emit('presto.lml', { fset: fset.name, offset: at, what: 'write', path: rec.body.path });
  return at;
}

/** The close was logged (or the backfetch finished): the LML record becomes a NOOP. */
export function* presto_clear_lml_close(fset: Fileset, at: number, p: Process): Sys<0 | Errno> {
  if (at + KML_PREFIX_SIZE > fset.lml.offset) return 0; // already cancelled and trimmed (ADJUST_LML)
  const word = new Uint8Array(4);
  new DataView(word.buffer).setUint32(0, KML_OPCODE_NOOP, true);
  const w = yield* log_write(fset.lml, at + 24, word, p);
  if (isErr(w)) return w;
  fset.cache.sb.s_kernel.tracer.emit('presto.lml', { fset: fset.name, offset: at, what: 'clear', path: '' });
  return 0;
}

// ---------------------------------------------------------------------------------------------
// last_rcvd.

function uuidHex(u: Uint8Array): string {
  return Array.from(u, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Two uuids are the same peer (byte for byte: this runs for every record replayed). */
function sameUuid(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Every last_rcvd record, with its slot. */
export function* izo_rcvd_all(fset: Fileset, p: Process): Sys<Array<{ slot: number; rec: RcvdRecord }> | Errno> {
  const buf = yield* log_read_all(fset.rcvd.file, p);
  if (isErr(buf)) return buf;
  const out: Array<{ slot: number; rec: RcvdRecord }> = [];
  for (let slot = 0; (slot + 1) * RCVD_RECORD_SIZE <= buf.length; slot++)
    out.push({ slot, rec: rcvd_decode(buf, slot * RCVD_RECORD_SIZE) });
  return out;
}

/** The record of peer `uuid`, or null if it has none. */
export function* izo_rcvd_get(fset: Fileset, uuid: Uint8Array, p: Process): Sys<RcvdRecord | null | Errno> {
  const all = yield* izo_rcvd_all(fset, p);
  if (isErr(all)) return all;
  return all.find((r) => sameUuid(r.rec.uuid, uuid))?.rec ?? null;
}

/** The write a last_rcvd update may make at most: a new peer's record, appended. */
export function izo_rcvd_append(fset: Fileset): LogWrite {
  return { fd: fset.rcvd, pos: fset.rcvd.file.f_inode.i_size, len: RCVD_RECORD_SIZE };
}

/** The slot of peer `uuid`'s last_rcvd record: where it is, or where it will go (after the last). */
export function* izo_rcvd_slot(fset: Fileset, uuid: Uint8Array, p: Process): Sys<number | Errno> {
  const all = yield* izo_rcvd_all(fset, p);
  if (isErr(all)) return all;
  return all.find((r) => sameUuid(r.rec.uuid, uuid))?.slot ?? all.length;
}

/** Write peer `rec.uuid`'s record in place (or append it), inside the caller's transaction. */
export function* izo_rcvd_write(fset: Fileset, rec: RcvdRecord, p: Process): Sys<0 | Errno> {
  const all = yield* izo_rcvd_all(fset, p);
  if (isErr(all)) return all;
  const slot = all.find((r) => sameUuid(r.rec.uuid, rec.uuid))?.slot ?? all.length;
  const w = yield* log_write(fset.rcvd, slot * RCVD_RECORD_SIZE, rcvd_encode(rec), p);
  if (isErr(w)) return w;
  if (!isZeroUuid(rec.uuid)) {
    fset.cache.sb.s_kernel.tracer.emit('presto.rcvd', {
      fset: fset.name,
      uuid: uuidHex(rec.uuid),
      remote_recno: rec.remote_recno,
      local_recno: rec.local_recno,
    });
  }
  return 0;
}

export const ZERO_UUID = new Uint8Array(16);

/** Record the KML's logical offset in the all-zero-uuid record. */
export function* presto_write_kml_logical_offset(fset: Fileset, p: Process): Sys<0 | Errno> {
  const old = yield* izo_rcvd_get(fset, ZERO_UUID, p);
  if (isErr(old)) return old;
  const base = old ?? {
    uuid: ZERO_UUID,
    remote_recno: 0,
    remote_offset: 0,
    local_recno: 0,
    local_offset: 0,
    last_ctime: 0,
  };
  return yield* izo_rcvd_write(fset, { ...base, local_offset: fset.kml_logical_off }, p);
}

// ---------------------------------------------------------------------------------------------
// Mount: where each log ends.

/**
 * Restore the KML's (or LML's) recno and write offset from its tail. The whole log is checked
 * first, record by record: damage anywhere (not only at the tail) is reported with its offset, and
 * the fileset is refused rather than appended to after the damage.
 */
export function* izo_init_log(fset: Fileset, fd: LogFd, p: Process): Sys<0 | KmlDamage | Errno> {
  const buf = yield* log_read_all(fd.file, p);
  if (isErr(buf)) return buf;
  const whole = kml_scan(buf, fd.name === 'lml').damage;
  const tail = whole ?? kml_last_record(buf, fd.name === 'lml');
  if (isDamage(tail)) {
    fset.cache.sb.s_kernel.tracer.emit('presto.log_damage', { fset: fset.name, log: fd.name, ...tail });
    return tail;
  }
  fd.offset = tail.end;
  fd.recno = tail.recno;
  return 0;
}

/** Cut cancelled (NOOP) records off the end of the LML, in one transaction. */
export function* presto_truncate_lml(fset: Fileset, p: Process): Sys<0 | Errno> {
  const fd = fset.lml;
  const buf = yield* log_read_all(fd.file, p);
  if (isErr(buf)) return buf;
  const scan = kml_scan(buf, true);
  if (scan.damage !== null) return 0; // left for the mount-time scan to report
  let end = 0;
  for (const r of scan.records) if (r.rec.cancelled !== true) end = r.offset + r.len;
  if (end >= buf.length) return 0;
  const d = fd.file.f_dentry;
  // The cache's own setattr (c2c): presto's logs are changed by presto, past its user-facing guard.
  const setattr = fset.cache.filter.c2c_iops(fd.file.f_inode).setattr;
  if (setattr === undefined) return 0;
  const r = yield* presto_in_trans(fset, 'lml', () => setattr(d, { ia_valid: ATTR_SIZE, ia_size: end }, p));
  if (isErr(r)) return r;
  fd.offset = end;
  fset.cache.sb.s_kernel.tracer.emit('presto.lml', { fset: fset.name, offset: end, what: 'truncate', path: '' });
  return 0;
}
