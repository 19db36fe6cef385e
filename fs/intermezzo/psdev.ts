/**
 * psdev.ts: /dev/intermezzo, the character device through which presto asks user space (lento)
 * and lento answers (Linux fs/intermezzo/psdev.c and upcall.c).
 *
 * Layer: fs (presto; it lived in kernel/ until the multi-node work: nothing in the kernel uses it).
 * Interface: `Psdev` holds MAX_CHANNELS channels; a kernel caller (presto) sends an upcall with
 * `izo_upc_upcall(psdev, chan, opcode, body, {async})`: the request gets a unique id and joins
 * the channel's pending queue; a synchronous request sleeps (point `psdev.upcall`) until lento
 * writes a reply with the same unique id. Lento opens the device (char major 10, minor 248, the
 * misc device the original used), `read`s the next request (a synchronous one moves to the
 * processing queue; an asynchronous one is freed when read) and `write`s a reply
 * `{opcode, unique, result}` (no such request in processing: ESRCH). If the last reader closes,
 * synchronous waiters get ENODEV; asynchronous requests stay queued for the next reader. A sync
 * request unanswered after the channel's timeout (30 s) gives EINTR, unless the channel is "hard".
 * Wire format: `izo_upcall_hdr` (little-endian, 80 bytes) followed by the path, the fileset name and
 * an optional record, as the original laid them out; the record of OPEN and BACKFETCH starts with a
 * 16-byte file id (remote inode u64, generation u32, 4 bytes zero): `izo_fileid_encode`/`_decode`.
 * Both directions' codecs live here, so presto and lento share one definition of the wire.
 * Invariants: a unique id is in at most one queue; processing holds only synchronous requests.
 */
import { assert } from '../../kernel/assert.ts';
import { EINTR, EINVAL, ENODEV, ESRCH, type Errno } from '../../kernel/errno.ts';
import type { File, FileOperations } from '../../kernel/fs.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import { sleepInterruptible, sleepOn, wakeUp, WaitQueue, type Sys } from '../../kernel/sched.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'psdev.upcall': { channel: number; unique: number; opcode: number; async: boolean };
    'psdev.read': { channel: number; unique: number; opcode: number };
    'psdev.reply': { channel: number; unique: number; result: number };
    'psdev.fail': { channel: number; unique: number; error: string };
  }
}

export const MISC_MAJOR = 10;
export const INTERMEZZO_MINOR = 248;
export const MAX_CHANNELS = 16;
export const IZO_UPC_VERSION = 0x00010002;
export const UPCALL_TIMEOUT_TICKS = 30_000_000;

export const IZO_UPC_PERMIT = 1;
export const IZO_UPC_CONNECT = 2;
export const IZO_UPC_GO_FETCH_KML = 3;
export const IZO_UPC_OPEN = 4;
export const IZO_UPC_REVOKE_PERMIT = 5;
export const IZO_UPC_KML = 6;
export const IZO_UPC_BACKFETCH = 7;
export const IZO_UPC_KML_TRUNC = 8;
export const IZO_UPC_GET_FILEID = 12;
export const IZO_UPC_REPSTATUS = 15;

export const UPCALL_NAMES: Readonly<Record<number, string>> = {
  1: 'PERMIT', 2: 'CONNECT', 3: 'GO_FETCH_KML', 4: 'OPEN', 5: 'REVOKE_PERMIT', 6: 'KML', 7: 'BACKFETCH', 8: 'KML_TRUNC',
  12: 'GET_FILEID', 15: 'REPSTATUS',
};

export const UPCALL_HDR_SIZE = 80;
export const UPCALL_RESP_SIZE = 12;

/** The fields of `struct izo_upcall_hdr` (strings and record travel after it). */
export interface UpcallBody {
  readonly pid: number;
  readonly uid: number;
  readonly path: string;
  readonly fset: string;
  readonly offset: number;
  readonly length: number;
  readonly firstRecno: number;
  readonly lastRecno: number;
  readonly uuid: Uint8Array;
  readonly record: Uint8Array;
}

export interface Upcall extends UpcallBody {
  readonly opcode: number;
  readonly unique: number;
  readonly async: boolean;
}

export const EMPTY_BODY: UpcallBody = {
  pid: 0, uid: 0, path: '', fset: '', offset: 0, length: 0, firstRecno: 0, lastRecno: 0,
  uuid: new Uint8Array(16), record: new Uint8Array(0),
};

/** Bytes of the file id that starts the record of OPEN and BACKFETCH upcalls. */
export const FILEID_SIZE = 16;

/** The server's inode (u64) and generation (u32) of a file, as OPEN and BACKFETCH carry them. */
export interface FileId {
  readonly ino: number;
  readonly generation: number;
}

export function izo_fileid_encode(id: FileId): Uint8Array {
  const b = new Uint8Array(FILEID_SIZE);
  const v = new DataView(b.buffer);
  v.setBigUint64(0, BigInt(id.ino), true);
  v.setUint32(8, id.generation, true);
  return b;
}

/** The file id at the start of an upcall's record (zeros when the record is too short to hold one). */
export function izo_fileid_decode(record: Uint8Array): FileId {
  if (record.length < FILEID_SIZE) return { ino: 0, generation: 0 };
  const v = new DataView(record.buffer, record.byteOffset, record.byteLength);
  return { ino: Number(v.getBigUint64(0, true)), generation: v.getUint32(8, true) };
}

export function encodeUpcall(u: Upcall): Uint8Array {
  const len = UPCALL_HDR_SIZE + u.path.length + u.fset.length + u.record.length;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, len, true);
  v.setUint32(4, IZO_UPC_VERSION, true);
  v.setUint32(8, u.opcode, true);
  v.setUint32(12, u.unique, true);
  v.setUint32(16, u.pid, true);
  v.setUint32(20, u.uid, true);
  v.setUint32(24, u.path.length, true);
  v.setUint32(28, u.fset.length, true);
  v.setBigUint64(32, BigInt(u.offset), true);
  v.setBigUint64(40, BigInt(u.length), true);
  v.setUint32(48, u.firstRecno, true);
  v.setUint32(52, u.lastRecno, true);
  v.setUint32(56, u.async ? 1 : 0, true);
  v.setUint32(60, u.record.length, true);
  b.set(u.uuid.subarray(0, 16), 64);
  let off = UPCALL_HDR_SIZE;
  for (const s of [u.path, u.fset]) {
    for (let i = 0; i < s.length; i++) b[off + i] = s.charCodeAt(i);
    off += s.length;
  }
  b.set(u.record, off);
  return b;
}

/** Decode what lento read; a message (naming the field) on malformed input. */
export function decodeUpcall(b: Uint8Array): Upcall | string {
  if (b.length < UPCALL_HDR_SIZE) {
    return `upcall of ${b.length} bytes is shorter than its ${UPCALL_HDR_SIZE}-byte header`;
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const len = v.getUint32(0, true);
  if (len !== b.length) return `upcall u_len ${len} but ${b.length} bytes`;
  if (v.getUint32(4, true) !== IZO_UPC_VERSION) return `upcall version 0x${v.getUint32(4, true).toString(16)} unknown`;
  const pathlen = v.getUint32(24, true);
  const fsetlen = v.getUint32(28, true);
  const reclen = v.getUint32(60, true);
  if (UPCALL_HDR_SIZE + pathlen + fsetlen + reclen !== len) {
    return 'upcall string and record lengths do not add up to u_len';
  }
  const str = (from: number, n: number): string => String.fromCharCode(...b.subarray(from, from + n));
  return {
    opcode: v.getUint32(8, true),
    unique: v.getUint32(12, true),
    pid: v.getUint32(16, true),
    uid: v.getUint32(20, true),
    path: str(UPCALL_HDR_SIZE, pathlen),
    fset: str(UPCALL_HDR_SIZE + pathlen, fsetlen),
    offset: Number(v.getBigUint64(32, true)),
    length: Number(v.getBigUint64(40, true)),
    firstRecno: v.getUint32(48, true),
    lastRecno: v.getUint32(52, true),
    async: v.getUint32(56, true) !== 0,
    uuid: b.slice(64, 80),
    record: b.slice(UPCALL_HDR_SIZE + pathlen + fsetlen),
  };
}

export function encodeReply(opcode: number, unique: number, result: number): Uint8Array {
  const b = new Uint8Array(UPCALL_RESP_SIZE);
  const v = new DataView(b.buffer);
  v.setUint32(0, opcode, true);
  v.setUint32(4, unique, true);
  v.setInt32(8, result, true);
  return b;
}

class UpcReq {
  reply: number | null = null;
  aborted = false;
  readonly wait: WaitQueue;
  constructor(readonly upcall: Upcall, readonly bytes: Uint8Array) {
    this.wait = new WaitQueue(`upcall ${upcall.unique}`);
  }
}

export class UpcallChannel {
  readonly pending: UpcReq[] = [];
  readonly processing = new Map<number, UpcReq>();
  readonly readers = new WaitQueue('psdev.read');
  /** Open file descriptions of the device bound to this channel (lento's). */
  openCount = 0;
  /**
   * Lento's processes, added by the SET_PID ioctl. The original kept one pid; lento replays a record
   * in one process while another answers the upcalls that replay sends (BACKFETCH), so both count.
   */
  readonly lentoPids = new Set<number>();
  hard = false;
  timeout = UPCALL_TIMEOUT_TICKS;
  private seq = 0;
  constructor(readonly minor: number) {}

  nextUnique(): number {
    this.seq = (this.seq + 1) >>> 0;
    return this.seq;
  }
}

export class Psdev {
  readonly channels: UpcallChannel[] = [];
  constructor(readonly kernel: Kernel) {
    for (let i = 0; i < MAX_CHANNELS; i++) this.channels.push(new UpcallChannel(i));
  }

  channel(minor: number): UpcallChannel {
    const c = this.channels[minor];
    assert(c !== undefined, () => `no psdev channel ${minor}`);
    return c;
  }

  /** Register /dev/intermezzo's file operations with the kernel (misc major 10, minor 248). */
  register(): 0 | Errno {
    return this.kernel.register_chrdev(MISC_MAJOR, psdevFops(this));
  }
}

/**
 * Send an upcall on `chan`. Asynchronous: queued, returns 0 at once (even with no reader: it waits
 * for the next one). Synchronous: sleeps until the reply, and returns lento's result (0 or a
 * negative errno), ENODEV if no reader is there or the reader goes away, EINTR after the timeout.
 */
export function* izo_upc_upcall(
  psdev: Psdev,
  chan: UpcallChannel,
  opcode: number,
  body: UpcallBody,
  { async }: { readonly async: boolean },
): Sys<number | Errno> {
  if (!async && chan.openCount === 0) return ENODEV;
  const upcall: Upcall = { ...body, opcode, unique: chan.nextUnique(), async };
  const req = new UpcReq(upcall, encodeUpcall(upcall));
  chan.pending.push(req);
  psdev.kernel.tracer.emit('psdev.upcall', { channel: chan.minor, unique: upcall.unique, opcode, async });
  wakeUp(chan.readers);
  if (async) return 0;
  for (;;) {
    const why = yield* sleepOn(req.wait, 'psdev.upcall', chan.hard ? null : chan.timeout);
    if (req.reply !== null) return req.reply;
    if (req.aborted) return fail(psdev, chan, req, ENODEV, 'reader went away');
    if (why === 'timeout' || why === 'interrupted') {
      forget(chan, req);
      return fail(psdev, chan, req, EINTR, why);
    }
  }
}

function fail(psdev: Psdev, chan: UpcallChannel, req: UpcReq, e: Errno, why: string): Errno {
  psdev.kernel.tracer.emit('psdev.fail', { channel: chan.minor, unique: req.upcall.unique, error: why });
  return e;
}

function forget(chan: UpcallChannel, req: UpcReq): void {
  const i = chan.pending.indexOf(req);
  if (i >= 0) chan.pending.splice(i, 1);
  chan.processing.delete(req.upcall.unique);
}

/** The channel an open file of the device talks on (set by presto's SET_CHANNEL; 0 by default). */
export function channelOf(psdev: Psdev, file: File): UpcallChannel {
  return psdev.channel(typeof file.private_data === 'number' ? file.private_data : 0);
}

function psdevFops(psdev: Psdev): FileOperations {
  return {
    *open(_inode, file) {
      file.private_data = 0;
      channelOf(psdev, file).openCount++;
      return 0;
    },
    *read(file, buf) {
      const chan = channelOf(psdev, file);
      // An interruptible sleep: a signal (lento told to stop) ends the read with EINTR.
      while (chan.pending.length === 0) {
        if ((yield* sleepInterruptible(chan.readers, 'psdev.read')) === 'interrupted') return EINTR;
      }
      const req = chan.pending[0] as UpcReq;
      if (buf.length < req.bytes.length) return EINVAL;
      chan.pending.shift();
      if (!req.upcall.async) chan.processing.set(req.upcall.unique, req);
      buf.set(req.bytes);
      const { unique, opcode } = req.upcall;
      psdev.kernel.tracer.emit('psdev.read', { channel: chan.minor, unique, opcode });
      return req.bytes.length;
    },
    *write(file, data) {
      const chan = channelOf(psdev, file);
      if (data.length < UPCALL_RESP_SIZE) return EINVAL;
      const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
      const unique = v.getUint32(4, true);
      const result = v.getInt32(8, true);
      const req = chan.processing.get(unique);
      if (req === undefined) return ESRCH;
      chan.processing.delete(unique);
      req.reply = result;
      psdev.kernel.tracer.emit('psdev.reply', { channel: chan.minor, unique, result });
      wakeUp(req.wait);
      return data.length;
    },
    *release(_inode, file) {
      const chan = channelOf(psdev, file);
      chan.openCount--;
      if (chan.openCount > 0) return 0;
      // The reader died: synchronous waiters fail; asynchronous requests wait for the next reader.
      for (const req of [...chan.pending.filter((r) => !r.upcall.async), ...chan.processing.values()]) {
        req.aborted = true;
        forget(chan, req);
        wakeUp(req.wait);
      }
      return 0;
    },
    *llseek() {
      return EINVAL;
    },
  };
}
