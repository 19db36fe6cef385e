/**
 * The scenario file loader (src/cli/scenario_file.ts, scenario_schema.ts) through `izo run
 * --check` and `izo run`: the base file is valid; each of the malformed files below (every error
 * kind the format names: unknown keys, wrong types, undeclared nodes, time going backwards, two
 * servers, bad units, duplicate keys, tabs, bad YAML syntax, and more) gets exit 2 with a
 * problem at the right line and column, and nothing runs. All problems come at once. A fuzz of
 * mutated files never gets anything but exit 0, 1 or 2, and never a stack trace
 * (SCENARIO_FUZZ_RUNS sets the number of files; 40 in CI).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inProcessIzo } from '../../support/cli.ts';
import { loadScenario } from '../../../src/cli/scenario_file.ts';

const cli = inProcessIzo('izo-scenario-file-');

const BASE = [
  'name: tiny',
  'fileset: home',
  'nodes:',
  '  server: { role: server }',
  '  laptop: { role: client, mode: replicate }',
  'network: { latency: 1ms, bandwidth: 10MB/s }',
  'steps:',
  '  - { at: 1s, on: laptop, run: "write /a hello" }',
  '  - { at: 2s, partition: [[laptop], [server]] }',
  '  - { at: 3s, heal: all }',
  '  - { after: 1s, wait: converged, within: 30s }',
  'expect:',
  '  converged: true',
  '  files: { /a: hello }',
  '  conflicts: 0',
];
type Edit = [number, string, string];

/** The base file with each edit (line number, text, replacement) made. */
function apply(edits: readonly Edit[]): string {
  const lines = [...BASE];
  for (const [n, from, to] of edits) {
    const l = lines[n - 1] ?? '';
    if (!l.includes(from)) throw new Error(`line ${n} has no '${from}'`);
    lines[n - 1] = l.replace(from, to);
  }
  return `${lines.join('\n')}\n`;
}

function file(name: string, text: string): string {
  const path = join(cli.dir(), name);
  writeFileSync(path, text);
  return path;
}

const CASES: Array<[string, string, RegExp, Edit[]]> = [
  ['an unknown top-level key', '3:1', /unknown key 'colour'/, [[2, 'fileset: home', 'fileset: home\ncolour: blue']]],
  ['an unknown node key', '4:27', /unknown key 'ram' in nodes.server/, [[4, 'role: server }', 'role: server, ram: 4G }']]],
  ['an unknown step key', '10:26', /unknown key 'gently' in steps\[2\]/, [[10, 'heal: all }', 'heal: all, gently: true }']]],
  ['an unknown expect key', '16:3', /unknown key 'surprises' in expect/, [[15, 'conflicts: 0', 'conflicts: 0\n  surprises: none']]],
  ['a missing name', '2:1', /missing key 'name'/, [[1, 'name: tiny', '']]],
  ['a bad name', '1:7', /name: .*\[a-z0-9-\]\+/, [[1, 'tiny', 'Tiny_One']]],
  ['a seed that is not a number', '3:7', /seed: .*expected an integer/, [[2, 'fileset: home', 'fileset: home\nseed: lots']]],
  ['a negative seed', '3:7', /seed: got -1/, [[2, 'fileset: home', 'fileset: home\nseed: -1']]],
  ['a role that does not exist', '5:19', /expected server or client/, [[5, 'role: client', 'role: peer']]],
  ['a mode that does not exist', '5:33', /expected replicate or on-demand/, [[5, 'mode: replicate', 'mode: mirror']]],
  ['two servers', '5:19', /a second server/, [[5, 'role: client, mode: replicate', 'role: server']]],
  ['no server', '4:3', /no server/, [[4, 'role: server', 'role: client']]],
  ['a mode on the server', '4:33', /mode is a client's/, [[4, 'role: server }', 'role: server, mode: on-demand }']]],
  ['a disk size with a bad unit', '5:50', /'32X' is not a size/, [[5, 'replicate }', 'replicate, disk: 32X }']]],
  ['a disk too small for the journal', '5:50', /from 8M/, [[5, 'replicate }', 'replicate, disk: 1M }']]],
  ['a latency without a unit', '6:21', /has no unit/, [[6, 'latency: 1ms', 'latency: 1']]],
  ['a latency in a unit that does not exist', '6:21', /'1h' is not a duration/, [[6, 'latency: 1ms', 'latency: 1h']]],
  ['a bandwidth without /s', '6:37', /'10MB' is not a bandwidth/, [[6, '10MB/s', '10MB']]],
  ['a latency range with min above max', '6:21', /above max/, [[6, 'latency: 1ms', 'latency: { min: 9ms, max: 2ms }']]],
  ['a clock skew that is not a duration', '5:56', /'soon' is not a duration/, [[5, 'replicate }', 'replicate, clock-skew: soon }']]],
  ['a step naming an undeclared node', '8:19', /no node 'desk'/, [[8, 'on: laptop', 'on: desk']]],
  ['a partition naming an undeclared node', '9:46', /no node 'desk'/, [[9, '[server]', '[server, desk]']]],
  ['a node in two groups of a partition', '9:46', /laptop is in two groups/, [[9, '[server]', '[server, laptop]']]],
  ['time going backwards', '10:11', /before the previous step/, [[10, 'at: 3s', 'at: 500ms']]],
  ['both at and after', '10:15', /at and after both given/, [[10, 'at: 3s,', 'at: 3s, after: 1s,']]],
  ['a step with no action', '10:5', /no action/, [[10, 'heal: all', 'on: laptop']]],
  ['a step with two actions', '10:26', /one action per step/, [[10, 'heal: all', 'heal: all, crash: server']]],
  ['a step that is not a map', '10:5', /expected a map/, [[10, '{ at: 3s, heal: all }', 'heal everything']]],
  ['a wait that is neither quiet nor converged', '11:24', /expected quiet or converged/, [[11, 'wait: converged', 'wait: forever']]],
  ['a bad errno name', '8:57', /expected an errno name/, [[8, '"write /a hello" }', '"write /a hello", error: EOOPS }']]],
  ['bad credentials', '8:31', /expected UID:GID/, [[8, 'on: laptop,', 'on: laptop, as: root,']]],
  ['a command-language error inside run', '8:33', /unknown command 'wrte'/, [[8, '"write /a hello"', '"wrte /a hello"']]],
  ['a command-language error on the second line of a block', '12:7', /chmod: MODE must be octal/, [[8, '  - { at: 1s, on: laptop, run: "write /a hello" }',
    '  - at: 1s\n    on: laptop\n    run: |\n      write /a hello\n      chmod 999x /a']]],
  ['converged that is not a boolean', '13:14', /expected true or false/, [[13, 'true', 'yes please']]],
  ['a file expectation with a relative path', '14:12', /expected an absolute path/, [[14, '/a: hello', 'a: hello']]],
  ['a file expectation that is neither text, size nor sha256', '14:18', /unknown key 'bytes'/, [[14, '/a: hello', '/a: { bytes: 5 }']]],
  ['a sha256 that is not 64 hex digits', '14:26', /64 lowercase hex digits/, [[14, '/a: hello', '/a: { sha256: abc }']]],
  ['conflicts that are neither 0 nor a list', '15:14', /expected 0 or a list/, [[15, 'conflicts: 0', 'conflicts: 3']]],
  ['a conflict of a class that does not exist', '15:34', /expected NAME, UPDATE, DELETE or RENAME/, [[15, 'conflicts: 0', 'conflicts: [{ path: /a, class: WEIRD }]']]],
  ['per-node expectations for an undeclared node', '17:5', /no node 'desk'/, [[15, 'conflicts: 0', 'conflicts: 0\n  on:\n    desk: { absent: [/a] }']]],
  ['a counter that does not exist', '17:27', /unknown key 'sent'/, [[15, 'conflicts: 0', 'conflicts: 0\n  on:\n    laptop: { counters: { sent: 1 } }']]],
  ['a duplicate key', '3:1', /duplicate key/, [[2, 'fileset: home', 'fileset: home\nfileset: work']]],
  ['a tab in the indentation', '4:1', /a tab in the indentation/, [[4, '  server:', '\tserver:']]],
  ['an unclosed flow sequence', '9:46', /Flow sequence/, [[9, '[[laptop], [server]] }', '[[laptop], [server] }']]],
  ['an unclosed quote', '16:1', /Missing closing "quote/, [[8, '"write /a hello" }', '"write /a hello }']]],
  ['a second YAML document', '16:1', /a second YAML document/, [[15, 'conflicts: 0', 'conflicts: 0\n---\nname: other']]],
  ['a policy that does not exist', '3:9', /expected one of: manual/, [[2, 'fileset: home', 'fileset: home\npolicy: coin-flip']]],
  ['a crash trigger on an unknown event', '10:45', /steps\[2\]\.when\.event/, [[10, 'heal: all', 'crash: server, when: { event: lento.nap }']]],
  ['steps that are not a list', '7:8', /steps: .*expected a list of steps/, [[7, 'steps:', 'steps: none'], [8, '  - { at: 1s, on: laptop, run: "write /a hello" }', ''],
    [9, '  - { at: 2s, partition: [[laptop], [server]] }', ''], [10, '  - { at: 3s, heal: all }', ''],
    [11, '  - { after: 1s, wait: converged, within: 30s }', '']]],
  ['a within that is not a duration', '11:43', /has no unit/, [[11, 'within: 30s', 'within: 30']]],
  ['a wait longer than a day', '11:43', /within 1500m: at most 24h/, [[11, 'within: 30s', 'within: 1500m']]],
  ['a heal naming an undeclared node', '10:30', /no node 'dsk'/, [[10, 'heal: all', 'heal: [laptop, dsk]']]],
  ['a jam between a node and itself', '10:20', /names one node twice/, [[10, 'heal: all', 'jam: [laptop, laptop]']]],
];

describe('izo run --check: invalid scenario files', () => {
  it('the base file is valid', async () => {
    const path = file('base.yaml', apply([]));
    expect(await cli.izo('run', '--check', path)).toEqual({ status: 0, out: `${path}: ok (4 steps, 3 expectations)\n`, err: '' });
  });

  it.each(CASES)('%s: exit 2 at %s', async (_what, where, message, edits) => {
    const path = file('bad.yaml', apply(edits));
    const r = await cli.izo('run', '--check', path);
    expect(r.status).toBe(2);
    expect(r.out).toBe('');
    const lines = r.err.trimEnd().split('\n');
    expect(lines.at(-1)).toMatch(/problems?; nothing was run$/);
    const hit = lines.find((l) => l.startsWith(`${path}:${where}: `));
    expect(hit, r.err).toBeDefined();
    expect(hit).toMatch(message);
  });

  it('there are at least 30 cases, each a different file', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => apply(c[3]))).size).toBe(CASES.length);
  });

  it('reports every problem at once, in file order, and runs nothing (no trace is written)', async () => {
    const text = apply([[4, 'role: server }', 'role: server, ram: 4G }'], [8, 'on: laptop', 'on: desk'],
      [10, 'at: 3s', 'at: 500ms'], [13, 'true', 'maybe']]);
    const trace = join(cli.dir(), 'never.jsonl');
    const r = await cli.izo('run', file('many.yaml', text), '--trace', trace);
    expect(r.status).toBe(2);
    const where = r.err.split('\n').filter((l) => /\.yaml:\d/.test(l)).map((l) => /:(\d+:\d+): /.exec(l)?.[1]);
    expect(where).toEqual(['4:27', '8:19', '10:11', '13:14']);
    expect(r.err).toContain('4 problems; nothing was run');
    expect(() => writeFileSync(trace, '', { flag: 'wx' })).not.toThrow();
  });

  it('the same problems from the loader itself, as data (line and column 1-based)', () => {
    const r = loadScenario('t.yaml', apply([[8, 'on: laptop', 'on: desk']]));
    expect(r).toEqual({ ok: false, problems: [{ line: 8, col: 19,
      message: "no node 'desk' is declared in nodes: (declared: server, laptop)" }] });
  });

  it('a file that cannot be read, or that is not a map, is exit 2 too', async () => {
    const missing = join(cli.dir(), 'nope.yaml');
    expect(await cli.izo('run', missing)).toMatchObject({ status: 2, err: `izo run: cannot read ${missing}: ENOENT\n` });
    const list = file('list.yaml', '- a\n- b\n');
    expect((await cli.izo('run', '--check', list)).err).toContain(`${list}:1:1: a scenario file is a map of keys`);
    expect((await cli.izo('run', '--check', file('empty.yaml', ''))).status).toBe(2);
  });
});

/** Words a mutation may put anywhere: keys, values, units, names, punctuation. */
const TOKENS = ['name:', 'nodes:', 'steps:', 'expect:', 'role:', 'server', 'client', 'laptop', 'desk', 'at:', 'after:',
  'run:', 'on:', 'heal:', 'all', 'crash:', 'restart:', 'pause:', 'resume:', 'wait:', 'quiet', 'converged', 'within:',
  '1s', '0s', '2ms', '5m', '-1s', '3', '0', '1.5s', '10MB/s', '8M', 'true', 'false', 'null', '~', '[', ']', '{', '}',
  ',', ':', '-', '"', "'", '#', '|', '>', '&a', '*a', '!!str', '\t', ' ', '\n', 'on-demand', 'EROFS', 'files:',
  'absent:', 'conflicts:', '/a', 'partition:', 'isolate:', 'cut:', 'jam:', 'latency:', 'bandwidth:', 'repeat:', '{i}'];

type Mutation = { kind: 'delete' | 'duplicate'; line: number } | { kind: 'insert'; at: number; token: string }
  | { kind: 'replace'; at: number; len: number; token: string } | { kind: 'swap'; a: number; b: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constantFrom('delete' as const, 'duplicate' as const), line: fc.nat(BASE.length - 1) }),
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(600), token: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('replace' as const), at: fc.nat(600), len: fc.integer({ min: 1, max: 6 }),
    token: fc.constantFrom(...TOKENS) }),
  fc.record({ kind: fc.constant('swap' as const), a: fc.nat(BASE.length - 1), b: fc.nat(BASE.length - 1) }),
);

function mutate(text: string, m: Mutation): string {
  const lines = text.split('\n');
  switch (m.kind) {
    case 'delete': lines.splice(m.line, 1); return lines.join('\n');
    case 'duplicate': lines.splice(m.line, 0, lines[m.line] ?? ''); return lines.join('\n');
    case 'swap': {
      const a = lines[m.a] ?? '';
      lines[m.a] = lines[m.b] ?? '';
      lines[m.b] = a;
      return lines.join('\n');
    }
    case 'insert': {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.token + text.slice(at);
    }
    case 'replace': {
      const at = m.at % (text.length + 1);
      return text.slice(0, at) + m.token + text.slice(at + m.len);
    }
  }
}

describe('izo run on mutated scenario files', () => {
  it('never exits with anything but 0, 1 or 2, and never shows a stack trace', async () => {
    const runs = Number(process.env.SCENARIO_FUZZ_RUNS ?? 40);
    let n = 0;
    const seen = new Map<number, number>();
    await fc.assert(fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (ms) => {
      const text = ms.reduce(mutate, apply([]));
      const r = await cli.izo('run', '--quiet', file(`fuzz-${n++}.yaml`, text));
      expect([0, 1, 2], `${r.err}\n--- the file:\n${text}`).toContain(r.status);
      seen.set(r.status, (seen.get(r.status) ?? 0) + 1);
      expect(r.err).not.toMatch(/^\s+at .*:\d+:\d+\)?$/m);
    }), { numRuns: runs });
    // Most mutants are invalid; some still run (a comment, a changed time): both paths are tried.
    expect(seen.get(2) ?? 0).toBeGreaterThan(0);
    if (process.env.SCENARIO_FUZZ_STATS !== undefined) writeFileSync(process.env.SCENARIO_FUZZ_STATS, JSON.stringify([...seen]));
  }, 600_000);
});
