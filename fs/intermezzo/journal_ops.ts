/**
 * journal_ops.ts: the journal operations of each cache file system presto runs over (Linux
 * fs/intermezzo/journal_ext3.c and journal_tmpfs.c).
 *
 * Layer: fs (presto). Interface: `journalOpsFor(typeName)` gives the `JournalOps` of a cache type:
 * ext3 opens real JBD handles that the ext3 operations called inside join, so an operation, its KML
 * record and its last_rcvd update commit in one transaction; ramfs (the original's tmpfs) returns
 * dummy handles: nothing there survives a crash anyway. `presto_credits(op, blocksize)` sizes a
 * transaction for an operation plus the log records it writes.
 * Invariants: a handle from tr_start is closed by exactly one tr_commit, by the same caller, which
 * does not block in between (ext3's running handle belongs to the super block).
 */
import { panic } from '../../kernel/assert.ts';
import { ENOENT, ENOSPC, isErr, type Errno } from '../../kernel/errno.ts';
import { S_ISREG, type Inode, type SuperBlock } from '../../kernel/fs.ts';
import { iget, iput, make_bad_inode } from '../../kernel/inode.ts';
import type { Sys } from '../../kernel/sched.ts';
// ext3's modules import each other; entering through super.ts evaluates them in a working order.
import { ext3_force_commit, ext3_free_blocks, ext3_journal_start, ext3_journal_stop, EXT3_SB } from '../ext3/super.ts';
import { ext3_bmap, ext3_set_journal_data } from '../ext3/inode.ts';
import { EXT3_DATA_TRANS_BLOCKS, EXT3_DELETE_TRANS_BLOCKS } from '../ext3/namei.ts';
import type { Handle } from '../jbd/transaction.ts';
import type { Fileset, JournalOps, TransHandle } from './intermezzo_fs.ts';
import { KML_MAX_RECORD } from './kml.ts';

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
  tr_avail: (sb) => ext3_free_blocks(sb),
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

/** Free blocks below which presto refuses to start an operation (PRESTO_REQLOW). */
export const PRESTO_REQLOW = 4;

/** Drive `s` to its end; it must not block (a transaction is open). */
export function noblock<T>(s: Sys<T>, what: string): T {
  const r = s.next();
  if (r.done) return r.value;
  return panic(`presto: ${what} would block at '${r.value.point}' inside a transaction`);
}

/** Run `f` (which must not block) inside one transaction of the cache file system. */
export function* presto_in_trans<T>(fset: Fileset, what: PrestoOp, f: () => Sys<T | Errno>): Sys<T | Errno> {
  const cache = fset.cache;
  if (cache.jops.tr_avail(cache.sb) < PRESTO_REQLOW) return ENOSPC;
  const h = yield* cache.jops.tr_start(cache.sb, presto_credits(what, cache.sb.s_blocksize));
  if (isErr(h)) return h;
  const r = noblock(f(), what);
  const c = yield* cache.jops.tr_commit(h);
  if (isErr(r)) return r;
  return isErr(c) ? c : r;
}
