import { describe, expect, it } from 'vitest';
import { Scheduler } from '../../sim/scheduler.ts';
import { KernelPanic } from '../../kernel/assert.ts';
import { tick } from '../../kernel/types.ts';

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
  });

  it('cancels, steps, and runs until a time or for a while', () => {
    const s = new Scheduler();
    const log: number[] = [];
    const id = s.after(3, 'x', () => log.push(3));
    s.after(7, 'y', () => log.push(7));
    s.after(20, 'z', () => log.push(20));
    s.cancel(id);
    s.cancel(id);
    expect(s.pending()).toBe(2);
    expect(s.runUntil(tick(10))).toBe(1);
    expect(s.now()).toBe(10);
    expect(log).toEqual([7]);
    expect(s.step()).toBe(true);
    expect(s.step()).toBe(false);
    expect(s.runFor(5)).toBe(0);
    expect(s.now()).toBe(25);
  });

  it('never goes back in time', () => {
    const s = new Scheduler();
    s.runFor(100);
    expect(() => s.at(tick(50), 'past', () => {})).toThrow(KernelPanic);
  });

  it('guards against livelock', () => {
    const s = new Scheduler();
    const again = (): void => void s.after(1, 'again', again);
    again();
    expect(() => s.runUntilQuiescent(1000)).toThrow(/not quiescent after 1000 events/);
  });
});
