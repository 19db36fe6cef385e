/**
 * pthread.ts: lento's threads and their synchronisation, on the kernel's clone and futex calls
 * (what a C lento would take from libpthread).
 *
 * Layer: user space (lento). Interface: `spawn(p, name, body)` starts a thread sharing everything
 * with `p` (sys_clone with CLONE_THREAD_FLAGS) and registers it as lento with presto
 * (`register`, given by the caller: SET_PID, so presto treats its calls as lento's own);
 * `Mutex` (lock/unlock) guards a critical section that spans a blocking call (one frame written to
 * a socket whole); `Notifier` is a condition variable without its mutex: a thread
 * `waitUntil(p, ready, timeout)` sleeps until `ready()` holds, woken by `notifyAll`. Threads run
 * one at a time and switch only inside system calls, so a check of shared state followed by a
 * futex wait on the notifier's current sequence number can never miss a wake-up.
 * Invariants: a mutex is unlocked only by its holder; a waiter re-checks its condition after every
 * wake-up (wake-ups are hints, as with pthread_cond_wait).
 */
import { assert } from '../../kernel/assert.ts';
import { EINTR, ETIMEDOUT, isErr, type Errno } from '../../kernel/errno.ts';
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

export class Notifier {
  /** Bumped by every notification: a waiter sleeps only while it is unchanged. */
  private readonly word = new Int32Array(1);

  /** Wake every waiter (they re-check their conditions). */
  notifyAll(p: Process): void {
    this.word[0] = ((this.word[0] as number) + 1) | 0;
    sys_futex_wake(p, this.word, 0, 0x7fffffff);
  }

  /**
   * Sleep until `ready()` holds: 0; ETIMEDOUT when `timeout` ticks pass first (null: no limit);
   * EINTR when a signal arrives.
   */
  *waitUntil(p: Process, ready: () => boolean, timeout: number | null = null): Sys<0 | Errno> {
    const deadline = timeout === null ? null : now(p) + timeout;
    while (!ready()) {
      const left = deadline === null ? null : deadline - now(p);
      if (left !== null && left <= 0) return ETIMEDOUT;
      const r = yield* sys_futex_wait(p, this.word, 0, this.word[0] as number, left);
      if (r === EINTR) return EINTR;
      if (isErr(r) && r !== ETIMEDOUT) continue;
    }
    return 0;
  }
}
