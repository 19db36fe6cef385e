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

  it('hashes typed fields: what JSON would tell apart, the hash tells apart', () => {
    const hashOf = (events: Array<[string, Record<string, unknown>]>): string => {
      const t = new TraceRecorder(new Scheduler());
      for (const [host, data] of events) t.tracerFor(host).emit('task.sleep', data as never);
      return t.hash();
    };
    const base = hashOf([['h', { pid: 1, point: 'ab', timeout: null }]]);
    const others = [
      hashOf([['h', { pid: 1, point: 'a', timeout: null }]]), // a shorter string
      hashOf([['h', { pid: 1, point: 'ab', timeout: 0 }]]), // null against 0
      hashOf([['h', { pid: 2 ** 32 + 1, point: 'ab', timeout: null }]]), // the high word counts
      hashOf([['h', { pid: 1.5, point: 'ab', timeout: null }]]), // a fraction
      hashOf([['h', { pid: '1', point: 'ab', timeout: null }]]), // a string against a number
      hashOf([['hh', { pid: 1, point: 'ab', timeout: null }]]), // another host
      hashOf([['h', { pid: 1, point: 'a', timeout: null, b: null }]]), // a field more
      hashOf([['h', { pid: 1, point: ['ab'], timeout: null }]]), // an array of it
    ];
    expect(new Set([base, ...others]).size).toBe(others.length + 1);
    // a field left undefined is no field, as in the JSON line
    expect(hashOf([['h', { pid: 1, point: 'ab', timeout: null, extra: undefined }]])).toBe(base);
  });
});
