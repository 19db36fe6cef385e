/**
 * Conflict resolution (src/lento/resolve.ts) as scenarios: a server and a laptop share a base, are
 * cut apart, both change the same object, and are healed. For each conflict class (UPDATE, NAME,
 * DELETE both ways, NOTEMPTY, RENAME, and identical bytes, which is none) and each policy, the
 * exact outcome on every node: the files and their bytes, the conflict copies, what each node
 * reported and what its audit log kept. Then three nodes (two clients against the server), a
 * skewed clock under newest (reported, and deciding), and per-path overrides.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, type Scenario, type ScenarioResult } from '../../../sim/scenario.ts';
import { flat } from '../../support/flat.ts';

const S = 1_000_000;


function pair(policy: string, base: string, onServer: string, onLaptop: string, skew = 0): Scenario {
  return {
    name: `pair-${policy}`, seed: 5, fileset: 'f', policy,
    nodes: [{ name: 'server', role: 'server' }, { name: 'laptop', role: 'client', clockSkew: skew }],
    steps: [
      { at: 1 * S, on: 'server', run: base },
      { at: 10 * S, partition: [['laptop'], ['server']] },
      { at: 11 * S, on: 'server', run: onServer },
      { at: 13 * S, on: 'laptop', run: onLaptop },
      { at: 60 * S, heal: 'all' },
      { at: 61 * S, wait: 'converged', within: 60 * S },
    ],
  };
}

function trees(r: ScenarioResult): Record<string, Record<string, string>> {
  return Object.fromEntries(Object.entries(r.nodes).map(([n, v]) => [n, flat(v.tree)]));
}

/** Every node holds `files`, and the world converged (trees equal to the byte and the second). */
function expectEverywhere(r: ScenarioResult, files: Record<string, string>): void {
  expect(r.failures).toEqual([]);
  for (const [n, t] of Object.entries(trees(r))) expect(t, n).toEqual(files);
}

const AUTO = ['server-wins', 'client-wins', 'newest', 'keep-both'] as const;
const SRV = "write /f 'server version'";
const LAP = "write /f 'laptop version, longer'";

describe('UPDATE: both rewrite /f', () => {
  const want: Record<(typeof AUTO)[number], Record<string, string>> = {
    'server-wins': { '/f': 'server version' },
    'client-wins': { '/f': 'laptop version, longer' },
    newest: { '/f': 'laptop version, longer' }, // written two seconds later
    'keep-both': { '/f': 'laptop version, longer', '/f.conflict-server-laptop-2': 'server version' },
  };
  for (const policy of AUTO) {
    it(`${policy}: ${JSON.stringify(want[policy])} on every node; the loser audited where it was`, () => {
      const r = runScenario(pair(policy, 'write /f base', SRV, LAP));
      expectEverywhere(r, want[policy]);
      const lost = policy === 'server-wins' ? 'laptop version, longer' : 'server version';
      const where = policy === 'server-wins' ? 'laptop' : 'server';
      const hex = Buffer.from(lost).toString('hex');
      expect(r.nodes[where]?.audit.some((a) => a.discarded.bytes === hex && a.policy === policy)).toBe(true);
      expect(r.conflicts.every((c) => c.cls === 'UPDATE' && c.policy === policy)).toBe(true);
      expect(new Set(r.conflicts.map((c) => c.node))).toEqual(new Set(['server', 'laptop'])); // both ends saw it
    });
  }

  it('manual: nothing applied, both versions kept where they were, every record parked on both sides', () => {
    const r = runScenario(pair('manual', 'write /f base', SRV, LAP));
    expect(r.failures.map((f) => f.what)).toEqual(['wait converged']);
    expect(trees(r)).toEqual({ server: { '/f': 'server version' }, laptop: { '/f': 'laptop version, longer' } });
    expect(r.conflicts.length).toBeGreaterThan(0);
    expect(r.conflicts.every((c) => c.action === 'parked (manual)')).toBe(true);
  });

  it('a conflict names path, class, both versions (who, side, when, size) and the record', () => {
    const r = runScenario(pair('newest', 'write /f base', SRV, LAP));
    const c = r.conflicts.find((x) => x.node === 'server' && x.action === 'remote version applied');
    expect(c).toMatchObject({ from: 'laptop', path: '/f', cls: 'UPDATE', policy: 'newest', skew: 0 });
    expect(c?.local).toMatchObject({ node: 'server', side: 'server', size: 14 });
    expect(c?.remote).toMatchObject({ node: 'laptop', side: 'client', size: 0 }); // its truncation, then its CLOSE
    expect(Number(c?.remote?.mtime)).toBeGreaterThan(Number(c?.local?.mtime));
  });
});

describe('manual: repair', () => {
  const repaired = (on: string, keep: 'local' | 'remote'): Scenario => {
    const p = pair('manual', 'write /f base', SRV, LAP);
    return { ...p, steps: [...p.steps.slice(0, -1), { at: 70 * S, wait: 'quiet', within: 30 * S },
      { at: 101 * S, repair: { on, path: '/f', keep } }, { at: 102 * S, wait: 'converged', within: 60 * S }] };
  };
  const want = { laptop: { local: LAP, remote: SRV }, server: { local: SRV, remote: LAP } } as const;
  for (const on of ['laptop', 'server'] as const) {
    for (const keep of ['local', 'remote'] as const) {
      it(`on the ${on}, keep ${keep}: every node then holds the ${on === 'laptop' ? 'laptop' : 'server'}'s ${keep} version`,
        () => {
          const r = runScenario(repaired(on, keep));
          const text = want[on][keep].replace(/^write \/f '(.*)'$/, '$1');
          expectEverywhere(r, { '/f': text });
          const lost = text === 'server version' ? 'laptop version, longer' : 'server version';
          const hex = Buffer.from(lost).toString('hex');
          const audit = r.nodes[on]?.audit ?? [];
          expect(audit.some((a) => a.discarded.bytes === hex && a.policy === 'manual (repair)')).toBe(true);
        });
    }
  }
});

describe('identical results are no conflict', () => {
  for (const policy of ['manual', ...AUTO]) {
    it(`${policy}: both write the same bytes: converged, nothing reported, no copy`, () => {
      const same = "write /f 'same bytes'";
      const r = runScenario(pair(policy, 'write /f base', same, same));
      expectEverywhere(r, { '/f': 'same bytes' });
      expect(r.conflicts).toEqual([]);
    });
  }
});

describe('both remove the same name: no conflict', () => {
  it('converges to the byte and the second: the directory takes the later of the two removals\' times', () => {
    const r = runScenario(pair('newest', 'mkdir /d\nwrite /d/f base', 'rm /d/f', 'rm /d/f'));
    expectEverywhere(r, { '/d/': '' });
    expect(r.conflicts).toEqual([]);
    expect(new Set(Object.values(r.nodes).map((n) => JSON.stringify(n.tree))).size).toBe(1);
  });
});

describe('NAME: both create /d/x', () => {
  const want: Record<(typeof AUTO)[number], Record<string, string>> = {
    'server-wins': { '/d/': '', '/d/x': 'from server' },
    'client-wins': { '/d/': '', '/d/x': 'from laptop!' },
    newest: { '/d/': '', '/d/x': 'from laptop!' },
    'keep-both': { '/d/': '', '/d/x': 'from laptop!', '/d/x.conflict-server-laptop-2': 'from server' },
  };
  for (const policy of AUTO) {
    it(`${policy}: the names merge, the contents settle as an update`, () => {
      const r = runScenario(pair(policy, 'mkdir /d', "write /d/x 'from server'", "write /d/x 'from laptop!'"));
      expectEverywhere(r, want[policy]);
      expect(r.conflicts.filter((c) => c.cls === 'NAME').map((c) => [c.node, c.action]))
        .toEqual([['server', 'names merged'], ['laptop', 'names merged']]);
    });
  }
});

describe('DELETE: delete against modify, one rule for every automatic policy', () => {
  for (const policy of AUTO) {
    const copy = policy === 'keep-both';
    it(`${policy}: the laptop changed /f the server removed: removed everywhere${copy ? ', the change kept as a copy' : ''}`,
      () => {
        const r = runScenario(pair(policy, 'write /f base', 'rm /f', "write /f 'laptop changed it'"));
        expectEverywhere(r, copy ? { '/f.conflict-laptop-server-3': 'laptop changed it' } : {});
        const hex = Buffer.from('laptop changed it').toString('hex');
        expect(r.nodes.laptop?.audit.some((a) => a.discarded.bytes === hex)).toBe(true);
      });
    it(`${policy}: the laptop removed /f the server changed: removed everywhere${copy ? ', the change kept as a copy' : ''}`,
      () => {
        const r = runScenario(pair(policy, 'write /f base', "write /f 'server changed it'", 'rm /f'));
        expectEverywhere(r, copy ? { '/f.conflict-server-laptop-1': 'server changed it' } : {});
        const hex = Buffer.from('server changed it').toString('hex');
        expect(r.nodes.server?.audit.some((a) => a.discarded.bytes === hex)).toBe(true);
      });
  }
});

describe('what no automatic policy resolves yet: parked on both sides, nothing lost', () => {
  for (const policy of AUTO) {
    it(`${policy}: NOTEMPTY (the laptop removes /d, the server adds /d/x) and RENAME (a -> b against a -> c)`, () => {
      const ne = runScenario(pair(policy, 'mkdir /d', "write /d/x 'inside'", 'rmdir /d'));
      expect(trees(ne)).toEqual({ server: { '/d/': '', '/d/x': 'inside' }, laptop: {} });
      expect(ne.conflicts.find((c) => c.node === 'server')).toMatchObject({ cls: 'NOTEMPTY', op: 'RMDIR' });
      expect(ne.conflicts.find((c) => c.node === 'server')?.action).toMatch(/^parked/);
      const rn = runScenario(pair(policy, 'write /a base', 'mv /a /b', 'mv /a /c'));
      expect(trees(rn)).toEqual({ server: { '/b': 'base' }, laptop: { '/c': 'base' } });
      expect(rn.conflicts.map((c) => [c.node, c.cls])).toEqual([['server', 'RENAME'], ['laptop', 'RENAME']]);
    });
  }
});

describe('newest on skewed clocks, three nodes, per-path overrides', () => {
  it('a laptop clock 5 s slow makes its later write look older: the server version wins, and the skew is reported', () => {
    const r = runScenario(pair('newest', 'write /f base', SRV, LAP, -5 * S));
    expectEverywhere(r, { '/f': 'server version' });
    const c = r.conflicts.find((x) => x.node === 'laptop' && x.action === 'remote version applied');
    expect(c?.skew).toBe(-5 * S);
    expect(Number(c?.local?.mtime)).toBeLessThan(Number(c?.remote?.mtime));
  });

  it('two clients and the server all write /f apart: newest and keep-both converge on every node', () => {
    const three = (policy: string): Scenario => ({
      name: `three-${policy}`, seed: 9, fileset: 'f', policy,
      nodes: [{ name: 'server', role: 'server' }, { name: 'a', role: 'client' }, { name: 'b', role: 'client' }],
      steps: [
        { at: 1 * S, on: 'server', run: 'write /f base' },
        { at: 10 * S, partition: [['a'], ['b'], ['server']] },
        { at: 11 * S, on: 'server', run: "write /f 'from the server'" },
        { at: 12 * S, on: 'a', run: "write /f 'from a'" },
        { at: 40 * S, on: 'b', run: "write /f 'from b, the last'" },
        { at: 70 * S, heal: 'all' },
        { at: 71 * S, wait: 'converged', within: 90 * S },
      ],
    });
    const n = runScenario(three('newest'));
    expectEverywhere(n, { '/f': 'from b, the last' });
    const k = runScenario(three('keep-both'));
    expect(k.failures).toEqual([]);
    const t = trees(k).server ?? {};
    expect(t['/f']).toBe('from b, the last');
    expect(Object.values(t).sort()).toEqual(['from a', 'from b, the last', 'from the server']);
    expect(new Set(Object.values(trees(k)).map((x) => JSON.stringify(x))).size).toBe(1);
  });

  it('a per-path override: /keep/** keeps both, the rest is server-wins', () => {
    const s: Scenario = {
      ...pair('server-wins', 'mkdir /keep\nwrite /keep/f base\nwrite /g base', "write /keep/f 'srv'\nwrite /g 'srv'",
        "write /keep/f 'laptop'\nwrite /g 'laptop'"),
      policies: [{ path: '/keep/**', policy: 'keep-both' }],
    };
    const r = runScenario(s);
    expect(r.failures).toEqual([]);
    const t = trees(r).server ?? {};
    expect(t['/g']).toBe('srv');
    expect(t['/keep/f']).toBe('laptop');
    expect(Object.entries(t).filter(([p]) => p.startsWith('/keep/f.conflict-')).map(([, v]) => v)).toEqual(['srv']);
  });

  it('an unknown policy is refused when the cluster is built, naming it', () => {
    expect(() => runScenario(pair('loudest', 'write /f base', SRV, LAP))).toThrow(/unknown conflict policy 'loudest'/);
  });
});
