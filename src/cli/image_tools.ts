/**
 * image_tools.ts: `izo mkfs`, `izo ls`, `izo cat`, `izo stat`: making an image and looking inside
 * one through the simulated kernel (the image is mounted read-only in a one-host world; the tools
 * make the same system calls a process would).
 *
 * Exit status: 0 success; 1 the path could not be read (the errno is named), or (sh) a command of
 * the script failed; 2 bad usage; 4 (fsck) damage found; 8 the image cannot be used (named:
 * missing, wrong size, unsupported feature, needs recovery, a superblock or group descriptors that
 * cannot be trusted). The table of every kind of bad input and its answer is docs/errors.md.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { BlockDevice, isBlockSize, PowerCut } from '../../kernel/blkdev.ts';
import { KernelPanic } from '../../kernel/assert.ts';
import { Prng } from '../../sim/prng.ts';
import { errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISDIR, type Inode, type Stat } from '../../kernel/fs.ts';
import { path_lookup } from '../../kernel/namei.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_lstat } from '../../kernel/syscalls.ts';
import { backupHint, ext3_check_super } from '../../fs/ext3/super.ts';
import { geometry, mkfs } from '../../fs/ext3/mkfs.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { EXT2_ERROR_FS } from '../../fs/ext3/ext3_fs.ts';
import { EXT3_I } from '../../fs/ext3/inode.ts';
import { ext3_xattr_list } from '../../fs/ext3/xattr.ts';
import { EPOCH_BASE_SEC } from '../../kernel/types.ts';
import { World, type Host } from '../../sim/host.ts';
import { ImageError, loadImage, saveImage } from '../image.ts';
import { read_dir } from '../libc.ts';
import { formatParseErrors, parseScript, runScript, statJson, streamCat, type Command } from '../sh.ts';
import type { Process } from '../../kernel/process.ts';
import { parseCommand, parseNatural, parseSeed, UsageError, type OptionTable, type ParsedArgs, type Subcommand } from './command.ts';
import { valid_fset_name } from '../../fs/intermezzo/fileset.ts';
import { cacheTypeOf, imageFilesets, makeFileset, mountOrFail, prestoHost } from './presto_image.ts';

const SIZE = /^([1-9][0-9]{0,15})([KMGT]?)$/;

/** A size in bytes with an optional K, M, G or T (powers of 1024), or a UsageError naming it. */
export function parseSize(s: string, option = '--size'): number {
  const m = SIZE.exec(s);
  if (m === null) throw new UsageError(`${option} must be a number of bytes with an optional K, M, G or T, got '${s}'`);
  const n = Number(m[1]) * ({ '': 1, K: 1024, M: 1 << 20, G: 1 << 30, T: 2 ** 40 } as Record<string, number>)[m[2] ?? '']!;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${option} ${s} is too large`);
  return n;
}

/** The block size recorded in an image's superblock (it sits at byte 1024 whatever the size). */
export function imageBlockSize(path: string): number {
  if (!existsSync(path)) throw new ImageError(`${path}: no such image`);
  if (!statSync(path).isFile()) throw new ImageError(`${path}: not a regular file (an image is a file)`);
  const probe = loadImage(path, 1024, path);
  const sb = new Uint8Array(1024);
  probe.read(1, sb);
  const log = new DataView(sb.buffer).getUint32(0x18, true);
  const bs = 1024 << log;
  if (!isBlockSize(bs) || statSync(path).size % bs !== 0) {
    throw new ImageError(`${path}: not an ext2/ext3 image (no valid block size in its superblock; ${backupHint(1024)})`);
  }
  return bs;
}

/** Mount an image (read-only unless `rw`) in a fresh world; an ImageError if it cannot be. */
export function openImage(path: string, rw = false): { host: Host; proc: Process; dev: BlockDevice } {
  const bs = imageBlockSize(path);
  const dev = loadImage(path, bs, 'image');
  const why = ext3_check_super(dev);
  if (typeof why === 'string') throw new ImageError(`${path}: ${why}`);
  const host = prestoHost(dev);
  mountOrFail(host, 'ext3', rw ? '' : 'ro', path);
  return { host, proc: host.process('izo'), dev };
}

/**
 * The extended attributes of `path` (kept by the file system, read here, never interpreted):
 * `{xattrs: {name: value}}`, each value a Latin-1 string of its bytes, or nothing when it has none.
 */
function* imageXattrs(p: Process, path: string): Sys<{ xattrs?: Record<string, string> } | Errno> {
  const found = yield* path_lookup(p, path, 0);
  if (isErr(found)) return found;
  const inode = found.dentry.d_inode as Inode;
  const attrs = ext3_xattr_list(inode, EXT3_I(inode).fileAcl);
  if (isErr(attrs)) return attrs;
  if (attrs.length === 0) return {};
  return { xattrs: Object.fromEntries(attrs.map((a) => [a.name, Buffer.from(a.value).toString('latin1')])) };
}

function fail(cmd: string, path: string, e: number): number {
  process.stderr.write(`izo ${cmd}: ${path}: ${errnoName(e as never)}\n`);
  return 1;
}

function* listDir(p: Process, path: string): Sys<Array<[string, Stat]> | number> {
  const ents = yield* read_dir(p, path);
  if (isErr(ents)) return ents;
  const out: Array<[string, Stat]> = [];
  for (const e of ents) {
    const st = yield* sys_lstat(p, path.endsWith('/') ? path + e.d_name : `${path}/${e.d_name}`);
    if (!isErr(st)) out.push([e.d_name, st]);
  }
  return out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function longLine(name: string, st: Stat): string {
  const j = statJson(st) as { type: string; mode: string };
  const cols = [String(st.st_ino).padStart(7), j.type.padEnd(7), j.mode, String(st.st_nlink).padStart(3), String(st.st_uid).padStart(5),
    String(st.st_gid).padStart(5), String(st.st_size).padStart(10), name];
  return `${cols.join(' ')}\n`;
}

const utf8 = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');
const bytes = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');

const FSCK_OPTIONS: OptionTable = {};

function fsckRun(args: string[]): number {
  const [image, ...rest] = parseCommand(FSCK_OPTIONS, args).positionals;
  if (image === undefined || rest.length > 0) throw new UsageError('fsck takes exactly one IMAGE');
  const dev = loadImage(image, imageBlockSize(image), 'image');
  const problems = fsck(dev);
  writeErrorMark(image, dev);
  if (problems.length === 0) {
    process.stdout.write(`${image}: clean\n`);
    return 0;
  }
  for (const p of problems) {
    const where = [p.ino !== undefined ? `inode ${p.ino}` : '', p.blk !== undefined ? `block ${p.blk}` : ''].filter((x) => x !== '').join(', ');
    process.stdout.write(`pass ${p.pass}: ${p.code}${where === '' ? '' : ` (${where})`}: ${p.message}\n`);
  }
  const fatal = problems.some((p) => p.code === 'bad-superblock' || p.code === 'needs-recovery');
  process.stdout.write(`${image}: ${fatal ? 'cannot be checked' : `${problems.length} problem${problems.length === 1 ? '' : 's'} found`}\n`);
  return fatal ? 8 : 4;
}

/**
 * The kernel's mark that it met damage (s_state EXT2_ERROR_FS, set by ext3_error) is said, not
 * counted as a problem: e2fsck -fn exits 0 on a sound image that carries it (without -f it forces a
 * full check, and a repairing run clears it), so the exit status stays e2fsck's.
 */
function writeErrorMark(image: string, dev: BlockDevice): void {
  const sb = ext3_check_super(dev);
  if (typeof sb === 'string' || (sb.state & EXT2_ERROR_FS) === 0) return;
  process.stdout.write(`${image}: marked with errors by the kernel (s_state EXT2_ERROR_FS): checked in full\n`);
}

const SH_OPTIONS: OptionTable = {
  status: {
    type: 'boolean',
    help: "print one status line per command ('ok' or the errno name) instead of a shell's output",
  },
  verbose: { type: 'boolean', short: 'v', help: 'echo each command to stderr before it runs (as sh -x)' },
  'data-mode': { type: 'string', arg: 'ordered|journal|writeback', default: 'ordered', help: 'ext3 data mode' },
  'no-barrier': { type: 'boolean', help: 'mount with barrier=0' },
  errors: {
    type: 'string', arg: 'continue|remount-ro|panic',
    help: "what damage found on disk does after it is reported (ext3's errors=; default: the superblock's s_errors)",
  },
  'crash-after-writes': {
    type: 'string', arg: 'N',
    help: 'cut the power after the Nth write to the disk (no crash: the image is unmounted cleanly)',
  },
  seed: { type: 'string', arg: 'S', default: '1', help: 'the world seed (which cached writes a crash keeps)' },
  ext3: { type: 'boolean', help: 'mount as plain ext3 even if the image has filesets' },
  script: { type: 'string', arg: 'FILE', help: 'read the script from FILE (default: standard input)' },
};

/** The largest write count --crash-after-writes takes (2^32 - 1: far past any script). */
const MAX_CRASH_WRITES = 0xffffffff;

interface ShPlan {
  readonly image: string;
  readonly mode: 'ordered' | 'journal' | 'writeback';
  readonly cut: number | undefined;
  readonly seed: number;
  readonly errors: string | undefined;
}

function shPlan(a: ParsedArgs): ShPlan {
  const [image, ...rest] = a.positionals;
  if (image === undefined || rest.length > 0) throw new UsageError('sh takes exactly one IMAGE (the script comes on standard input)');
  const mode = a.str('data-mode');
  if (mode !== 'ordered' && mode !== 'journal' && mode !== 'writeback') {
    throw new UsageError(`--data-mode must be ordered, journal or writeback, got '${mode}'`);
  }
  const given = a.str('crash-after-writes');
  const cut = given === undefined ? undefined : parseNatural('--crash-after-writes', given);
  if (cut !== undefined && (cut < 1 || cut > MAX_CRASH_WRITES)) {
    throw new UsageError(`--crash-after-writes must be between 1 and ${MAX_CRASH_WRITES}, got '${given}'`);
  }
  const errors = a.str('errors');
  if (errors !== undefined && errors !== 'continue' && errors !== 'remount-ro' && errors !== 'panic') {
    throw new UsageError(`--errors must be continue, remount-ro or panic, got '${errors}'`);
  }
  return { image, mode, cut, seed: parseSeed(a.str('seed') ?? '1'), errors };
}

/**
 * The script on standard input as text: UTF-8, checked (invalid UTF-8 is refused with its line
 * and byte, never silently replaced); a UsageError (exit 2) if it is not.
 */
function readScript(file: string | undefined): string {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file ?? 0);
  } catch (e) {
    throw new UsageError(`cannot read the script ${file ?? '<stdin>'}: ${(e as Error).message}`);
  }
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    let at = 0;
    for (let n = 1; n <= bytes.length; n++) {
      try {
        new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(0, n), { stream: true });
      } catch {
        at = n - 1;
        break;
      }
    }
    const line = bytes.subarray(0, at).filter((b) => b === 0x0a).length + 1;
    throw new UsageError(`${file ?? '<stdin>'}:${line}: the script is not valid UTF-8 (byte ${at})`);
  }
}

function shRun(args: string[]): number {
  const a = parseCommand(SH_OPTIONS, args);
  const plan = shPlan(a);
  const { image, cut } = plan;
  const parsed = parseScript(readScript(a.str('script')), a.str('script') ?? '<stdin>');
  if ('errors' in parsed) {
    process.stderr.write(formatParseErrors(parsed.errors));
    return 2;
  }
  const bs = imageBlockSize(image);
  const dev = loadImage(image, bs, 'image');
  const why = ext3_check_super(dev, true);
  if (typeof why === 'string') throw new ImageError(`${image}: ${why}`);
  // An image with filesets (directories under /.intermezzo, found through a plain mount of a
  // second copy, which may recover its journal in memory) is mounted through presto.
  const presto = !a.flag('ext3') && imageFilesets(loadImage(image, bs, 'image'), image).length > 0;
  if (cut !== undefined) dev.cutPowerAfterWrites(cut);
  const host = prestoHost(dev, plan.seed);
  // Output goes out as each command ends (a cat streams: a file past 4 GiB too).
  const verbose = a.flag('verbose');
  const out = {
    status: a.flag('status'), write: stdoutWrite,
    ...(verbose ? { echo: (c: Command) => void process.stderr.write(`+ ${echoLine(c)}\n`) } : {}),
  };
  let failed = false;
  try {
    const data = `data=${plan.mode}${a.flag('no-barrier') ? ',barrier=0' : ''}${plan.errors === undefined ? '' : `,errors=${plan.errors}`}`;
    if (presto) mountOrFail(host, 'intermezzo', `cache_type=${cacheTypeOf(dev, image)},${data}`, image);
    else mountOrFail(host, 'ext3', data, image);
    const proc = host.process('izo');
    failed = host.run(proc, runScript(proc, parsed.commands, out)).some((r) => r.status !== 'ok');
    host.shutdown();
  } catch (e) {
    const forced = e instanceof KernelPanic && plan.errors === 'panic' && e.message.includes('panic forced after error');
    if (!(e instanceof PowerCut) && !forced) throw e;
    const crashed = dev.crash({ random: Prng.fromSeed(plan.seed).stream('crash') });
    saveImage(image, crashed);
    const what = forced ? `the kernel panicked, as --errors panic asked (${(e as Error).message})` : `power cut after write ${cut}`;
    process.stderr.write(`izo sh: ${image}: ${what}; the image is left as the crash left it (run izo recover, or mount it)\n`);
    return forced ? 1 : 0;
  }
  saveImage(image, dev);
  if (cut !== undefined) {
    process.stderr.write(`izo sh: ${image}: no crash happened: the run made ${dev.stats.writes} writes, fewer than ${cut}; unmounted cleanly\n`);
  }
  return failed ? 1 : 0;
}

/** A command as `--verbose` echoes it: its words, quoted where a shell would need quotes. */
function echoLine(c: Command): string {
  return [c.name, ...c.args].map((w) => (/^[A-Za-z0-9_./:@%+=,-]+$/.test(w) ? w : JSON.stringify(w))).join(' ');
}

const MKFS_OPTIONS: OptionTable = {
  size: { type: 'string', arg: 'SIZE', default: '16M', help: 'the image size: bytes, or with K, M, G or T' },
  'block-size': { type: 'string', arg: '1024|2048|4096', default: '1024', help: 'the block size' },
  inodes: {
    type: 'string', arg: 'N',
    help: 'at least N inodes (rounded up to fill whole inode-table blocks; default: one per 4 blocks of 4 KiB data)',
  },
  label: { type: 'string', arg: 'L', default: '', help: 'the volume label, at most 16 bytes' },
  'journal-blocks': {
    type: 'string', arg: 'N', default: '1024',
    help: 'the journal size in blocks, 1024 to 10240000 and at most half the file system',
  },
  'no-journal': { type: 'boolean', help: 'make ext2 (no journal)' },
  seed: { type: 'string', arg: 'S', default: '1', help: 'the seed of the file system uuid' },
  fileset: { type: 'string', arg: 'NAME', help: 'make it InterMezzo-ready, with fileset NAME at /' },
};

/** mke2fs's bounds on a journal (JFS_MIN_JOURNAL_BLOCKS, and its own ceiling). */
const JOURNAL_BLOCKS_MIN = 1024;
const JOURNAL_BLOCKS_MAX = 10_240_000;
/** The largest block number ext2 can hold (32 bits). */
const BLOCKS_MAX = 0xffffffff;

interface MkfsPlan {
  readonly path: string;
  readonly bs: 1024 | 2048 | 4096;
  readonly blocks: number;
  readonly inodes: number | undefined;
  readonly label: string;
  readonly journalBlocks: number;
  readonly seed: number;
  readonly fset: string | undefined;
}

function mkfsPlan(a: ParsedArgs): MkfsPlan {
  const [path, ...rest] = a.positionals;
  if (path === undefined || rest.length > 0) throw new UsageError('mkfs takes exactly one IMAGE');
  const fset = a.str('fileset');
  if (fset !== undefined && (!valid_fset_name(fset) || fset.includes(','))) {
    throw new UsageError(`--fileset must be one path component (no comma, not . or .., at most 64 bytes), got '${fset}'`);
  }
  const bs = Number(a.str('block-size'));
  if (!isBlockSize(bs)) throw new UsageError(`--block-size must be 1024, 2048 or 4096, got '${a.str('block-size')}'`);
  const sizeText = a.str('size') ?? '16M';
  const size = parseSize(sizeText);
  if (size % bs !== 0) throw new UsageError(`--size ${sizeText} is not a multiple of the block size ${bs}`);
  const blocks = size / bs;
  if (blocks > BLOCKS_MAX) throw new UsageError(`--size ${sizeText} is ${blocks} blocks of ${bs}; ext2 block numbers stop at ${BLOCKS_MAX}`);
  const label = a.str('label') ?? '';
  if (Buffer.byteLength(label, 'utf8') > 16) throw new UsageError(`--label is at most 16 bytes, got ${Buffer.byteLength(label, 'utf8')} ('${label}')`);
  const inodesText = a.str('inodes');
  const inodes = inodesText === undefined ? undefined : parseNatural('--inodes', inodesText);
  if (inodes !== undefined && inodes < 16) {
    throw new UsageError(`--inodes must be at least 16 (11 are reserved; the root and lost+found take two more), got '${inodesText}'`);
  }
  const journalBlocks = a.flag('no-journal') ? 0 : journalSize(a.str('journal-blocks') ?? '1024', blocks);
  return { path, bs, blocks, inodes, label, journalBlocks, seed: parseSeed(a.str('seed') ?? '1'), fset };
}

/** --journal-blocks, checked as mke2fs checks it: 1024 blocks at least, half the file system at most. */
function journalSize(text: string, blocks: number): number {
  const n = parseNatural('--journal-blocks', text);
  const max = Math.min(JOURNAL_BLOCKS_MAX, Math.floor(blocks / 2));
  if (max < JOURNAL_BLOCKS_MIN) {
    throw new UsageError(`a file system of ${blocks} blocks is too small for a journal (${2 * JOURNAL_BLOCKS_MIN} blocks at least; --no-journal makes ext2)`);
  }
  if (n < JOURNAL_BLOCKS_MIN || n > max) {
    throw new UsageError(`--journal-blocks must be between ${JOURNAL_BLOCKS_MIN} and ${max} (at most half of the ${blocks} blocks; `
      + `--no-journal makes ext2), got '${text}'`);
  }
  return n;
}

function mkfsRun(args: string[]): number {
  const plan = mkfsPlan(parseCommand(MKFS_OPTIONS, args));
  const { path, bs, fset } = plan;
  const geo0 = geometry(plan.blocks, bs, plan.inodes);
  if (typeof geo0 === 'string') throw new UsageError(`--size ${plan.blocks * bs} bytes: ${geo0}`);
  if (plan.inodes !== undefined && geo0.inodesPerGroup * geo0.groups < plan.inodes) {
    throw new UsageError(`--inodes ${plan.inodes}: at most ${geo0.inodesPerGroup * geo0.groups} fit (one bitmap block per group)`);
  }
  const uuid = new Uint8Array(16);
  new World({ seed: plan.seed }).rng.stream('mkfs/uuid').fill(uuid);
  const dev = new BlockDevice({ name: 'image', blockSize: bs, blocks: plan.blocks });
  const geo = mkfs(dev, {
    blockSize: bs, uuid, time: EPOCH_BASE_SEC, label: plan.label, journalBlocks: plan.journalBlocks,
    ...(plan.inodes !== undefined ? { inodes: plan.inodes } : {}),
  });
  if (typeof geo === 'string') {
    process.stderr.write(`izo mkfs: ${path}: ${geo}\n`);
    return 8;
  }
  if (fset !== undefined) makeFileset(dev, fset, plan.seed);
  saveImage(path, dev);
  const kind = plan.journalBlocks === 0 ? 'ext2' : 'ext3';
  const izo = fset === undefined ? '' : `, InterMezzo fileset ${fset} at /`;
  process.stdout.write(`${path}: ${kind}, ${geo.blocks} blocks of ${bs}, ${geo.groups} groups, ${geo.inodesPerGroup * geo.groups} inodes${izo}\n`);
  return 0;
}

const LS_OPTIONS: OptionTable = { long: { type: 'boolean', short: 'l', help: 'long listing: inode, type, mode, links, uid, gid, size, name' } };

function lsRun(args: string[]): number {
  const a = parseCommand(LS_OPTIONS, args);
  const [image, path = '/', ...rest] = a.positionals;
  if (image === undefined || rest.length > 0) throw new UsageError('ls takes IMAGE and at most one PATH');
  const { host, proc } = openImage(image);
  const st = host.run(proc, sys_lstat(proc, bytes(path)));
  if (isErr(st)) return fail('ls', path, st);
  const entries: Array<[string, Stat]> | number = S_ISDIR(st.st_mode) ? host.run(proc, listDir(proc, bytes(path))) : [[bytes(path), st]];
  if (typeof entries === 'number') return fail('ls', path, entries);
  for (const [name, s] of entries) process.stdout.write(a.flag('long') ? longLine(utf8(name), s) : `${utf8(name)}\n`);
  return 0;
}

/** Text or bytes to standard output (bytes as a Buffer view: no copy, and a Buffer prints as bytes). */
function stdoutWrite(chunk: string | Uint8Array): void {
  process.stdout.write(typeof chunk === 'string' ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
}

/** IMAGE and PATH, and nothing else (cat, stat). */
function imageAndPath(name: string, args: string[]): [string, string] {
  const [image, path, ...rest] = parseCommand({}, args).positionals;
  if (image === undefined || path === undefined || rest.length > 0) throw new UsageError(`${name} takes IMAGE and PATH`);
  return [image, path];
}

function catRun(args: string[]): number {
  const [image, path] = imageAndPath('cat', args);
  const { host, proc } = openImage(image);
  // Streamed in pieces, as the command language's cat: a file of any size (a sparse one of
  // gigabytes, or one whose size was damaged) goes out in bounded memory.
  const r = host.run(proc, streamCat(proc, bytes(path), { status: false, write: stdoutWrite }));
  return r === 0 ? 0 : fail('cat', path, r);
}

function statRun(args: string[]): number {
  const [image, path] = imageAndPath('stat', args);
  const { host, proc } = openImage(image);
  const st = host.run(proc, sys_lstat(proc, bytes(path)));
  if (isErr(st)) return fail('stat', path, st);
  const extra = { ino: st.st_ino, blocks: st.st_blocks, mtime: st.st_mtime.sec, ctime: st.st_ctime.sec };
  const xattrs = host.run(proc, imageXattrs(proc, bytes(path)));
  if (isErr(xattrs)) return fail('stat', path, xattrs);
  process.stdout.write(`${JSON.stringify({ ...(statJson(st) as object), ...extra, ...xattrs })}\n`);
  return 0;
}

export const IMAGE_COMMANDS: Subcommand[] = [
  {
    name: 'fsck', usage: 'izo fsck IMAGE', options: FSCK_OPTIONS, run: fsckRun,
    summary: 'check an image, read-only (exit 0 clean, 4 problems found, 8 cannot check)',
  },
  {
    name: 'sh',
    usage: 'izo sh IMAGE [--status] [--verbose] [--data-mode ordered|journal|writeback] [--no-barrier] [--errors E] '
      + '[--crash-after-writes N] [--seed S] [--ext3] [--script FILE | < SCRIPT]',
    summary: 'run the command language (docs/commands.md) on an image (through presto if it has filesets, '
      + 'unless --ext3); unmount cleanly, or stop the world after N writes; exit 1 if a command failed',
    options: SH_OPTIONS, run: shRun,
  },
  {
    name: 'mkfs',
    usage: 'izo mkfs IMAGE [--size 16M] [--block-size 1024|2048|4096] [--inodes N] [--label L] '
      + '[--journal-blocks N | --no-journal] [--seed S] [--fileset NAME]',
    summary: 'make an ext3 image (ext2 with --no-journal); --fileset: InterMezzo-ready, fileset NAME at / (mkizofs)',
    options: MKFS_OPTIONS, run: mkfsRun,
  },
  { name: 'ls', usage: 'izo ls IMAGE [PATH] [-l]', summary: 'list a directory of an image', options: LS_OPTIONS, run: lsRun },
  { name: 'cat', usage: 'izo cat IMAGE PATH', summary: 'print a file of an image', options: {}, run: catRun },
  {
    name: 'stat', usage: 'izo stat IMAGE PATH', options: {}, run: statRun,
    summary: 'attributes of a path in an image (and its extended attributes), as JSON',
  },
];
