/**
 * command.ts: what every `izo` subcommand is made of, in a module of its own so that subcommand
 * files and the dispatcher (izo.ts) can import it without importing each other.
 *
 * Layer: user-space entry points. Interface: a `Subcommand` is a name, a usage line, a one-line
 * summary and `run(args)` returning the exit status. A subcommand throws `UsageError` for bad
 * arguments (the dispatcher prints the message and the usage line, exit 2) and `ImageError`
 * (src/image.ts) for an image it cannot use (exit 8). Invariant: messages name what is wrong and
 * where (the option, the value, the file).
 */

export interface Subcommand {
  readonly name: string;
  /** One line: `izo NAME ARGS...`, as `izo help` prints it. */
  readonly usage: string;
  readonly summary: string;
  run(args: string[]): number | Promise<number>;
}

/** Bad arguments: the dispatcher prints `izo NAME: message`, then the usage line, and exits 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** A non-negative integer option (`--seed`, `--block-size`, counts), or a UsageError naming it. */
export function parseNatural(option: string, s: string): number {
  const n = Number(s);
  if (!/^(0|[1-9][0-9]{0,15})$/.test(s) || !Number.isSafeInteger(n)) {
    throw new UsageError(`${option} must be a non-negative integer, got '${s}'`);
  }
  return n;
}

export function parseSeed(s: string): number {
  return parseNatural('--seed', s);
}
