/**
 * lento's thread library (src/lento/pthread.ts): a mutex on a futex lets exactly one thread in at a
 * time and wakes every waiter in turn, however many pile up (a mutex that forgot it was contended
 * once the first waiter took it left the third asleep for good: found by the convergence test);
 * a notifier's waitUntil sleeps until its condition holds, or times out, and misses no wake-up;
 * a notification wakes only the waiters whose condition holds (waking them all made most of a
 * multi-node run's scheduling).
 */
import { describe, expect, it } from 'vitest';
import { ETIMEDOUT } from '../../../kernel/errno.ts';
import type { Process } from '../../../kernel/process.ts';
import { sleepFor, type Sys } from '../../../kernel/sched.ts';
import { World } from '../../../sim/host.ts';
import { Mutex, Notifier, spawn } from '../../../src/lento/pthread.ts';

function host() {
  const w = new World({ seed: 1, trace: { keep: true } });
  const h = w.addHost('a');
  h.mountRoot('ramfs', null);
  return { w, h, p: h.process('main') };
}

describe('lento threads', () => {
  it('a mutex admits one thread at a time and every waiter gets it in turn', () => {
    const { w, h, p } = host();
    const m = new Mutex();
    const inside: number[] = [];
    const order: string[] = [];
    let overlap = false;
    h.run(p, (function* (): Sys<void> {
      for (let i = 0; i < 5; i++) {
        spawn(p, `t${i}`, function* (t: Process) {
          yield* m.lock(t);
          if (inside.length > 0) overlap = true;
          inside.push(i);
          yield* sleepFor(10, 'work'); // hold it across a blocking call
          inside.pop();
          order.push(`t${i}`);
          m.unlock(t);
          return 0;
        });
      }
      yield* sleepFor(1, 'spawned');
    })());
    w.runUntilQuiescent();
    expect(overlap).toBe(false);
    expect(order).toEqual(['t0', 't1', 't2', 't3', 't4']);
  });

  it('waitUntil wakes when the condition holds after a notify, and times out otherwise', () => {
    const { w, h, p } = host();
    const n = new Notifier();
    let ready = false;
    const got: Array<number | string> = [];
    h.run(p, (function* (): Sys<void> {
      spawn(p, 'waiter', function* (t) {
        got.push(yield* n.waitUntil(t, () => ready));
        got.push(yield* n.waitUntil(t, () => false, 1000));
        return 0;
      });
      yield* sleepFor(50, 'later');
      n.notifyAll(p); // nothing ready yet: the waiter goes back to sleep
      yield* sleepFor(50, 'later');
      ready = true;
      n.notifyAll(p);
    })());
    w.runUntilQuiescent();
    expect(got).toEqual([0, ETIMEDOUT]);
  });

  it('notifyAll wakes only the waiters whose condition holds; the others sleep on', () => {
    const { w, h, p } = host();
    const n = new Notifier();
    const flags = [false, false, false];
    const woke: number[] = [];
    h.run(p, (function* (): Sys<void> {
      for (let i = 0; i < 3; i++) {
        spawn(p, `w${i}`, function* (t) {
          yield* n.waitUntil(t, () => flags[i] === true);
          woke.push(i);
          return 0;
        });
      }
      yield* sleepFor(10, 'spawned');
      flags[1] = true;
      n.notifyAll(p);
      yield* sleepFor(10, 'later');
      expect(woke).toEqual([1]);
      flags[0] = true;
      flags[2] = true;
      n.notifyAll(p);
    })());
    w.runUntilQuiescent();
    expect(woke).toEqual([1, 0, 2]);
    // each waiter is woken once (by a notify), main twice (its sleeps): no waiter woken to re-check
    const wakeups = w.trace.records().filter((r) => r.ev === 'task.wake').length;
    expect(wakeups).toBe(5);
  });
});
