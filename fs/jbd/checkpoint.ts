/**
 * checkpoint.ts: writing committed buffers home and moving the log's tail (Linux
 * fs/jbd/checkpoint.c).
 *
 * Layer: fs (JBD). Interface: `log_do_checkpoint(j)` writes home the buffers of the oldest
 * committed transaction and, when none remain, moves the tail; `log_wait_for_space(j, credits)`
 * checkpoints (or commits, when a buffer is held by an uncommitted transaction) until the log has
 * room; `cleanup_journal_tail(j)` moves the superblock's tail to the oldest transaction still live.
 * The safe order: home writes, then a device flush, then the superblock's new tail (written with
 * FUA), and only then may the freed log blocks be reused. A buffer changed again by a transaction
 * that has not committed is never written home by checkpoint (it would expose uncommitted bytes).
 */
import { panic } from '../../kernel/assert.ts';
import { isErr, type Errno } from '../../kernel/errno.ts';
import { sleepOn, type Sys } from '../../kernel/sched.ts';
import { log_wait_commit, request_commit } from './commit.ts';
import type { Journal } from './journal.ts';
import { jbd_space_needed, type Transaction } from './transaction.ts';

/** Write home what the oldest checkpoint transaction can; move the tail if it is done. */
export function* log_do_checkpoint(j: Journal): Sys<0 | Errno> {
  const t = j.checkpoint[0];
  if (t === undefined) return 0;
  let written = 0;
  let blocked = false;
  for (const [blk, jh] of [...t.checkpointList]) {
    if (jh.transaction !== null) {
      blocked = true;
      continue;
    }
    if (jh.bh.dirty) {
      const r = j.placement.dev.write(blk, jh.bh.data);
      if (isErr(r)) return r;
      jh.bh.dirty = false;
      written++;
    }
    t.checkpointList.delete(blk);
    jh.cpTransaction = null;
    if (jh.committedData === null && jh.frozen === null && jh.nextTransaction === null) jh.bh.jh = null;
  }
  j.kernel.tracer.emit('jbd.checkpoint', { dev: j.devName, tid: t.tid, written });
  j.stats.checkpoints++;
  if (blocked) {
    // A newer transaction holds some of these buffers: its commit re-files them; wait for it.
    const owner = [...t.checkpointList.values()].find((jh) => jh.transaction !== null)?.transaction as Transaction;
    request_commit(j, owner.tid);
    yield* log_wait_commit(j, owner.tid);
    return 0;
  }
  if (t.checkpointList.size === 0) j.checkpoint.shift();
  return cleanup_journal_tail(j);
}

/** Move the on-disk tail to the oldest live transaction (after making home writes durable). */
export function cleanup_journal_tail(j: Journal): 0 | Errno {
  const oldest = j.checkpoint[0] ?? j.committing;
  const start = oldest !== null && oldest !== undefined && oldest.logStart >= 0 ? oldest.logStart : j.head;
  const sequence = oldest?.tid ?? j.running?.tid ?? j.nextTid;
  if (start === j.tail && sequence === j.tailSequence) return 0;
  // updateSuperblock flushes first: everything written home is durable before the tail moves.
  const r = j.updateSuperblock(sequence, start);
  if (isErr(r)) return r;
  j.tail = start;
  j.tailSequence = sequence;
  return 0;
}

export function* log_wait_for_space(j: Journal, credits: number): Sys<0 | Errno> {
  for (let rounds = 0; j.spaceLeft() < jbd_space_needed(j, credits); rounds++) {
    if (rounds > 10_000) return panic(`journal ${j.devName}: no log space after ${rounds} rounds`);
    if (j.checkpoint.length > 0) {
      const r = yield* log_do_checkpoint(j);
      if (isErr(r)) return r;
    } else if (j.committing !== null) {
      yield* sleepOn(j.waitDone, 'jbd.wait_space');
    } else {
      const r = cleanup_journal_tail(j);
      if (isErr(r)) return r;
      if (j.spaceLeft() < jbd_space_needed(j, credits)) {
        return panic(`journal ${j.devName}: a transaction of ${credits} credits cannot fit in ${j.maxlen} log blocks`);
      }
    }
  }
  return 0;
}
