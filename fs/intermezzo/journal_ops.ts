/**
 * journal_ops.ts: the journal operations of each cache file system presto runs over (Linux
 * fs/intermezzo/journal_ext3.c and journal_tmpfs.c), and the space presto reserves for its records
 * (cache.c's presto_reserve_space and presto_release_space).
 *
 * Layer: fs (presto). Interface: `journalOpsFor(typeName)` gives the `JournalOps` of a cache type:
 * ext3 opens real JBD handles that the ext3 operations called inside join, so an operation, its KML
 * record and its last_rcvd update commit in one transaction; ramfs (the original's tmpfs) returns
 * dummy handles: nothing there survives a crash anyway. `presto_credits(op, blocksize)` sizes a
 * transaction for an operation plus the log records it writes. `presto_in_trans(fset, what, f,
 * space)` runs `f` in one transaction after reserving the blocks `space` says its log writes need:
 * counted exactly at the logs' ends, inside the transaction (nothing else appends meanwhile), they
 * are refused with ENOSPC before anything changes when they cannot be had, and held back from the
 * cache's ordinary allocations (tr_hold) until the commit, so a record, once reserved, is always
 * written whole. The same hold keeps blocks for the CLOSE of every file written and not yet closed
 * (`presto_hold_close`) and a removal reserve that only removals may use, so `rm` works on a full
 * fileset (`presto_init_space`). The original refused early with ENOSPC below a few free
 * pages (PRESTO_REQLOW, PRESTO_REQHIGH) but held nothing back from the cache's own allocations.
 * Invariants: a handle from tr_start is closed by exactly one tr_commit, by the same caller, which
 * does not block in between (ext3's running handle belongs to the super block); the cache's hold is
 * removal_reserve + close_held outside presto's transactions, plus the running one's reservation
 * inside it.
 */
import { panic } from '../../kernel/assert.ts';
import { ENOENT, ENOSPC, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISREG, type Inode, type SuperBlock } from '../../kernel/fs.ts';
import { iget, iput, make_bad_inode } from '../../kernel/inode.ts';
import type { Sys } from '../../kernel/sched.ts';
// ext3's modules import each other; entering through super.ts evaluates them in a working order.
import { ext3_force_commit, ext3_free_blocks, ext3_journal_start, ext3_journal_stop, EXT3_SB } from '../ext3/super.ts';
import { ext3_allocatable_blocks } from '../ext3/balloc.ts';
import { EXT3_I, ext3_blocks_to_allocate, ext3_bmap, ext3_set_journal_data } from '../ext3/inode.ts';
import { EXT3_DATA_TRANS_BLOCKS, EXT3_DELETE_TRANS_BLOCKS } from '../ext3/namei.ts';
import type { Handle } from '../jbd/transaction.ts';
import type { Fileset, JournalOps, LogFd, PrestoCache, TransHandle } from './intermezzo_fs.ts';
import { kml_place, KML_MAX_RECORD } from './kml.ts';

/** Blocks a log append can touch: the record's blocks, indirect blocks, inode, bitmap, group, sb. */
function logCredits(blocksize: number): number {
  return Math.ceil(KML_MAX_RECORD / blocksize) + 1 + 3 + 4;
}

export type PrestoOp =
  | 'create'
  | 'mkdir'
  | 'mknod'
  | 'symlink'
  | 'link'
  | 'unlink'
  | 'rmdir'
  | 'rename'
  | 'setattr'
  | 'truncate'
  | 'close'
  | 'lml'
  | 'rcvd'
  | 'kml_trunc';

/** Credits for the cache operation itself, as journal_ext3.c sized them from ext3's constants. */
const OP_CREDITS: Readonly<Record<PrestoOp, number>> = {
  create: EXT3_DATA_TRANS_BLOCKS + 3,
  mkdir: EXT3_DATA_TRANS_BLOCKS + 4,
  mknod: EXT3_DATA_TRANS_BLOCKS + 3,
  symlink: EXT3_DATA_TRANS_BLOCKS + 5,
  link: EXT3_DATA_TRANS_BLOCKS,
  unlink: EXT3_DELETE_TRANS_BLOCKS,
  rmdir: EXT3_DELETE_TRANS_BLOCKS,
  rename: 2 * EXT3_DATA_TRANS_BLOCKS + EXT3_DELETE_TRANS_BLOCKS,
  setattr: 8,
  truncate: EXT3_DELETE_TRANS_BLOCKS + 64,
  close: 4,
  lml: 2,
  rcvd: 2,
  kml_trunc: 2 * EXT3_DELETE_TRANS_BLOCKS,
};

/** An operation's own credits plus room for two log records (KML and LML) and a last_rcvd update. */
export function presto_credits(op: PrestoOp, blocksize: number): number {
  return OP_CREDITS[op] + 3 * logCredits(blocksize);
}

const ext3Ops: JournalOps = {
  name: 'ext3',
  tr_avail: (sb) => ext3_allocatable_blocks(sb),
  tr_freeing: (sb) => ext3_free_blocks(sb) - ext3_allocatable_blocks(sb),
  tr_hold(sb, blocks) {
    EXT3_SB(sb).reserved = Math.max(0, blocks);
  },
  tr_log_file(inode) {
    EXT3_I(inode).fromReserve = true;
  },
  tr_blocks_needed: (inode, ranges) => ext3_blocks_to_allocate(inode, ranges),
  *tr_start(sb, credits): Sys<TransHandle | Errno> {
    const h = yield* ext3_journal_start(sb, credits);
    if (isErr(h)) return h;
    return { sb, real: h };
  },
  *tr_commit(t): Sys<0 | Errno> {
    if (t.real === null) return 0;
    return yield* ext3_journal_stop(t.sb, t.real as Handle);
  },
  tr_journal_data: (inode) => ext3_set_journal_data(inode, true),
  *tr_ilookup(sb, ino, generation): Sys<Inode | Errno> {
    const s = EXT3_SB(sb);
    if (ino < 1 || ino > s.raw.inodesCount) return ENOENT;
    const inode = yield* iget(sb, ino);
    if (isErr(inode)) return inode;
    if (inode.i_nlink === 0 || inode.i_mode === 0 || inode.i_generation !== generation) {
      // Freshly read and not live (freed, or a new generation): never let this iput delete it.
      if (inode.i_count === 1 && inode.i_nlink === 0) make_bad_inode(inode);
      yield* iput(inode);
      return ENOENT;
    }
    return inode;
  },
  tr_all_data(inode): boolean {
    if (!S_ISREG(inode.i_mode)) return true;
    const bs = EXT3_SB(inode.i_sb).blockSize;
    for (let b = 0; b * bs < inode.i_size; b++) {
      const phys = ext3_bmap(inode, b);
      if (isErr(phys) || phys === 0) return false;
    }
    return true;
  },
  tr_sync: (sb) => ext3_force_commit(sb),
};

const ramfsOps: JournalOps = {
  name: 'ramfs',
  tr_avail: () => Number.MAX_SAFE_INTEGER,
  tr_freeing: () => 0,
  tr_hold() {},
  tr_log_file() {},
  tr_blocks_needed: () => 0,
  *tr_start(sb): Sys<TransHandle | Errno> {
    return { sb, real: null };
  },
  *tr_commit(): Sys<0 | Errno> {
    return 0;
  },
  *tr_journal_data(): Sys<0 | Errno> {
    return 0;
  },
  *tr_ilookup(sb: SuperBlock, ino: number, generation: number): Sys<Inode | Errno> {
    // ramfs keeps every live inode in memory; the icache holds those in use.
    const inode = sb.s_inodes.get(ino);
    if (inode === undefined || inode.i_nlink === 0 || inode.i_generation !== generation) return ENOENT;
    inode.i_count++;
    return inode;
  },
  tr_all_data(inode): boolean {
    return !S_ISREG(inode.i_mode) || inode.i_blocks / 8 >= Math.ceil(inode.i_size / 4096);
  },
  *tr_sync(): Sys<0 | Errno> {
    return 0;
  },
};

export function journalOpsFor(typeName: string): JournalOps | null {
  if (typeName === 'ext3' || typeName === 'ext2') return ext3Ops;
  if (typeName === 'ramfs') return ramfsOps;
  return null;
}

/** Drive `s` to its end; it must not block (a transaction is open). */
export function noblock<T>(s: Sys<T>, what: string): T {
  const r = s.next();
  if (r.done) return r.value;
  return panic(`presto: ${what} would block at '${r.value.point}' inside a transaction`);
}

/** One write a transaction will make to a log file: `len` bytes at `pos`. */
export interface LogWrite {
  readonly fd: LogFd;
  readonly pos: number;
  readonly len: number;
}

/** What a transaction's log writes need (computed inside it, where the logs' ends are settled). */
export interface LogSpace {
  readonly writes: () => readonly LogWrite[];
  /** A removal, or a record that must not be lost (CLOSE, LML completion): may use the reserve. */
  readonly reserve?: boolean;
  /** Blocks held for these writes until now (a file's CLOSE): they become this reservation. */
  readonly held?: number;
}

/** The writes of KML records of these sizes, appended one after another from the log's end. */
export function kml_appends(fset: Fileset, sizes: readonly number[]): LogWrite[] {
  const out: LogWrite[] = [];
  let at = fset.kml.offset;
  for (const len of sizes) {
    const pos = kml_place(at, len);
    out.push({ fd: fset.kml, pos, len });
    at = pos + len;
  }
  return out;
}

/** Blocks the writes would allocate, each log file's ranges counted together. */
function blocks_needed(cache: PrestoCache, writes: readonly LogWrite[]): number | Errno {
  let n = 0;
  for (const fd of new Set(writes.map((w) => w.fd))) {
    const ranges = writes.filter((w) => w.fd === fd).map((w) => [w.pos, w.len] as const);
    const b = cache.jops.tr_blocks_needed(fd.file.f_inode, ranges);
    if (isErr(b)) return b;
    n += b;
  }
  return n;
}

/**
 * Worst-case blocks an append of `len` bytes allocates at an unknown offset (a hold kept across
 * other changes): the data blocks it can straddle, and the indirect blocks of the two block-map
 * spans it can reach (two single, two double, one triple).
 */
export function presto_log_blocks(len: number, blocksize: number): number {
  return Math.ceil(len / blocksize) + 1 + 5;
}

/**
 * Start holding the removal reserve: the blocks of one record of the largest size, for removals
 * only (the original's PRESTO_REQLOW, the smaller reservation unlink made).
 */
export function presto_init_space(cache: PrestoCache): void {
  cache.removal_reserve = presto_log_blocks(KML_MAX_RECORD, cache.sb.s_blocksize);
  set_hold(cache, 0);
}

/** Blocks a transaction may still reserve: what can be allocated, less what is held for others. */
function presto_space_left(cache: PrestoCache, reserve: boolean, own = 0): number {
  return cache.jops.tr_avail(cache.sb) - (cache.close_held - own) - (reserve ? 0 : cache.removal_reserve);
}

function set_hold(cache: PrestoCache, extra: number): void {
  cache.jops.tr_hold(cache.sb, cache.removal_reserve + cache.close_held + extra);
}

/** Can `need` blocks be had now? (0 always can: a record that fits the log's last block.) */
function fits(cache: PrestoCache, need: number, reserve: boolean, own = 0): boolean {
  return need === 0 || need <= presto_space_left(cache, reserve, own);
}

/**
 * Hold `blocks` for a CLOSE that a later transaction writes (a file's first write until its
 * release). ENOSPC, and nothing held, when they cannot be had.
 */
export function presto_hold_close(cache: PrestoCache, blocks: number): 0 | Errno {
  if (!fits(cache, blocks, false)) return ENOSPC;
  cache.close_held += blocks;
  set_hold(cache, 0);
  return 0;
}

export function presto_release_close(cache: PrestoCache, blocks: number): void {
  cache.close_held -= blocks;
  set_hold(cache, 0);
}

/**
 * Run `f` (which must not block) inside one transaction of the cache file system, after reserving
 * the blocks `space`'s log writes need: ENOSPC, with nothing changed, when they cannot be had.
 */
export function* presto_in_trans<T>(
  fset: Fileset,
  what: PrestoOp,
  f: () => Sys<T | Errno>,
  space: LogSpace = { writes: () => [] },
): Sys<T | Errno> {
  const cache = fset.cache;
  const reserve = space.reserve === true;
  const held = space.held ?? 0;
  const ahead = blocks_needed(cache, space.writes());
  if (!isErr(ahead) && !fits(cache, ahead, reserve, held) && cache.jops.tr_freeing(cache.sb) > 0) {
    // Blocks freed by a transaction still uncommitted are not reusable yet: commit, then count
    // again (ext3 retries an allocation that failed so, after forcing a commit).
    yield* cache.jops.tr_sync(cache.sb);
  }
  const h = yield* cache.jops.tr_start(cache.sb, presto_credits(what, cache.sb.s_blocksize));
  if (held > 0) presto_release_close(cache, held);
  if (isErr(h)) return h;
  const need = blocks_needed(cache, space.writes());
  if (isErr(need) || !fits(cache, need, reserve)) {
    // The log file cannot grow (EFBIG: past its block tree) or the space is not there.
    const c = yield* cache.jops.tr_commit(h);
    return isErr(c) ? c : ENOSPC;
  }
  set_hold(cache, need);
  const r = noblock(f(), what);
  set_hold(cache, 0);
  const c = yield* cache.jops.tr_commit(h);
  if (isErr(r)) return r;
  return isErr(c) ? c : r;
}
