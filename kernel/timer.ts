/**
 * timer.ts: the clock and timer interface a simulated kernel runs on.
 *
 * Layer: kernel basics. The kernel never reads real time: it is given a `Timers` (implemented by the
 * simulator's scheduler, sim/scheduler.ts) that says what tick it is and runs a callback at a later
 * tick. Callbacks run to completion, one at a time, in (tick, insertion order). Counterpart: Linux's
 * jiffies, add_timer and del_timer.
 */
import type { Tick } from './types.ts';

declare const timerBrand: unique symbol;
export type TimerId = number & { readonly [timerBrand]: true };

export interface Clock {
  now(): Tick;
}

export interface Timers extends Clock {
  /** Run `fn` at tick `when` (>= now). `what` names the event in traces and error reports. */
  at(when: Tick, what: string, fn: () => void): TimerId;
  /** Forget a timer that has not fired; cancelling a fired or unknown timer is a no-op. */
  cancel(id: TimerId): void;
}
