/**
 * izo.ts: the `izo` command line: a table of subcommands, each with its usage and summary.
 *
 * Layer: user-space entry point (may touch real files and build simulated worlds). Interface:
 * `main(argv)` returns the exit status: 0 success, 2 bad usage (a message naming the problem on
 * stderr, then the usage line), 8 an image that cannot be used, 70 a bug (one line, never a
 * stack trace), others as each subcommand documents (docs/errors.md). `izo`, `izo help` and
 * `izo --help` list the subcommands; `izo help NAME` and `izo NAME ... --help` (anywhere among
 * the arguments) show one, with every option and its default. To add a subcommand, write it in
 * its own file under src/cli/ as a `Subcommand` (command.ts), its options parsed with
 * `parseCommand`, and add it to COMMANDS. bin/izo.js runs this file through tsx.
 */
import { readFileSync } from 'node:fs';
import { demo } from './demo.ts';
import { ImageError } from '../image.ts';
import { IMAGE_COMMANDS } from './image_tools.ts';
import { JOURNAL_COMMANDS } from './journal_tools.ts';
import { KML_COMMANDS } from './kml_tools.ts';
import { CONFLICT_COMMANDS } from './conflicts.ts';
import { IMAGE_INFO } from './image_info.ts';
import { CRASHTEST } from './crashtest.ts';
import { RUN } from './run.ts';
import { optionHelp, parseCommand, parseSeed, UsageError, type OptionTable, type Subcommand } from './command.ts';

export { parseSeed, UsageError, type Subcommand } from './command.ts';

/** The version in package.json, the one place it is written. */
export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version : 'unknown';
}

const DEMO_OPTIONS: OptionTable = {
  seed: { type: 'string', arg: 'N', help: 'the seed (no seed: the built-in default)' },
};

const DEMO: Subcommand = {
  name: 'demo',
  usage: 'izo demo [--seed N]',
  summary: 'the demonstration of the layers (`npm start` before scenario files; same seed, same output)',
  options: DEMO_OPTIONS,
  run(args) {
    const a = parseCommand(DEMO_OPTIONS, args);
    if (a.positionals.length > 0) throw new UsageError(`demo takes no arguments, got '${a.positionals.join(' ')}'`);
    const seed = a.str('seed');
    process.stdout.write(seed === undefined ? demo() : demo(parseSeed(seed)));
    return 0;
  },
};

/**
 * Every subcommand, in `izo help` order. A function, not a constant: subcommand files import
 * UsageError and Subcommand from here, and a module that imports one of them first would
 * otherwise meet this table before their arrays exist (an import cycle).
 */
export function commands(): readonly Subcommand[] {
  return [
    HELP, VERSION, DEMO, IMAGE_INFO, ...IMAGE_COMMANDS, ...KML_COMMANDS, ...CONFLICT_COMMANDS, ...JOURNAL_COMMANDS,
    CRASHTEST, RUN,
  ];
}

const HELP: Subcommand = {
  name: 'help', usage: 'izo help [COMMAND]',
  summary: 'list the subcommands, or show one (its options and their defaults)',
  run: (args) => help(parseCommand({}, args).positionals),
};

const VERSION: Subcommand = {
  name: 'version', usage: 'izo version', summary: 'print the version',
  run(args) {
    if (parseCommand({}, args).positionals.length > 0) throw new UsageError('version takes no arguments');
    out(`izo ${version()}\n`);
    return 0;
  },
};

function out(s: string): void {
  process.stdout.write(s);
}

function find(name: string): Subcommand | undefined {
  return commands().find((c) => c.name === name);
}

/** The list (usage, then the summary indented below: usage lines can be long), or one command. */
function help(args: readonly string[]): number {
  if (args.length > 1) throw new UsageError(`help takes at most one COMMAND, got ${args.length}`);
  const name = args[0];
  if (name !== undefined) {
    const cmd = find(name);
    if (cmd === undefined) throw new UsageError(`no command '${name}'`);
    out(`usage: ${cmd.usage}\n  ${cmd.summary}\n\noptions:\n${optionHelp(cmd.options ?? {})}` +
      `${cmd.details === undefined ? '' : `${cmd.details}\n`}`);
    return 0;
  }
  out('izo: tools for intermezzo-sim (exit status: 0 success, 1 failed, 2 bad usage, 4 damage found, 8 unusable image;'
    + ' docs/errors.md)\n\n');
  for (const c of commands()) out(`  ${c.usage}\n      ${c.summary}\n`);
  return 0;
}

function isParseArgsError(e: unknown): e is Error {
  return e instanceof TypeError && String((e as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS');
}

export async function main(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') return help([]);
  if (name === '--version') return run(find('version'), 'version', rest);
  return run(find(name), name, rest);
}

async function run(cmd: Subcommand | undefined, name: string, rest: readonly string[]): Promise<number> {
  if (cmd === undefined) {
    process.stderr.write(`izo: unknown command '${name}'; try 'izo help'\n`);
    return 2;
  }
  if (asksHelp(rest)) return help([name]);
  try {
    return await cmd.run([...rest]);
  } catch (e) {
    if (e instanceof UsageError || isParseArgsError(e)) {
      process.stderr.write(`izo ${name}: ${e.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    if (e instanceof ImageError) {
      process.stderr.write(`izo ${name}: ${e.message}\n`);
      return 8;
    }
    // Anything else is a bug in the model or the tool: said in one line, never as a stack trace.
    const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    process.stderr.write(`izo ${name}: internal error (a bug, please report it): ${what}\n`);
    return EXIT_BUG;
  }
}

/** The exit status of a bug (BSD's EX_SOFTWARE); the corruption fuzz test asserts it never happens. */
export const EXIT_BUG = 70;

/** `--help` or `-h` anywhere among the arguments (before a `--`). */
function asksHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end < 0 ? args : args.slice(0, end)).some((a) => a === '--help' || a === '-h');
}
