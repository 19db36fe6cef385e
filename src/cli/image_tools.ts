/**
 * image_tools.ts: `izo mkfs`, `izo ls`, `izo cat`, `izo stat`: making an image and looking inside
 * one through the simulated kernel (the image is mounted read-only in a one-host world; the tools
 * make the same system calls a process would).
 *
 * Exit status: 0 success; 1 the path could not be read (the errno is named); 2 bad usage; 8 the
 * image cannot be used (named: missing, wrong size, unsupported feature, needs recovery).
 */
import { parseArgs } from 'node:util';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { BlockDevice, isBlockSize, PowerCut } from '../../kernel/blkdev.ts';
import { Prng } from '../../sim/prng.ts';
import { errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISDIR, type Inode, type Stat } from '../../kernel/fs.ts';
import { path_lookup } from '../../kernel/namei.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_lstat } from '../../kernel/syscalls.ts';
import { ext3_check_super, ext3_fs_type } from '../../fs/ext3/super.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { EXT3_I } from '../../fs/ext3/inode.ts';
import { ext3_xattr_list } from '../../fs/ext3/xattr.ts';
import { EPOCH_BASE_SEC } from '../../kernel/types.ts';
import { World, type Host } from '../../sim/host.ts';
import { ImageError, loadImage, saveImage } from '../image.ts';
import { read_dir, read_file } from '../libc.ts';
import { formatParseErrors, parseScript, runScript, statJson } from '../sh.ts';
import type { Process } from '../../kernel/process.ts';
import { UsageError, type Subcommand } from './command.ts';
import { valid_fset_name } from '../../fs/intermezzo/fileset.ts';
import { cacheTypeOf, imageFilesets, makeFileset, mountOrFail, prestoHost } from './presto_image.ts';

const SIZE = /^([1-9][0-9]*)([KMG]?)$/;

export function parseSize(s: string): number {
  const m = SIZE.exec(s);
  if (m === null) throw new UsageError(`size must be a number of bytes with an optional K, M or G, got '${s}'`);
  return Number(m[1]) * ({ '': 1, K: 1024, M: 1 << 20, G: 1 << 30 } as Record<string, number>)[m[2] ?? '']!;
}

/** The block size recorded in an image's superblock (it sits at byte 1024 whatever the size). */
export function imageBlockSize(path: string): number {
  if (!existsSync(path)) throw new ImageError(`${path}: no such image`);
  const probe = loadImage(path, 1024, path);
  const sb = new Uint8Array(1024);
  probe.read(1, sb);
  const log = new DataView(sb.buffer).getUint32(0x18, true);
  const bs = 1024 << log;
  if (!isBlockSize(bs) || statSync(path).size % bs !== 0) throw new ImageError(`${path}: not an ext2/ext3 image (no valid block size in its superblock)`);
  return bs;
}

/** Mount an image (read-only unless `rw`) in a fresh world; an ImageError if it cannot be. */
export function openImage(path: string, rw = false): { host: Host; proc: Process; dev: BlockDevice } {
  const bs = imageBlockSize(path);
  const dev = loadImage(path, bs, 'image');
  const why = ext3_check_super(dev);
  if (typeof why === 'string') throw new ImageError(`${path}: ${why}`);
  const host = new World({ seed: 0 }).addHost('izo');
  host.registerFs(ext3_fs_type);
  host.addDisk('hda', dev);
  host.mountRoot('ext3', 'hda', rw ? '' : 'ro');
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

export const IMAGE_COMMANDS: Subcommand[] = [
  {
    name: 'fsck',
    usage: 'izo fsck IMAGE',
    summary: 'check an image, read-only (exit 0 clean, 4 problems found, 8 cannot check)',
    run(args) {
      const [image, ...rest] = args;
      if (image === undefined || rest.length > 0) throw new UsageError('fsck takes exactly one IMAGE');
      const dev = loadImage(image, imageBlockSize(image), 'image');
      const problems = fsck(dev);
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
    },
  },
  {
    name: 'sh',
    usage: 'izo sh IMAGE [--status] [--data-mode ordered|journal|writeback] [--no-barrier] '
      + '[--crash-after-writes N] [--seed S] [--ext3] < SCRIPT',
    summary: 'run the command language (docs/commands.md) on an image (through presto if it has filesets, '
      + 'unless --ext3); unmount cleanly, or stop the world after N writes',
    run(args) {
      const { values, positionals } = parseArgs({
        args, allowPositionals: true,
        options: {
          status: { type: 'boolean', default: false }, 'data-mode': { type: 'string', default: 'ordered' },
          'no-barrier': { type: 'boolean', default: false }, 'crash-after-writes': { type: 'string' },
          seed: { type: 'string', default: '1' }, ext3: { type: 'boolean', default: false },
        },
      });
      const [image, ...rest] = positionals;
      if (image === undefined || rest.length > 0) throw new UsageError('sh takes exactly one IMAGE (the script comes on standard input)');
      const mode = values['data-mode'];
      if (mode !== 'ordered' && mode !== 'journal' && mode !== 'writeback') {
        throw new UsageError(`--data-mode must be ordered, journal or writeback, got '${mode}'`);
      }
      const cut = values['crash-after-writes'];
      if (cut !== undefined && !/^[1-9][0-9]*$/.test(cut)) throw new UsageError(`--crash-after-writes must be a positive number, got '${cut}'`);
      if (!/^[0-9]+$/.test(values.seed)) throw new UsageError(`--seed must be a non-negative integer, got '${values.seed}'`);
      const parsed = parseScript(readFileSync(0, 'utf8'), '<stdin>');
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
      const presto = !values.ext3 && imageFilesets(loadImage(image, bs, 'image'), image).length > 0;
      if (cut !== undefined) dev.cutPowerAfterWrites(Number(cut));
      const host = prestoHost(dev, Number(values.seed));
      // Output goes out as each command ends (a cat streams: a file past 4 GiB too).
      const out = { status: values.status, write: (chunk: string | Uint8Array) => void process.stdout.write(chunk) };
      try {
        const data = `data=${mode}${values['no-barrier'] ? ',barrier=0' : ''}`;
        if (presto) mountOrFail(host, 'intermezzo', `cache_type=${cacheTypeOf(dev, image)},${data}`, image);
        else host.mountRoot('ext3', 'hda', data);
        const proc = host.process('izo');
        host.run(proc, runScript(proc, parsed.commands, out));
        host.shutdown();
      } catch (e) {
        if (!(e instanceof PowerCut)) throw e;
        const crashed = dev.crash({ random: Prng.fromSeed(Number(values.seed)).stream('crash') });
        saveImage(image, crashed);
        process.stderr.write(`izo sh: ${image}: power cut after write ${cut}; the image is left as the crash left it (run izo recover, or mount it)\n`);
        return 0;
      }
      saveImage(image, dev);
      return 0;
    },
  },
  {
    name: 'mkfs',
    usage: 'izo mkfs IMAGE [--size 16M] [--block-size 1024|2048|4096] [--inodes N] [--label L] '
      + '[--journal-blocks N | --no-journal] [--seed S] [--fileset NAME]',
    summary: 'make an ext3 image (ext2 with --no-journal); --fileset: InterMezzo-ready, fileset NAME at / (mkizofs)',
    run(args) {
      const { values, positionals } = parseArgs({
        args, allowPositionals: true,
        options: {
          size: { type: 'string', default: '16M' }, 'block-size': { type: 'string', default: '1024' }, inodes: { type: 'string' },
          label: { type: 'string', default: '' }, 'journal-blocks': { type: 'string', default: '1024' }, 'no-journal': { type: 'boolean', default: false },
          seed: { type: 'string', default: '1' }, fileset: { type: 'string' },
        },
      });
      const [path, ...rest] = positionals;
      if (path === undefined || rest.length > 0) throw new UsageError('mkfs takes exactly one IMAGE');
      const fset = values.fileset;
      if (fset !== undefined && (!valid_fset_name(fset) || fset.includes(','))) {
        throw new UsageError(`--fileset must be one path component (no comma, not . or .., at most 64 bytes), got '${fset}'`);
      }
      const bs = Number(values['block-size']);
      if (!isBlockSize(bs)) throw new UsageError(`--block-size must be 1024, 2048 or 4096, got '${values['block-size']}'`);
      const size = parseSize(values.size);
      if (size % bs !== 0) throw new UsageError(`--size ${values.size} is not a multiple of the block size ${bs}`);
      const uuid = new Uint8Array(16);
      const world = new World({ seed: Number(values.seed) });
      world.rng.stream('mkfs/uuid').fill(uuid);
      const dev = new BlockDevice({ name: 'image', blockSize: bs, blocks: size / bs });
      const geo = mkfs(dev, {
        blockSize: bs, uuid, time: EPOCH_BASE_SEC, label: values.label,
        journalBlocks: values['no-journal'] ? 0 : Number(values['journal-blocks']),
        ...(values.inodes !== undefined ? { inodes: Number(values.inodes) } : {}),
      });
      if (typeof geo === 'string') {
        process.stderr.write(`izo mkfs: ${path}: ${geo}\n`);
        return 8;
      }
      if (fset !== undefined) makeFileset(dev, fset, Number(values.seed));
      saveImage(path, dev);
      const kind = values['no-journal'] ? 'ext2' : 'ext3';
      const izo = fset === undefined ? '' : `, InterMezzo fileset ${fset} at /`;
      process.stdout.write(`${path}: ${kind}, ${geo.blocks} blocks of ${bs}, ${geo.groups} groups, ${geo.inodesPerGroup * geo.groups} inodes${izo}\n`);
      return 0;
    },
  },
  {
    name: 'ls',
    usage: 'izo ls IMAGE [PATH] [-l]',
    summary: 'list a directory of an image',
    run(args) {
      const { values, positionals } = parseArgs({ args, allowPositionals: true, options: { l: { type: 'boolean', short: 'l', default: false } } });
      const [image, path = '/', ...rest] = positionals;
      if (image === undefined || rest.length > 0) throw new UsageError('ls takes IMAGE and at most one PATH');
      const { host, proc } = openImage(image);
      const st = host.run(proc, sys_lstat(proc, bytes(path)));
      if (isErr(st)) return fail('ls', path, st);
      const entries: Array<[string, Stat]> | number = S_ISDIR(st.st_mode) ? host.run(proc, listDir(proc, bytes(path))) : [[bytes(path), st]];
      if (typeof entries === 'number') return fail('ls', path, entries);
      for (const [name, s] of entries) process.stdout.write(values.l ? longLine(utf8(name), s) : `${utf8(name)}\n`);
      return 0;
    },
  },
  {
    name: 'cat',
    usage: 'izo cat IMAGE PATH',
    summary: 'print a file of an image',
    run(args) {
      const [image, path, ...rest] = args;
      if (image === undefined || path === undefined || rest.length > 0) throw new UsageError('cat takes IMAGE and PATH');
      const { host, proc } = openImage(image);
      const data = host.run(proc, read_file(proc, bytes(path)));
      if (typeof data === 'number') return fail('cat', path, data);
      process.stdout.write(data);
      return 0;
    },
  },
  {
    name: 'stat',
    usage: 'izo stat IMAGE PATH',
    summary: 'attributes of a path in an image (and its extended attributes), as JSON',
    run(args) {
      const [image, path, ...rest] = args;
      if (image === undefined || path === undefined || rest.length > 0) throw new UsageError('stat takes IMAGE and PATH');
      const { host, proc } = openImage(image);
      const st = host.run(proc, sys_lstat(proc, bytes(path)));
      if (isErr(st)) return fail('stat', path, st);
      const extra = { ino: st.st_ino, blocks: st.st_blocks, mtime: st.st_mtime.sec, ctime: st.st_ctime.sec };
      const xattrs = host.run(proc, imageXattrs(proc, bytes(path)));
      if (isErr(xattrs)) return fail('stat', path, xattrs);
      process.stdout.write(`${JSON.stringify({ ...(statJson(st) as object), ...extra, ...xattrs })}\n`);
      return 0;
    },
  },
];
