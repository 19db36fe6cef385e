/**
 * super.ts: mounting InterMezzo: presto stacked on a cache file system (Linux fs/intermezzo/super.c
 * and cache.c: presto_read_super, presto_put_super).
 *
 * Layer: fs (presto). Interface: `intermezzo_fs_type`, registered with a kernel next to the cache
 * file system types it stacks on, mounted as `mount -t intermezzo -o cache_type=ext3,fileset=NAME
 * DEV DIR`. Options: `cache_type=` ext3 (default), ext2 or ramfs (then no device); `fileset=NAME`
 * creates fileset NAME at the cache's root if it does not exist; `channel=N` the psdev channel
 * (0..15) lento reads for this cache; `nosteal` makes filesets refuse writes (EROFS) rather than
 * steal the permit when lento is absent; anything else goes to the cache file system (`data=journal`).
 * Read_super mounts the cache type on the same super block, points its tables at presto's (one
 * filter per cache type, so c2c always finds the cache's own operations), makes the cache and its
 * internal mount and process, creates `/.intermezzo` and sets up every fileset under it.
 * Invariants: presto_get_cache(sb) is set from the end of read_super until put_super; put_super
 * closes every fileset before the cache file system's own put_super runs.
 */
import { EINVAL, ENODEV, isErr, type Errno } from '../../kernel/errno.ts';
import { FilterFs } from '../../kernel/filter.ts';
import { makeCred, VfsMount, type FileSystemType, type SuperBlock, type SuperOperations } from '../../kernel/fs.ts';
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { Process } from '../../kernel/process.ts';
import { MAX_CHANNELS } from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import { presto_iops } from './dir.ts';
import { presto_fops } from './file.ts';
import {
  izo_cleanup_fileset,
  izo_make_fileset,
  izo_make_izo_dir,
  izo_setup_filesets,
  valid_fset_name,
} from './fileset.ts';
import { presto_get_cache, presto_kernel, presto_psdev, presto_set_cache, PrestoCache } from './intermezzo_fs.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import { presto_ioctl_fops } from './ioctl.ts';
import { journalOpsFor, presto_init_space } from './journal_ops.ts';
import { FSET_STEAL_PERMIT } from './permit.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'presto.mount': { cache_type: string; channel: number; filesets: string[] };
    'presto.refused': { reason: string };
  }
}

export interface PrestoMountOptions {
  readonly cache_type: string;
  readonly fileset: string | null;
  readonly channel: number;
  readonly steal: boolean;
  /** Options for the cache file system. */
  readonly rest: string;
}

/** Parse intermezzo's mount options; a string says what is wrong. */
export function presto_parse_options(data: string): PrestoMountOptions | string {
  let cache_type = 'ext3';
  let fileset: string | null = null;
  let channel = 0;
  let steal = true;
  const rest: string[] = [];
  for (const opt of data.split(',').filter((o) => o !== '')) {
    const eq = opt.indexOf('=');
    const [key, value] = eq < 0 ? [opt, ''] : [opt.slice(0, eq), opt.slice(eq + 1)];
    if (key === 'cache_type') cache_type = value;
    else if (key === 'fileset') {
      if (!valid_fset_name(value)) return `fileset name '${value}' is not one path component`;
      fileset = value;
    } else if (key === 'channel') {
      channel = Number(value);
      if (!/^\d+$/.test(value) || channel >= MAX_CHANNELS) return `channel '${value}' is not 0..${MAX_CHANNELS - 1}`;
    } else if (key === 'nosteal') steal = false;
    else rest.push(opt);
  }
  if (journalOpsFor(cache_type) === null) return `cache_type '${cache_type}' is not ext3, ext2 or ramfs`;
  return { cache_type, fileset, channel, steal, rest: rest.join(',') };
}

/** The filter for one cache type in kernel `k`: its c2u tables are presto's wrappers over that type's. */
export function presto_filter(k: Kernel, cacheType: string): FilterFs {
  const filters = presto_kernel(k).filters;
  let f = filters.get(cacheType);
  if (f === undefined) {
    f = new FilterFs({
      name: `presto/${cacheType}`,
      iops: (kind, low) => presto_iops(kind, low),
      fops: (kind, low) => ({ ...presto_fops(kind, low), ...presto_ioctl_fops(kind) }),
      sops: (low) => presto_sops(low),
    });
    filters.set(cacheType, f);
  }
  return f;
}

function presto_sops(low: SuperOperations): Partial<SuperOperations> {
  return {
    *put_super(sb: SuperBlock): Sys<void> {
      yield* presto_put_super(sb);
      if (low.put_super !== undefined) yield* low.put_super(sb);
    },
  };
}

function* presto_put_super(sb: SuperBlock): Sys<void> {
  const cache = presto_get_cache(sb);
  if (cache === null) return;
  for (const fset of [...cache.filesets.values()]) yield* izo_cleanup_fileset(fset, cache.kproc);
  presto_set_cache(sb, null);
}

function* presto_read_super(sb: SuperBlock, dev: BlockDevice | null, data: string): Sys<0 | Errno> {
  const opts = presto_parse_options(data);
  const k = sb.s_kernel;
  if (typeof opts === 'string') {
    k.tracer.emit('presto.refused', { reason: opts });
    return EINVAL;
  }
  const lower = k.fsTypes.get(opts.cache_type);
  const jops = journalOpsFor(opts.cache_type);
  if (lower === undefined || jops === null) return ENODEV;
  const r = yield* lower.read_super(sb, dev, opts.rest);
  if (isErr(r)) return r;
  const filter = presto_filter(k, opts.cache_type);
  filter.filter_super(sb);
  const root = sb.s_root;
  if (root === null) return EINVAL;
  const mnt = new VfsMount(sb, root, root, null, 'presto');
  mnt.mnt_parent = mnt;
  const path = { mnt, dentry: root };
  // presto's own process: root, with the cache's root as / (pid 0 is never a user process).
  const kproc = new Process(k, 0, 'presto', makeCred(0, 0, [0]), path, path);
  const psdev = presto_psdev(k);
  const cache = new PrestoCache(sb, jops, psdev, psdev.channel(opts.channel), kproc, filter);
  cache.mnt = mnt;
  presto_init_space(cache);
  presto_set_cache(sb, cache);
  const flags = opts.steal ? FSET_STEAL_PERMIT : 0;
  cache.fsetFlags = flags;
  const done = yield* setup(cache, opts, flags);
  if (isErr(done)) {
    const put = sb.s_op.put_super;
    if (put !== undefined) yield* put(sb);
    return done;
  }
  k.tracer.emit('presto.mount', {
    cache_type: opts.cache_type,
    channel: opts.channel,
    filesets: [...cache.filesets.keys()],
  });
  return 0;
}

function* setup(cache: PrestoCache, opts: PrestoMountOptions, flags: number): Sys<0 | Errno> {
  const m = yield* izo_make_izo_dir(cache);
  if (isErr(m)) return m;
  const s = yield* izo_setup_filesets(cache, flags);
  if (isErr(s)) return s;
  if (opts.fileset !== null && !cache.filesets.has(opts.fileset)) {
    const f = yield* izo_make_fileset(cache, opts.fileset, '/', flags);
    if (isErr(f)) return f;
  }
  return 0;
}

/** Does this mount need a device? Bad options need none: read_super reports them (EINVAL). */
function needsDevice(data: string): boolean {
  const o = presto_parse_options(data);
  return typeof o !== 'string' && o.cache_type !== 'ramfs';
}

export const intermezzo_fs_type: FileSystemType = {
  name: 'intermezzo',
  requiresDev: true,
  requiresDevFor: needsDevice,
  read_super: presto_read_super,
};
