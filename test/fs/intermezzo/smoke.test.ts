import { describe, expect, it } from 'vitest';
import { World } from '../../../sim/host.ts';
import { hostSys, enc } from '../../support/boot.ts';
import { prestoHost, readLog } from '../../support/presto.ts';
import { O_CREAT, O_RDWR } from '../../../kernel/fs.ts';

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
