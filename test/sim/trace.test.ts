import { describe, expect, it } from 'vitest';
import { parseTraceLine, traceLine, TraceRecorder } from '../../sim/trace.ts';
import { Scheduler } from '../../sim/scheduler.ts';

describe('TraceRecorder', () => {
  it('writes stable JSON Lines that parse back to the same events', () => {
    const s = new Scheduler();
    const t = new TraceRecorder(s, { keep: true });
    const a = t.tracerFor('a');
    a.emit('task.spawn', { pid: 1, comm: 'x' });
    s.runFor(5);
    t.tracerFor('b').emit('blkdev.write', { dev: 'hda', blk: 3, seq: 0, fua: false });
    expect(t.lines()).toBe('{"t":0,"host":"a","ev":"task.spawn","pid":1,"comm":"x"}\n{"t":5,"host":"b","ev":"blkdev.write","dev":"hda","blk":3,"seq":0,"fua":false}\n');
    for (const r of t.records()) expect(parseTraceLine(traceLine(r))).toEqual(r);
    expect(() => parseTraceLine('{"x":1}')).toThrow(/not a trace line/);
  });

  it('hashes the whole trace: equal runs, equal hashes; any change, another hash', () => {
    const run = (pid: number): string => {
      const t = new TraceRecorder(new Scheduler());
      t.tracerFor('h').emit('task.exit', { pid, status: 0 });
      t.tracerFor('h').emit('task.exit', { pid: 2, status: 0 });
      return t.hash();
    };
    expect(run(1)).toBe(run(1));
    expect(run(1)).not.toBe(run(3));
    expect(run(1)).toMatch(/^[0-9a-f]{16}$/);
  });
});
