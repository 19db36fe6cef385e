/**
 * sched.ts: tasks that run as generators, and wait queues they sleep on.
 *
 * Layer: kernel. Interface: a task's kernel stack is a chain of generators. Every operation that may
 * block has the type `Sys<T>` and is called with `yield*`; to sleep, the innermost frame yields a
 * `Sleep` naming a wait queue and a point (`psdev.upcall`, `permit.wait`, ...). The yield travels up
 * the chain to the task's runner, which parks the task on the queue. `wakeUp(queue)` schedules each
 * sleeper's resumption as a timer event at the current tick, so the waker runs to completion first
 * and sleepers resume in the order they went to sleep. A sleep may carry a timeout, after which the
 * task resumes with reason 'timeout'. An interruptible sleep (`sleepInterruptible`, Linux's
 * TASK_INTERRUPTIBLE) also ends with reason 'interrupted' when a signal arrives (`Task.interrupt`);
 * other sleeps ignore signals, as TASK_UNINTERRUPTIBLE ones do. Nothing here uses promises,
 * microtasks or real timers, so a run is a pure function of the event order, which the simulator
 * fixes.
 * Counterpart: Linux's task_struct, schedule(), wait_queue_head_t, sleep_on/wake_up.
 */
import { assert, panic } from './assert.ts';
import type { Timers, TimerId } from './timer.ts';
import type { Tracer } from './trace.ts';
import { tick } from './types.ts';

export type WakeReason = 'woken' | 'timeout' | 'interrupted';

/** What a blocking frame yields: the queue to sleep on and the named point, for traces. */
export interface Sleep {
  readonly queue: WaitQueue;
  readonly point: string;
  /** Ticks until the sleep ends with 'timeout'; null sleeps until woken. */
  readonly timeout: number | null;
  /** A signal ends this sleep early (reason 'interrupted'). */
  readonly interruptible?: boolean;
}

/** A computation that may block: call it with `yield*` from another `Sys`. */
export type Sys<T> = Generator<Sleep, T, WakeReason>;

export class WaitQueue {
  readonly sleepers: Task[] = [];
  constructor(readonly name: string) {}
}

/** Block the current task on `queue` until woken (or until `timeout` ticks pass). */
export function* sleepOn(queue: WaitQueue, point: string, timeout: number | null = null): Sys<WakeReason> {
  assert(timeout === null || (Number.isSafeInteger(timeout) && timeout >= 0), 'sleep timeout must be whole ticks');
  return yield { queue, point, timeout };
}

/**
 * Block until woken, `timeout` ticks pass, or a signal arrives (reason 'interrupted'): the sleep of
 * a system call a signal may interrupt with EINTR (socket calls, futex waits, reads of a device).
 */
export function* sleepInterruptible(queue: WaitQueue, point: string, timeout: number | null = null): Sys<WakeReason> {
  assert(timeout === null || (Number.isSafeInteger(timeout) && timeout >= 0), 'sleep timeout must be whole ticks');
  return yield { queue, point, timeout, interruptible: true };
}

/** Sleep for `ticks` (a private queue nobody wakes): modelled I/O latency, think time. */
export function* sleepFor(ticks: number, point: string): Sys<void> {
  yield* sleepOn(new WaitQueue(point), point, ticks);
}

/** Wake every task sleeping on `queue`; each resumes later, at this tick, in sleep order. */
export function wakeUp(queue: WaitQueue): number {
  const woken = queue.sleepers.splice(0);
  for (const t of woken) t.wake('woken');
  return woken.length;
}

/** Wake the task that has slept longest on `queue`, if any. */
export function wakeUpOne(queue: WaitQueue): boolean {
  const t = queue.sleepers.shift();
  if (t === undefined) return false;
  t.wake('woken');
  return true;
}

/**
 * Drive `s` to completion without a scheduler. For code paths that cannot block (tests, tools that
 * work on an image offline); blocking here is a bug in the caller's assumptions, so it panics.
 */
export function runSync<T>(s: Sys<T>): T {
  const r = s.next();
  if (r.done) return r.value;
  return panic(`runSync: would block at '${r.value.point}' with no scheduler to resume it`);
}

export type TaskState = 'runnable' | 'sleeping' | 'exited';

/**
 * A simulated process (or kernel thread). Its body is a `Sys<number>` whose return value is the exit
 * status. The task steps its body only from timer callbacks, so it always runs on the simulator's
 * schedule.
 */
export class Task {
  state: TaskState = 'runnable';
  exitStatus: number | null = null;
  /** Where the task sleeps, while it sleeps. */
  sleeping: Sleep | null = null;
  /**
   * Whether the task's process has a signal pending (set by the kernel for process tasks): an
   * interruptible sleep begun with one pending ends at once, as Linux's signal_pending() check
   * before schedule() makes it, so a signal sent while the task was running is not missed.
   */
  signalPending: (() => boolean) | null = null;
  private timeoutTimer: TimerId | null = null;
  private readonly exitWaiters = new WaitQueue('task.exit');
  private readonly body: Sys<number>;

  constructor(
    readonly pid: number,
    readonly comm: string,
    body: Sys<number>,
    private readonly timers: Timers,
    private readonly tracer: Tracer,
  ) {
    this.body = body;
    tracer.emit('task.spawn', { pid, comm });
    timers.at(timers.now(), `run ${comm}[${pid}]`, () => this.step('woken'));
  }

  /** Resume a sleeping task at the current tick (called by wakeUp and by timeouts). */
  wake(reason: WakeReason): void {
    assert(this.state === 'sleeping' && this.sleeping !== null,
      () => `wake of ${this.comm}[${this.pid}] that is ${this.state}`);
    const sleep = this.sleeping;
    if (this.timeoutTimer !== null) this.timers.cancel(this.timeoutTimer);
    this.timeoutTimer = null;
    if (reason !== 'woken') {
      const i = sleep.queue.sleepers.indexOf(this);
      if (i >= 0) sleep.queue.sleepers.splice(i, 1);
    }
    this.sleeping = null;
    this.state = 'runnable';
    this.tracer.emit('task.wake', { pid: this.pid, point: sleep.point, reason });
    this.timers.at(this.timers.now(), `resume ${this.comm}[${this.pid}]`, () => this.step(reason));
  }

  /** Interrupt a task in an interruptible sleep (a signal): its sleep returns 'interrupted'. */
  interrupt(): boolean {
    if (this.state !== 'sleeping' || this.sleeping?.interruptible !== true) return false;
    this.wake('interrupted');
    return true;
  }

  /** A Sys that sleeps until this task has exited and returns its status. */
  *wait(): Sys<number> {
    while (this.state !== 'exited') yield* sleepOn(this.exitWaiters, 'task.wait');
    assert(this.exitStatus !== null, 'exited task without status');
    return this.exitStatus;
  }

  private step(reason: WakeReason): void {
    assert(this.state === 'runnable', () => `step of ${this.comm}[${this.pid}] that is ${this.state}`);
    const r = this.body.next(reason);
    if (r.done) {
      this.state = 'exited';
      this.exitStatus = r.value;
      this.tracer.emit('task.exit', { pid: this.pid, status: r.value });
      wakeUp(this.exitWaiters);
      return;
    }
    this.park(r.value);
  }

  private park(sleep: Sleep): void {
    this.state = 'sleeping';
    this.sleeping = sleep;
    sleep.queue.sleepers.push(this);
    this.tracer.emit('task.sleep', { pid: this.pid, point: sleep.point, timeout: sleep.timeout });
    if (sleep.interruptible === true && this.signalPending?.() === true) {
      this.wake('interrupted');
      return;
    }
    if (sleep.timeout !== null) {
      const when = tick(this.timers.now() + sleep.timeout);
      this.timeoutTimer = this.timers.at(when, `timeout ${sleep.point}`, () => this.wake('timeout'));
    }
  }
}
