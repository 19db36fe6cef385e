import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import { Cluster, type ClusterSpec } from '../../../sim/cluster.ts';

function dump(c: Cluster, filter: (ev: string) => boolean = (e) => e.startsWith('lento.') || e === 'host.state'): string {
  return c.world.trace.records().filter((x) => filter(x.ev))
    .map((x) => `${x.t} ${x.host} ${x.ev} ${JSON.stringify(x.data)}`).join('\n');
}

const three: ClusterSpec = {
  seed: 1, fileset: 'home', trace: { keep: true },
  nodes: [{ name: 'server', role: 'server' }, { name: 'laptop', role: 'client' }, { name: 'desk', role: 'client' }],
};

function ok(r: unknown): void {
  expect(typeof r).not.toBe('string');
  for (const x of r as Array<{ status: string; command: string }>) expect(x.status, x.command).toBe('ok');
}

describe('lento smoke', () => {
  it('writes on every node converge', () => {
    const c = Cluster.build(three);
    c.world.runFor(2_000_000);
    ok(c.node('laptop').sh('mkdir /docs\nwrite /docs/a.txt hello'));
    ok(c.node('server').sh('mkdir /srv\nwrite /srv/b "from the server"'));
    c.world.runFor(1_000_000);
    const d = c.node('desk').sh('write /docs/c desk');
    ok(d);
    const conv = c.runUntilConverged(30_000_000);
    if (!conv) console.log(dump(c));
    expect(conv).toBe(true);
  });

  it('a partitioned client keeps working and reintegrates after heal', () => {
    const c = Cluster.build(three);
    c.world.runFor(2_000_000);
    ok(c.node('laptop').sh('mkdir /docs'));
    expect(c.runUntilConverged(30_000_000)).toBe(true);
    c.world.network.partition([['laptop'], ['server', 'desk']]);
    c.world.runFor(1_000_000);
    ok(c.node('laptop').sh('write /docs/offline "written while cut off"'));
    ok(c.node('desk').sh('write /docs/desk "desk too"'));
    c.world.runFor(10_000_000);
    c.world.network.heal();
    const conv = c.runUntilConverged(60_000_000);
    if (!conv) console.log(dump(c));
    expect(conv).toBe(true);
    const t = c.node('server').tree();
    if (isErr(t)) throw new Error(String(t));
    expect(Object.keys(t.children?.docs?.children ?? {}).sort()).toEqual(['desk', 'offline']);
  });
});
