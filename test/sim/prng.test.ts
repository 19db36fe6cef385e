import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KernelPanic } from '../../kernel/assert.ts';
import { Prng } from '../../sim/prng.ts';

const take = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.u32());

/** A generator with its four state words set by hand (they are private to the class, not to JS). */
function withState(s: readonly [number, number, number, number]): Prng {
  const p = Prng.fromSeed(0) as unknown as Record<'s0' | 's1' | 's2' | 's3', number>;
  [p.s0, p.s1, p.s2, p.s3] = s;
  return p as unknown as Prng;
}

describe('Prng', () => {
  it('is xoshiro128**: the reference outputs for the state {1, 2, 3, 4}', () => {
    // From the authors' xoshiro128starstar.c, seeded s[] = {1, 2, 3, 4}.
    expect(take(withState([1, 2, 3, 4]), 10)).toEqual([
      11520, 0, 5927040, 70819200, 2031721883, 1637235492, 1287239034, 3734860849, 3729100597, 4258142804,
    ]);
  });

  it('pins its output for fixed seeds and stream names (an accidental algorithm change is caught)', () => {
    expect(take(Prng.fromSeed(42), 4)).toEqual([1887276569, 3400370418, 2219491085, 3526380719]);
    expect(take(Prng.fromSeed(42).stream('storage'), 3)).toEqual([2694913451, 106984132, 170465218]);
    expect(take(Prng.fromSeed(2 ** 40 + 7), 2)).toEqual([3226505501, 2113654491]); // seeds above 2^32 too
    const bytes = new Uint8Array(6);
    Prng.fromSeed(42).fill(bytes);
    // The u32s above, little-endian: 0x707d8e19, then the low half of 0xcaad88f2.
    expect([...bytes]).toEqual([0x19, 0x8e, 0x7d, 0x70, 0xf2, 0x88]);
  });

  it('gives the same sequence for the same seed, and another for another seed', () => {
    fc.assert(fc.property(fc.nat(), fc.nat(), (a, b) => {
      expect(take(Prng.fromSeed(a), 8)).toEqual(take(Prng.fromSeed(a), 8));
      if (a !== b) expect(take(Prng.fromSeed(a), 8)).not.toEqual(take(Prng.fromSeed(b), 8));
    }));
  });

  it('derives a stream from the seed and its name alone, whatever was drawn before', () => {
    fc.assert(fc.property(fc.nat(), fc.nat({ max: 200 }), (seed, drawn) => {
      const early = Prng.fromSeed(seed);
      const bEarly = early.stream('b');
      const late = Prng.fromSeed(seed);
      take(late.stream('a'), drawn);
      take(late, drawn);
      const bLate = late.stream('b');
      expect(take(bLate, 5)).toEqual(take(bEarly, 5));
      expect(take(Prng.fromSeed(seed).stream('a'), 5)).not.toEqual(take(Prng.fromSeed(seed).stream('b'), 5));
    }), { numRuns: 50 });
    const root = Prng.fromSeed(9);
    expect(root.stream('x').stream('y').path).toBe('x/y');
    expect(take(root.stream('x').stream('y'), 3)).not.toEqual(take(root.stream('x/y'), 3));
  });

  it('below(n) stays in [0, n) and is close to uniform (chi-square, integer arithmetic)', () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
      const p = Prng.fromSeed(seed);
      for (let i = 0; i < 20; i++) {
        const v = p.below(n);
        expect(Number.isSafeInteger(v) && v >= 0 && v < n, `seed ${seed}: below(${n}) gave ${v}`).toBe(true);
      }
    }));
    const p = Prng.fromSeed(1);
    const bins = 10;
    const draws = 100_000;
    const expected = draws / bins;
    const counts = new Array<number>(bins).fill(0);
    for (let i = 0; i < draws; i++) {
      const v = p.below(bins);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    // chi2 = sum (c - E)^2 / E; with 9 degrees of freedom, 27.877 is the 0.1% tail. Compared as
    // sum (c - E)^2 * 1000 < 27877 * E so no division or float enters.
    const sumSq = counts.reduce((s, c) => s + (c - expected) ** 2, 0);
    expect(sumSq * 1000).toBeLessThan(27_877 * expected);
    // ...and a biased generator (one bin a tenth over) would be caught by the same bound.
    const biased = counts.map((c, i) => (i === 0 ? c + 1000 : c - 111));
    expect(biased.reduce((s, c) => s + (c - expected) ** 2, 0) * 1000).toBeGreaterThan(27_877 * expected);
    expect(p.below(1)).toBe(0);
    expect(() => p.below(0)).toThrow(KernelPanic);
    expect(() => p.below(2 ** 32 + 1)).toThrow(KernelPanic);
    expect(() => p.below(2.5)).toThrow(KernelPanic);
  });

  it('between(lo, hi) is inclusive at both ends', () => {
    const p = Prng.fromSeed(4);
    const seen = new Set<number>();
    for (let i = 0; i < 500; i++) seen.add(p.between(-2, 2));
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1, 2]);
    expect(() => p.between(3, 2)).toThrow(KernelPanic);
  });

  it('chance(0, d) never happens, chance(d, d) always does, and 1 in 4 is about a quarter', () => {
    fc.assert(fc.property(fc.nat(), fc.integer({ min: 1, max: 1_000_000 }), (seed, d) => {
      const p = Prng.fromSeed(seed);
      for (let i = 0; i < 50; i++) {
        expect(p.chance(0, d)).toBe(false);
        expect(p.chance(d, d)).toBe(true);
      }
    }));
    const p = Prng.fromSeed(3);
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (p.chance(1, 4)) hits++;
    expect(hits).toBeGreaterThan(2300);
    expect(hits).toBeLessThan(2700);
    expect(() => p.chance(5, 4)).toThrow(KernelPanic);
    expect(() => p.chance(1, 0)).toThrow(KernelPanic);
  });

  it('fills bytes deterministically; a shorter fill is a prefix of a longer one', () => {
    fc.assert(fc.property(fc.nat(), fc.nat({ max: 64 }), fc.nat({ max: 64 }), (seed, m, n) => {
      const [short, long] = m <= n ? [m, n] : [n, m];
      const a = new Uint8Array(long);
      const b = new Uint8Array(long);
      const c = new Uint8Array(short);
      Prng.fromSeed(seed).fill(a);
      Prng.fromSeed(seed).fill(b);
      Prng.fromSeed(seed).fill(c);
      expect(a).toEqual(b);
      expect(a.subarray(0, short)).toEqual(c);
    }));
  });

  it('picks and shuffles deterministically, keeping every element', () => {
    const s1 = Prng.fromSeed(5).shuffle([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Prng.fromSeed(5).shuffle([1, 2, 3, 4, 5, 6, 7, 8])).toEqual(s1);
    expect([...s1].sort()).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(s1).not.toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(Prng.fromSeed(5).pick(['x'])).toBe('x');
    expect(() => Prng.fromSeed(5).pick([])).toThrow(KernelPanic);
    expect(() => Prng.fromSeed(-1)).toThrow(KernelPanic);
    expect(() => Prng.fromSeed(1.5)).toThrow(KernelPanic);
  });
});
