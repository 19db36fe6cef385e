/**
 * wire.ts: lento's peer protocol on the wire: frames, message bodies, and their authentication.
 *
 * Layer: user space (lento). The original's peer protocol is not known (no source of lento or
 * InterSync survives), so this one is ours; its messages keep the names of the kernel calls they
 * carry where those are known (REPSTATUS, KML, BACKFETCH, PERMIT, REVOKE_PERMIT) and
 * docs/lento-protocol.md documents every field. Interface: `encodeFrame(type, body, seq, key)`
 * and `FrameReader` (bytes in, whole checked frames out); `encodeBody`/`decodeBody` per message
 * type; `mac`, `proof` and `sessionKey` for the HMAC-SHA256 challenge (node:crypto's HMAC: a pure
 * function of its input, no randomness). A frame is a 16-byte header (magic "IZL1", version,
 * type, body length, sequence number), the body, and a 16-byte MAC: HMAC-SHA256 under the session
 * key of the direction, the header and the body, truncated; handshake frames before the key exists
 * carry 16 zero bytes there. Sequence numbers count the frames of one direction of one connection,
 * so a frame replayed, dropped or reordered by anyone fails its check.
 * Invariants: every decoder checks every length against what is there before reading (damage from
 * a peer is a message naming what is wrong, never a throw); integers are little-endian.
 */
import { createHmac } from 'node:crypto';

export const FRAME_MAGIC = 0x314c5a49; // "IZL1" little-endian
export const PROTO_VERSION = 1;
export const FRAME_HEADER = 16;
export const MAC_SIZE = 16;
/** The largest body a peer may send: a KML chunk or a piece of a fetched file fits well inside. */
export const MAX_BODY = 256 * 1024;

export const MSG = {
  HELLO: 1,
  CHALLENGE: 2,
  PROVE: 3,
  WELCOME: 4,
  REFUSE: 5,
  REPSTATUS: 10,
  KML: 11,
  KML_ACK: 12,
  BACKFETCH: 13,
  FETCH_DATA: 14,
  PERMIT: 15,
  PERMIT_GRANT: 16,
  REVOKE_PERMIT: 17,
  PERMIT_RELEASED: 18,
  PING: 19,
} as const;
export type MsgType = (typeof MSG)[keyof typeof MSG];

export const MSG_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(MSG).map(([k, v]) => [v, k]),
);

// ---------------------------------------------------------------------------------------------
// Bodies.

export interface Hello {
  readonly fset: string;
  readonly uuid: Uint8Array;
  readonly node: string;
  readonly nonce: Uint8Array;
  /** 0 replicate, 1 on-demand. */
  readonly mode: number;
}
export interface Challenge {
  readonly uuid: Uint8Array;
  readonly node: string;
  readonly nonce: Uint8Array;
}
export interface Prove {
  readonly proof: Uint8Array;
}
/** The server's answer to a good PROVE: its own proof, the first frame under a session key. */
export interface Welcome {
  readonly proof: Uint8Array;
}
export interface Refuse {
  readonly reason: string;
}
/** REPSTATUS: how far I applied your log, and where mine ends. */
export interface RepStatus {
  readonly applied_recno: number;
  readonly applied_offset: number;
  readonly kml_recno: number;
  readonly kml_offset: number;
}
export interface KmlRecordOnWire {
  /** The record's logical offset in the sender's KML. */
  readonly offset: number;
  readonly bytes: Uint8Array;
}
export interface KmlChunk {
  readonly records: readonly KmlRecordOnWire[];
}
export interface KmlAck {
  readonly recno: number;
  readonly offset: number;
}
export interface Backfetch {
  readonly id: number;
  readonly ino: number;
  readonly generation: number;
  /** The path from the fileset root: what to fetch when the inode is unknown (0). */
  readonly path: string;
}
export interface FetchData {
  readonly id: number;
  /** 0, or a negative errno (ENOENT: gone): then this is the last piece. */
  readonly status: number;
  /** The file's whole size (known from the first piece). */
  readonly size: number;
  readonly offset: number;
  readonly bytes: Uint8Array;
  readonly last: boolean;
}
export interface Permit {
  readonly id: number;
}
export interface PermitGrant {
  readonly id: number;
  /** Apply my KML up to this record before writing. */
  readonly catchup_recno: number;
}
export interface RevokePermit {
  readonly id: number;
}
export interface PermitReleased {
  readonly id: number;
  /** My KML's last record when the permit left: apply up to it before the next holder writes. */
  readonly kml_recno: number;
}

export interface Bodies {
  1: Hello;
  2: Challenge;
  3: Prove;
  4: Welcome;
  5: Refuse;
  10: RepStatus;
  11: KmlChunk;
  12: KmlAck;
  13: Backfetch;
  14: FetchData;
  15: Permit;
  16: PermitGrant;
  17: RevokePermit;
  18: PermitReleased;
  19: Record<string, never>;
}

export interface Message<T extends MsgType = MsgType> {
  readonly type: T;
  readonly body: Bodies[T];
}

class Out {
  private buf = new Uint8Array(256);
  private view = new DataView(this.buf.buffer);
  at = 0;
  private room(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = new Uint8Array(Math.max(this.buf.length * 2, this.at + n));
    bigger.set(this.buf);
    this.buf = bigger;
    this.view = new DataView(bigger.buffer);
  }
  u8(v: number): void {
    this.room(1);
    this.view.setUint8(this.at, v);
    this.at += 1;
  }
  u32(v: number): void {
    this.room(4);
    this.view.setUint32(this.at, v >>> 0, true);
    this.at += 4;
  }
  i32(v: number): void {
    this.room(4);
    this.view.setInt32(this.at, v, true);
    this.at += 4;
  }
  u64(v: number): void {
    this.room(8);
    this.view.setUint32(this.at, v % 0x1_0000_0000, true);
    this.view.setUint32(this.at + 4, Math.floor(v / 0x1_0000_0000), true);
    this.at += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.room(b.length);
    this.buf.set(b, this.at);
    this.at += b.length;
  }
  fixed(b: Uint8Array, n: number): void {
    this.room(n);
    this.buf.set(b.subarray(0, n), this.at);
    this.at += n;
  }
  str(s: string): void {
    const b = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i) & 0xff;
    this.bytes(b);
  }
  done(): Uint8Array {
    return this.buf.slice(0, this.at);
  }
}

/** A decoding error: what is wrong and where in the body. */
export class WireDamage {
  constructor(readonly reason: string) {}
}

class In {
  private readonly view: DataView;
  at = 0;
  constructor(private readonly buf: Uint8Array) {
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  private need(n: number, what: string): void {
    if (this.at + n > this.buf.length) {
      throw new WireDamage(`${what} at byte ${this.at} needs ${n} bytes, ${this.buf.length - this.at} left`);
    }
  }
  u8(what: string): number {
    this.need(1, what);
    return this.view.getUint8(this.at++);
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }
  i32(what: string): number {
    this.need(4, what);
    const v = this.view.getInt32(this.at, true);
    this.at += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const lo = this.view.getUint32(this.at, true);
    const hi = this.view.getUint32(this.at + 4, true);
    this.at += 8;
    if (hi >= 0x20_0000) throw new WireDamage(`${what} ${hi}:${lo} is beyond 2^53`);
    return hi * 0x1_0000_0000 + lo;
  }
  bytes(what: string, max = MAX_BODY): Uint8Array {
    const n = this.u32(`${what} length`);
    if (n > max) throw new WireDamage(`${what} of ${n} bytes is longer than ${max}`);
    this.need(n, what);
    const b = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }
  fixed(n: number, what: string): Uint8Array {
    this.need(n, what);
    const b = this.buf.slice(this.at, this.at + n);
    this.at += n;
    return b;
  }
  str(what: string, max = 4096): string {
    const b = this.bytes(what, max);
    let s = '';
    for (const c of b) s += String.fromCharCode(c);
    return s;
  }
  end(type: number): void {
    if (this.at !== this.buf.length) {
      throw new WireDamage(`${MSG_NAMES[type] ?? type}: ${this.buf.length - this.at} bytes left after the body`);
    }
  }
}

type Codec<B> = { enc(o: Out, b: B): void; dec(i: In): B };

const empty: Codec<Record<string, never>> = { enc() {}, dec: () => ({}) };

const CODECS: { readonly [T in MsgType]: Codec<Bodies[T]> } = {
  [MSG.HELLO]: {
    enc(o, b) {
      o.str(b.fset);
      o.fixed(b.uuid, 16);
      o.str(b.node);
      o.fixed(b.nonce, 16);
      o.u32(b.mode);
    },
    dec: (i) => ({ fset: i.str('fset', 64), uuid: i.fixed(16, 'uuid'), node: i.str('node', 64),
      nonce: i.fixed(16, 'nonce'), mode: i.u32('mode') }),
  },
  [MSG.CHALLENGE]: {
    enc(o, b) {
      o.fixed(b.uuid, 16);
      o.str(b.node);
      o.fixed(b.nonce, 16);
    },
    dec: (i) => ({ uuid: i.fixed(16, 'uuid'), node: i.str('node', 64), nonce: i.fixed(16, 'nonce') }),
  },
  [MSG.PROVE]: { enc: (o, b) => o.fixed(b.proof, 32), dec: (i) => ({ proof: i.fixed(32, 'proof') }) },
  [MSG.WELCOME]: { enc: (o, b) => o.fixed(b.proof, 32), dec: (i) => ({ proof: i.fixed(32, 'proof') }) },
  [MSG.REFUSE]: { enc: (o, b) => o.str(b.reason), dec: (i) => ({ reason: i.str('reason') }) },
  [MSG.REPSTATUS]: {
    enc(o, b) {
      o.u32(b.applied_recno);
      o.u64(b.applied_offset);
      o.u32(b.kml_recno);
      o.u64(b.kml_offset);
    },
    dec: (i) => ({ applied_recno: i.u32('applied_recno'), applied_offset: i.u64('applied_offset'),
      kml_recno: i.u32('kml_recno'), kml_offset: i.u64('kml_offset') }),
  },
  [MSG.KML]: {
    enc(o, b) {
      o.u32(b.records.length);
      for (const r of b.records) {
        o.u64(r.offset);
        o.bytes(r.bytes);
      }
    },
    dec(i) {
      const n = i.u32('record count');
      if (n > MAX_BODY / 52) throw new WireDamage(`KML chunk of ${n} records cannot fit a frame`);
      const records: KmlRecordOnWire[] = [];
      for (let k = 0; k < n; k++) records.push({ offset: i.u64(`record ${k} offset`), bytes: i.bytes(`record ${k}`) });
      return { records };
    },
  },
  [MSG.KML_ACK]: {
    enc(o, b) {
      o.u32(b.recno);
      o.u64(b.offset);
    },
    dec: (i) => ({ recno: i.u32('recno'), offset: i.u64('offset') }),
  },
  [MSG.BACKFETCH]: {
    enc(o, b) {
      o.u32(b.id);
      o.u64(b.ino);
      o.u32(b.generation);
      o.str(b.path);
    },
    dec: (i) => ({ id: i.u32('id'), ino: i.u64('ino'), generation: i.u32('generation'), path: i.str('path') }),
  },
  [MSG.FETCH_DATA]: {
    enc(o, b) {
      o.u32(b.id);
      o.i32(b.status);
      o.u64(b.size);
      o.u64(b.offset);
      o.u8(b.last ? 1 : 0);
      o.bytes(b.bytes);
    },
    dec: (i) => ({ id: i.u32('id'), status: i.i32('status'), size: i.u64('size'), offset: i.u64('offset'),
      last: i.u8('last') !== 0, bytes: i.bytes('data') }),
  },
  [MSG.PERMIT]: { enc: (o, b) => o.u32(b.id), dec: (i) => ({ id: i.u32('id') }) },
  [MSG.PERMIT_GRANT]: {
    enc(o, b) {
      o.u32(b.id);
      o.u32(b.catchup_recno);
    },
    dec: (i) => ({ id: i.u32('id'), catchup_recno: i.u32('catchup_recno') }),
  },
  [MSG.REVOKE_PERMIT]: { enc: (o, b) => o.u32(b.id), dec: (i) => ({ id: i.u32('id') }) },
  [MSG.PERMIT_RELEASED]: {
    enc(o, b) {
      o.u32(b.id);
      o.u32(b.kml_recno);
    },
    dec: (i) => ({ id: i.u32('id'), kml_recno: i.u32('kml_recno') }),
  },
  [MSG.PING]: empty,
};

export function isMsgType(t: number): t is MsgType {
  return Object.hasOwn(CODECS, t);
}

export function encodeBody<T extends MsgType>(type: T, body: Bodies[T]): Uint8Array {
  const o = new Out();
  (CODECS[type] as Codec<Bodies[T]>).enc(o, body);
  return o.done();
}

/** The body of a message of `type`, or what is wrong with it. */
export function decodeBody(type: MsgType, bytes: Uint8Array): Message | WireDamage {
  const i = new In(bytes);
  try {
    const body = CODECS[type].dec(i);
    i.end(type);
    return { type, body } as Message;
  } catch (e) {
    if (e instanceof WireDamage) return e;
    throw e;
  }
}

// ---------------------------------------------------------------------------------------------
// Authentication.

function hmac(key: Uint8Array, parts: readonly (Uint8Array | string)[]): Uint8Array {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(typeof part === 'string' ? Buffer.from(part, 'latin1') : part);
  return new Uint8Array(h.digest());
}

const te = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'latin1'));

export interface HandshakeFacts {
  readonly fset: string;
  readonly clientUuid: Uint8Array;
  readonly serverUuid: Uint8Array;
  readonly clientNonce: Uint8Array;
  readonly serverNonce: Uint8Array;
}

/** What each side proves it knows the secret with: an HMAC over the role and everything said so far. */
export function proof(secret: string, role: 'server' | 'client', f: HandshakeFacts): Uint8Array {
  return hmac(te(secret), [`lento ${role} proof`, f.fset, f.clientUuid, f.serverUuid, f.clientNonce, f.serverNonce]);
}

/** The key that MACs every later frame in direction `dir`. */
export function sessionKey(secret: string, dir: 'client->server' | 'server->client', f: HandshakeFacts): Uint8Array {
  return hmac(te(secret), [`lento session ${dir}`, f.clientUuid, f.serverUuid, f.clientNonce, f.serverNonce]);
}

/** Constant-time comparison is moot in a simulation; this says what it compares. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, k) => x === b[k]);
}

// ---------------------------------------------------------------------------------------------
// Frames.

function header(type: number, len: number, seq: number): Uint8Array {
  const h = new Uint8Array(FRAME_HEADER);
  const v = new DataView(h.buffer);
  v.setUint32(0, FRAME_MAGIC, true);
  v.setUint16(4, PROTO_VERSION, true);
  v.setUint16(6, type, true);
  v.setUint32(8, len, true);
  v.setUint32(12, seq >>> 0, true);
  return h;
}

function frameMac(key: Uint8Array | null, head: Uint8Array, body: Uint8Array): Uint8Array {
  return key === null ? new Uint8Array(MAC_SIZE) : hmac(key, [head, body]).subarray(0, MAC_SIZE);
}

/** One whole frame: header, body, MAC (zeros while no key exists). */
export function encodeFrame<T extends MsgType>(
  type: T,
  body: Bodies[T],
  seq: number,
  key: Uint8Array | null,
): Uint8Array {
  const b = encodeBody(type, body);
  const head = header(type, b.length, seq);
  const out = new Uint8Array(FRAME_HEADER + b.length + MAC_SIZE);
  out.set(head);
  out.set(b, FRAME_HEADER);
  out.set(frameMac(key, head, b), FRAME_HEADER + b.length);
  return out;
}

/**
 * Reassembles frames from the bytes of one direction and checks each: magic, version, a known
 * type, a body within MAX_BODY, the expected sequence number and the MAC under the current key.
 */
export class FrameReader {
  private pending = new Uint8Array(0);
  /** The sequence number the next frame must carry. */
  seq = 0;
  key: Uint8Array | null = null;

  push(bytes: Uint8Array): void {
    const joined = new Uint8Array(this.pending.length + bytes.length);
    joined.set(this.pending);
    joined.set(bytes, this.pending.length);
    this.pending = joined;
  }

  /** The next whole frame's message, null when more bytes are needed, or what is wrong with it. */
  next(): Message | WireDamage | null {
    const p = this.pending;
    if (p.length < FRAME_HEADER) return null;
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    if (v.getUint32(0, true) !== FRAME_MAGIC) return new WireDamage('not a lento frame (bad magic)');
    const version = v.getUint16(4, true);
    if (version !== PROTO_VERSION) return new WireDamage(`protocol version ${version}, expected ${PROTO_VERSION}`);
    const type = v.getUint16(6, true);
    const len = v.getUint32(8, true);
    if (!isMsgType(type)) return new WireDamage(`unknown message type ${type}`);
    if (len > MAX_BODY) return new WireDamage(`${MSG_NAMES[type]} body of ${len} bytes exceeds ${MAX_BODY}`);
    if (p.length < FRAME_HEADER + len + MAC_SIZE) return null;
    const seq = v.getUint32(12, true);
    const head = p.slice(0, FRAME_HEADER);
    const body = p.slice(FRAME_HEADER, FRAME_HEADER + len);
    const mac = p.slice(FRAME_HEADER + len, FRAME_HEADER + len + MAC_SIZE);
    this.pending = p.slice(FRAME_HEADER + len + MAC_SIZE);
    if (seq !== this.seq) return new WireDamage(`${MSG_NAMES[type]} frame numbered ${seq}, expected ${this.seq}`);
    if (!sameBytes(mac, frameMac(this.key, head, body))) {
      return new WireDamage(`${MSG_NAMES[type]} frame fails its MAC`);
    }
    this.seq = (this.seq + 1) >>> 0;
    return decodeBody(type, body);
  }
}
