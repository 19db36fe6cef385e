import { describe, expect, it } from 'vitest';
import { World, type Host } from '../../../sim/host.ts';
import {
  decodeUpcall, EMPTY_BODY, encodeReply, INTERMEZZO_MINOR, IZO_UPC_KML, IZO_UPC_PERMIT, izo_upc_upcall, MISC_MAJOR, Psdev,
} from '../../../fs/intermezzo/psdev.ts';
import { sys_close, sys_mknod, sys_open, sys_read, sys_write } from '../../../kernel/syscalls.ts';
import { O_RDWR, S_IFCHR } from '../../../kernel/fs.ts';
import { EINTR, ENODEV, ESRCH, isErr } from '../../../kernel/errno.ts';
import { sleepFor, type Sys } from '../../../kernel/sched.ts';
import type { Process } from '../../../kernel/process.ts';

function setup(): { w: World; h: Host; psdev: Psdev; lento: Process } {
  const w = new World({ seed: 3, trace: { keep: true } });
  const h = w.addHost('client');
  h.mountRoot('ramfs', null);
  const psdev = new Psdev(h.kernel);
  expect(psdev.register()).toBe(0);
  const root = h.process('init');
  expect(h.run(root, sys_mknod(root, '/intermezzo', S_IFCHR | 0o600, (MISC_MAJOR << 8) | INTERMEZZO_MINOR))).toBe(0);
  return { w, h, psdev, lento: h.process('lento') };
}

/** A lento stand-in: serve `n` requests, answering each with `answer(opcode)`. */
function* serve(p: Process, n: number, answer: (opcode: number) => number, seen: string[]): Sys<number> {
  const fd = yield* sys_open(p, '/intermezzo', O_RDWR);
  if (isErr(fd)) return 1;
  const buf = new Uint8Array(4096);
  for (let i = 0; i < n; i++) {
    const len = yield* sys_read(p, fd, buf);
    if (isErr(len)) return 2;
    const u = decodeUpcall(buf.slice(0, len));
    if (typeof u === 'string') return 3;
    seen.push(`${u.opcode}:${u.path}:${u.async}`);
    if (!u.async) yield* sys_write(p, fd, encodeReply(u.opcode, u.unique, answer(u.opcode)));
  }
  yield* sys_close(p, fd);
  return 0;
}

describe('psdev: /dev/intermezzo', () => {
  it('blocks a synchronous upcall until lento replies, and returns its answer', () => {
    const { w, h, psdev, lento } = setup();
    const seen: string[] = [];
    h.kernel.spawn(lento, serve(lento, 1, () => -30, seen));
    w.runUntilQuiescent();
    const results: number[] = [];
    h.kernel.kthread_run('presto', (function* () {
      results.push(yield* izo_upc_upcall(psdev, psdev.channel(0), IZO_UPC_PERMIT, { ...EMPTY_BODY, path: '/fset' }, { async: false }));
      return 0;
    })());
    w.runUntilQuiescent();
    expect(results).toEqual([-30]); // EROFS from lento: the permit is refused
    expect(seen).toEqual(['1:/fset:false']);
  });

  it('keeps asynchronous upcalls queued across a reader restart; fails sync waiters with ENODEV', () => {
    const { w, h, psdev, lento } = setup();
    const chan = psdev.channel(0);
    const seen: string[] = [];
    // A reader that opens, takes nothing, and closes while a sync request waits.
    const results: number[] = [];
    h.kernel.spawn(lento, (function* (): Sys<number> {
      const fd = yield* sys_open(lento, '/intermezzo', O_RDWR);
      h.kernel.kthread_run('presto', (function* () {
        results.push(yield* izo_upc_upcall(psdev, chan, IZO_UPC_KML, { ...EMPTY_BODY, path: 'kml' }, { async: true }));
        results.push(yield* izo_upc_upcall(psdev, chan, IZO_UPC_PERMIT, EMPTY_BODY, { async: false }));
        return 0;
      })());
      yield* sleepFor(10, 'test.pause');
      yield* sys_close(lento, fd as number);
      return 0;
    })());
    w.runUntilQuiescent();
    expect(results).toEqual([0, ENODEV]);
    expect(chan.pending.length).toBe(1); // the async KML upcall survived
    const lento2 = h.process('lento2');
    h.kernel.spawn(lento2, serve(lento2, 1, () => 0, seen));
    w.runUntilQuiescent();
    expect(seen).toEqual(['6:kml:true']);
  });

  it('gives EINTR after the timeout unless the channel is hard; ESRCH for an unknown reply', () => {
    const { w, h, psdev, lento } = setup();
    const chan = psdev.channel(0);
    const results: number[] = [];
    let fd = -1;
    h.kernel.spawn(lento, (function* (): Sys<number> {
      fd = (yield* sys_open(lento, '/intermezzo', O_RDWR)) as number;
      results.push(yield* sys_write(lento, fd, encodeReply(1, 999, 0)));
      return 0;
    })());
    w.runUntilQuiescent();
    expect(results).toEqual([ESRCH]);
    h.kernel.kthread_run('presto', (function* () {
      results.push(yield* izo_upc_upcall(psdev, chan, IZO_UPC_PERMIT, EMPTY_BODY, { async: false }));
      return 0;
    })());
    const start = w.sched.now();
    w.runUntilQuiescent();
    expect(results).toEqual([ESRCH, EINTR]);
    expect(w.sched.now() - start).toBe(30_000_000);
    chan.hard = true;
    h.kernel.kthread_run('presto2', (function* () {
      results.push(yield* izo_upc_upcall(psdev, chan, IZO_UPC_PERMIT, EMPTY_BODY, { async: false }));
      return 0;
    })());
    w.sched.runFor(100_000_000);
    expect(results).toEqual([ESRCH, EINTR]); // still waiting: hard
    expect(chan.pending.length).toBe(1);
  });
});

