/**
 * The policy rules (src/lento/policy.ts), as pure functions, and their lento.conf lines
 * (src/lento/config.ts): both ends of a conflict evaluate `winner` with the versions swapped and
 * the sides as each sees them, and must agree (fast-check over versions); newest orders by mtime,
 * then the server's side; globs match within and across components; a pattern overrides the
 * fileset's policy; unknown policies are refused by line.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatConfig, parseConfig, type LentoConfig } from '../../../src/lento/config.ts';
import {
  copyName, globMatch, isConflictCopy, policyFor, POLICIES, winner, type PolicyName, type Version,
} from '../../../src/lento/policy.ts';

const version = (side: 'server' | 'client'): fc.Arbitrary<Version> =>
  fc.record({ node: fc.constantFrom('server', 'a', 'b'), side: fc.constant(side), mtimeSec: fc.integer({ min: 0, max: 5 }),
    mtimeNsec: fc.constantFrom(0, 1), size: fc.nat(4) });

describe('winner', () => {
  for (const policy of POLICIES.filter((p): p is Exclude<PolicyName, 'manual'> => p !== 'manual')) {
    it(`${policy}: the server replaying the client's record and the client replaying the server's agree`, () => {
      fc.assert(fc.property(version('server'), version('client'), (srv, cli) => {
        const atServer = winner(policy, srv, cli); // local = the server's state
        const atClient = winner(policy, cli, srv); // local = the client's change
        const keptAtServer = atServer === 'local' ? srv : cli;
        const keptAtClient = atClient === 'local' ? cli : srv;
        expect(keptAtClient).toEqual(keptAtServer);
      }));
    });
  }

  it('newest: the later mtime, then the server side; server-wins and client-wins ignore times', () => {
    const v = (side: 'server' | 'client', mtimeSec: number, mtimeNsec = 0): Version =>
      ({ node: side, side, mtimeSec, mtimeNsec, size: 1 });
    expect(winner('newest', v('server', 5), v('client', 6))).toBe('remote');
    expect(winner('newest', v('server', 6, 1), v('client', 6, 0))).toBe('local');
    expect(winner('newest', v('client', 6), v('server', 6))).toBe('remote'); // a tie: the server's side
    expect(winner('keep-both', v('server', 6), v('client', 6))).toBe('local');
    expect(winner('server-wins', v('client', 9), v('server', 1))).toBe('remote');
    expect(winner('client-wins', v('client', 1), v('server', 9))).toBe('local');
  });
});

describe('paths', () => {
  it('globs: * within a component, ** across, ? one character; literal dots', () => {
    expect(globMatch('/docs/*.txt', '/docs/a.txt')).toBe(true);
    expect(globMatch('/docs/*.txt', '/docs/sub/a.txt')).toBe(false);
    expect(globMatch('/docs/**', '/docs/sub/a.txt')).toBe(true);
    expect(globMatch('/a?c', '/abc')).toBe(true);
    expect(globMatch('/a.c', '/abc')).toBe(false);
  });

  it('the first matching pattern overrides the fileset policy', () => {
    const conf = { policy: 'manual' as const, policyPaths: [{ pattern: '/logs/**', policy: 'newest' as const },
      { pattern: '/**', policy: 'server-wins' as const }] };
    expect(policyFor(conf, '/logs/x/y')).toBe('newest');
    expect(policyFor(conf, '/etc/z')).toBe('server-wins');
    expect(policyFor({ policy: 'keep-both', policyPaths: [] }, '/q')).toBe('keep-both');
  });

  it('copy names are deterministic, name the loser node, the sender and the record, and are known as copies', () => {
    const name = copyName('/d/f.txt', 'laptop', 'server', 12);
    expect(name).toBe('/d/f.txt.conflict-laptop-server-12');
    expect(isConflictCopy(name)).toBe(true);
    expect(isConflictCopy('/d/f.txt')).toBe(false);
  });
});

describe('lento.conf policy lines', () => {
  const base: LentoConfig = {
    node: 'a', uuid: new Uint8Array(16).fill(1), role: 'client', fileset: 'f', mount: '/izo', mode: 'replicate',
    server: 'server', port: 7777, secret: 's', peers: [], kmlLimit: 1, heartbeat: 1, deadAfter: 1,
    policy: 'keep-both', policyPaths: [{ pattern: '/tmp/**', policy: 'server-wins' }],
  };

  it('round-trips policy and policy-path', () => {
    expect(parseConfig(formatConfig(base))).toEqual(base);
  });

  it('defaults to manual; an unknown policy or a bad policy-path is refused, by line', () => {
    const text = formatConfig(base).replace(/^policy.*\n/gm, '');
    expect((parseConfig(text) as LentoConfig).policy).toBe('manual');
    const bad = parseConfig(`${text}policy loudest\npolicy-path /x\n`);
    expect(Array.isArray(bad) ? bad.map((e) => e.replace(/^line \d+: /, '')) : bad).toEqual([
      "policy: unknown policy 'loudest'", 'policy-path takes a path pattern and a known policy',
    ]);
  });
});
