/**
 * command.ts: what every `izo` subcommand is made of, in a module of its own so that subcommand
 * files and the dispatcher (izo.ts) can import it without importing each other.
 *
 * Layer: user-space entry points. Interface: a `Subcommand` is a name, a usage line, a one-line
 * summary and `run(args)` returning the exit status. A subcommand throws `UsageError` for bad
 * arguments (the dispatcher prints the message and the usage line, exit 2) and `ImageError`
 * (src/image.ts) for an image it cannot use (exit 8). Invariant: messages name what is wrong and
 * where (the option, the value, the file). `parseCommand(options, args)` is the one argument parser
 * every subcommand uses, `optionHelp(options)` the option list `izo help NAME` prints.
 */
import { parseArgs } from 'node:util';

export interface Subcommand {
  readonly name: string;
  /** One line: `izo NAME ARGS...`, as `izo help` prints it. */
  readonly usage: string;
  readonly summary: string;
  /** Every option, for help (each with its default); parsed with parseCommand. */
  readonly options?: OptionTable;
  /** More text for `izo help NAME` (say, the keys of a file format), printed after the summary. */
  readonly details?: string;
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

/** One option of a subcommand: how it is parsed, its default as help shows it, what it does. */
export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly short?: string;
  /** The value's name in help (`N`, `SIZE`); string options only. */
  readonly arg?: string;
  /** The default, as given on the command line (string options; a boolean is off unless given). */
  readonly default?: string;
  readonly help: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

export interface ParsedArgs {
  readonly positionals: readonly string[];
  /** The options given (no defaults filled in). */
  readonly values: Readonly<Record<string, string | boolean | undefined>>;
  /** A string option's value, or its default, or undefined when it has neither. */
  str(name: string): string | undefined;
  flag(name: string): boolean;
}

/**
 * The one argument parser of every subcommand (node:util parseArgs, strict): options anywhere
 * among the positionals, `--` ends the options, an unknown option or a missing value is a
 * UsageError naming it (exit 2). `--help` is answered by the dispatcher before a command runs.
 */
export function parseCommand(options: OptionTable, args: readonly string[]): ParsedArgs {
  const config = Object.fromEntries(Object.entries(options).map(([k, o]) => {
    const short = o.short === undefined ? {} : { short: o.short };
    return [k, { type: o.type, ...short }];
  }));
  let parsed: { values: Record<string, string | boolean | undefined>; positionals: string[] };
  try {
    parsed = parseArgs({ args: [...args], options: config, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (e) {
    const code = String((e as { code?: unknown }).code);
    if (e instanceof TypeError && code.startsWith('ERR_PARSE_ARGS')) throw new UsageError(e.message);
    throw e;
  }
  const { values, positionals } = parsed;
  return {
    positionals, values,
    str: (name) => {
      const v = values[name];
      return typeof v === 'string' ? v : options[name]?.default;
    },
    flag: (name) => values[name] === true,
  };
}

/** Help's option lines: each option, its value's name, what it does and its default; then -h. */
export function optionHelp(options: OptionTable): string {
  const rows = Object.entries(options).map(([name, o]) => {
    const short = o.short === undefined ? '' : `-${o.short}, `;
    const left = `${short}--${name}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
    const dflt = o.type === 'boolean' ? ' (default: off)'
      : o.default === undefined ? '' : ` (default: ${o.default === '' ? "''" : o.default})`;
    return [left, `${o.help}${dflt}`] as const;
  });
  rows.push(['-h, --help', 'show this help']);
  const width = Math.max(...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}\n`).join('');
}
