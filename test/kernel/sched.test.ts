import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { runSync, sleepOn, Task, wakeUp, WaitQueue, type Sys } from '../../kernel/sched.ts';
import { KernelPanic } from '../../kernel/assert.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { TraceRecorder } from '../../sim/trace.ts';
import { Prng } from '../../sim/prng.ts';

function world() {
  const s = new Scheduler();
  const t = new TraceRecorder(s, { keep: true });
  return { s, t, tracer: t.tracerFor('h') };
}

describe('tasks and wait queues', () => {
  it('a task sleeps at a named point until another wakes it; wake order is sleep order', () => {
    const { s, tracer } = world();
    const q = new WaitQueue('q');
    const log: string[] = [];
    const sleeper = (name: string): Sys<number> => (function* () {
      const why = yield* sleepOn(q, `wait.${name}`);
      log.push(`${name}:${why}`);
      return 0;
    })();
    const a = new Task(1, 'a', sleeper('a'), s, tracer);
    new Task(2, 'b', sleeper('b'), s, tracer);
    s.runUntilQuiescent();
    expect(a.state).toBe('sleeping');
    expect(a.sleeping?.point).toBe('wait.a');
    new Task(3, 'waker', (function* () {
      log.push(`woke ${wakeUp(q)}`);
      return 0;
    })(), s, tracer);
    s.runUntilQuiescent();
    expect(log).toEqual(['woke 2', 'a:woken', 'b:woken']);
  });

  it('times out, can be interrupted, and reports its exit status to waiters', () => {
    const { s, tracer } = world();
    const q = new WaitQueue('q');
    const results: string[] = [];
    const timed = new Task(1, 't', (function* () {
      results.push(yield* sleepOn(q, 'p', 100));
      return 7;
    })(), s, tracer);
    const interrupted = new Task(2, 'i', (function* () {
      results.push(yield* sleepOn(q, 'p'));
      return 0;
    })(), s, tracer);
    new Task(3, 'w', (function* () {
      results.push(`status ${yield* timed.wait()}`);
      return 0;
    })(), s, tracer);
    s.runFor(50);
    expect(interrupted.interrupt()).toBe(true);
    s.runUntilQuiescent();
    expect(results).toEqual(['interrupted', 'timeout', 'status 7']);
    expect(s.now()).toBe(100);
    expect(q.sleepers.length).toBe(0);
  });

  it('deep yield* chains carry a sleep up and the wake reason back down', () => {
    const { s, tracer } = world();
    const q = new WaitQueue('q');
    function* level(n: number): Sys<string> {
      if (n === 0) return yield* sleepOn(q, 'deep');
      return `${n}/${yield* level(n - 1)}`;
    }
    let got = '';
    new Task(1, 'deep', (function* () {
      got = yield* level(50);
      return 0;
    })(), s, tracer);
    s.runUntilQuiescent();
    wakeUp(q);
    s.runUntilQuiescent();
    expect(got.endsWith('/2/1/woken')).toBe(true);
  });

  it('runSync runs what cannot block and panics on what would', () => {
    expect(runSync((function* () { return 5; })())).toBe(5);
    expect(() => runSync(sleepOn(new WaitQueue('x'), 'never'))).toThrow(KernelPanic);
  });

  it('random interleavings of sleeping and waking tasks replay identically (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 1 << 30 }), (seed) => {
      const hashOf = (): string => {
        const { s, t, tracer } = world();
        const rng = Prng.fromSeed(seed).stream('tasks');
        const queues = [new WaitQueue('a'), new WaitQueue('b')];
        for (let i = 0; i < 5; i++) {
          new Task(i + 1, `t${i}`, (function* () {
            for (let k = 0; k < 6; k++) {
              const q = queues[rng.below(2)]!;
              if (rng.chance(1, 2)) yield* sleepOn(q, 'p', 1 + rng.below(20));
              else wakeUp(q);
            }
            return 0;
          })(), s, tracer);
        }
        s.runUntilQuiescent();
        return t.hash();
      };
      expect(hashOf()).toBe(hashOf());
    }), { numRuns: 50 });
  });
});
