/**
 * commit.ts: committing a transaction, and the kjournald thread that does it (Linux
 * fs/jbd/commit.c and journal.c's kjournald).
 *
 * Layer: fs (JBD). Interface: `request_commit(j, tid)` asks kjournald to commit up to `tid`;
 * `log_wait_commit(j, tid)` sleeps until it has; `journal_start_thread` starts kjournald;
 * `journal_destroy` commits and checkpoints everything and marks the journal clean.
 * The commit, in Linux's phases: LOCKED (no new handles join; wait for open ones to stop); FLUSH
 * (ordered data written home); COMMIT (revoke records, then descriptor blocks with their tags and
 * the log copies, escaping blocks that begin with the magic, logging frozen copies where the
 * running transaction has changed a buffer since); COMMIT_RECORD (with barriers: flush the device,
 * then the commit block with FUA, so nothing the commit block vouches for can be lost); FINISHED
 * (the buffers move to the checkpoint list; write-back may now take them home). Each phase waits
 * its modelled I/O time, during which other tasks run and a new transaction fills.
 * Invariant: a transaction's commit block is written only after all its log blocks (and, in
 * ordered mode, its data) have been written; with barriers, after they are durable. Every
 * transaction has a commit block, an empty one too, so the tids in the log are consecutive.
 */
import { assert } from '../../kernel/assert.ts';
import { isErr, type Errno } from '../../kernel/errno.ts';
import { sleepFor, sleepOn, wakeUp, type Sys } from '../../kernel/sched.ts';
import { cleanup_journal_tail, log_do_checkpoint } from './checkpoint.ts';
import {
  encodeCommit, encodeDescriptor, encodeRevoke, JFS_FLAG_ESCAPE, needsEscape, revokesPerBlock, tagsPerDescriptor, tidGeq,
  tidGt, type BlockTag,
} from './jbd.ts';
import type { Journal } from './journal.ts';
import type { JournalHead, Transaction } from './transaction.ts';

export function request_commit(j: Journal, tid: number): void {
  if (tidGeq(j.commitSequence, tid)) return;
  if (j.commitRequest === null || tidGt(tid, j.commitRequest)) j.commitRequest = tid;
  wakeUp(j.waitCommit);
}

export function* log_wait_commit(j: Journal, tid: number): Sys<void> {
  while (tidGt(tid, j.commitSequence) && !j.aborted) {
    request_commit(j, tid);
    yield* sleepOn(j.waitDone, 'jbd.wait_commit');
  }
}

/** Commit whatever is running now and wait for it (fsync, sync, unmount). */
export function* journal_force_commit(j: Journal): Sys<void> {
  const t = j.running ?? j.committing;
  if (t === null) return;
  yield* log_wait_commit(j, t.tid);
}

export function journal_start_thread(j: Journal): void {
  assert(j.kjournald === null, 'kjournald started twice');
  j.kjournald = j.kernel.kthread_run(`kjournald(${j.devName})`, kjournald(j));
}

function* kjournald(j: Journal): Sys<number> {
  for (;;) {
    const want = j.commitRequest;
    const t = j.running;
    if (want !== null && t !== null && tidGeq(want, t.tid)) {
      yield* journal_commit_transaction(j, t);
      continue;
    }
    if (want !== null && (t === null || tidGt(t.tid, want))) j.commitRequest = null;
    if (j.stopping) return 0;
    yield* sleepOn(j.waitCommit, 'kjournald');
  }
}

function* journal_commit_transaction(j: Journal, t: Transaction): Sys<void> {
  assert(j.committing === null && j.running === t, () => `commit of ${t.tid} while ${j.committing?.tid} commits`);
  const trace = (phase: string): void => j.kernel.tracer.emit('jbd.commit', {
    dev: j.devName, tid: t.tid, phase, blocks: t.metadata.size, revokes: t.revokes.size, data: t.data.size,
  });
  t.state = 'locked';
  trace('locked');
  while (t.updates > 0) yield* sleepOn(j.waitUpdates, 'jbd.commit.wait_updates');
  // Every handle of t has stopped and none of the next has started: the file system's state now
  // is exactly what this transaction commits (a test can take a snapshot here).
  trace('drained');
  j.running = null;
  j.committing = t;
  wakeUp(j.waitTransaction);

  t.state = 'flush';
  const dataErr = write_ordered_data(j, t);
  yield* sleepFor(j.options.ioLatency, 'jbd.commit.data_io');

  t.state = 'commit';
  trace('commit');
  const empty = t.metadata.size === 0 && t.revokes.size === 0;
  if (empty) t.logStart = j.head;
  const logErr = empty || isErr(dataErr) ? dataErr : write_log(j, t);
  yield* sleepFor(j.options.ioLatency, 'jbd.commit.log_io');

  // Every transaction, even one that changed nothing (a handle whose syscall failed), gets its
  // commit record, as in Linux: recovery expects consecutive tids and stops at the first gap, so
  // skipping an empty transaction's record hid every later committed transaction from replay
  // (found by izo crashtest: `mv /d /e; sync; rmdir /e (ENOTEMPTY); fsync /; rm /a; sync`, then a
  // crash, brought /a back).
  t.state = 'commit_record';
  const recErr = isErr(logErr) ? logErr : write_commit_record(j, t);
  yield* sleepFor(j.options.ioLatency, 'jbd.commit.record_io');
  if (isErr(recErr)) j.aborted = true;

  finish_commit(j, t, empty);
  trace('finished');
}

function write_ordered_data(j: Journal, t: Transaction): 0 | Errno {
  for (const bh of t.data.values()) {
    if (!bh.dirty) continue;
    const r = j.placement.dev.write(bh.blk, bh.data);
    if (isErr(r)) return r;
    bh.dirty = false;
  }
  return 0;
}

function write_log(j: Journal, t: Transaction): 0 | Errno {
  t.logStart = j.head;
  const block = new Uint8Array(j.blocksize);
  const revokes = [...t.revokes];
  const perRevoke = revokesPerBlock(j.blocksize);
  for (let i = 0; i < revokes.length; i += perRevoke) {
    encodeRevoke(block, t.tid, revokes.slice(i, i + perRevoke));
    const r = j.writeLog(j.nextLogBlock(), block);
    if (isErr(r)) return r;
    j.stats.revokesLogged += Math.min(perRevoke, revokes.length - i);
  }
  const heads = [...t.metadata.values()];
  const perDesc = tagsPerDescriptor(j.blocksize);
  for (let i = 0; i < heads.length; i += perDesc) {
    const r = write_descriptor_run(j, t, heads.slice(i, i + perDesc));
    if (isErr(r)) return r;
  }
  return 0;
}

/** One descriptor block and the log copies it describes. */
function write_descriptor_run(j: Journal, t: Transaction, heads: readonly JournalHead[]): 0 | Errno {
  const descBlock = j.nextLogBlock();
  const tags: BlockTag[] = [];
  for (const jh of heads) {
    const copy = (jh.frozen ?? jh.bh.data).slice();
    // What was committed is what the next undo access must respect.
    if (jh.committedData !== null) jh.committedData = copy.slice();
    const escape = needsEscape(copy);
    if (escape) copy.fill(0, 0, 4);
    tags.push({ blocknr: jh.bh.blk, flags: escape ? JFS_FLAG_ESCAPE : 0 });
    const r = j.writeLog(j.nextLogBlock(), copy);
    if (isErr(r)) return r;
    jh.frozen = null;
    jh.logged = true;
    j.stats.blocksLogged++;
  }
  const desc = new Uint8Array(j.blocksize);
  encodeDescriptor(desc, t.tid, tags, j.uuid);
  return j.writeLog(descBlock, desc);
}

function write_commit_record(j: Journal, t: Transaction): 0 | Errno {
  const c = new Uint8Array(j.blocksize);
  encodeCommit(c, t.tid);
  const at = j.nextLogBlock();
  if (j.options.barrier) {
    const f = j.placement.dev.flush();
    if (isErr(f)) return f;
  }
  const r = j.writeLog(at, c, j.options.barrier);
  t.logEnd = j.head;
  return r;
}

function finish_commit(j: Journal, t: Transaction, empty: boolean): void {
  for (const jh of t.metadata.values()) {
    jh.transaction = null;
    jh.logged = false;
    const old = jh.cpTransaction;
    if (old !== null && old !== t) old.checkpointList.delete(jh.bh.blk);
    jh.cpTransaction = t;
    t.checkpointList.set(jh.bh.blk, jh);
    if (jh.nextTransaction !== null) {
      // The running transaction changed it meanwhile: it stays under the journal, now in that one.
      jh.transaction = jh.nextTransaction;
      jh.nextTransaction = null;
    } else {
      jh.jbddirty = false;
      jh.committedData = null;
      jh.bh.dirty = true;
    }
  }
  t.state = 'finished';
  j.committing = null;
  j.commitSequence = t.tid;
  j.stats.commits++;
  if (!empty) j.checkpoint.push(t);
  // Old checkpoint transactions whose every buffer was superseded have nothing left to write.
  while (j.checkpoint.length > 1 && (j.checkpoint[0] as Transaction).checkpointList.size === 0) j.checkpoint.shift();
  wakeUp(j.waitDone);
  wakeUp(j.waitTransaction);
}

/** Unmount: commit, write everything home, mark the journal clean (s_start = 0). */
export function* journal_destroy(j: Journal): Sys<0 | Errno> {
  for (let t = j.running ?? j.committing; t !== null; t = j.running ?? j.committing) yield* log_wait_commit(j, t.tid);
  while (j.checkpoint.length > 0) {
    const r = yield* log_do_checkpoint(j);
    if (isErr(r)) return r;
  }
  const r = cleanup_journal_tail(j);
  if (isErr(r)) return r;
  j.stopping = true;
  wakeUp(j.waitCommit);
  return j.updateSuperblock(j.nextTid, 0);
}
