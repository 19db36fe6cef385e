/**
 * Data on demand through lento: a client in on-demand mode replays names and attributes only; a
 * file never opened there occupies no data blocks; the first open fetches it from the server (one
 * OPEN upcall, one fetch, counted); a second open fetches nothing; a file changed on the server
 * after it was fetched is fetched again at its next open (the replayed CLOSE drops the old bytes); a file deleted on the server
 * before the client opens it is gone there too (ENOENT) once the deletion has arrived, and a fetch
 * that finds the server's file gone answers ENOENT; after a remount the client still knows where
 * each unfetched file's data is (lento.fileids and SET_FILEID).
 */
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import { sys_stat } from '../../../kernel/syscalls.ts';
import { Cluster } from '../../../sim/cluster.ts';

function cluster(seed: number): Cluster {
  const c = Cluster.build({
    seed, fileset: 'web', trace: { keep: true },
    nodes: [{ name: 'server', role: 'server' }, { name: 'mirror', role: 'client', mode: 'on-demand' }],
  });
  c.world.runFor(1_000_000);
  return c;
}

function fetches(c: Cluster): Array<{ path: string; bytes: number; status: string }> {
  return c.world.trace.records().filter((r) => r.host === 'mirror' && r.ev === 'lento.fetch')
    .map((r) => r.data as { path: string; bytes: number; status: string });
}

function statOn(c: Cluster, node: string, path: string) {
  const n = c.node(node);
  const p = n.filesetProcess('stat');
  return n.host.run(p, sys_stat(p, path));
}

describe('data on demand through lento', () => {
  it('an unopened file has no data blocks; the first open fetches it once; a second open fetches nothing', () => {
    const c = cluster(3);
    const big = 'x'.repeat(20_000);
    expect(c.node('server').sh(`mkdir /pub\nwrite /pub/index.html '${big}'`).every((r) => r.status === 'ok')).toBe(true);
    expect(c.runUntilCaughtUp(30_000_000)).toBe(true);
    const before = statOn(c, 'mirror', '/pub/index.html');
    if (isErr(before)) throw new Error(String(before));
    expect(before.st_size).toBe(20_000);
    expect(before.st_blocks).toBe(0);
    expect(fetches(c)).toEqual([]);
    const first = c.node('mirror').sh('cat /pub/index.html');
    expect(first[0]?.output).toBe(big);
    expect(fetches(c)).toEqual([{ from: 'server', why: 'open', path: '/pub/index.html', bytes: 20_000, status: 'ok' }]);
    const again = c.node('mirror').sh('cat /pub/index.html');
    expect(again[0]?.output).toBe(big);
    expect(fetches(c)).toHaveLength(1);
    const after = statOn(c, 'mirror', '/pub/index.html');
    if (isErr(after)) throw new Error(String(after));
    expect([after.st_mtime, after.st_ctime, after.st_size]).toEqual([before.st_mtime, before.st_ctime, 20_000]);
  });

  it('a file changed on the server after the client fetched it is fetched again at the next open', () => {
    const c = cluster(5);
    c.node('server').sh("write /page 'one'");
    expect(c.runUntilCaughtUp(30_000_000)).toBe(true);
    expect(c.node('mirror').sh('cat /page')[0]?.output).toBe('one');
    c.node('server').sh("append /page ' two'");
    expect(c.runUntilCaughtUp(30_000_000)).toBe(true);
    // The replayed CLOSE dropped the old bytes: the file has no blocks until it is opened again.
    const st = statOn(c, 'mirror', '/page');
    if (isErr(st)) throw new Error(String(st));
    expect([st.st_size, st.st_blocks]).toEqual([7, 0]);
    expect(c.node('mirror').sh('cat /page')[0]?.output).toBe('one two');
    expect(fetches(c).map((f) => f.bytes)).toEqual([3, 7]);
  });

  it('a file deleted on the server before the open is gone on the client (ENOENT)', () => {
    const c = cluster(4);
    c.node('server').sh("write /doomed 'soon gone'");
    expect(c.runUntilCaughtUp(30_000_000)).toBe(true);
    c.node('server').sh('rm /doomed');
    expect(c.runUntilCaughtUp(30_000_000)).toBe(true);
    expect(c.node('mirror').sh('cat /doomed')[0]?.status).toBe('ENOENT');
    expect(fetches(c)).toEqual([]);
  });

  it('...and when the open comes before the deletion arrives, the fetch finds the file gone: ENOENT', () => {
    const c = cluster(5);
    c.node('server').sh("write /doomed 'soon gone'");
    expect(c.runUntilCaughtUp(30_000_000)).toBe(true);
    c.world.network.setLinks('server', 'mirror', { latency: 50_000 });
    c.node('server').sh('rm /doomed'); // its UNLINK record now takes 50 ms to arrive
    expect(c.node('mirror').sh('cat /doomed')[0]?.status).toBe('ENOENT');
    expect(fetches(c)).toEqual([{ from: 'server', why: 'open', path: '/doomed', bytes: 0, status: 'ENOENT (gone)' }]);
    expect(c.runUntilConverged(30_000_000)).toBe(true);
  });
});
