/**
 * skbuff.ts: the byte queues behind a TCP socket: what it has to send, and what it has received.
 *
 * Layer: kernel networking. Interface: `SendQueue` holds the bytes a socket has accepted from
 * send() and the peer has not acknowledged yet (unacknowledged first, then unsent), in a ring that
 * grows to the socket's send buffer size: `push` copies bytes in, `view(offset, n)` gives the bytes
 * of one segment (a view into the ring when they are contiguous, else a copy; the wire copies the
 * payload before the view can change), `consume(n)` drops acknowledged bytes from the front.
 * `RecvQueue` holds in-order received payloads, as the wire delivered them (each already a private
 * copy, so nothing is copied on arrival): `append`, `copyOut` (recv, with or without consuming).
 * Neither allocates per byte; a segment of SEG_MAX bytes is one array.
 * Counterpart: Linux's sk_write_queue and sk_receive_queue of struct sk_buff, flattened to bytes
 * (no per-segment metadata is needed: sequence numbers follow from offsets).
 * Invariants: 0 <= length <= capacity; a RecvQueue's length is the sum of its chunks less `skip`.
 */
import { assert } from './assert.ts';

export class SendQueue {
  private ring: Uint8Array = new Uint8Array(0);
  private head = 0;
  length = 0;

  get capacity(): number {
    return this.ring.length;
  }

  /** Copy all of `data` in; the caller checked that it fits under the socket's limit. */
  push(data: Uint8Array, limit: number): void {
    if (data.length === 0) return;
    if (this.length + data.length > this.ring.length) this.grow(Math.max(limit, this.length + data.length));
    const cap = this.ring.length;
    const tail = (this.head + this.length) % cap;
    const first = Math.min(data.length, cap - tail);
    this.ring.set(data.subarray(0, first), tail);
    if (first < data.length) this.ring.set(data.subarray(first), 0);
    this.length += data.length;
  }

  /** The `n` bytes at `offset` from the front, valid until the next push or consume. */
  view(offset: number, n: number): Uint8Array {
    assert(offset >= 0 && n >= 0 && offset + n <= this.length, () => `send queue: ${offset}+${n} of ${this.length}`);
    const cap = this.ring.length;
    const start = (this.head + offset) % cap;
    if (start + n <= cap) return this.ring.subarray(start, start + n);
    const out = new Uint8Array(n);
    out.set(this.ring.subarray(start), 0);
    out.set(this.ring.subarray(0, n - (cap - start)), cap - start);
    return out;
  }

  /** Drop `n` acknowledged bytes from the front. */
  consume(n: number): void {
    assert(n >= 0 && n <= this.length, () => `send queue consume ${n} of ${this.length}`);
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

export class RecvQueue {
  private chunks: Uint8Array[] = [];
  private first = 0;
  /** Bytes of chunks[first] already read. */
  private skip = 0;
  length = 0;

  /** Queue a payload the wire delivered (the queue keeps the array itself). */
  append(payload: Uint8Array): void {
    if (payload.length === 0) return;
    this.chunks.push(payload);
    this.length += payload.length;
  }

  /** Copy up to dst.length bytes into `dst` from the front; consume them unless `peek`. */
  copyOut(dst: Uint8Array, peek: boolean): number {
    const want = Math.min(dst.length, this.length);
    let done = 0;
    let i = this.first;
    let skip = this.skip;
    while (done < want) {
      const c = this.chunks[i] as Uint8Array;
      const n = Math.min(c.length - skip, want - done);
      dst.set(c.subarray(skip, skip + n), done);
      done += n;
      skip += n;
      if (skip === c.length) {
        i++;
        skip = 0;
      }
    }
    if (!peek) this.drop(i, skip, want);
    return want;
  }

  clear(): void {
    this.chunks = [];
    this.first = 0;
    this.skip = 0;
    this.length = 0;
  }

  private drop(first: number, skip: number, n: number): void {
    this.first = first;
    this.skip = skip;
    this.length -= n;
    if (this.first === this.chunks.length) {
      this.chunks.length = 0;
      this.first = 0;
    } else if (this.first > 64 && this.first * 2 > this.chunks.length) {
      this.chunks = this.chunks.slice(this.first);
      this.first = 0;
    }
  }
}
