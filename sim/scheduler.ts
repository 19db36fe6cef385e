/**
 * scheduler.ts: the event queue that is the simulated world's only source of progress.
 *
 * Layer: simulation. Interface: `at(tick, what, fn)` queues a callback; `step()` runs the earliest
 * one; `runUntilQuiescent()`, `runUntil(tick)` and `runFor(ticks)` loop over `step`. Events are
 * ordered by (tick, insertion sequence), so two events at one tick run in the order they were
 * queued. Callbacks run to completion; time advances only between them, to the next event's tick.
 * Implements the kernel's `Timers` interface, which is how simulated kernels and their tasks
 * (kernel/sched.ts) get time and resumption.
 * Invariants: time never goes backwards; an event never runs twice; cancelled events never run.
 */
import { assert } from '../kernel/assert.ts';
import type { TimerId, Timers } from '../kernel/timer.ts';
import { tick, type Tick } from '../kernel/types.ts';

interface Event {
  readonly when: Tick;
  readonly seq: number;
  readonly what: string;
  readonly fn: () => void;
  cancelled: boolean;
}

function earlier(a: Event, b: Event): boolean {
  return a.when < b.when || (a.when === b.when && a.seq < b.seq);
}

export class Scheduler implements Timers {
  private time: Tick = tick(0);
  private seq = 0;
  private readonly heap: Event[] = [];
  private readonly live = new Map<number, Event>();
  /** Events run so far. */
  executed = 0;
  /** The event running now, if any (null between events). */
  current: string | null = null;
  /** The event that ran last, for error reports. */
  last: string | null = null;

  now(): Tick {
    return this.time;
  }

  at(when: Tick, what: string, fn: () => void): TimerId {
    assert(when >= this.time, () => `event '${what}' scheduled in the past: ${when} < ${this.time}`);
    const ev: Event = { when, seq: this.seq++, what, fn, cancelled: false };
    this.push(ev);
    this.live.set(ev.seq, ev);
    return ev.seq as TimerId;
  }

  after(delay: number, what: string, fn: () => void): TimerId {
    return this.at(tick(this.time + delay), what, fn);
  }

  cancel(id: TimerId): void {
    const ev = this.live.get(id);
    if (ev === undefined) return;
    ev.cancelled = true;
    this.live.delete(id);
  }

  /** Events queued and not cancelled. */
  pending(): number {
    return this.live.size;
  }

  /** Tick of the next event, or null when the world is quiescent. */
  nextTime(): Tick | null {
    this.dropCancelled();
    return this.heap[0]?.when ?? null;
  }

  /** Run the earliest event. False when there was none. */
  step(): boolean {
    this.dropCancelled();
    const ev = this.pop();
    if (ev === undefined) return false;
    assert(ev.when >= this.time, 'time went backwards');
    this.time = ev.when;
    this.live.delete(ev.seq);
    this.current = ev.what;
    this.last = ev.what;
    this.executed++;
    ev.fn();
    this.current = null;
    return true;
  }

  /** Run until no event is left; panics past `maxEvents` (a livelock guard). */
  runUntilQuiescent(maxEvents = 100_000_000): number {
    let n = 0;
    while (this.step()) {
      n++;
      assert(n <= maxEvents, () => `not quiescent after ${maxEvents} events (last: ${this.last ?? '?'})`);
    }
    return n;
  }

  /** Run every event up to and including tick `t`, then set the clock to `t`. */
  runUntil(t: Tick): number {
    assert(t >= this.time, 'runUntil a past tick');
    let n = 0;
    for (let next = this.nextTime(); next !== null && next <= t; next = this.nextTime()) {
      this.step();
      n++;
    }
    this.time = t;
    return n;
  }

  runFor(ticks: number): number {
    return this.runUntil(tick(this.time + ticks));
  }

  private dropCancelled(): void {
    while (this.heap.length > 0 && (this.heap[0] as Event).cancelled) this.pop();
  }

  private push(ev: Event): void {
    const h = this.heap;
    h.push(ev);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(ev, h[p] as Event)) break;
      h[i] = h[p] as Event;
      i = p;
    }
    h[i] = ev;
  }

  private pop(): Event | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && earlier(h[r] as Event, h[l] as Event) ? r : l;
      if (!earlier(h[c] as Event, last)) break;
      h[i] = h[c] as Event;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
