/**
 * The scenario API (sim/scenario.ts): a world as data and a timeline of steps. A laptop edits
 * while cut off and reintegrates; the result names every node's tree, status and counters, the
 * steps that did not go as they said, and the trace hash. Determinism: a run with every kind of
 * fault gives the same hash twice; another seed, another hash.
 */
import { describe, expect, it } from 'vitest';
import { runScenario, type Scenario } from '../../sim/scenario.ts';

const S = 1_000_000;

const laptop: Scenario = {
  name: 'laptop-disconnect', seed: 42, fileset: 'home',
  nodes: [{ name: 'server', role: 'server' }, { name: 'laptop', role: 'client' },
    { name: 'desk', role: 'client', mode: 'on-demand' }],
  steps: [
    { at: 1 * S, on: 'server', run: 'mkdir /docs' },
    { at: 2 * S, on: 'laptop', as: [1000, 1000], run: "write /docs/a.txt hello\nappend /docs/a.txt ' world'", error: 'EACCES' },
    { at: 3 * S, on: 'laptop', run: "write /docs/a.txt hello\nappend /docs/a.txt ' world'" },
    { at: 4 * S, partition: [['laptop'], ['server', 'desk']] },
    { after: 2 * S, on: 'laptop', run: "write /docs/offline 'made while cut off'" },
    { after: 1 * S, heal: 'all' },
    { after: 1 * S, wait: 'converged', within: 60 * S },
    { after: 1 * S, on: 'desk', run: 'cat /docs/a.txt', output: 'hello world' },
    { after: 1 * S, on: 'desk', run: 'cat /docs/offline', output: 'made while cut off' },
  ],
};

describe('the scenario API', () => {
  it('plays the laptop scenario: every step as it said, every node converged, counters from the trace', () => {
    const r = runScenario(laptop);
    expect(r.failures).toEqual([]);
    const trees = Object.values(r.nodes).map((n) => JSON.stringify(n.tree));
    expect(new Set(trees).size).toBe(1);
    expect(r.nodes.laptop?.counters.made).toBe(5); // CREATE, CLOSE, CLOSE (append), CREATE, CLOSE
    expect(r.nodes.server?.counters.applied).toBeGreaterThanOrEqual(5);
    expect(r.nodes.desk?.counters.fetches).toBe(2);
    expect(r.conflicts).toEqual([]);
    expect(r.traceHash).toMatch(/^[0-9a-f]{16}$/);
  });

  it('reports a step whose expectation fails, naming what was expected and what happened', () => {
    const bad: Scenario = { ...laptop, steps: [...laptop.steps, { after: 1 * S, on: 'desk', run: 'cat /docs/a.txt', output: 'goodbye' }] };
    const r = runScenario(bad);
    expect(r.failures).toEqual([{ step: 9, what: 'output of cat on desk', expected: 'goodbye', actual: 'hello world' }]);
  });

  it('is deterministic with every fault kind: the same hash twice, another seed another hash', () => {
    const faults: Scenario = {
      name: 'every-fault', seed: 7, fileset: 'f',
      network: { latency: { min: 200, max: 5000, tail: { num: 1, den: 10, factor: 20 } }, bandwidth: 2_000_000 },
      nodes: [{ name: 'server', role: 'server' }, { name: 'a', role: 'client', clockSkew: 2 * S },
        { name: 'b', role: 'client', mode: 'on-demand', data: 'journal' }],
      steps: [
        { at: 1 * S, on: 'a', run: 'mkdir /x\nwrite /x/f one' },
        { after: S, partition: [['a'], ['server', 'b']] },
        { after: S, on: 'a', run: 'append /x/f two' },
        { after: S, heal: 'all' },
        { after: S, cut: { from: 'b', to: 'server' } },
        { after: S, isolate: 'a' },
        { after: S, heal: ['a', 'b'] },
        { after: S, jam: ['a', 'server'] },
        { after: S, on: 'a', run: 'write /x/g three' },
        { after: S, release: ['a', 'server'] },
        { after: S, reset: ['b', 'server'] },
        { after: S, latency: { between: ['a', 'server'], value: 40_000 } },
        { after: S, bandwidth: { between: ['a', 'server'], value: 100_000 } },
        { after: S, crash: 'server' },
        { after: 2 * S, restart: 'server' },
        { after: S, pause: 'b' },
        { after: 3 * S, resume: 'b' },
        { after: S, wait: 'converged', within: 120 * S },
      ],
    };
    const one = runScenario(faults);
    expect(one.failures).toEqual([]);
    const two = runScenario(faults);
    expect(two.traceHash).toBe(one.traceHash);
    expect(JSON.stringify(two.nodes)).toBe(JSON.stringify(one.nodes));
    expect(runScenario({ ...faults, seed: 8 }).traceHash).not.toBe(one.traceHash);
  });

  it('a crash trigger fires at the nth matching event, mid-reintegration, and the restart after it loses nothing', () => {
    const events: string[] = [];
    const s: Scenario = {
      name: 'trigger', seed: 3, fileset: 'f', quiet: 60 * S,
      nodes: [{ name: 'server', role: 'server' }, { name: 'laptop', role: 'client' }],
      steps: [
        { at: 1 * S, isolate: 'laptop' },
        { at: 2 * S, on: 'laptop', run: Array.from({ length: 6 }, (_, i) => `write /f${i} 'file ${i}'`).join('\n') },
        { at: 3 * S, crash: 'server', when: { event: 'lento.fetch', peer: 'laptop', nth: 3 }, restartAfter: 2 * S },
        { at: 3 * S, heal: 'all' },
        { after: 1 * S, wait: 'converged', within: 60 * S },
      ],
    };
    const r = runScenario(s, { onEvent: (e) => {
      if (e.host !== 'server') return;
      if (e.ev === 'lento.fetch') events.push(e.ev);
      if (e.ev === 'host.state') events.push((e.data as { state: string }).state);
    } });
    expect(r.failures).toEqual([]);
    // Three fetches, then the power cut, the boot, and the fetches of what was not durable yet.
    expect(events.slice(0, 6)).toEqual(['up', 'lento.fetch', 'lento.fetch', 'lento.fetch', 'crashed', 'up']);
    expect(events.filter((e) => e === 'lento.fetch').length).toBeGreaterThanOrEqual(6);
    expect(r.nodes.server?.tree).toEqual(r.nodes.laptop?.tree);
    // The write waited for the permit (the server was unreachable), so the next steps ran late.
    expect(r.started[2]).toBeGreaterThan(3 * S);
    expect(r.started[3]).toBe(r.started[2]);
  });

  it('steps that cannot be done as written are failures of their steps, never panics', () => {
    const s: Scenario = {
      name: 'misuse', seed: 1, fileset: 'f',
      nodes: [{ name: 'server', role: 'server' }, { name: 'a', role: 'client' }],
      steps: [
        { at: 1 * S, restart: 'server' },
        { after: S, pause: 'a' },
        { after: S, on: 'a', run: 'write /x y' },
        { after: S, crash: 'a' },
        { after: S, on: 'a', run: 'write /x y' },
        { after: S, crash: 'server', when: { event: 'lento.conflict' } },
      ],
    };
    const r = runScenario(s);
    expect(r.failures).toEqual([
      { step: 0, what: 'restart server', expected: 'a crashed host', actual: 'the host is up' },
      { step: 2, what: 'run on a', expected: 'a running host', actual: 'the host is paused' },
      { step: 4, what: 'run on a', expected: 'a running host', actual: 'the host is down' },
      { step: 5, what: 'crash trigger', expected: 'the event to happen', actual: 'it never happened' },
    ]);
    expect(r.nodes.a).toMatchObject({ up: false, tree: null });
  });
});
