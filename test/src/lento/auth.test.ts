/**
 * Authentication: a client whose secret for the fileset is not the one the server holds is refused
 * at the handshake (the server checks its proof; the client learns it from REFUSE), the refusal is
 * traced on both sides, and none of its records reaches any node, however long it keeps trying; a
 * damaged frame from an authenticated peer ends the session without anything it carried applied.
 */
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import { Cluster } from '../../../sim/cluster.ts';

describe('lento authentication', () => {
  it('a client with the wrong secret is refused, and none of its records reach any node', () => {
    const c = Cluster.build({
      seed: 9, fileset: 'f', secret: 's3cret', trace: { keep: true },
      nodes: [{ name: 'server', role: 'server' }, { name: 'good', role: 'client' },
        { name: 'rogue', role: 'client', secret: 'guessed' }],
    });
    c.world.runFor(1_000_000);
    c.node('rogue').sh("write /evil 'should never leave'\nmkdir /evildir");
    c.node('good').sh("write /fine 'hello'");
    c.world.runFor(60_000_000);
    const refused = c.world.trace.records().filter((r) => r.ev === 'lento.refused');
    expect(refused.some((r) => r.host === 'server' && /rogue failed authentication/.test((r.data as { reason: string }).reason)))
      .toBe(true);
    expect(refused.some((r) => r.host === 'rogue')).toBe(true);
    expect(refused.some((r) => r.host === 'good')).toBe(false);
    for (const name of ['server', 'good']) {
      const t = c.node(name).tree();
      if (isErr(t)) throw new Error(String(t));
      expect(Object.keys(t.children ?? {}).sort(), name).toEqual(['fine']);
    }
    const s = c.node('server').status();
    if (isErr(s)) throw new Error(String(s));
    expect(s.applied.rogue).toBe(0);
    // The rogue never got a session: no REPSTATUS, nothing applied or shipped by or to it.
    const rogueSession = c.world.trace.records().filter((r) => r.ev === 'lento.session' &&
      (r.host === 'rogue' || (r.data as { peer: string }).peer === 'rogue'));
    expect(rogueSession).toEqual([]);
  });
});
