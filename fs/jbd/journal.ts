/**
 * journal.ts: the journal object: its place on disk, its log space, its superblock and its thread
 * (Linux fs/jbd/journal.c).
 *
 * Layer: fs (JBD). Interface: `journal_create` writes an empty journal (for mkfs); `journal_load`
 * reads one, recovering it first if it needs it, and starts its kjournald task; `journal_destroy`
 * (unmount) commits, checkpoints everything and marks the journal clean (s_start = 0). Handles
 * (transaction.ts), commits (commit.ts) and checkpoints (checkpoint.ts) work on the Journal.
 * Model: the log is journal blocks [first, maxlen), used circularly from `head`; `tail` is the start
 * of the oldest transaction not yet checkpointed; free space is what lies between head and tail.
 * While mounted, s_start holds the tail (never 0); at a clean unmount it is 0.
 * Invariants: log space is never reused before the superblock's tail has moved past it durably;
 * at most one running and one committing transaction; tids increase by one per transaction.
 */
import { assert } from '../../kernel/assert.ts';
import type { BlockDevice } from '../../kernel/blkdev.ts';
import { EIO, EINVAL, isErr, type Errno } from '../../kernel/errno.ts';
import type { Kernel } from '../../kernel/kernel.ts';
import { WaitQueue, type Task } from '../../kernel/sched.ts';
import {
  encodeJournalSuperblock, JFS_FEATURE_INCOMPAT_REVOKE, patchJournalTail, JSB_SIZE, type JournalSuperblock,
} from './jbd.ts';
import {
  journal_recover, read_journal_superblock, type JournalIo, type RecoveryFault, type RecoveryReport,
} from './recovery.ts';
import type { Transaction } from './transaction.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'jbd.start': { dev: string; tid: number; credits: number };
    'jbd.commit': { dev: string; tid: number; phase: string; blocks: number; revokes: number; data: number };
    'jbd.checkpoint': { dev: string; tid: number; written: number };
    'jbd.tail': { dev: string; sequence: number; start: number };
    'jbd.recover': { dev: string; transactions: number; replayed: number; revoked: number };
  }
}

export interface JournalOptions {
  /** Flush before the commit block and write it with FUA (ext3's barrier=1). */
  readonly barrier: boolean;
  /** Commit the running transaction this many ticks after it starts (ext3's commit=5 s). */
  readonly commitInterval: number;
  /** Modelled time each commit phase waits for its I/O, in ticks. */
  readonly ioLatency: number;
  /** TEST ONLY: a deliberately broken recovery (a crash harness's negative control). */
  readonly recoveryFault?: RecoveryFault;
}

export const JFS_MIN_JOURNAL_BLOCKS = 1024;

export const DEFAULT_JOURNAL_OPTIONS: JournalOptions = { barrier: true, commitInterval: 5_000_000, ioLatency: 100 };

/** Where the journal lives: journal block n is device block map[n]. */
export interface JournalPlacement {
  readonly dev: BlockDevice;
  readonly map: readonly number[];
}

export class Journal {
  readonly blocksize: number;
  readonly maxlen: number;
  readonly first: number;
  readonly uuid: Uint8Array;
  /** Next log block to write. */
  head: number;
  /** First log block still needed (start of the oldest uncheckpointed transaction). */
  tail: number;
  /** Tid of the transaction at the tail. */
  tailSequence: number;
  /** Tid the next new transaction gets. */
  nextTid: number;
  running: Transaction | null = null;
  committing: Transaction | null = null;
  /** Committed transactions whose buffers are not all home yet, oldest first. */
  readonly checkpoint: Transaction[] = [];
  /** Largest transaction, in buffer credits: a quarter of the log. */
  readonly maxTransactionBuffers: number;
  /** The newest tid that has committed. */
  commitSequence: number;
  /** Someone asked for a commit of this tid. */
  commitRequest: number | null = null;
  readonly waitTransaction = new WaitQueue('jbd.wait_transaction');
  readonly waitUpdates = new WaitQueue('jbd.wait_updates');
  readonly waitCommit = new WaitQueue('jbd.wait_commit');
  readonly waitDone = new WaitQueue('jbd.wait_done');
  kjournald: Task | null = null;
  stopping = false;
  aborted = false;
  readonly stats = { transactions: 0, commits: 0, blocksLogged: 0, revokesLogged: 0, checkpoints: 0, frozen: 0 };

  constructor(
    readonly kernel: Kernel,
    readonly placement: JournalPlacement,
    jsb: JournalSuperblock,
    readonly options: JournalOptions,
  ) {
    this.blocksize = jsb.blocksize;
    this.maxlen = jsb.maxlen;
    this.first = jsb.first;
    this.uuid = jsb.uuid.slice();
    this.head = jsb.first;
    this.tail = jsb.first;
    this.tailSequence = jsb.sequence;
    this.nextTid = jsb.sequence;
    this.commitSequence = (jsb.sequence - 1) >>> 0;
    this.maxTransactionBuffers = Math.floor(jsb.maxlen / 4);
  }

  get devName(): string {
    return this.placement.dev.name;
  }

  now(): number {
    return this.kernel.now();
  }

  /** Device block of log block n. */
  bmap(n: number): number {
    assert(n >= 0 && n < this.maxlen, () => `journal block ${n} outside 0..${this.maxlen - 1}`);
    return this.placement.map[n] as number;
  }

  /**
   * Log blocks free for new transactions: those from head round to the on-disk tail. `tail`
   * always mirrors the superblock, so space is reusable only once the superblock says so.
   */
  spaceLeft(): number {
    const size = this.maxlen - this.first;
    return size - ((this.head - this.tail + size) % size) - 1;
  }

  /** Take the next log block. */
  nextLogBlock(): number {
    const b = this.head;
    this.head = this.head + 1 >= this.maxlen ? this.first : this.head + 1;
    assert(this.head !== this.tail, () => `journal ${this.devName}: log overran its tail at block ${b}`);
    return b;
  }

  writeLog(n: number, data: Uint8Array, fua = false): 0 | Errno {
    return this.placement.dev.write(this.bmap(n), data, { fua });
  }

  /** Write the superblock's tail (sequence, start); durable on return (flush + FUA). */
  updateSuperblock(sequence: number, start: number): 0 | Errno {
    const b = new Uint8Array(this.blocksize);
    const dev = this.placement.dev;
    if (isErr(dev.read(this.bmap(0), b))) return EIO;
    patchJournalTail(b, sequence, start);
    if (isErr(dev.flush())) return EIO;
    if (isErr(dev.write(this.bmap(0), b, { fua: true }))) return EIO;
    this.kernel.tracer.emit('jbd.tail', { dev: this.devName, sequence, start });
    return 0;
  }
}

export function journalIo(p: JournalPlacement, blocksize: number): JournalIo {
  return {
    blocksize,
    readLog: (n, dst) => p.dev.read(p.map[n] as number, dst),
    writeLog: (n, src) => p.dev.write(p.map[n] as number, src),
    writeHome: (blk, src) => p.dev.write(blk, src),
    flush: () => p.dev.flush(),
  };
}

/** Write an empty journal (v2, revoke feature) into its blocks: what mkfs does. */
export function journal_create(p: JournalPlacement, blocksize: number, uuid: Uint8Array): 0 | Errno {
  const maxlen = p.map.length;
  // e2fsck rejects journals shorter than JBD's minimum of 1024 blocks.
  if (maxlen < JFS_MIN_JOURNAL_BLOCKS) return EINVAL;
  const zero = new Uint8Array(blocksize);
  for (let n = 1; n < maxlen; n++) if (isErr(p.dev.write(p.map[n] as number, zero))) return EIO;
  const sb = new Uint8Array(blocksize);
  assert(blocksize >= JSB_SIZE, 'block smaller than the journal superblock');
  encodeJournalSuperblock(sb, {
    blocktype: 4, blocksize, maxlen, first: 1, sequence: 1, start: 0, errno: 0, featureCompat: 0,
    featureIncompat: JFS_FEATURE_INCOMPAT_REVOKE, featureRoCompat: 0, uuid, nrUsers: 1, maxTransaction: 0, maxTransData: 0,
  });
  return p.dev.write(p.map[0] as number, sb);
}

export interface LoadedJournal {
  readonly journal: Journal;
  readonly recovery: RecoveryReport | null;
}

/**
 * Read the journal; replay it if it was not shut down cleanly; reset the log and mark the journal
 * in use (s_start = first). Does not start kjournald (journal_start_thread does).
 */
export function journal_load(k: Kernel, p: JournalPlacement, blocksize: number, options: JournalOptions): LoadedJournal | string {
  const io = journalIo(p, blocksize);
  const before = read_journal_superblock(io);
  if (typeof before === 'string') return before;
  let recovery: RecoveryReport | null = null;
  if (before.start !== 0) {
    const r = journal_recover(io, options.recoveryFault);
    if (typeof r === 'string') return r;
    if (isErr(r)) return 'I/O error during journal recovery';
    recovery = r;
    k.tracer.emit('jbd.recover', { dev: p.dev.name, transactions: r.scan.transactions.length, replayed: r.replayed, revoked: r.revokedSkips });
  }
  const jsb = read_journal_superblock(io);
  if (typeof jsb === 'string') return jsb;
  const j = new Journal(k, p, jsb, options);
  if (isErr(j.updateSuperblock(j.tailSequence, j.first))) return 'I/O error writing the journal superblock';
  return { journal: j, recovery };
}
