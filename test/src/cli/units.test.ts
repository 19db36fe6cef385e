/**
 * The value forms of scenario files (src/cli/units.ts): durations in us, ms, s, m (to whole µs),
 * sizes in bytes or K, M, G (powers of 1024), bandwidths with /s, ratios N/D; everything else is
 * a message saying what was expected, never a rounded or guessed value. Printing gives back the
 * forms that parse to the same value.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseBandwidth, parseDuration, parseRatio, parseSize, showDuration } from '../../../src/cli/units.ts';

describe('units', () => {
  it.each([
    ['0s', 0], ['7us', 7], ['5ms', 5_000], ['1.5s', 1_500_000], ['2m', 120_000_000], ['0.5ms', 500], ['80ms', 80_000],
  ])('duration %s is %d µs', (text, us) => expect(parseDuration(text)).toBe(us));

  it.each([
    [5, 'has no unit'], ['5', 'is not a duration'], ['5h', 'is not a duration'], ['-1s', 'is negative'],
    ['0.5us', 'not a whole number of microseconds'], ['1e3ms', 'is not a duration'], [true, 'is not a duration'],
  ])('duration %j is refused: %s', (v, why) => expect(parseDuration(v)).toContain(why));

  it('a clock skew may be negative', () => {
    expect(parseDuration('-2s', true)).toBe(-2_000_000);
  });

  it.each([[4096, 4096], ['4096', 4096], ['32M', 32 * 1024 * 1024], ['1.5K', 1536], ['1G', 1024 ** 3], ['0', 0]])(
    'size %j is %d bytes', (v, n) => expect(parseSize(v)).toBe(n));

  it.each([['32X', 'is not a size'], [-1, 'is not a size'], ['1.3K', 'is not a size'], ['M', 'is not a size']])(
    'size %j is refused', (v, why) => expect(parseSize(v)).toContain(why));

  it.each([['10MB/s', 10 * 1024 * 1024], ['512K/s', 512 * 1024], ['1000/s', 1000], ['none', null]])(
    'bandwidth %s', (v, bps) => expect(parseBandwidth(v)).toBe(bps));

  it.each([['10MB', 'is not a bandwidth'], ['0/s', 'above 0'], [5, 'is not a bandwidth']])(
    'bandwidth %j is refused', (v, why) => expect(parseBandwidth(v)).toContain(why));

  it('ratios', () => {
    expect(parseRatio('1/100')).toEqual({ num: 1, den: 100 });
    expect(parseRatio('3/2')).toContain('N <= D');
    expect(parseRatio('1%')).toContain('is not a ratio');
  });

  it('a duration printed parses back to the same µs', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 24 * 3600 * 1_000_000 }), (us) => {
      expect(parseDuration(showDuration(us))).toBe(us);
    }), { numRuns: 300 });
  });
});
