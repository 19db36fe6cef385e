/**
 * semaphore.ts: a sleeping mutual-exclusion lock (Linux's struct semaphore used as a mutex).
 *
 * Layer: kernel. Interface: `yield* down(sem, point)` takes it, sleeping while another task holds
 * it; `up(sem)` releases it and wakes the longest waiter, which then retries. Used as the inode's
 * i_sem around namespace changes, so that an operation which blocks midway (a presto upcall) is
 * never interleaved with another change to the same directory.
 * Invariant: up() only on a held semaphore.
 */
import { assert } from './assert.ts';
import { sleepOn, wakeUpOne, WaitQueue, type Sys } from './sched.ts';

export class Semaphore {
  private held = false;
  private readonly waiters: WaitQueue;
  constructor(readonly name: string) {
    this.waiters = new WaitQueue(name);
  }
  get locked(): boolean {
    return this.held;
  }
  /** @internal: take without sleeping; false if held. */
  tryTake(): boolean {
    if (this.held) return false;
    this.held = true;
    return true;
  }
  /** @internal */
  release(): void {
    assert(this.held, () => `up() of ${this.name}, which is not held`);
    this.held = false;
    wakeUpOne(this.waiters);
  }
  /** @internal */
  queue(): WaitQueue {
    return this.waiters;
  }
}

export function* down(sem: Semaphore, point = sem.name): Sys<void> {
  while (!sem.tryTake()) yield* sleepOn(sem.queue(), point);
}

export function up(sem: Semaphore): void {
  sem.release();
}
