import { describe, expect, it } from 'vitest';
import { World } from '../../../sim/host.ts';
import { decodeUpcall, encodeReply, INTERMEZZO_MINOR, MISC_MAJOR, Psdev } from '../../../fs/intermezzo/psdev.ts';
import { sys_close, sys_mknod, sys_open, sys_read, sys_write } from '../../../kernel/syscalls.ts';
import { O_RDWR, S_IFCHR } from '../../../kernel/fs.ts';
import { EROFS } from '../../../kernel/errno.ts';
import type { Process } from '../../../kernel/process.ts';
import type { Sys } from '../../../kernel/sched.ts';
import {
  FSET_HASPERMIT, FSET_STEAL_PERMIT, newPermitWait, presto_get_permit, presto_put_permit, presto_revoke_permit, type PermitHolder,
} from '../../../fs/intermezzo/permit.ts';

function setup(flags = 0) {
  const w = new World({ seed: 5, trace: { keep: true } });
  const h = w.addHost('client');
  h.mountRoot('ramfs', null);
  const psdev = new Psdev(h.kernel);
  psdev.register();
  const init = h.process('init');
  h.run(init, sys_mknod(init, '/izo', S_IFCHR | 0o600, (MISC_MAJOR << 8) | INTERMEZZO_MINOR));
  const fset: PermitHolder = { name: 'fset0', flags, permitCount: 0, permitWait: newPermitWait('fset0'), psdev, channel: psdev.channel(0) };
  return { w, h, fset };
}

function* lento(p: Process, answers: number[], seen: number[]): Sys<number> {
  const fd = (yield* sys_open(p, '/izo', O_RDWR)) as number;
  const buf = new Uint8Array(4096);
  for (const a of answers) {
    const n = (yield* sys_read(p, fd, buf)) as number;
    const u = decodeUpcall(buf.slice(0, n));
    if (typeof u === 'string') return 1;
    seen.push(u.opcode);
    yield* sys_write(p, fd, encodeReply(u.opcode, u.unique, a));
  }
  yield* sys_close(p, fd);
  return 0;
}

describe('presto permits', () => {
  it('asks lento once; concurrent writers wait for the answer, then share the cached permit', () => {
    const { w, h, fset } = setup();
    const seen: number[] = [];
    const l = h.process('lento');
    h.kernel.spawn(l, lento(l, [0], seen));
    w.runUntilQuiescent();
    const results: number[] = [];
    for (const name of ['w1', 'w2', 'w3']) {
      const p = h.process(name);
      h.kernel.spawn(p, (function* () {
        results.push(yield* presto_get_permit(fset, p));
        return 0;
      })());
    }
    w.runUntilQuiescent();
    expect(results).toEqual([0, 0, 0]);
    expect(seen).toEqual([1]); // one PERMIT upcall for three writers
    expect(fset.permitCount).toBe(3);
    expect(fset.flags & FSET_HASPERMIT).toBe(FSET_HASPERMIT);
  });

  it('refuses with EROFS when lento says so, and when lento is absent unless stealing is allowed', () => {
    const a = setup();
    const l = a.h.process('lento');
    a.h.kernel.spawn(l, lento(l, [EROFS], []));
    a.w.runUntilQuiescent();
    const p = a.h.process('w');
    expect(a.h.run(p, presto_get_permit(a.fset, p))).toBe(EROFS);
    const b = setup();
    const q = b.h.process('w');
    expect(b.h.run(q, presto_get_permit(b.fset, q))).toBe(EROFS);
    const c = setup(FSET_STEAL_PERMIT);
    const r = c.h.process('w');
    expect(c.h.run(r, presto_get_permit(c.fset, r))).toBe(0);
    expect(c.w.trace.records().some((e) => e.ev === 'presto.permit' && (e.data as { how: string }).how === 'stolen')).toBe(true);
  });

  it('revocation waits for the users to drain, then tells lento', () => {
    const { w, h, fset } = setup();
    const seen: number[] = [];
    const l = h.process('lento');
    h.kernel.spawn(l, lento(l, [0, 0], seen));
    w.runUntilQuiescent();
    const user = h.process('user');
    expect(h.run(user, presto_get_permit(fset, user))).toBe(0);
    const revoker = h.process('revoker');
    let revoked: number | null = null;
    h.kernel.spawn(revoker, (function* () {
      revoked = yield* presto_revoke_permit(fset, revoker);
      return 0;
    })());
    w.runUntilQuiescent();
    expect(revoked).toBeNull(); // still in use
    presto_put_permit(fset);
    w.runUntilQuiescent();
    expect(revoked).toBe(0);
    expect(seen).toEqual([1, 5]);
    expect(fset.flags & FSET_HASPERMIT).toBe(0);
    // the revocation is traced once, with no user left holding the permit
    const ev = w.trace.records().filter((e) => e.ev === 'presto.permit' && (e.data as { how: string }).how === 'revoked');
    expect(ev.map((e) => (e.data as { count: number }).count)).toEqual([0]);
  });
});
