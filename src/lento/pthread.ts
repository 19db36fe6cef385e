/**
 * pthread.ts: lento's threads and their synchronisation, on the kernel's clone and futex calls
 * (what a C lento would take from libpthread).
 *
 * Layer: user space (lento). Interface: `spawn(p, name, body)` starts a thread sharing everything
 * with `p` (sys_clone with CLONE_THREAD_FLAGS) and registers it as lento with presto
 * (`register`, given by the caller: SET_PID, so presto treats its calls as lento's own);
 * `Mutex` (lock/unlock) guards a critical section that spans a blocking call (one frame written to
 * a socket whole); `Notifier` is a condition variable without its mutex: a thread
 * `waitUntil(p, ready, timeout)` sleeps until `ready()` holds, woken by `notifyAll`, which wakes
 * only the waiters whose condition holds (each sleeps on a futex word of its own). Threads run
 * one at a time and switch only inside system calls, so a check of shared state followed by a
 * futex wait on the waiter's word can never miss a wake-up: a state change that can make a
 * condition true must be followed by `notifyAll`.
 * Invariants: a mutex is unlocked only by its holder; a waiter re-checks its condition after every
 * wake-up (wake-ups are hints, as with pthread_cond_wait).
 */
import { assert } from '../../kernel/assert.ts';
import { EINTR, ETIMEDOUT, type Errno } from '../../kernel/errno.ts';
import { CLONE_THREAD_FLAGS } from '../../kernel/fork.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { CLOCK_MONOTONIC } from '../../kernel/time.ts';
import { sys_clock_gettime, sys_clone, sys_futex_wait, sys_futex_wake } from '../../kernel/syscalls.ts';

/** Start a thread of `p` named `name` running `body`; its pid. */
export function spawn(p: Process, name: string, body: (t: Process) => Sys<number>): number {
  return sys_clone(p, name, body, CLONE_THREAD_FLAGS);
}

/** The monotonic clock, in microseconds. */
export function now(p: Process): number {
  return sys_clock_gettime(p, CLOCK_MONOTONIC) as number;
}

export class Mutex {
  /** 0: free; 1: held; 2: held, and someone may be waiting. */
  private readonly word = new Int32Array(1);
  private holder = -1;

  *lock(p: Process): Sys<0 | Errno> {
    if (this.word[0] === 0) {
      this.word[0] = 1;
      this.holder = p.pid;
      return 0;
    }
    // Contended (Drepper's futex mutex): mark it so, sleep, and take it marked contended too, since
    // others may still be asleep on it (taking it as merely "held" would let unlock skip their wake).
    do {
      this.word[0] = 2;
      const r = yield* sys_futex_wait(p, this.word, 0, 2);
      if (r === EINTR) return EINTR;
    } while (this.word[0] !== 0);
    this.word[0] = 2;
    this.holder = p.pid;
    return 0;
  }

  unlock(p: Process): void {
    assert(this.holder === p.pid, () => `lento: mutex unlocked by ${p.pid}, held by ${this.holder}`);
    const contended = this.word[0] === 2;
    this.word[0] = 0;
    this.holder = -1;
    if (contended) sys_futex_wake(p, this.word, 0, 1);
  }
}

interface Waiter {
  /** The waiter's own futex word: set to 1 when it is woken. */
  readonly word: Int32Array;
  readonly ready: () => boolean;
}

export class Notifier {
  /** The threads asleep in `waitUntil`, each on a word of its own. */
  private readonly waiters = new Set<Waiter>();

  /**
   * Wake every waiter whose condition now holds. The others would only re-check and sleep again:
   * with one notifier shared by many threads, waking them all made most of a run's scheduling.
   * The check runs here, in the notifying thread, as the waiter's would: threads share memory and
   * switch only inside system calls, so it sees exactly what the waiter would see.
   */
  notifyAll(p: Process): void {
    for (const w of this.waiters) {
      if (w.word[0] === 1 || !w.ready()) continue;
      w.word[0] = 1;
      sys_futex_wake(p, w.word, 0, 1);
    }
  }

  /**
   * Sleep until `ready()` holds: 0; ETIMEDOUT when `timeout` ticks pass first (null: no limit);
   * EINTR when a signal arrives.
   */
  *waitUntil(p: Process, ready: () => boolean, timeout: number | null = null): Sys<0 | Errno> {
    if (ready()) return 0;
    const deadline = timeout === null ? null : now(p) + timeout;
    const w: Waiter = { word: new Int32Array(1), ready };
    this.waiters.add(w);
    try {
      while (!ready()) {
        const left = deadline === null ? null : deadline - now(p);
        if (left !== null && left <= 0) return ETIMEDOUT;
        w.word[0] = 0;
        const r = yield* sys_futex_wait(p, w.word, 0, 0, left);
        if (r === EINTR) return EINTR;
      }
      return 0;
    } finally {
      this.waiters.delete(w);
    }
  }
}
