/**
 * presto_log_guard (dir.ts, file.ts): a fileset's logs under /.intermezzo/<fset>/ are presto's.
 * An ordinary process, root included, may read them but gets EPERM for every change (an open for
 * writing, truncate, chmod, link, rename, unlink); lento, as presto knows it (SET_PID on the
 * fileset's channel), keeps its access; presto's own logging goes on (a later change is logged).
 * Negative control: an ordinary file beside the logs (lento's state lives there) is not guarded.
 */
import { describe, expect, it } from 'vitest';
import { EPERM, isErr } from '../../../kernel/errno.ts';
import { O_DIRECTORY, O_RDONLY, O_WRONLY } from '../../../kernel/fs.ts';
import type { Process } from '../../../kernel/process.ts';
import { IZO_IOC_SET_PID, type IzoIoctlData } from '../../../fs/intermezzo/ioctl.ts';
import { World, type Host } from '../../../sim/host.ts';
import { hostSys } from '../../support/boot.ts';
import { readLog, replicaHost } from '../../support/presto.ts';

const LOGS = ['kml', 'lml', 'last_rcvd'].map((l) => `/izo/.intermezzo/f/${l}`);

function ioctl(h: Host, p: Process, cmd: number, data: IzoIoctlData): number {
  const s = hostSys(h, p);
  const fd = s.sys_open('/izo', O_RDONLY | O_DIRECTORY);
  if (isErr(fd)) throw new Error(`open /izo: ${fd}`);
  const r = s.sys_ioctl(fd, cmd, data);
  s.sys_close(fd);
  return r;
}

describe("presto's logs refuse ordinary changes", () => {
  it('root gets EPERM for every change of kml, lml and last_rcvd, and may read them', () => {
    const h = replicaHost(new World({ seed: 1 }), 'a');
    const s = hostSys(h, h.process('root'));
    expect(s.sys_mkdir('/izo/d', 0o755)).toBe(0);
    for (const log of LOGS) {
      expect(s.sys_open(log, O_WRONLY), log).toBe(EPERM);
      expect(s.sys_truncate(log, 0), log).toBe(EPERM);
      expect(s.sys_chmod(log, 0o600), log).toBe(EPERM);
      expect(s.sys_chown(log, 5, 5), log).toBe(EPERM);
      expect(s.sys_link(log, '/izo/.intermezzo/f/copy'), log).toBe(EPERM);
      expect(s.sys_rename(log, '/izo/.intermezzo/f/moved'), log).toBe(EPERM);
      expect(s.sys_unlink(log), log).toBe(EPERM);
      const fd = s.sys_open(log, O_RDONLY);
      expect(fd, log).toBeGreaterThanOrEqual(0);
      s.sys_close(fd as number);
    }
    expect(s.sys_mkdir('/izo/e', 0o755)).toBe(0);
    expect(readLog(h, h.process('r2'), 'kml', 'f', '/izo').records.map((r) => r.rec.body.op)).toEqual(['MKDIR', 'MKDIR']);
  });

  it('lento (SET_PID) keeps its access; a file of its own beside the logs is not guarded (negative control)', () => {
    const h = replicaHost(new World({ seed: 1 }), 'a');
    const root = h.process('root');
    const lento = h.process('lento');
    expect(ioctl(h, root, IZO_IOC_SET_PID, { pid: lento.pid })).toBe(0);
    const l = hostSys(h, lento);
    const fd = l.sys_open(LOGS[1] as string, O_WRONLY);
    expect(fd).toBeGreaterThanOrEqual(0);
    l.sys_close(fd as number);
    const s = hostSys(h, root);
    expect(s.sys_creat('/izo/.intermezzo/f/lento.state', 0o600)).toBeGreaterThanOrEqual(0);
    expect(s.sys_unlink('/izo/.intermezzo/f/lento.state')).toBe(0);
  });
});
