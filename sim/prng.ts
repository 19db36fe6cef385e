/**
 * prng.ts: seeded pseudo-random streams.
 *
 * Layer: simulation. Interface: `Prng.fromSeed(seed)` makes a root; `stream(name)` derives an
 * independent stream from the root seed and the name alone (not from how much the parent has been
 * used), so adding a knob to one subsystem never reshuffles another's schedule. The generator is
 * xoshiro128** (32-bit state words, Math.imul), seeded through splitmix32. Integer API only:
 * `below(n)` is unbiased (rejection sampling), `chance(num, den)` is an integer ratio.
 * Invariant: the same seed and the same call sequence give the same numbers on every Node version.
 */
import { assert } from '../kernel/assert.ts';
import type { Random } from '../kernel/random.ts';

/** FNV-1a over a string's UTF-16 code units: turns a stream name into 32 bits. */
function hashName(name: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** splitmix32 step: a good mixer to expand a seed into state words. */
function splitmix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

export class Prng implements Random {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  private constructor(
    /** The two 32-bit words this stream was derived from; streams derive from these, not from state. */
    private readonly keyLo: number,
    private readonly keyHi: number,
    readonly path: string,
  ) {
    let x = splitmix32(keyLo ^ splitmix32(keyHi));
    this.s0 = x = splitmix32(x);
    this.s1 = x = splitmix32(x);
    this.s2 = x = splitmix32(x);
    this.s3 = x = splitmix32(x);
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** A root stream for a seed: any non-negative safe integer. */
  static fromSeed(seed: number): Prng {
    assert(Number.isSafeInteger(seed) && seed >= 0, () => `seed must be a non-negative integer, got ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 0x1_0000_0000) >>> 0;
    return new Prng(lo, hi, '');
  }

  /** An independent stream named `name` below this one (`storage`, `network/a->b`, ...). */
  stream(name: string): Prng {
    assert(name.length > 0, 'stream name must not be empty');
    const h = hashName(name);
    const lo = splitmix32(this.keyLo ^ h);
    const hi = splitmix32(this.keyHi ^ Math.imul(h, 0x9e3779b1) ^ lo);
    return new Prng(lo, hi, this.path === '' ? name : `${this.path}/${name}`);
  }

  u32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const t = (this.s1 << 9) >>> 0;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    this.s0 >>>= 0;
    this.s1 >>>= 0;
    this.s2 >>>= 0;
    return result;
  }

  below(n: number): number {
    assert(Number.isSafeInteger(n) && n >= 1 && n <= 0x1_0000_0000, () => `below(${n}): need 1 <= n <= 2^32`);
    if (n === 0x1_0000_0000) return this.u32();
    // Reject the top sliver of the 32-bit range that would make `% n` uneven.
    const limit = 0x1_0000_0000 - (0x1_0000_0000 % n);
    for (;;) {
      const x = this.u32();
      if (x < limit) return x % n;
    }
  }

  /** A uniform integer in [lo, hi], inclusive; hi - lo < 2^32. */
  between(lo: number, hi: number): number {
    assert(Number.isSafeInteger(lo) && Number.isSafeInteger(hi) && lo <= hi, () => `between(${lo}, ${hi})`);
    return lo + this.below(hi - lo + 1);
  }

  chance(num: number, den: number): boolean {
    assert(Number.isSafeInteger(num) && Number.isSafeInteger(den) && den >= 1 && num >= 0 && num <= den,
      () => `chance(${num}, ${den}): need 0 <= num <= den, den >= 1`);
    if (num === 0) return false;
    if (num === den) return true;
    return this.below(den) < num;
  }

  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, 'pick from an empty list');
    return items[this.below(items.length)] as T;
  }

  /** Fisher-Yates, in place. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.below(i + 1);
      const tmp = items[i] as T;
      items[i] = items[j] as T;
      items[j] = tmp;
    }
    return items;
  }

  fill(dst: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= dst.length; i += 4) {
      const x = this.u32();
      dst[i] = x & 0xff;
      dst[i + 1] = (x >>> 8) & 0xff;
      dst[i + 2] = (x >>> 16) & 0xff;
      dst[i + 3] = x >>> 24;
    }
    if (i < dst.length) {
      let x = this.u32();
      for (; i < dst.length; i++, x >>>= 8) dst[i] = x & 0xff;
    }
  }
}
