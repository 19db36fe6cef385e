/**
 * transaction.ts: handles, transactions and the buffer protocol (Linux fs/jbd/transaction.c and
 * revoke.c).
 *
 * Layer: fs (JBD). Interface: `journal_start(j, credits)` opens a handle in the running transaction
 * (creating one, or waiting while it is locked for commit, or making log space first);
 * `journal_stop` closes it (a synchronous handle waits for its commit). Before changing a buffer
 * a handle calls `journal_get_write_access` (or `_create_` for a new block, `_undo_` for a bitmap,
 * which keeps the last committed copy so a block freed now is not reused before the commit), then
 * `journal_dirty_metadata` (consuming one credit the first time a buffer joins the transaction;
 * running out is a bug: assert), or `journal_dirty_data` for ordered-mode data. `journal_forget`
 * drops a buffer being freed; `journal_revoke` records that a freed metadata block must never be
 * replayed from older log copies; journaling the block again in the same transaction cancels it.
 * `journal_extend` and `journal_restart` for long operations (truncate).
 * Frozen copies: a buffer the committing transaction has not yet logged, changed again by the
 * running one, is logged from a copy frozen at that moment.
 */
import { assert } from '../../kernel/assert.ts';
import { isErr, EROFS, type Errno } from '../../kernel/errno.ts';
import { sleepOn, wakeUp, type Sys } from '../../kernel/sched.ts';
import { tick } from '../../kernel/types.ts';
import { log_wait_commit, request_commit } from './commit.ts';
import { log_wait_for_space } from './checkpoint.ts';
import type { Journal } from './journal.ts';

export type TransactionState = 'running' | 'locked' | 'flush' | 'commit' | 'commit_record' | 'finished';

/** What JBD needs of a buffer: its block, its bytes, a dirty bit for write-back, and a slot for JBD. */
export interface JbdBuffer {
  readonly blk: number;
  readonly data: Uint8Array;
  /** Dirty for the buffer cache: may be written home by write-back. */
  dirty: boolean;
  /** JBD's bookkeeping for this buffer, while it has any (opaque to the buffer cache). */
  jh: unknown;
}

/** The journal head of a buffer, if it has one. */
export function bh2jh(bh: JbdBuffer): JournalHead | null {
  return bh.jh as JournalHead | null;
}

export class JournalHead {
  /** The transaction whose metadata list holds this buffer (running or committing). */
  transaction: Transaction | null = null;
  /** The running transaction that wants it while the committing one still holds it. */
  nextTransaction: Transaction | null = null;
  /** The committed transaction that must write it home before its log space is reused. */
  cpTransaction: Transaction | null = null;
  /** The bytes to log instead of the live buffer (taken when the running transaction changed it). */
  frozen: Uint8Array | null = null;
  /** The bitmap as last committed (undo access): allocation must respect it. */
  committedData: Uint8Array | null = null;
  /** Changed under the journal: only checkpoint may write it home. */
  jbddirty = false;
  /** The committing transaction has written its log copy already (no frozen copy needed now). */
  logged = false;
  constructor(readonly bh: JbdBuffer) {}
}

export class Transaction {
  state: TransactionState = 'running';
  /** Open handles. */
  updates = 0;
  /** Credits promised to open and closed handles. */
  outstandingCredits = 0;
  /** Metadata buffers to log, in the order they joined. */
  readonly metadata = new Map<number, JournalHead>();
  /** Ordered-mode data buffers to write home before the commit record. */
  readonly data = new Map<number, JbdBuffer>();
  /** Blocks revoked in this transaction. */
  readonly revokes = new Set<number>();
  /** Handles that asked for a synchronous commit. */
  synchronous = false;
  /** Log blocks this transaction occupies, once committed. */
  logStart = -1;
  logEnd = -1;
  /** Buffers this transaction must see written home (checkpoint list). */
  readonly checkpointList = new Map<number, JournalHead>();
  readonly startTick: number;
  constructor(readonly tid: number, startTick: number) {
    this.startTick = startTick;
  }
}

export class Handle {
  refs = 1;
  sync = false;
  constructor(
    readonly journal: Journal,
    public transaction: Transaction,
    /** Buffers this handle may still add to the transaction. */
    public credits: number,
  ) {}
}

function new_transaction(j: Journal): Transaction {
  const t = new Transaction(j.nextTid, j.now());
  j.nextTid = (j.nextTid + 1) >>> 0;
  j.running = t;
  j.stats.transactions++;
  // The commit timer: commit this transaction at most commitInterval after it began.
  j.kernel.timers.at(tick(j.now() + j.options.commitInterval), `jbd ${j.devName} commit timer`, () => {
    if (j.running === t && t.state === 'running') request_commit(j, t.tid);
  });
  return t;
}

export function* journal_start(j: Journal, credits: number): Sys<Handle | Errno> {
  assert(credits > 0 && credits <= j.maxTransactionBuffers, () => `journal_start with ${credits} credits (max ${j.maxTransactionBuffers})`);
  for (;;) {
    if (j.aborted) return EROFS;
    const t = j.running;
    if (t !== null && t.state !== 'running') {
      yield* sleepOn(j.waitTransaction, 'jbd.start.locked');
      continue;
    }
    if (t !== null && t.outstandingCredits + credits > j.maxTransactionBuffers) {
      // This handle would make the transaction too large: commit it and start afresh.
      request_commit(j, t.tid);
      yield* log_wait_commit(j, t.tid);
      continue;
    }
    const needed = (t?.outstandingCredits ?? 0) + credits;
    if (j.spaceLeft() < jbd_space_needed(j, needed)) {
      const r = yield* log_wait_for_space(j, needed);
      if (isErr(r)) return r;
      continue;
    }
    const tx = t ?? new_transaction(j);
    tx.updates++;
    tx.outstandingCredits += credits;
    j.kernel.tracer.emit('jbd.start', { dev: j.devName, tid: tx.tid, credits });
    return new Handle(j, tx, credits);
  }
}

/** Log blocks a transaction of `credits` buffers may need: the buffers, descriptors, revokes, commit. */
export function jbd_space_needed(j: Journal, credits: number): number {
  const perDesc = Math.floor((j.blocksize - 28) / 8);
  return credits + Math.ceil(credits / perDesc) + 8 + (j.committing !== null ? j.maxTransactionBuffers : 0);
}

export function* journal_stop(h: Handle): Sys<0 | Errno> {
  assert(h.refs > 0, 'journal_stop of a stopped handle');
  h.refs--;
  if (h.refs > 0) return 0;
  const t = h.transaction;
  const j = h.journal;
  assert(t.updates > 0, () => `transaction ${t.tid} has no open handle to stop`);
  // Credits this handle did not use go back to the transaction.
  t.outstandingCredits -= h.credits;
  t.updates--;
  if (t.updates === 0) wakeUp(j.waitUpdates);
  if (h.sync) t.synchronous = true;
  if (h.sync || t.outstandingCredits > j.maxTransactionBuffers) request_commit(j, t.tid);
  if (h.sync) yield* log_wait_commit(j, t.tid);
  return j.aborted ? EROFS : 0;
}

/** Add `n` credits to a handle if the transaction has room; 0 on success, 1 if a restart is needed. */
export function journal_extend(h: Handle, n: number): 0 | 1 {
  const t = h.transaction;
  if (t.state !== 'running' || t.outstandingCredits + n > h.journal.maxTransactionBuffers) return 1;
  t.outstandingCredits += n;
  h.credits += n;
  return 0;
}

/** Close the handle's transaction share and open a new handle with `n` credits. */
export function* journal_restart(h: Handle, n: number): Sys<0 | Errno> {
  const j = h.journal;
  const t = h.transaction;
  t.outstandingCredits -= h.credits;
  t.updates--;
  if (t.updates === 0) wakeUp(j.waitUpdates);
  request_commit(j, t.tid);
  const nh = yield* journal_start(j, n);
  if (isErr(nh)) return nh;
  h.transaction = nh.transaction;
  h.credits = nh.credits;
  return 0;
}

function jh_of(bh: JbdBuffer): JournalHead {
  const jh = bh2jh(bh) ?? new JournalHead(bh);
  bh.jh = jh;
  return jh;
}

/** Prepare to change an existing metadata buffer under this handle. */
export function journal_get_write_access(h: Handle, bh: JbdBuffer): 0 | Errno {
  if (h.journal.aborted) return EROFS;
  const jh = jh_of(bh);
  const t = h.transaction;
  if (jh.transaction === t || jh.nextTransaction === t) return 0;
  if (jh.transaction !== null && jh.transaction !== t) {
    // The committing transaction still has to log this buffer: log the bytes as they are now.
    assert(jh.transaction === h.journal.committing,
      () => `buffer ${bh.blk} belongs to transaction ${jh.transaction?.tid} that is neither running nor committing`);
    if (jh.frozen === null && !jh.logged) {
      jh.frozen = bh.data.slice();
      h.journal.stats.frozen++;
    }
    jh.nextTransaction = t;
    return 0;
  }
  // A buffer waiting for checkpoint that changes again: it must not be written home with the
  // new, uncommitted bytes, so it leaves write-back until this transaction commits.
  if (bh.dirty && jh.cpTransaction !== null) {
    bh.dirty = false;
    jh.jbddirty = true;
  }
  return 0;
}

/** Prepare to fill a freshly allocated block (cancels a revoke of it in this transaction). */
export function journal_get_create_access(h: Handle, bh: JbdBuffer): 0 | Errno {
  h.transaction.revokes.delete(bh.blk);
  return journal_get_write_access(h, bh);
}

/** Write access that also keeps the last committed copy (for allocation bitmaps). */
export function journal_get_undo_access(h: Handle, bh: JbdBuffer): 0 | Errno {
  const r = journal_get_write_access(h, bh);
  if (isErr(r)) return r;
  const jh = jh_of(bh);
  jh.committedData ??= (jh.frozen ?? bh.data).slice();
  return 0;
}

/** The buffer was changed as metadata under this handle: it will be logged by the transaction. */
export function journal_dirty_metadata(h: Handle, bh: JbdBuffer): 0 | Errno {
  const t = h.transaction;
  const jh = jh_of(bh);
  jh.jbddirty = true;
  bh.dirty = false;
  if (t.metadata.has(bh.blk)) return 0;
  const queued = jh.nextTransaction === t; // behind the committing transaction, which still owns it
  assert(queued || jh.transaction === null, () => `buffer ${bh.blk} dirtied in ${t.tid} while owned by ${jh.transaction?.tid}`);
  assert(h.credits > 0, () => `handle in transaction ${t.tid} ran out of credits dirtying block ${bh.blk}`);
  h.credits--;
  if (!queued) jh.transaction = t;
  t.metadata.set(bh.blk, jh);
  t.revokes.delete(bh.blk);
  return 0;
}

/** Ordered mode: this data buffer must reach its home before the transaction commits. */
export function journal_dirty_data(h: Handle, bh: JbdBuffer): 0 | Errno {
  h.transaction.data.set(bh.blk, bh);
  return 0;
}

/** The buffer's block is being freed: it leaves the running transaction unlogged. */
export function journal_forget(h: Handle, bh: JbdBuffer): 0 | Errno {
  const jh = bh2jh(bh);
  const t = h.transaction;
  t.data.delete(bh.blk);
  if (jh === null) return 0;
  if (t.metadata.delete(bh.blk)) h.credits++;
  if (jh.transaction === t) jh.transaction = null;
  if (jh.nextTransaction === t) jh.nextTransaction = null;
  jh.jbddirty = jh.transaction !== null;
  bh.dirty = false;
  return 0;
}

/** Never replay older log copies of `blk` (it was metadata and is freed). */
export function journal_revoke(h: Handle, blk: number, bh: JbdBuffer | null): 0 | Errno {
  if (bh !== null) journal_forget(h, bh);
  h.transaction.revokes.add(blk);
  return 0;
}

/** Ask for a commit of the handle's transaction and wait for it when the handle stops. */
export function journal_set_sync(h: Handle): void {
  h.sync = true;
}
