/**
 * Data on demand and close-on-write. A replica in DATA_ON_DEMAND mode replays a peer's CLOSE by
 * setting size and times only (a sparse file, DATA cleared, the peer's inode remembered); the
 * first open by a user sends the synchronous OPEN upcall, blocks until user space has fetched the
 * bytes, and then reads them; an O_TRUNC open fetches nothing. With JCLOSE_ON_WRITE a long-open
 * file logs an interim CLOSE every file_maxio bytes.
 */
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import { O_DIRECTORY, O_RDONLY, O_TRUNC, O_WRONLY, O_CREAT } from '../../../kernel/fs.ts';
import type { Process } from '../../../kernel/process.ts';
import { World, type Host } from '../../../sim/host.ts';
import { MARK_FSET, MARK_GETFL, PRESTO_DATA, presto_get_cache } from '../../../fs/intermezzo/intermezzo_fs.ts';
import { IZO_IOC_MARK, type IzoIoctlData } from '../../../fs/intermezzo/ioctl.ts';
import { FSET_DATA_ON_DEMAND, FSET_JCLOSE_ON_WRITE } from '../../../fs/intermezzo/permit.ts';
import { kmlRecords, replayRecords, serveUpcalls, type Served } from '../../support/replay.ts';
import { dec, enc, hostSys } from '../../support/boot.ts';
import { readLog, replicaHost } from '../../support/presto.ts';

function mark(h: Host, p: Process, data: IzoIoctlData): IzoIoctlData {
  const s = hostSys(h, p);
  const fd = s.sys_open('/izo', O_RDONLY | O_DIRECTORY) as number;
  expect(s.sys_ioctl(fd, IZO_IOC_MARK, data)).toBe(0);
  s.sys_close(fd);
  return data;
}

/** Host a with /doc holding `content`; host b, a fresh replica in data-on-demand mode; a's records. */
function onDemandPair(seed: number, content: string, mode: number) {
  const w = new World({ seed });
  const a = replicaHost(w, 'a');
  const b = replicaHost(w, 'b');
  const ra = a.process('root');
  const sa = hostSys(a, ra);
  const fd = sa.sys_open('/izo/doc', O_CREAT | O_WRONLY, mode) as number;
  sa.sys_write(fd, enc(content));
  sa.sys_close(fd);
  const rb = b.process('root');
  mark(b, rb, { mark_what: MARK_FSET, or_flag: FSET_DATA_ON_DEMAND });
  const kml = a.run(ra, kmlRecords(ra, '/izo', 'f'));
  if (isErr(kml)) throw new Error(String(kml));
  return { a, b, ra, rb, sa, records: kml.records };
}

describe('data on demand', () => {
  it('a replayed CLOSE leaves a sparse file; the first open fetches the bytes through OPEN', () => {
    const { b, ra, rb, sa, records } = onDemandPair(8, 'the whole document', 0o644);
    const stats: Served = { backfetches: 0, opens: 0 };
    serveUpcalls(b, '/izo', 'f', ra, stats);
    const rep = b.run(rb, replayRecords(rb, '/izo', 'f', new Uint8Array(16).fill(0xa), records));
    expect(rep.outcomes.map((o) => o.kind)).toEqual(['applied', 'applied']);
    expect(stats.backfetches).toBe(0);
    const sb = hostSys(b, rb);
    const st = sb.sys_stat('/izo/doc');
    if (isErr(st)) throw new Error(String(st));
    expect(st.st_size).toBe(18);
    expect(st.st_blocks).toBe(0); // sparse: no data here yet
    expect((mark(b, rb, { mark_what: MARK_GETFL, path: '/doc' }).flags ?? 0) & PRESTO_DATA).toBe(0);
    const user = b.process('reader', 1000, 1000);
    const su = hostSys(b, user);
    const rfd = su.sys_open('/izo/doc', O_RDONLY) as number;
    expect(stats.opens).toBe(1);
    const buf = new Uint8Array(64);
    const n = su.sys_read(rfd, buf) as number;
    expect(dec(buf.slice(0, n))).toBe('the whole document');
    const filled = sb.sys_stat('/izo/doc');
    if (isErr(filled)) throw new Error(String(filled));
    expect([filled.st_mtime, filled.st_ctime, filled.st_size]).toEqual([st.st_mtime, st.st_ctime, 18]);
    const sa2 = sa.sys_stat('/izo/doc');
    if (isErr(sa2)) throw new Error(String(sa2));
    expect(filled.st_mtime).toEqual(sa2.st_mtime);
    su.sys_close(rfd);
    expect((mark(b, rb, { mark_what: MARK_GETFL, path: '/doc' }).flags ?? 0) & PRESTO_DATA).toBe(PRESTO_DATA);
    // Open again: the data is here, no upcall.
    su.sys_close(su.sys_open('/izo/doc', O_RDONLY) as number);
    expect(stats.opens).toBe(1);
  });

  it('an O_TRUNC open of a file without data sends no OPEN upcall', () => {
    const { b, rb, records } = onDemandPair(9, 'abc', 0o666);
    b.run(rb, replayRecords(rb, '/izo', 'f', new Uint8Array(16).fill(0xa), records));
    // No reader on /dev/intermezzo: an OPEN upcall would fail with ENODEV.
    const t = hostSys(b, rb).sys_open('/izo/doc', O_WRONLY | O_TRUNC);
    expect(isErr(t)).toBe(false);
  });
});

describe('close on write', () => {
  it('a long-open file logs an interim CLOSE every file_maxio bytes', () => {
    const w = new World({ seed: 10 });
    const h = replicaHost(w, 'a');
    const root = h.process('root');
    mark(h, root, { mark_what: MARK_FSET, or_flag: FSET_JCLOSE_ON_WRITE });
    const cache = presto_get_cache(h.kernel.mounts[1]?.mnt_sb as never);
    const fset = cache?.filesets.get('f');
    if (fset === undefined) throw new Error('no fileset');
    fset.file_maxio = 4096;
    const s = hostSys(h, root);
    const fd = s.sys_open('/izo/log', O_CREAT | O_WRONLY, 0o644) as number;
    for (let i = 0; i < 5; i++) expect(s.sys_write(fd, new Uint8Array(2048).fill(65 + i))).toBe(2048);
    const open = readLog(h, root, 'kml', 'f', '/izo').records.map((r) => r.rec.body.op);
    expect(open).toEqual(['CREATE', 'CLOSE', 'CLOSE']);
    s.sys_close(fd);
    const closed = readLog(h, root, 'kml', 'f', '/izo').records.map((r) => r.rec.body);
    expect(closed.map((b) => b.op)).toEqual(['CREATE', 'CLOSE', 'CLOSE', 'CLOSE']);
    expect(closed.at(-1)).toMatchObject({ op: 'CLOSE', new_object: { size: 10240 } });
  });
});
