import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../sim/scheduler.ts';
import { KernelPanic } from '../../kernel/assert.ts';
import { tick } from '../../kernel/types.ts';
import type { TimerId } from '../../kernel/timer.ts';

describe('Scheduler', () => {
  it('orders events by (tick, insertion)', () => {
    const s = new Scheduler();
    const log: string[] = [];
    s.at(tick(10), 'b', () => log.push('b10'));
    s.at(tick(5), 'a', () => log.push('a5'));
    s.at(tick(10), 'c', () => log.push('c10'));
    s.at(tick(5), 'd', () => {
      log.push('d5');
      s.at(tick(5), 'e', () => log.push('e5'));
    });
    expect(s.runUntilQuiescent()).toBe(5);
    expect(log).toEqual(['a5', 'd5', 'e5', 'b10', 'c10']);
    expect(s.now()).toBe(10);
    expect(s.executed).toBe(5);
  });

  it('runs any schedule in (tick, insertion) order, never back in time, cancelled events never (property)', () => {
    // Each event is queued at a delay from the current time; some queue more events when they
    // run; some are cancelled before they run. The reference order is a sort by (tick, seq).
    const spec = fc.array(fc.record({
      delay: fc.nat({ max: 20 }),
      children: fc.array(fc.nat({ max: 20 }), { maxLength: 3 }),
      cancel: fc.boolean(),
    }), { maxLength: 40 });
    fc.assert(fc.property(spec, (events) => {
      const s = new Scheduler();
      const queued: Array<{ id: number; when: number; seq: number }> = [];
      const ran: Array<{ id: number; at: number }> = [];
      let seq = 0;
      let nextId = 0;
      const queue = (delay: number, children: readonly number[]): TimerId => {
        const id = nextId++;
        const when = s.now() + delay;
        queued.push({ id, when, seq: seq++ });
        return s.after(delay, `e${id}`, () => {
          ran.push({ id, at: s.now() });
          for (const c of children) queue(c, []);
        });
      };
      const cancelled = new Set<number>();
      for (const e of events) {
        const timer = queue(e.delay, e.children);
        if (e.cancel) {
          s.cancel(timer);
          cancelled.add(nextId - 1);
        }
      }
      s.runUntilQuiescent();
      for (let i = 1; i < ran.length; i++) expect(ran[i]!.at).toBeGreaterThanOrEqual(ran[i - 1]!.at);
      const byId = new Map(queued.map((q) => [q.id, q]));
      for (const r of ran) expect(r.at).toBe(byId.get(r.id)!.when);
      const expected = queued.filter((q) => !cancelled.has(q.id))
        .sort((a, b) => a.when - b.when || a.seq - b.seq).map((q) => q.id);
      expect(ran.map((r) => r.id)).toEqual(expected);
      expect(s.pending()).toBe(0);
    }));
  });

  it('cancels, steps, and runs until a time or for a while', () => {
    const s = new Scheduler();
    const log: number[] = [];
    const id = s.after(3, 'x', () => log.push(3));
    s.after(7, 'y', () => log.push(7));
    s.after(20, 'z', () => log.push(20));
    s.cancel(id);
    s.cancel(id); // twice is harmless
    expect(s.pending()).toBe(2);
    expect(s.nextTime()).toBe(7);
    expect(s.runUntil(tick(10))).toBe(1);
    expect(s.now()).toBe(10);
    expect(log).toEqual([7]);
    expect(s.step()).toBe(true);
    expect(s.now()).toBe(20);
    expect(s.step()).toBe(false);
    expect(s.nextTime()).toBe(null);
    expect(s.runFor(5)).toBe(0);
    expect(s.now()).toBe(25);
  });

  it('runUntil includes events at the end tick and leaves later ones queued', () => {
    const s = new Scheduler();
    const log: number[] = [];
    for (const t of [5, 10, 11]) s.at(tick(t), `at ${t}`, () => log.push(t));
    expect(s.runUntil(tick(10))).toBe(2);
    expect(log).toEqual([5, 10]);
    expect(s.pending()).toBe(1);
    expect(s.runFor(1)).toBe(1);
    expect(s.now()).toBe(11);
  });

  it('never goes back in time: scheduling in the past, a negative delay or running until a past tick panics', () => {
    const s = new Scheduler();
    s.runFor(100);
    expect(() => s.at(tick(50), 'past', () => {})).toThrow(KernelPanic);
    expect(() => s.after(-1, 'past', () => {})).toThrow(KernelPanic);
    expect(() => s.runUntil(tick(99))).toThrow(KernelPanic);
    expect(s.now()).toBe(100);
    expect(() => s.at(tick(100), 'now', () => {})).not.toThrow();
  });

  it('guards against livelock', () => {
    const s = new Scheduler();
    const again = (): void => void s.after(1, 'again', again);
    again();
    expect(() => s.runUntilQuiescent(1000)).toThrow(/not quiescent after 1000 events \(last: again\)/);
  });
});
