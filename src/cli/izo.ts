/**
 * izo.ts: the `izo` command line: a table of subcommands, each with its usage and summary.
 *
 * Layer: user space entry point (may touch real files and build simulated worlds). Interface:
 * `main(argv)` returns the exit status: 0 success, 2 bad usage (with a message naming the problem
 * on stderr), others as each subcommand documents. Later issues add subcommands to COMMANDS.
 */
import { parseArgs } from 'node:util';
import { statSync } from 'node:fs';
import { demo } from './demo.ts';
import { loadImage, ImageError } from '../image.ts';
import { IMAGE_COMMANDS } from './image_tools.ts';
import { JOURNAL_COMMANDS } from './journal_tools.ts';

export interface Subcommand {
  readonly name: string;
  readonly usage: string;
  readonly summary: string;
  run(args: string[]): number | Promise<number>;
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

const VERSION = '0.1.0';

function imageInfo(args: string[]): number {
  const { values, positionals } = parseArgs({ args, options: { 'block-size': { type: 'string', default: '1024' } }, allowPositionals: true });
  const [path, ...rest] = positionals;
  if (path === undefined || rest.length > 0) throw new UsageError('image-info takes exactly one IMAGE');
  const bs = Number(values['block-size']);
  const dev = loadImage(path, bs);
  const written = [...dev.writtenBlocks()].length;
  process.stdout.write(`${path}: ${statSync(path).size} bytes, ${dev.blocks} blocks of ${bs}, ${written} not all zero\n`);
  return 0;
}

export const COMMANDS: Subcommand[] = [
  { name: 'help', usage: 'izo help', summary: 'list the subcommands', run: () => help() },
  { name: 'version', usage: 'izo version', summary: 'print the version', run: () => (process.stdout.write(`izo ${VERSION}\n`), 0) },
  {
    name: 'demo', usage: 'izo demo [--seed N]', summary: 'the demonstration `npm start` runs',
    run: (args) => {
      const { values } = parseArgs({ args, options: { seed: { type: 'string' } } });
      const seed = values.seed === undefined ? undefined : parseSeed(values.seed);
      process.stdout.write(demo(seed));
      return 0;
    },
  },
  { name: 'image-info', usage: 'izo image-info IMAGE [--block-size N]', summary: 'size and written blocks of a raw image', run: imageInfo },
  ...IMAGE_COMMANDS,
  ...JOURNAL_COMMANDS,
];

export function parseSeed(s: string): number {
  if (!/^(0|[1-9][0-9]{0,15})$/.test(s) || !Number.isSafeInteger(Number(s))) throw new UsageError(`--seed must be a non-negative integer, got '${s}'`);
  return Number(s);
}

function help(): number {
  const width = Math.max(...COMMANDS.map((c) => c.usage.length));
  process.stdout.write('izo: tools for intermezzo-sim\n\n');
  for (const c of COMMANDS) process.stdout.write(`  ${c.usage.padEnd(width)}  ${c.summary}\n`);
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h') return help();
  const cmd = COMMANDS.find((c) => c.name === name);
  if (cmd === undefined) {
    process.stderr.write(`izo: unknown command '${name}'; try 'izo help'\n`);
    return 2;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    if (e instanceof UsageError || (e instanceof TypeError && (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) {
      process.stderr.write(`izo ${name}: ${e.message}\nusage: ${cmd.usage}\n`);
      return 2;
    }
    if (e instanceof ImageError) {
      process.stderr.write(`izo ${name}: ${e.message}\n`);
      return 8;
    }
    throw e;
  }
}
