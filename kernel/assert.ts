/**
 * assert.ts: assertions and panic.
 *
 * Layer: kernel basics. Interface: `assert(cond, what)` checks an invariant; `panic(what)` stops the
 * simulated machine by throwing a KernelPanic. Kernel code never catches KernelPanic: a broken
 * invariant is a bug in the model, not an operating error (those are returned as Errno values).
 * Counterpart: Linux's BUG_ON/panic and JBD's J_ASSERT.
 */

/** A broken invariant inside the simulated kernel. Only the simulator and tests may catch it. */
export class KernelPanic extends Error {
  override readonly name = 'KernelPanic';
}

export function panic(what: string): never {
  throw new KernelPanic(what);
}

export function assert(cond: unknown, what: string | (() => string)): asserts cond {
  if (!cond) panic(typeof what === 'function' ? what() : what);
}

/** For exhaustive switches: reaching here means a case was forgotten. */
export function assertNever(x: never, what = 'unexpected value'): never {
  panic(`${what}: ${JSON.stringify(x)}`);
}
