/**
 * presto's ioctls and filesets, through sys_ioctl on a directory of the mount: root only; MARK on
 * dentries, filesets and the cache; SET_FSET making a second fileset (EXDEV across, records in
 * its own log, nothing logged under /.intermezzo); CLEAR_FSET; GET_KML_SIZE and GET_RCVD; the
 * upcall ioctls reaching a user-space reader with the original numbers; SET_PID making a process
 * lento (its changes are not logged); SET_KMLSIZE cutting the KML's head in one transaction
 * (logical offsets unchanged); REVOKE_PERMIT; log tails restored at the next mount.
 */
import { describe, expect, it } from 'vitest';
import { ENODEV, ENOTTY, EPERM, EROFS, EXDEV, isErr } from '../../../kernel/errno.ts';
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_WRONLY } from '../../../kernel/fs.ts';
import type { Process } from '../../../kernel/process.ts';
import {
  decodeUpcall, encodeReply, IZO_UPC_CONNECT, IZO_UPC_GET_FILEID, IZO_UPC_GO_FETCH_KML, IZO_UPC_KML_TRUNC,
  IZO_UPC_KML, IZO_UPC_REPSTATUS, IZO_UPC_REVOKE_PERMIT,
} from '../../../fs/intermezzo/psdev.ts';
import type { Sys } from '../../../kernel/sched.ts';
import * as S from '../../../kernel/syscalls.ts';
import { TICKS_PER_SEC } from '../../../kernel/types.ts';
import {
  MARK_CACHE, MARK_DENTRY, MARK_FSET, MARK_GETFL, PRESTO_DATA,
} from '../../../fs/intermezzo/intermezzo_fs.ts';
import {
  IZO_IOC_CLEAR_FSET, IZO_IOC_CONNECT, IZO_IOC_GET_FILEID, IZO_IOC_GET_KML_SIZE, IZO_IOC_GET_RCVD,
  IZO_IOC_GO_FETCH_KML, IZO_IOC_MARK, IZO_IOC_REPSTATUS, IZO_IOC_REVOKE_PERMIT, IZO_IOC_SET_CHANNEL,
  IZO_IOC_SET_FSET, IZO_IOC_SET_KMLSIZE, IZO_IOC_SET_PID, IZO_IOC_ADJUST_LML, IZO_IOC_SET_FILEID,
  type IzoIoctlData,
} from '../../../fs/intermezzo/ioctl.ts';
import { KML_CHUNK_SIZE } from '../../../fs/intermezzo/kml.ts';
import { FSET_CLIENT_RO, FSET_DATA_ON_DEMAND, FSET_HASPERMIT } from '../../../fs/intermezzo/permit.ts';
import { World, type Host } from '../../../sim/host.ts';
import { kmlRecords } from '../../support/replay.ts';
import { enc, hostSys } from '../../support/boot.ts';
import { newExt3Disk, readLog, replicaHost } from '../../support/presto.ts';

function ioctl(h: Host, p: Process, dir: string, cmd: number, data: IzoIoctlData): number {
  const s = hostSys(h, p);
  const fd = s.sys_open(dir, O_RDONLY | O_DIRECTORY);
  if (isErr(fd)) throw new Error(`open ${dir}: ${fd}`);
  const r = s.sys_ioctl(fd, cmd, data);
  s.sys_close(fd);
  return r;
}

/** A user-space reader that answers every synchronous upcall with `result` and notes each opcode. */
function* reader(p: Process, seen: number[], result: number): Sys<number> {
  const fd = (yield* S.sys_open(p, '/dev/intermezzo', O_RDWR)) as number;
  const buf = new Uint8Array(1 << 16);
  for (;;) {
    const n = yield* S.sys_read(p, fd, buf);
    if (isErr(n)) return 1;
    const u = decodeUpcall(buf.slice(0, n));
    if (typeof u === 'string') return 1;
    seen.push(u.opcode);
    if (!u.async) yield* S.sys_write(p, fd, encodeReply(u.opcode, u.unique, result));
  }
}

function host(seed = 1): { w: World; h: Host; root: Process } {
  const w = new World({ seed });
  const h = replicaHost(w, 'a');
  return { w, h, root: h.process('root') };
}

describe('presto ioctls', () => {
  it('are root only (EPERM), and ENOTTY outside a presto mount', () => {
    const { h } = host();
    const user = h.process('u', 1000, 1000);
    expect(ioctl(h, user, '/izo', IZO_IOC_GET_KML_SIZE, {})).toBe(EPERM);
    const root = h.process('r');
    expect(ioctl(h, root, '/dev', IZO_IOC_GET_KML_SIZE, {})).toBe(ENOTTY);
    expect(ioctl(h, root, '/izo', IZO_IOC_GET_KML_SIZE, {})).toBe(0);
  });

  it('MARK sets and reads dentry, fileset and cache flags; a read-only fileset refuses writes', () => {
    const { h, root } = host();
    const s = hostSys(h, root);
    expect(s.sys_mkdir('/izo/d', 0o755)).toBe(0);
    const m: IzoIoctlData = { mark_what: MARK_DENTRY, path: '/d', and_flag: 0, or_flag: 0x4 };
    expect(ioctl(h, root, '/izo', IZO_IOC_MARK, m)).toBe(0);
    const g: IzoIoctlData = { mark_what: MARK_GETFL, path: '/d' };
    expect(ioctl(h, root, '/izo', IZO_IOC_MARK, g)).toBe(0);
    expect(g.flags).toBe(0x4);
    const f: IzoIoctlData = { mark_what: MARK_FSET, or_flag: FSET_CLIENT_RO };
    expect(ioctl(h, root, '/izo', IZO_IOC_MARK, f)).toBe(0);
    expect((f.flags ?? 0) & FSET_CLIENT_RO).toBe(FSET_CLIENT_RO);
    expect(s.sys_mkdir('/izo/e', 0o755)).toBe(EROFS);
    expect(ioctl(h, root, '/izo', IZO_IOC_MARK, { mark_what: MARK_FSET, and_flag: ~FSET_CLIENT_RO })).toBe(0);
    expect(s.sys_mkdir('/izo/e', 0o755)).toBe(0);
    const c: IzoIoctlData = { mark_what: MARK_CACHE, or_flag: 0x1 };
    expect(ioctl(h, root, '/izo', IZO_IOC_MARK, c)).toBe(0);
    expect(s.sys_mkdir('/izo/x', 0o755)).toBe(EROFS);
  });

  it('SET_FSET makes a second fileset with its own log; EXDEV across; CLEAR_FSET closes it', () => {
    const { h, root } = host();
    const s = hostSys(h, root);
    expect(s.sys_mkdir('/izo/sub', 0o755)).toBe(0);
    expect(ioctl(h, root, '/izo/sub', IZO_IOC_SET_FSET, { fset: 'g' })).toBe(0);
    expect(s.sys_mkdir('/izo/sub/in-g', 0o755)).toBe(0);
    expect(s.sys_mkdir('/izo/in-f', 0o755)).toBe(0);
    expect(s.sys_rename('/izo/sub/in-g', '/izo/moved')).toBe(EXDEV);
    const fd = s.sys_open('/izo/.intermezzo/f/scratch', O_CREAT | O_WRONLY, 0o600) as number;
    s.sys_write(fd, enc('not logged'));
    s.sys_close(fd);
    const f = readLog(h, root, 'kml', 'f', '/izo');
    const g = readLog(h, root, 'kml', 'g', '/izo');
    expect(f.records.map((r) => [r.rec.body.op, 'path' in r.rec.body ? r.rec.body.path : ''])).toEqual([
      ['MKDIR', '/sub'],
      ['MKDIR', '/in-f'],
    ]);
    expect(g.records.map((r) => [r.rec.body.op, 'path' in r.rec.body ? r.rec.body.path : ''])).toEqual([
      ['MKDIR', '/in-g'],
    ]);
    expect(ioctl(h, root, '/izo', IZO_IOC_CLEAR_FSET, { fset: 'g' })).toBe(0);
    expect(s.sys_mkdir('/izo/sub/after', 0o755)).toBe(0);
    expect(readLog(h, root, 'kml', 'f', '/izo').records.at(-1)?.rec.body).toMatchObject({ path: '/sub/after' });
  });

  it('GET_KML_SIZE and GET_RCVD report the log end and the zero-uuid record', () => {
    const { h, root } = host();
    const s = hostSys(h, root);
    s.sys_mkdir('/izo/a', 0o755);
    s.sys_mkdir('/izo/b', 0o755);
    const size: IzoIoctlData = {};
    expect(ioctl(h, root, '/izo', IZO_IOC_GET_KML_SIZE, size)).toBe(0);
    expect(size.recno).toBe(2);
    const kml = readLog(h, root, 'kml', 'f', '/izo');
    const last = kml.records.at(-1);
    expect(size.kml_size).toBe((last?.offset ?? 0) + (last?.len ?? 0));
    const rc: IzoIoctlData = { uuid: new Uint8Array(16) };
    expect(ioctl(h, root, '/izo', IZO_IOC_GET_RCVD, rc)).toBe(0);
    expect(rc.rcvd?.local_offset).toBe(0);
    const none: IzoIoctlData = { uuid: new Uint8Array(16).fill(9) };
    expect(ioctl(h, root, '/izo', IZO_IOC_GET_RCVD, none)).toBe(0);
    expect(none.rcvd).toBeNull();
  });

  it('CONNECT, GO_FETCH_KML, GET_FILEID, REPSTATUS reach user space as upcalls; SET_CHANNEL moves them', () => {
    const { h, root } = host();
    const seen: number[] = [];
    const lento = h.process('lento');
    h.kernel.spawn(lento, reader(lento, seen, 7));
    const c: IzoIoctlData = { address: 'server:7000' };
    expect(ioctl(h, root, '/izo', IZO_IOC_CONNECT, c)).toBe(0);
    expect(c.result).toBe(7);
    expect(ioctl(h, root, '/izo', IZO_IOC_GO_FETCH_KML, { uuid: new Uint8Array(16).fill(1), offset: 0 })).toBe(0);
    expect(ioctl(h, root, '/izo', IZO_IOC_GET_FILEID, { path: '/x' })).toBe(0);
    expect(ioctl(h, root, '/izo', IZO_IOC_REPSTATUS, { uuid: new Uint8Array(16).fill(1) })).toBe(0);
    h.run(root, S.sys_getcwd(root)); // let the reader take the asynchronous one
    expect(seen).toEqual([IZO_UPC_CONNECT, IZO_UPC_GO_FETCH_KML, IZO_UPC_GET_FILEID, IZO_UPC_REPSTATUS]);
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_CHANNEL, { channel: 3 })).toBe(0);
    // Nobody reads channel 3: a synchronous upcall fails at once with ENODEV.
    expect(ioctl(h, root, '/izo', IZO_IOC_CONNECT, {})).toBe(ENODEV);
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_CHANNEL, { channel: 99 })).toBeLessThan(0);
  });

  it('SET_PID makes a process lento: its changes need no permit and are not logged', () => {
    const { h, root } = host();
    const lento = h.process('lento');
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_PID, { pid: lento.pid })).toBe(0);
    expect(hostSys(h, lento).sys_mkdir('/izo/by-lento', 0o755)).toBe(0);
    expect(hostSys(h, root).sys_mkdir('/izo/by-root', 0o755)).toBe(0);
    const ops = readLog(h, root, 'kml', 'f', '/izo').records.map((r) => r.rec.body);
    expect(ops).toHaveLength(1);
    expect(ops[0]).toMatchObject({ op: 'MKDIR', path: '/by-root' });
  });

  it('REVOKE_PERMIT drains and hands the permit back with the upcall', () => {
    const { h, root } = host();
    const seen: number[] = [];
    const lento = h.process('lento');
    h.kernel.spawn(lento, reader(lento, seen, 0));
    expect(hostSys(h, root).sys_mkdir('/izo/a', 0o755)).toBe(0); // PERMIT granted by the reader
    const before: IzoIoctlData = { mark_what: MARK_FSET };
    ioctl(h, root, '/izo', IZO_IOC_MARK, before);
    expect((before.flags ?? 0) & FSET_HASPERMIT).toBe(FSET_HASPERMIT);
    expect(ioctl(h, root, '/izo', IZO_IOC_REVOKE_PERMIT, {})).toBe(0);
    expect(seen).toContain(IZO_UPC_REVOKE_PERMIT);
    const after: IzoIoctlData = { mark_what: MARK_FSET };
    ioctl(h, root, '/izo', IZO_IOC_MARK, after);
    expect((after.flags ?? 0) & FSET_HASPERMIT).toBe(0);
  });

  it('SET_KMLSIZE: KML_TRUNC past the limit; the cut keeps logical offsets; the next mount agrees', () => {
    const w = new World({ seed: 4 });
    const dev = newExt3Disk(8192, 4);
    const h = replicaHost(w, 'a', { dev });
    const root = h.process('root');
    const seen: number[] = [];
    const lento = h.process('lento');
    h.kernel.spawn(lento, reader(lento, seen, 0));
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_KMLSIZE, { kml_size: KML_CHUNK_SIZE + 4096 })).toBe(0);
    const s = hostSys(h, root);
    const long = 'n'.repeat(200);
    for (let i = 0; i < 420; i++) expect(s.sys_mkdir(`/izo/${long.slice(0, 100 + (i % 50))}${i}`, 0o755)).toBe(0);
    h.run(root, S.sys_getcwd(root));
    expect(seen).toContain(IZO_UPC_KML_TRUNC);
    const before = h.run(root, kmlRecords(root, '/izo', 'f'));
    if (isErr(before)) throw new Error(String(before));
    const lastBefore = before.records.at(-1);
    expect(lastBefore?.logical).toBeGreaterThan(KML_CHUNK_SIZE);
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_KMLSIZE, { offset: KML_CHUNK_SIZE + 100 })).toBe(0);
    const after = h.run(root, kmlRecords(root, '/izo', 'f'));
    if (isErr(after)) throw new Error(String(after));
    expect(after.records[0]?.logical).toBeGreaterThanOrEqual(KML_CHUNK_SIZE);
    expect(after.records.at(-1)?.logical).toBe(lastBefore?.logical);
    expect(after.records.at(-1)?.rec.recno).toBe(lastBefore?.rec.recno);
    w.sched.runFor(6 * TICKS_PER_SEC);
    h.shutdown();
    // The next mount restores the tail and the logical offset: a new record follows on.
    const h2 = replicaHost(new World({ seed: 5 }), 'b', { dev });
    const r2 = h2.process('root');
    expect(hostSys(h2, r2).sys_mkdir('/izo/next', 0o755)).toBe(0);
    const again = h2.run(r2, kmlRecords(r2, '/izo', 'f'));
    if (isErr(again)) throw new Error(String(again));
    const tail = again.records.at(-1);
    expect(tail?.rec.recno).toBe((lastBefore?.rec.recno ?? 0) + 1);
    expect(tail?.logical).toBe((lastBefore?.logical ?? 0) + (lastBefore?.bytes.length ?? 0));
  });

  it('SET_KMLSIZE racing appends: a record logged while the cut waits for its transaction is kept', () => {
    // The cut reads the tail, then starts its transaction; when that transaction would be too big it
    // waits for a commit, and other changes append records meanwhile. They must not be lost (they
    // were: the tail read before lacked them, zeros stood where they had been, read as padding).
    const w = new World({ seed: 6, trace: { keep: true } });
    const h = replicaHost(w, 'a', { dev: newExt3Disk(8192, 4), data: 'journal' });
    const root = h.process('root');
    const lento = h.process('lento');
    h.kernel.spawn(lento, reader(lento, [], 0));
    const s = hostSys(h, root);
    const long = 'n'.repeat(150);
    for (let i = 0; i < 420; i++) expect(s.sys_mkdir(`/izo/${long}${i}`, 0o755)).toBe(0);
    // Journaled data fills the running transaction, so the cut's handle has to wait for a commit.
    const fd = s.sys_open('/izo/big', O_CREAT | O_WRONLY, 0o644) as number;
    expect(s.sys_write(fd, new Uint8Array(190 * 1024).fill(1))).toBe(190 * 1024);
    const cutter = h.process('cut');
    h.kernel.spawn(cutter, (function* () {
      const dir = (yield* S.sys_open(cutter, '/izo', O_RDONLY | O_DIRECTORY)) as number;
      yield* S.sys_ioctl(cutter, dir, IZO_IOC_SET_KMLSIZE, { offset: 4 * KML_CHUNK_SIZE });
      return 0;
    })());
    for (let k = 0; k < 4; k++) {
      const wr = h.process(`w${k}`);
      h.kernel.spawn(wr, (function* () {
        for (let i = 0; i < 10; i++) yield* S.sys_mkdir(wr, `/izo/w${k}-${i}`, 0o755);
        return 0;
      })());
    }
    w.runUntilQuiescent();
    s.sys_close(fd);
    const log = h.run(root, kmlRecords(root, '/izo', 'f'));
    if (isErr(log)) throw new Error(String(log));
    const recnos = log.records.map((r) => r.rec.recno);
    const first = recnos[0] ?? 0;
    expect(recnos).toEqual(recnos.map((_, i) => first + i)); // no record missing after the cut
    const made = log.records.filter((r) => r.rec.body.op === 'MKDIR' && /^\/w\d-/.test(r.rec.body.path)).length;
    expect(made).toBe(40); // every writer's mkdir is logged, none lost
    // The cut that met appends gave up its round; asked again with nothing racing, it cuts.
    const cuts = (): number => w.trace.records().filter((r) => r.ev === 'presto.kml_trunc').length;
    expect(cuts()).toBe(0);
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_KMLSIZE, { offset: 4 * KML_CHUNK_SIZE })).toBe(0);
    expect(cuts()).toBe(1);
    const after = h.run(root, kmlRecords(root, '/izo', 'f'));
    if (isErr(after)) throw new Error(String(after));
    expect(after.records[0]?.logical).toBeGreaterThanOrEqual(KML_CHUNK_SIZE);
    expect(after.records.at(-1)?.rec.recno).toBe(recnos.at(-1));
  });

  it('ADJUST_LML cancels a pending close and trims the LML; the close that follows is still logged', () => {
    const { h, root } = host();
    const s = hostSys(h, root);
    const fd = s.sys_open('/izo/open', O_CREAT | O_WRONLY, 0o644) as number;
    expect(s.sys_write(fd, enc('pending'))).toBe(7);
    const lml = readLog(h, root, 'lml', 'f', '/izo');
    expect(lml.records.filter((r) => r.rec.cancelled !== true)).toHaveLength(1);
    expect(ioctl(h, root, '/izo', IZO_IOC_ADJUST_LML, { offset: lml.records[0]?.offset ?? -1 })).toBe(0);
    expect(readLog(h, root, 'lml', 'f', '/izo').records).toEqual([]);
    expect(ioctl(h, root, '/izo', IZO_IOC_ADJUST_LML, { offset: 3 })).toBeLessThan(0);
    s.sys_close(fd);
    expect(readLog(h, root, 'lml', 'f', '/izo').records).toEqual([]);
    expect(readLog(h, root, 'kml', 'f', '/izo').records.map((r) => r.rec.body.op)).toEqual(['CREATE', 'CLOSE']);
  });

  it('SET_FILEID records where the data of a file lives; the OPEN upcall names it', () => {
    const { h, root } = host();
    const s = hostSys(h, root);
    s.sys_close(s.sys_open('/izo/remote', O_CREAT | O_WRONLY, 0o644) as number);
    expect(s.sys_truncate('/izo/remote', 5000)).toBe(0); // sparse: its data is elsewhere
    ioctl(h, root, '/izo', IZO_IOC_MARK, { mark_what: MARK_FSET, or_flag: FSET_DATA_ON_DEMAND });
    ioctl(h, root, '/izo', IZO_IOC_MARK, { mark_what: MARK_DENTRY, path: '/remote', and_flag: ~PRESTO_DATA });
    expect(ioctl(h, root, '/izo', IZO_IOC_SET_FILEID, { path: '/remote', ino: 0x1234, generation: 77 })).toBe(0);
    const records: Uint8Array[] = [];
    const lento = h.process('lento');
    h.kernel.spawn(lento, (function* (): Sys<number> {
      const dev = (yield* S.sys_open(lento, '/dev/intermezzo', O_RDWR)) as number;
      const buf = new Uint8Array(4096);
      const n = (yield* S.sys_read(lento, dev, buf)) as number;
      const u = decodeUpcall(buf.slice(0, n));
      if (typeof u === 'string') return 1;
      records.push(u.record);
      yield* S.sys_write(lento, dev, encodeReply(u.opcode, u.unique, 0));
      return 0;
    })());
    const user = h.process('user', 1000, 1000);
    const fd = hostSys(h, user).sys_open('/izo/remote', O_RDONLY);
    expect(isErr(fd)).toBe(false);
    expect(records).toHaveLength(1);
    const v = new DataView((records[0] as Uint8Array).buffer);
    expect([Number(v.getBigUint64(0, true)), v.getUint32(8, true)]).toEqual([0x1234, 77]);
  });

  it('KML upcalls name each new range; while no reader is there the range grows, nothing is lost', () => {
    const { h, root } = host();
    const s = hostSys(h, root);
    expect(s.sys_mkdir('/izo/while-away', 0o755)).toBe(0); // no reader: no upcall, permit stolen
    const got: Array<{ offset: number; length: number; first: number; last: number }> = [];
    const lento = h.process('lento');
    h.kernel.spawn(lento, (function* (): Sys<number> {
      const fd = (yield* S.sys_open(lento, '/dev/intermezzo', O_RDWR)) as number;
      const buf = new Uint8Array(1 << 16);
      for (;;) {
        const n = yield* S.sys_read(lento, fd, buf);
        if (isErr(n)) return 1;
        const u = decodeUpcall(buf.slice(0, n));
        if (typeof u === 'string') return 1;
        if (u.opcode === IZO_UPC_KML) got.push({ offset: u.offset, length: u.length, first: u.firstRecno, last: u.lastRecno });
        if (!u.async) yield* S.sys_write(lento, fd, encodeReply(u.opcode, u.unique, 0));
      }
    })());
    h.run(root, S.sys_getcwd(root)); // the reader opens the device
    expect(s.sys_mkdir('/izo/back', 0o755)).toBe(0);
    expect(s.sys_mkdir('/izo/again', 0o755)).toBe(0);
    h.run(root, S.sys_getcwd(root));
    const kml = readLog(h, root, 'kml', 'f', '/izo').records;
    const end = (i: number): number => (kml[i]?.offset ?? 0) + (kml[i]?.len ?? 0);
    expect(got).toEqual([
      { offset: 0, length: end(1), first: 1, last: 2 }, // covers the record made while away
      { offset: end(1), length: end(2) - end(1), first: 3, last: 3 },
    ]);
  });
});
