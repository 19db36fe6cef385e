/**
 * skbuff.ts: the byte queues behind a TCP socket, and the memory packets are copied into.
 *
 * Layer: kernel networking. Interface: a `ByteRing` holds bytes in order in a ring that grows to
 * the socket's buffer size when first used: `push` copies bytes in at the back, `view(offset, n)`
 * gives n bytes from `offset` (a view into the ring when contiguous, else a copy; valid until the
 * ring changes), `copyOut(dst, peek)` copies from the front (consuming unless peeking), `consume(n)`
 * drops n bytes from the front. A socket's send queue is one (unacknowledged, then unsent bytes),
 * its receive queue another (received in order, not yet read). `Slab` copies packet payloads
 * into large shared blocks: one allocation per 256 KiB instead of one per packet (a typed array
 * of its own costs far more than the copy), so a packet never shares memory with its sender.
 * Nothing here allocates per byte or per segment in the steady state.
 * Counterpart: Linux's sk_write_queue and sk_receive_queue of struct sk_buff, flattened to bytes
 * (sequence numbers follow from offsets), and the slab caches skbuffs come from.
 * Invariants: 0 <= length <= capacity; a ring's bytes are in order, oldest at `head`.
 */
import { assert } from './assert.ts';

export class ByteRing {
  private ring: Uint8Array = new Uint8Array(0);
  private head = 0;
  length = 0;

  get capacity(): number {
    return this.ring.length;
  }

  /** Copy all of `data` in at the back, growing the ring to at least `limit` when it must grow. */
  push(data: Uint8Array, limit: number): void {
    if (data.length === 0) return;
    if (this.length + data.length > this.ring.length) this.grow(Math.max(limit, this.length + data.length));
    const cap = this.ring.length;
    const tail = (this.head + this.length) % cap;
    const first = Math.min(data.length, cap - tail);
    this.ring.set(first === data.length ? data : data.subarray(0, first), tail);
    if (first < data.length) this.ring.set(data.subarray(first), 0);
    this.length += data.length;
  }

  /** The `n` bytes at `offset` from the front, valid until the next push or consume. */
  view(offset: number, n: number): Uint8Array {
    assert(offset >= 0 && n >= 0 && offset + n <= this.length, () => `byte ring: ${offset}+${n} of ${this.length}`);
    const cap = this.ring.length;
    const start = (this.head + offset) % cap;
    if (start + n <= cap) return this.ring.subarray(start, start + n);
    const out = new Uint8Array(n);
    out.set(this.ring.subarray(start), 0);
    out.set(this.ring.subarray(0, n - (cap - start)), cap - start);
    return out;
  }

  /** Copy up to dst.length bytes from the front into `dst`; consume them unless `peek`. */
  copyOut(dst: Uint8Array, peek: boolean): number {
    const n = Math.min(dst.length, this.length);
    if (n === 0) return 0;
    const cap = this.ring.length;
    const first = Math.min(n, cap - this.head);
    dst.set(this.ring.subarray(this.head, this.head + first), 0);
    if (first < n) dst.set(this.ring.subarray(0, n - first), first);
    if (!peek) this.consume(n);
    return n;
  }

  /** Drop `n` bytes from the front. */
  consume(n: number): void {
    assert(n >= 0 && n <= this.length, () => `byte ring: consume ${n} of ${this.length}`);
    this.length -= n;
    this.head = this.length === 0 ? 0 : (this.head + n) % this.ring.length;
  }

  clear(): void {
    this.length = 0;
    this.head = 0;
  }

  private grow(capacity: number): void {
    const next = new Uint8Array(capacity);
    if (this.length > 0) next.set(this.view(0, this.length), 0);
    this.ring = next;
    this.head = 0;
  }
}

/** A block of this many bytes serves many payloads; larger payloads get arrays of their own. */
const SLAB_BYTES = 256 * 1024;
const SLAB_MAX_PAYLOAD = SLAB_BYTES / 4;

export class Slab {
  private block: Uint8Array = new Uint8Array(0);
  private used = 0;

  /** A private copy of `src` (an empty array as it is: nothing in it can change). */
  copy(src: Uint8Array): Uint8Array {
    const n = src.length;
    if (n === 0) return src;
    if (n > SLAB_MAX_PAYLOAD) return src.slice();
    if (this.used + n > this.block.length) {
      this.block = new Uint8Array(SLAB_BYTES);
      this.used = 0;
    }
    const out = this.block.subarray(this.used, this.used + n);
    out.set(src);
    this.used += n;
    return out;
  }
}
