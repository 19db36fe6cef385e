/**
 * `izo conflicts IMAGE` (src/cli/conflicts.ts): a server and a laptop both rewrite /f apart under
 * keep-both and under server-wins; each node's image then lists the version its policy discarded
 * (who, when, which policy, the bytes) and the copy made, as JSON and as text; a fileset with
 * nothing discarded says so; a wrong fileset is bad usage (2). `izo repair IMAGE` lists a manual
 * node's parked updates with both versions and queues a request lento carries out (1: nothing parked
 * there; 2: bad usage).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Cluster } from '../../../sim/cluster.ts';
import { saveImage } from '../../../src/image.ts';
import type { ConflictsReport } from '../../../src/cli/conflicts.ts';
import { inProcessIzo } from '../../support/cli.ts';

const cli = inProcessIzo('izo-conflicts-');
const S = 1_000_000;

/** Both rewrite /f while cut apart, heal, converge, shut down; the two images. */
function images(policy: string, tag: string): { server: string; laptop: string } {
  const c = Cluster.build({ seed: 3, fileset: 'home', policy,
    nodes: [{ name: 'server', role: 'server' }, { name: 'laptop', role: 'client' }] });
  c.world.runFor(1 * S);
  c.node('server').sh("write /f 'base'");
  expect(c.runUntilConverged(30 * S)).toBe(true);
  c.world.network.partition([['server'], ['laptop']]);
  c.world.runFor(1 * S);
  c.node('server').sh("write /f 'server version'");
  c.world.runFor(2 * S);
  c.node('laptop').sh("write /f 'laptop version, longer'");
  c.world.network.heal();
  if (policy === 'manual') c.world.runFor(30 * S); // never converges: each side parks the other's
  else expect(c.runUntilConverged(60 * S)).toBe(true);
  c.shutdown();
  const out = { server: join(cli.dir(), `${tag}-server.img`), laptop: join(cli.dir(), `${tag}-laptop.img`) };
  saveImage(out.server, c.node('server').disk);
  saveImage(out.laptop, c.node('laptop').disk);
  return out;
}

describe('izo conflicts', () => {
  it('keep-both: the server lists its discarded version, its bytes and the copy; the laptop made no copy', async () => {
    const img = images('keep-both', 'kb');
    const r = await cli.izo('conflicts', img.server, '--json');
    expect(r.status).toBe(0);
    const rep = JSON.parse(r.out) as ConflictsReport;
    expect(rep.fileset).toBe('home');
    const lost = rep.audit.find((a) => a.discarded.bytes === Buffer.from('server version').toString('hex'));
    expect(lost).toMatchObject({ node: 'server', policy: 'keep-both', path: '/f', from: 'laptop' });
    expect(lost?.copy).toMatch(/^\/f\.conflict-server-laptop-\d+$/);
    const text = await cli.izo('conflicts', img.server);
    expect(text.out).toContain('discarded: server (server)');
    expect(text.out).toContain('"server version" (14 bytes)');
    expect(text.out).toContain(`copy:      ${lost?.copy ?? ''}`);
    const laptop = JSON.parse((await cli.izo('conflicts', img.laptop, '--json')).out) as ConflictsReport;
    // The laptop kept its own version: it made no copy (the loser's node does) and records what it skipped.
    expect(laptop.audit.length).toBeGreaterThan(0);
    expect(laptop.audit.every((a) => a.copy === '' && a.kept?.node === 'laptop')).toBe(true);
  });

  it('server-wins: the laptop keeps its own lost version; a wrong fileset is bad usage', async () => {
    const img = images('server-wins', 'sw');
    const rep = JSON.parse((await cli.izo('conflicts', img.laptop, '--json')).out) as ConflictsReport;
    const hex = Buffer.from('laptop version, longer').toString('hex');
    expect(rep.audit.some((a) => a.discarded.bytes === hex && a.policy === 'server-wins')).toBe(true);
    expect(rep.parked).toEqual([]);
    const bad = await cli.izo('conflicts', img.laptop, '--fileset', 'nope');
    expect(bad.status).toBe(2);
    expect(bad.err).toContain("no fileset 'nope'");
  });

  it('izo repair lists the parked updates with both versions and queues a request for lento', async () => {
    const img = images('manual', 'man');
    const list = await cli.izo('repair', img.laptop);
    expect(list.status).toBe(0);
    expect(list.out).toMatch(/^\/f: record \d+ from server \(CLOSE\)\n {2}local: {2}mtime \d+ size 22\n {2}remote: mtime \d+ size \d+/m);
    const q = await cli.izo('repair', img.laptop, '--path', '/f', '--keep', 'local');
    expect(q.status).toBe(0);
    expect((await cli.izo('cat', img.laptop, '/.intermezzo/home/lento.repair')).out).toBe('{"path":"/f","keep":"local"}\n');
    expect((await cli.izo('repair', img.laptop, '--path', '/nothing', '--keep', 'local')).status).toBe(1);
    expect((await cli.izo('repair', img.laptop, '--path', '/f')).status).toBe(2);
    expect((await cli.izo('repair', img.laptop, '--path', '/f', '--keep', 'mine')).status).toBe(2);
  });
});

