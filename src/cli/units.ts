/**
 * units.ts: the value forms of scenario files (docs/scenarios.md): durations, sizes, bandwidths,
 * loss ratios, and their printing.
 *
 * Layer: user-space input handling (the `izo run` loader). Interface: each `parseX(value)` takes
 * what YAML gave (a string or a number) and returns the value in the model's units (µs, bytes,
 * bytes per second) or a string saying what is wrong and what was expected; `showDuration` and
 * `showBytes` print values back in the same forms. Invariant: every result is a safe integer (the
 * model's clock and sizes are integers), so a value that is not a whole number of µs or bytes is
 * an error, never rounded. The forms are invented for this project (no InterMezzo counterpart).
 */

const DURATION_UNITS: Readonly<Record<string, number>> = { us: 1, ms: 1_000, s: 1_000_000, m: 60_000_000 };
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

export const DURATION_FORM = 'a number with a unit: us, ms, s or m (500ms, 2s, 1.5m)';
export const SIZE_FORM = 'bytes, or a number with K, M or G (32M)';
export const BANDWIDTH_FORM = 'bytes per second with /s: 10MB/s, 512K/s, 1000/s (or none)';

function show(v: unknown): string {
  return typeof v === 'string' ? `'${v}'` : JSON.stringify(v) ?? String(v);
}

/** `num * scale` as a safe integer, or null when it is not whole. */
function scaled(num: string, scale: number): number | null {
  const m = /^(\d+)(?:\.(\d+))?$/.exec(num);
  if (m === null) return null;
  const frac = m[2] ?? '';
  if (frac.length > 9) return null;
  const den = 10 ** frac.length;
  const whole = BigInt(`${m[1] ?? '0'}${frac}`) * BigInt(scale);
  if (whole % BigInt(den) !== 0n) return null;
  const v = whole / BigInt(den);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(v);
}

/** A duration in µs; `signed` allows a leading minus (a clock skew). */
export function parseDuration(v: unknown, signed = false): number | string {
  if (typeof v === 'number') return `${show(v)} has no unit; expected ${DURATION_FORM}`;
  if (typeof v !== 'string') return `${show(v)} is not a duration; expected ${DURATION_FORM}`;
  const m = /^(-?)(\d+(?:\.\d+)?)(us|ms|s|m)$/.exec(v.trim());
  if (m === null) return `${show(v)} is not a duration; expected ${DURATION_FORM}`;
  if (m[1] === '-' && !signed) return `${show(v)} is negative; expected ${DURATION_FORM}, at least 0`;
  const us = scaled(m[2] ?? '', DURATION_UNITS[m[3] ?? ''] ?? 1);
  if (us === null) return `${show(v)} is not a whole number of microseconds`;
  return m[1] === '-' ? -us : us;
}

/** A size in bytes: a non-negative integer, or a number with K, M or G (powers of 1024). */
export function parseSize(v: unknown): number | string {
  if (typeof v === 'number') {
    return Number.isSafeInteger(v) && v >= 0 ? v : `${show(v)} is not a size; expected ${SIZE_FORM}`;
  }
  if (typeof v !== 'string') return `${show(v)} is not a size; expected ${SIZE_FORM}`;
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/.exec(v.trim());
  const bytes = m === null ? null : scaled(m[1] ?? '', SIZE_UNITS[m[2] ?? ''] ?? 1);
  return bytes === null ? `${show(v)} is not a size; expected ${SIZE_FORM}` : bytes;
}

/** Bytes per second (`10MB/s`, `512K/s`, `1000/s`), or null for `none` (no serialization delay). */
export function parseBandwidth(v: unknown): number | null | string {
  if (v === 'none' || v === null) return null;
  if (typeof v !== 'string') return `${show(v)} is not a bandwidth; expected ${BANDWIDTH_FORM}`;
  const m = /^(\d+(?:\.\d+)?)([KMG]?)B?\/s$/.exec(v.trim());
  const bps = m === null ? null : scaled(m[1] ?? '', SIZE_UNITS[m[2] ?? ''] ?? 1);
  if (bps === null) return `${show(v)} is not a bandwidth; expected ${BANDWIDTH_FORM}`;
  return bps === 0 ? `${show(v)}: a bandwidth must be above 0 (or none)` : bps;
}

/** A probability as a ratio `N/D` (1/100), N <= D. */
export function parseRatio(v: unknown): { num: number; den: number } | string {
  const m = typeof v === 'string' ? /^(\d{1,9})\/(\d{1,9})$/.exec(v.trim()) : null;
  if (m === null) return `${show(v)} is not a ratio; expected N/D, such as 1/100`;
  const num = Number(m[1]);
  const den = Number(m[2]);
  return den >= 1 && num <= den ? { num, den } : `${show(v)}: a ratio N/D needs 1 <= D and N <= D`;
}

/** µs in the largest unit that shows it exactly (2s, 1500ms, 7us). */
export function showDuration(us: number): string {
  const sign = us < 0 ? '-' : '';
  const a = Math.abs(us);
  if (a === 0) return '0s';
  for (const [unit, scale] of [['m', 60_000_000], ['s', 1_000_000], ['ms', 1_000]] as const) {
    if (a % scale === 0) return `${sign}${a / scale}${unit}`;
  }
  return a >= 1_000_000 ? `${sign}${(a / 1e6).toFixed(6).replace(/0+$/, '')}s` : `${sign}${a}us`;
}

/** A time on the timeline: seconds with millisecond precision (12.345s). */
export function showTime(us: number): string {
  return `${(us / 1e6).toFixed(3)}s`;
}

export function showBytes(n: number): string {
  if (n < 1024) return `${n}`;
  for (const [unit, scale] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (n >= scale) return n % scale === 0 ? `${n / scale}${unit}` : `${(n / scale).toFixed(1)}${unit}`;
  }
  return `${n}`;
}
