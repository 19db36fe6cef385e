/**
 * random.ts: the randomness interface kernel code may use.
 *
 * Layer: kernel basics. Kernel code never makes randomness of its own (no Math.random, no crypto):
 * a component that needs chance (a device's crash model, fault injection, generation numbers) is
 * handed a `Random`, which the simulator implements with a seeded stream (sim/prng.ts). Integer
 * API only: probabilities are ratios, so no floating-point rounding ever decides an outcome.
 */

export interface Random {
  /** A uniform 32-bit unsigned integer. */
  u32(): number;
  /** A uniform integer in [0, n), 1 <= n <= 2^32, without modulo bias. */
  below(n: number): number;
  /** True with probability num/den (0 <= num <= den, den >= 1). */
  chance(num: number, den: number): boolean;
  /** Fill `dst` with uniform bytes. */
  fill(dst: Uint8Array): void;
}
