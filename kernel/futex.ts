/**
 * futex.ts: fast user-space mutexes (Linux kernel/futex.c: FUTEX_WAIT, FUTEX_WAKE).
 *
 * Layer: kernel. Interface: a futex is a 32-bit word in memory the threads of a process share (an
 * Int32Array cell: `word`, `index`); user space does its locking with plain reads and writes of the
 * word and asks the kernel only to sleep and to wake. `sys_futex_wait(p, word, index, expected,
 * timeout)` sleeps if the word still holds `expected` (EAGAIN at once if not, so a wake between the
 * check and the sleep is never lost), until a `sys_futex_wake` on the same word (0), the timeout
 * (ETIMEDOUT) or a signal (EINTR). `sys_futex_wake(p, word, index, n)` wakes up to n sleepers, the
 * longest-sleeping first, and says how many. lento's thread library (src/lento/pthread.ts) builds
 * mutexes and condition variables on these.
 * Invariants: the wait queues of a kernel's futexes live in that kernel (a word is keyed by its
 * array and index), and a queue is forgotten when nobody sleeps on it.
 */
import { EAGAIN, EINTR, ETIMEDOUT, type Errno } from './errno.ts';
import type { Process } from './process.ts';
import { sleepInterruptible, WaitQueue, wakeUpOne, type Sys } from './sched.ts';

/** A kernel's futex queues, keyed by word (Linux hashes the address). */
export class FutexTable {
  private readonly queues = new Map<Int32Array, Map<number, WaitQueue>>();

  queue(word: Int32Array, index: number, make: boolean): WaitQueue | null {
    let byIndex = this.queues.get(word);
    if (byIndex === undefined) {
      if (!make) return null;
      byIndex = new Map();
      this.queues.set(word, byIndex);
    }
    let q = byIndex.get(index) ?? null;
    if (q === null && make) {
      q = new WaitQueue(`futex ${index}`);
      byIndex.set(index, q);
    }
    return q;
  }

  forgetIfIdle(word: Int32Array, index: number): void {
    const byIndex = this.queues.get(word);
    const q = byIndex?.get(index);
    if (byIndex === undefined || q === undefined || q.sleepers.length > 0) return;
    byIndex.delete(index);
    if (byIndex.size === 0) this.queues.delete(word);
  }
}

/** Sleep while `word[index] === expected`, until woken, `timeout` ticks (null: forever) or a signal. */
export function* sys_futex_wait(
  p: Process,
  word: Int32Array,
  index: number,
  expected: number,
  timeout: number | null = null,
): Sys<0 | Errno> {
  if (word[index] !== expected) return EAGAIN;
  const table = p.kernel.futexes;
  const q = table.queue(word, index, true) as WaitQueue;
  const why = yield* sleepInterruptible(q, 'futex', timeout);
  table.forgetIfIdle(word, index);
  if (why === 'timeout') return ETIMEDOUT;
  if (why === 'interrupted') return EINTR;
  return 0;
}

/** Wake up to `n` threads sleeping on `word[index]`; how many were woken. */
export function sys_futex_wake(p: Process, word: Int32Array, index: number, n: number): number {
  const q = p.kernel.futexes.queue(word, index, false);
  let woken = 0;
  while (q !== null && woken < n && wakeUpOne(q)) woken++;
  return woken;
}
