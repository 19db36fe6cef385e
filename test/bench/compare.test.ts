/**
 * The side-by-side benchmark's workload and contenders (bench/compare.ts), without timing anything:
 * the workload is the same for a seed and keeps the proportions and about 100 live files,
 * and every contender, real or simulated, ends with exactly the live files the workload says, so
 * the check that keeps a contender from skipping work is itself checked (a contender that skips
 * the creates is caught).
 */
import { describe, expect, it } from 'vitest';
import { compare, contenders, FILE_BYTES, workload, type Contender } from '../../bench/compare.ts';

describe('bench/compare', () => {
  it('the workload is seeded, keeps the proportions, and leaves about 100 files live', () => {
    const w = workload(10_000);
    expect(workload(10_000)).toEqual(w);
    expect(workload(10_000, 2)).not.toEqual(w);
    const count = (k: string): number => w.ops.filter((o) => o.kind === k).length;
    expect(w.ops.length).toBe(10_000);
    expect(count('create')).toBeGreaterThan(3500);
    expect(count('rename')).toBeGreaterThan(1800);
    expect(count('unlink')).toBeGreaterThan(3500);
    expect(count('mkdir')).toBeGreaterThan(250);
    expect(w.live.length).toBeGreaterThan(60);
    expect(w.live.length).toBeLessThanOrEqual(120);
  });

  it('every contender ends with exactly the live files of the workload', () => {
    const w = workload(600, 3);
    for (const c of contenders()) expect(c.run(w), c.name).toEqual(w.live.map(() => FILE_BYTES));
  });

  it('a contender that skips work is refused, not timed', () => {
    const lazy: Contender = { name: 'lazy', run: (x) => x.live.map((_, i) => (i === 0 ? 0 : FILE_BYTES)) };
    expect(() => compare(100, 1, [lazy])).toThrow(/lazy: .* has size 0, not 4096: it skipped work/);
  });
});
