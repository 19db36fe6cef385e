/**
 * intermezzo_fs.ts: presto's objects: the cache (one mounted InterMezzo file system), the fileset
 * and its log descriptors, per-dentry cache flags, and the lookups that tie them to VFS objects
 * (Linux include/linux/intermezzo_fs.h, fs/intermezzo/cache.c and the lookup half of fileset.c).
 *
 * Layer: fs (presto). Interface: `presto_get_cache(sb)` finds the cache of a super block;
 * `presto_fset(dentry)` the fileset a dentry belongs to: its nearest ancestor that roots one, or
 * null for anything under `/.intermezzo` (never logged) and for dentries outside every fileset;
 * `presto_d2d(dentry)` the dentry's presto data (DATA/ATTR/DONT_JOURNAL flags, remote ino and
 * generation for data on demand); `presto_getversion(inode)` the version a record carries;
 * `presto_path(dentry, root)` a path relative to the fileset root, as the KML stores it.
 * Invariants: a fileset's root dentry is pinned while the cache is mounted; every log descriptor's
 * offset is at or past the end of its file's last record.
 */
import { assert } from '../../kernel/assert.ts';
import type { Dentry, File, Inode, SuperBlock, VfsMount } from '../../kernel/fs.ts';
import type { FilterFs } from '../../kernel/filter.ts';
import type { Kernel, KernelSlot } from '../../kernel/kernel.ts';
import type { Process } from '../../kernel/process.ts';
import { Psdev, type UpcallChannel } from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import type { Errno } from '../../kernel/errno.ts';
import type { WaitQueue } from '../../kernel/sched.ts';
import type { PrestoVersion } from './kml.ts';
import type { PermitHolder } from './permit.ts';

/** Per-dentry flags (presto_dentry_data.dd_flags). */
export const PRESTO_ATTR = 0x1;
export const PRESTO_DATA = 0x2;
export const PRESTO_DONT_JOURNAL = 0x4;

/** Per-cache flags. */
export const CACHE_CLIENT_RO = 0x1;
export const CACHE_LENTO_RO = 0x2;

/** What to mark, in the MARK ioctl (intermezzo_idl.h). */
export const MARK_DENTRY = 101;
export const MARK_FSET = 102;
export const MARK_CACHE = 103;
export const MARK_GETFL = 104;

/** The directory holding every fileset's logs, in the root of the cache file system. */
export const IZO_DIR = '.intermezzo';

/** The journal operations a cache file system provides (struct journal_ops). */
export interface JournalOps {
  readonly name: string;
  /** Free blocks an allocation can take now (presto reserves its records' blocks from these). */
  tr_avail(sb: SuperBlock): number;
  /** Free blocks that only a commit makes allocatable (freed by a transaction still uncommitted). */
  tr_freeing(sb: SuperBlock): number;
  /** Hold back `blocks` from every allocation but the log files' (presto_reserve_space's hold). */
  tr_hold(sb: SuperBlock, blocks: number): void;
  /** Make `inode` a log file: it allocates from the blocks held back. */
  tr_log_file(inode: Inode): void;
  /** Blocks writing these byte ranges of `inode` would allocate (data holes and indirect blocks). */
  tr_blocks_needed(inode: Inode, ranges: ReadonlyArray<readonly [number, number]>): number | Errno;
  /** Open one transaction of `credits` buffers; it must be closed by tr_commit. */
  tr_start(sb: SuperBlock, credits: number): Sys<TransHandle | Errno>;
  tr_commit(h: TransHandle): Sys<0 | Errno>;
  /** Make this file's data commit with the metadata (the log files). */
  tr_journal_data(inode: Inode): Sys<0 | Errno>;
  /** Open by inode number and generation (ENOENT if gone or reused). */
  tr_ilookup(sb: SuperBlock, ino: number, generation: number): Sys<Inode | Errno>;
  /** Is every block of the file present (no holes)? */
  tr_all_data(inode: Inode): boolean;
  /** Make everything committed so far durable (fsync of the logs). */
  tr_sync(sb: SuperBlock): Sys<0 | Errno>;
}

/** An open transaction of the cache file system (a dummy one on ramfs). */
export interface TransHandle {
  readonly sb: SuperBlock;
  readonly real: unknown;
}

/** One log file of a fileset and where the next record goes (presto_log_fd). */
export interface LogFd {
  readonly name: 'kml' | 'lml' | 'last_rcvd';
  file: File;
  /** Physical byte offset where the next record goes. */
  offset: number;
  /** The number of the last record written. */
  recno: number;
}

export class PrestoCache {
  readonly filesets = new Map<string, Fileset>();
  flags = 0;
  /** The flags a fileset starts with (STEAL_PERMIT unless mounted `nosteal`). */
  fsetFlags = 0;
  /** An internal mount of the cache (kern_mount), for files presto opens itself. */
  mnt: VfsMount | null = null;
  /** The uid besides root allowed to issue presto's ioctls (the original's configurable owner). */
  ioctl_uid = 0;
  /**
   * Space held back (cache_reserved), in blocks: `removal_reserve` only removals and records that
   * must not be lost may use (as ext3 keeps blocks for root); `close_held`, the CLOSE records of
   * files written and not yet closed. See presto_reserve_space (journal_ops.ts).
   */
  removal_reserve = 0;
  close_held = 0;
  constructor(
    readonly sb: SuperBlock,
    readonly jops: JournalOps,
    readonly psdev: Psdev,
    /** The psdev channel lento reads for this cache (SET_CHANNEL moves it). */
    public channel: UpcallChannel,
    /** The process presto acts as for its own files (root, the cache's root as / and cwd). */
    readonly kproc: Process,
    /** The filter's tables: c2c gives the cache file system's own operations. */
    readonly filter: FilterFs,
  ) {}
}

export class Fileset implements PermitHolder {
  flags: number;
  permitCount = 0;
  readonly psdev: Psdev;
  /** Logical offset of byte 0 of the current kml file (grows when the head is cut). */
  kml_logical_off = 0;
  /** Where lento has been told the KML ends (the KML upcall's range starts here). */
  lento_off = 0;
  lento_recno = 0;
  /** Ask user space to cut the KML head once it grows past this (0: never). */
  kml_truncate_size = 0;
  truncating = false;
  /** With JCLOSE_ON_WRITE, an interim CLOSE every this many bytes written to a long-open file. */
  file_maxio = 1 << 20;
  /** The LML holds closes that found no space for their KML record at mount (logged first). */
  lml_deferred = false;
  constructor(
    readonly name: string,
    readonly cache: PrestoCache,
    /** The fileset's root (pinned). */
    readonly root: Dentry,
    /** `/.intermezzo/<name>` (pinned). */
    readonly dir: Dentry,
    readonly kml: LogFd,
    readonly lml: LogFd,
    readonly rcvd: LogFd,
    flags: number,
    readonly permitWait: WaitQueue,
  ) {
    this.flags = flags;
    this.psdev = cache.psdev;
  }

  get channel(): UpcallChannel {
    return this.cache.channel;
  }
}

/** presto_dentry_data. */
export interface PrestoDentryData {
  flags: number;
  /** Set on the root dentry of a fileset. */
  fset: Fileset | null;
  /** Data on demand: the server's inode for this file, to fetch from. */
  remote_ino: number;
  remote_generation: number;
}

/**
 * presto's state in one kernel (the original's module-wide tables: the cache hash, the psdev
 * device, one filter per cache type). Each kernel has its own, so hosts in one world share nothing.
 */
export interface PrestoKernel {
  readonly caches: Map<SuperBlock, PrestoCache>;
  /** /dev/intermezzo, created and registered with the first InterMezzo mount. */
  psdev: Psdev | null;
  /** One filter per cache type: its c2u tables are presto's wrappers over that type's. */
  readonly filters: Map<string, FilterFs>;
}

const PRESTO: KernelSlot<PrestoKernel> = {
  name: 'presto',
  init: () => ({ caches: new Map(), psdev: null, filters: new Map() }),
};

export function presto_kernel(k: Kernel): PrestoKernel {
  return k.slot(PRESTO);
}

export function presto_set_cache(sb: SuperBlock, c: PrestoCache | null): void {
  const caches = presto_kernel(sb.s_kernel).caches;
  if (c === null) caches.delete(sb);
  else caches.set(sb, c);
}

export function presto_get_cache(sb: SuperBlock): PrestoCache | null {
  return presto_kernel(sb.s_kernel).caches.get(sb) ?? null;
}

/** The kernel's /dev/intermezzo (created and registered with the first InterMezzo mount). */
export function presto_psdev(k: Kernel): Psdev {
  const pk = presto_kernel(k);
  if (pk.psdev === null) {
    const p = new Psdev(k);
    assert(p.register() === 0, 'the misc character major is taken');
    pk.psdev = p;
  }
  return pk.psdev;
}

export function presto_d2d(d: Dentry): PrestoDentryData {
  let dd = d.d_fsdata as PrestoDentryData | null;
  if (dd === null) {
    dd = { flags: PRESTO_ATTR | PRESTO_DATA, fset: null, remote_ino: 0, remote_generation: 0 };
    d.d_fsdata = dd;
  }
  return dd;
}

/** Is `d` the `.intermezzo` directory itself or inside it? */
export function presto_is_izo(d: Dentry): boolean {
  for (let cur: Dentry | null = d; cur !== null; cur = cur.d_parent) {
    if (cur.d_parent !== null && cur.d_parent.isRoot && cur.d_name === IZO_DIR) return true;
  }
  return false;
}

/** The logs presto keeps for each fileset under `/.intermezzo/<fset>/`. */
export const PRESTO_LOGS: readonly string[] = ['kml', 'lml', 'last_rcvd'];

/**
 * The fileset whose log `d` is (`/.intermezzo/<fset>/kml`, `lml` or `last_rcvd` of a fileset set
 * up on this cache), or null. Those files are presto's: ordinary system calls may read them only.
 */
export function presto_log_owner(d: Dentry): Fileset | null {
  const dir = d.d_parent;
  const izo = dir?.d_parent;
  if (dir == null || izo == null || !PRESTO_LOGS.includes(d.d_name)) return null;
  if (izo.d_name !== IZO_DIR || izo.d_parent === null || !izo.d_parent.isRoot) return null;
  const cache = d.d_inode === null ? null : presto_get_cache(d.d_inode.i_sb);
  return cache?.filesets.get(dir.d_name) ?? null;
}

/** The fileset of `d`: the nearest ancestor (or `d`) that roots one; null under .intermezzo. */
export function presto_fset(d: Dentry): Fileset | null {
  if (presto_is_izo(d)) return null;
  for (let cur: Dentry | null = d; cur !== null; cur = cur.d_parent) {
    const dd = cur.d_fsdata as PrestoDentryData | null;
    if (dd?.fset != null) return dd.fset;
  }
  return null;
}

export function presto_getversion(inode: Inode): PrestoVersion {
  return {
    mtime_sec: inode.i_mtime.sec,
    mtime_nsec: inode.i_mtime.nsec,
    ctime_sec: inode.i_ctime.sec,
    ctime_nsec: inode.i_ctime.nsec,
    size: inode.i_size,
  };
}

/** `d`'s path below `root`, starting with '/' ("/" for the root itself). */
export function presto_path(d: Dentry, root: Dentry): string {
  const parts: string[] = [];
  for (let cur: Dentry | null = d; cur !== null && cur !== root; cur = cur.d_parent) parts.push(cur.d_name);
  return `/${parts.reverse().join('/')}`;
}

/** Equal versions, as a receiver compares them: mtime, and size unless `dir`. */
export function versions_match(a: PrestoVersion, b: PrestoVersion, dir: boolean): boolean {
  return a.mtime_sec === b.mtime_sec && a.mtime_nsec === b.mtime_nsec && (dir || a.size === b.size);
}
