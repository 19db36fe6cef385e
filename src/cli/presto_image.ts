/**
 * presto_image.ts: images with InterMezzo filesets, for the tools: making a fileset on a fresh
 * image (`izo mkfs --fileset`), telling whether an image has filesets (so `izo sh` mounts it
 * through presto), and reading a fileset's logs without changing the image (`izo kml`).
 *
 * Layer: user-space tools (builds one-host worlds; never saves an image itself: the caller does).
 * Interface: `prestoHost(dev, seed)` is a host whose kernel knows ext3, ext2 and intermezzo, with
 * `dev` as /dev/hda; `mountOrFail(host, type, data, what)` mounts the root or throws an ImageError
 * naming the errno; `makeFileset(dev, name, seed)` mounts `dev` through presto with `fileset=NAME`
 * once (which creates /.intermezzo/NAME/{ROOT,kml,lml,last_rcvd}) and unmounts cleanly;
 * `plainMount(dev, what)` mounts it as plain ext3 for reading; `listFilesets(mount)` and
 * `imageFilesets(dev, what)` list the directories under /.intermezzo; `readFilesetLogs(mount, name,
 * what)` reads a fileset's kml, lml and last_rcvd through the VFS.
 * Plain mounts are read-only, except when the journal needs recovery: then the mount is read-write
 * on the in-memory copy (recovery replays the journal there) and the result says so. Invariant:
 * nothing here writes to a file; a device given to imageFilesets or readFilesetLogs may be changed
 * in memory (recovery) and must not be saved afterwards.
 * Counterpart: the original's mkizofs script and lento's `kml` dumping (kml_unpack.c's printers).
 */
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISDIR } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import { sys_lstat } from '../../kernel/syscalls.ts';
import { COMPAT_HAS_JOURNAL } from '../../fs/ext3/ext3_fs.ts';
import { ext2_fs_type, ext3_check_super, ext3_fs_type } from '../../fs/ext3/super.ts';
import { intermezzo_fs_type } from '../../fs/intermezzo/super.ts';
import { World, type Host } from '../../sim/host.ts';
import { ImageError } from '../image.ts';
import { read_dir, read_file } from '../libc.ts';

/** The directory presto keeps its filesets in, at the cache's root. */
export const IZO_DIR = '/.intermezzo';

/**
 * A one-host world whose kernel can mount ext3, ext2 and intermezzo, with `dev` as /dev/hda.
 * Damage the file system finds while a tool runs (ext3_error) is said on stderr as the kernel
 * log would say it: `EXT3-fs error (device hda): function: what`.
 */
export function prestoHost(dev: BlockDevice, seed = 0): Host {
  const world = new World({ seed });
  const host = world.addHost('izo');
  world.trace.listen((r) => {
    if (r.ev !== 'ext3.error') return;
    const e = r.data as { dev: string; fn: string; message: string; action: string };
    const then = e.action === 'remount-ro' ? ' (remounted read-only)' : '';
    process.stderr.write(`EXT3-fs error (device ${e.dev}): ${e.fn}: ${e.message}${then}\n`);
  });
  host.registerFs(ext3_fs_type);
  host.registerFs(ext2_fs_type);
  host.registerFs(intermezzo_fs_type);
  host.addDisk('hda', dev);
  return host;
}

/**
 * Mount /dev/hda as the root, or an ImageError naming `what`, the type, the errno and why (the
 * refusal ext3 traced, or the damaged log presto found, with its offset).
 */
export function mountOrFail(host: Host, type: string, data: string, what: string): void {
  const why: string[] = [];
  host.world.trace.listen((r) => {
    if (r.ev === 'ext3.refused') why.push((r.data as { reason: string }).reason);
    if (r.ev === 'presto.log_damage') {
      const d = r.data as { fset: string; log: string; offset: number; reason: string };
      why.push(`fileset ${d.fset}: its ${d.log} is damaged at byte ${d.offset}: ${d.reason}`);
    }
  });
  const r: 0 | Errno = host.runKernel(host.kernel.mount_root(type, '/dev/hda', data));
  if (isErr(r)) {
    const because = why.length === 0 ? '' : ` (${why.join('; ')})`;
    throw new ImageError(`${what}: mounting it as ${type} (${data}) failed: ${errnoName(r)}${because}`);
  }
}

/** Whether the image's file system has a journal: then presto's cache is ext3, else ext2. */
export function cacheTypeOf(dev: BlockDevice, what: string): 'ext3' | 'ext2' {
  const sb = ext3_check_super(dev, true);
  if (typeof sb === 'string') throw new ImageError(`${what}: ${sb}`);
  return (sb.featureCompat & COMPAT_HAS_JOURNAL) !== 0 ? 'ext3' : 'ext2';
}

/**
 * Create fileset `name` rooted at / on a freshly made image: mount it through presto with
 * `fileset=NAME` once, then shut down cleanly (the caller saves `dev`).
 */
export function makeFileset(dev: BlockDevice, name: string, seed = 0): void {
  const host = prestoHost(dev, seed);
  mountOrFail(host, 'intermezzo', `cache_type=${cacheTypeOf(dev, dev.name)},fileset=${name}`, dev.name);
  host.shutdown();
}

/** A plain (ext3 or ext2) mount for reading: read-only, or read-write in memory to recover. */
export interface PlainMount {
  readonly host: Host;
  readonly proc: Process;
  /** The journal needed recovery: it was replayed in memory only. */
  readonly recovered: boolean;
}

export function plainMount(dev: BlockDevice, what: string): PlainMount {
  const ok = ext3_check_super(dev, true);
  if (typeof ok === 'string') throw new ImageError(`${what}: ${ok}`);
  const recovered = typeof ext3_check_super(dev, false) === 'string';
  const host = prestoHost(dev);
  mountOrFail(host, 'ext3', recovered ? '' : 'ro', what);
  return { host, proc: host.process('izo'), recovered };
}

/** The filesets of a mounted cache: the directories under /.intermezzo, sorted bytewise. */
export function listFilesets(m: PlainMount): string[] {
  const { host, proc } = m;
  const ents = host.run(proc, read_dir(proc, IZO_DIR));
  if (isErr(ents)) return [];
  const names: string[] = [];
  for (const e of ents) {
    const st = host.run(proc, sys_lstat(proc, `${IZO_DIR}/${e.d_name}`));
    if (!isErr(st) && S_ISDIR(st.st_mode)) names.push(e.d_name);
  }
  return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The filesets of an image (none if it has no /.intermezzo). `dev` must not be saved after. */
export function imageFilesets(dev: BlockDevice, what: string): string[] {
  return listFilesets(plainMount(dev, what));
}

export interface FilesetLogs {
  readonly kml: Uint8Array;
  readonly lml: Uint8Array;
  readonly last_rcvd: Uint8Array;
}

/** The longest log read whole (presto refuses a longer one at set-up too). */
const LOG_READ_MAX = 1 << 30;

/** Read one fileset's three logs through a mount; a missing or unreadable log is an ImageError. */
export function readFilesetLogs(m: PlainMount, name: string, what: string): FilesetLogs {
  const read = (log: string): Uint8Array => {
    const st = m.host.run(m.proc, sys_lstat(m.proc, `${IZO_DIR}/${name}/${log}`));
    if (!isErr(st) && st.st_size > LOG_READ_MAX) {
      const where = `${IZO_DIR}/${name}/${log}`;
      throw new ImageError(`${what}: ${where} is ${st.st_size} bytes, more than ${LOG_READ_MAX} (damaged?)`);
    }
    const data = m.host.run(m.proc, read_file(m.proc, `${IZO_DIR}/${name}/${log}`));
    if (typeof data === 'number') {
      throw new ImageError(`${what}: cannot read ${IZO_DIR}/${name}/${log}: ${errnoName(data as Errno)}`);
    }
    return data;
  };
  return { kml: read('kml'), lml: read('lml'), last_rcvd: read('last_rcvd') };
}
