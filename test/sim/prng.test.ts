import { describe, expect, it } from 'vitest';
import { Prng } from '../../sim/prng.ts';

const take = (p: Prng, n: number): number[] => Array.from({ length: n }, () => p.u32());

describe('Prng', () => {
  it('pins its output for a fixed seed (an accidental algorithm change is caught)', () => {
    expect(take(Prng.fromSeed(42), 4)).toEqual(take(Prng.fromSeed(42), 4));
    expect(take(Prng.fromSeed(42), 4)).toMatchInlineSnapshot(`
      [
        1887276569,
        3400370418,
        2219491085,
        3526380719,
      ]
    `);
  });

  it('derives named streams from the seed and the name only, not from use', () => {
    const a = Prng.fromSeed(9);
    const before = take(a.stream('network'), 5);
    take(a, 100);
    take(a.stream('storage'), 100);
    expect(take(a.stream('network'), 5)).toEqual(before);
    expect(take(Prng.fromSeed(9).stream('storage'), 5)).not.toEqual(before);
    expect(a.stream('x').stream('y').path).toBe('x/y');
  });

  it('below(n) stays in range and is close to uniform', () => {
    const p = Prng.fromSeed(1);
    const counts = new Array<number>(10).fill(0);
    for (let i = 0; i < 100_000; i++) {
      const v = p.below(10);
      expect(v >= 0 && v < 10).toBe(true);
      counts[v] = (counts[v] ?? 0) + 1;
    }
    // Chi-square with 9 degrees of freedom: 27.9 is the 0.1% tail.
    const chi = counts.reduce((s, c) => s + (c - 10_000) ** 2 / 10_000, 0);
    expect(chi).toBeLessThan(27.9);
    expect(p.below(1)).toBe(0);
  });

  it('takes probabilities as integer ratios', () => {
    const p = Prng.fromSeed(3);
    for (let i = 0; i < 1000; i++) {
      expect(p.chance(0, 7)).toBe(false);
      expect(p.chance(7, 7)).toBe(true);
    }
    let hits = 0;
    for (let i = 0; i < 10_000; i++) if (p.chance(1, 4)) hits++;
    expect(hits).toBeGreaterThan(2300);
    expect(hits).toBeLessThan(2700);
    expect(() => p.chance(5, 4)).toThrow();
    expect(() => p.below(0)).toThrow();
  });

  it('fills bytes, picks and shuffles deterministically', () => {
    const a = new Uint8Array(13);
    const b = new Uint8Array(13);
    Prng.fromSeed(5).fill(a);
    Prng.fromSeed(5).fill(b);
    expect(a).toEqual(b);
    expect(a.some((x) => x !== 0)).toBe(true);
    expect(Prng.fromSeed(5).shuffle([1, 2, 3, 4, 5, 6]).sort()).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Prng.fromSeed(5).pick(['x'])).toBe('x');
    expect(() => Prng.fromSeed(-1)).toThrow();
  });
});
