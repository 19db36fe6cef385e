import { describe, expect, it } from 'vitest';
import { World } from '../../sim/host.ts';
import { sys_mkdir, sys_stat } from '../../kernel/syscalls.ts';
import { KernelPanic } from '../../kernel/assert.ts';
import { sleepOn, WaitQueue } from '../../kernel/sched.ts';

describe('World and Host', () => {
  it('runs syscalls as a process on a host, with the trace stamped per host', () => {
    const w = new World({ seed: 7, trace: { keep: true } });
    const a = w.addHost('a');
    a.mountRoot('ramfs', null);
    const p = a.process('sh');
    expect(a.run(p, sys_mkdir(p, '/x', 0o755))).toBe(0);
    const st = a.run(p, sys_stat(p, '/x'));
    expect(typeof st === 'object' && st.st_mode & 0o777).toBe(0o755);
    expect(w.trace.records().some((r) => r.host === 'a' && r.ev === 'task.exit')).toBe(true);
  });

  it('reports a task that sleeps forever as a deadlock, naming where', () => {
    const w = new World({ seed: 1 });
    const a = w.addHost('a');
    a.mountRoot('ramfs', null);
    const p = a.process('stuck');
    expect(() => a.run(p, sleepOn(new WaitQueue('never'), 'test.never'))).toThrow(KernelPanic);
    expect(() => a.run(a.process('again'), sleepOn(new WaitQueue('never'), 'test.never'))).toThrow(/test\.never/);
  });
});
