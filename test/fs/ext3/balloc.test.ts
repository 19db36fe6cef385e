/**
 * ext3's block allocator (fs/ext3/balloc.ts): the count of blocks freed since the last commit (set
 * in the committed bitmap, clear in the current one), counted a word at a time, agrees with a
 * bit-by-bit count for any bitmaps, aligned or not.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { freedSinceCommit } from '../../../fs/ext3/balloc.ts';

function slow(bits: Uint8Array, committed: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < bits.length * 8; i++) {
    const was = ((committed[i >> 3] as number) >> (i & 7)) & 1;
    const is = ((bits[i >> 3] as number) >> (i & 7)) & 1;
    if (was === 1 && is === 0) n++;
  }
  return n;
}

describe('freedSinceCommit', () => {
  it('counts the bits set in the committed copy and clear now, aligned or not', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 300 }), fc.uint8Array({ minLength: 300, maxLength: 300 }),
      fc.nat(3), (raw, other, shift) => {
        const len = raw.length;
        const a = new Uint8Array(len + 4).subarray(shift, shift + len);
        a.set(raw);
        const b = Uint8Array.from(other.subarray(0, len));
        expect(freedSinceCommit(a, b)).toBe(slow(a, b));
      }), { numRuns: 300 });
  });

  it('counts a full 4 KiB bitmap freed since the commit', () => {
    expect(freedSinceCommit(new Uint8Array(4096), new Uint8Array(4096).fill(0xff))).toBe(4096 * 8);
  });
});
