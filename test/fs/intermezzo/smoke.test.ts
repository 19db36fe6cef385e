import { describe, expect, it } from 'vitest';
import { World } from '../../../sim/host.ts';
import { hostSys, enc } from '../../support/boot.ts';
import { prestoHost, readLog } from '../../support/presto.ts';
import { O_CREAT, O_RDWR } from '../../../kernel/fs.ts';
import { EINVAL, EROFS } from '../../../kernel/errno.ts';
import { sys_mkdir, sys_mount } from '../../../kernel/syscalls.ts';
import { intermezzo_fs_type } from '../../../fs/intermezzo/super.ts';

describe('presto smoke', () => {
  for (const cache of ['ext3', 'ramfs'] as const) {
    it(`logs operations over ${cache}`, () => {
      const w = new World({ seed: 1 });
      const h = prestoHost(w, 'a', { cache });
      const p = h.process('sh');
      const s = hostSys(h, p);
      expect(s.sys_mkdir('/d', 0o755)).toBe(0);
      const fd = s.sys_open('/d/x', O_CREAT | O_RDWR, 0o644) as number;
      expect(fd).toBeGreaterThanOrEqual(0);
      expect(s.sys_write(fd, enc('hello'))).toBe(5);
      expect(s.sys_close(fd)).toBe(0);
      expect(s.sys_rename('/d/x', '/d/y')).toBe(0);
      expect(s.sys_chmod('/d/y', 0o600)).toBe(0);
      expect(s.sys_unlink('/d/y')).toBe(0);
      const scan = readLog(h, p);
      expect(scan.damage).toBeNull();
      expect(scan.records.map((r) => r.rec.body.op)).toEqual(['MKDIR', 'CREATE', 'CLOSE', 'RENAME', 'SETATTR', 'UNLINK']);
      expect(scan.records.map((r) => r.rec.recno)).toEqual([1, 2, 3, 4, 5, 6]);
      const lml = readLog(h, p, 'lml');
      expect(lml.records.filter((r) => r.rec.cancelled !== true)).toEqual([]);
    });
  }
});

describe('presto mount options', () => {
  it('nosteal: without user space the fileset refuses writes (EROFS); .intermezzo stays writable', () => {
    const w = new World({ seed: 2 });
    const h = prestoHost(w, 'a', { extra: 'nosteal' });
    const s = hostSys(h, h.process('sh'));
    expect(s.sys_mkdir('/d', 0o755)).toBe(EROFS);
    expect(s.sys_mkdir('/.intermezzo/scratch', 0o700)).toBe(0);
  });

  it('over ext2: changes are logged without a journal', () => {
    const w = new World({ seed: 3 });
    const h = prestoHost(w, 'a', { cache: 'ext3', extra: 'cache_type=ext2' });
    const p = h.process('sh');
    expect(hostSys(h, p).sys_mkdir('/d', 0o755)).toBe(0);
    expect(readLog(h, p).records.map((r) => r.rec.body.op)).toEqual(['MKDIR']);
  });

  it('a bad option is refused with EINVAL, naming it in the trace', () => {
    const w = new World({ seed: 4, trace: { keep: true } });
    const h = w.addHost('a');
    h.mountRoot('ramfs', null);
    h.registerFs(intermezzo_fs_type);
    const p = h.process('root');
    h.run(p, sys_mkdir(p, '/m', 0o755));
    expect(h.run(p, sys_mount(p, null, '/m', 'intermezzo', 0, 'cache_type=ramfs,channel=99'))).toBe(EINVAL);
    const refused = w.trace.records().find((r) => r.ev === 'presto.refused');
    expect(refused?.data).toEqual({ reason: "channel '99' is not 0..15" });
  });

  it('a file unlinked while open logs no CLOSE and leaves no pending close in the LML', () => {
    const w = new World({ seed: 5 });
    const h = prestoHost(w, 'a');
    const p = h.process('sh');
    const s = hostSys(h, p);
    const fd = s.sys_open('/tmp-file', O_CREAT | O_RDWR, 0o600) as number;
    expect(s.sys_write(fd, enc('scratch'))).toBe(7);
    expect(s.sys_unlink('/tmp-file')).toBe(0);
    expect(s.sys_close(fd)).toBe(0);
    expect(readLog(h, p).records.map((r) => r.rec.body.op)).toEqual(['CREATE', 'UNLINK']);
    expect(readLog(h, p, 'lml').records).toEqual([]);
  });
});
