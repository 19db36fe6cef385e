/**
 * `izo run` (src/cli/run.ts, scenario_expect.ts, scenario_story.ts): every shipped scenario in
 * scenarios/ passes; each expectation kind fails when it should (a shipped scenario with its
 * expectations edited exits 1, each failure at the line and column of what was edited); the
 * outputs (timeline and table, --explain, --json, --trace); --save-images writes sparse images
 * that e2fsck -fn passes and debugfs reads; the same file and seed give byte-identical --json
 * output and images twice; usage errors and several files (the worst status wins). Each shipped
 * scenario runs once (the laptop twice: the determinism check), to keep CI time modest.
 */
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inProcessIzo } from '../../support/cli.ts';
import { debugfsRead, e2fsck } from '../../support/e2fsprogs.ts';
import { parseTraceLine } from '../../../sim/trace.ts';
import { loadScenario } from '../../../src/cli/scenario_file.ts';

const cli = inProcessIzo('izo-run-');
const DIR = join(import.meta.dirname, '../../../scenarios');
const SHIPPED = readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort();
/** Scenarios the tests below run in a particular way; every other one runs with --json. */
const SPECIAL = ['laptop-disconnect.yaml', 'conflict-update.yaml', 'one-way-partition.yaml', 'web-on-demand.yaml'];

function scenario(name: string): string {
  return join(DIR, name);
}

function file(name: string, text: string): string {
  const path = join(cli.dir(), name);
  writeFileSync(path, text);
  return path;
}

interface Report {
  name: string;
  file: string;
  seed: number;
  ok: boolean;
  exit: number;
  failures: Array<{ line: number; column: number; what: string; expected: string; actual: string }>;
  conflicts: Array<{ node: string; class: string; path: string }>;
  nodes: Record<string, Record<string, unknown>>;
  trace_hash: string;
  events: number;
  end_us: number;
}

const TINY = [
  'name: tiny',
  'fileset: home',
  'nodes:',
  '  server: { role: server }',
  '  laptop: { role: client }',
  'steps:',
  '  - { at: 1s, on: laptop, run: "write /a hello" }',
  '  - { after: 1s, wait: converged, within: 30s }',
  'expect:',
  '  files: { /a: hello }',
  '',
].join('\n');

describe('the shipped scenarios', () => {
  it('there are at least 12, each with a description and expectations, and all validate', async () => {
    expect(SHIPPED.length).toBeGreaterThanOrEqual(12);
    for (const f of SHIPPED) {
      const r = loadScenario(f, readFileSync(scenario(f), 'utf8'));
      expect(r.ok, f).toBe(true);
      if (!r.ok) continue;
      expect(r.loaded.description?.length ?? 0, f).toBeGreaterThan(40);
      expect(r.loaded.expectations.length, f).toBeGreaterThan(0);
      expect(`${r.loaded.scenario.name}.yaml`).toBe(f);
    }
    const check = await cli.izo('run', '--check', ...SHIPPED.map(scenario));
    expect(check.status, check.err).toBe(0);
    expect(check.out.trimEnd().split('\n')).toHaveLength(SHIPPED.length);
  });

  it.each(SHIPPED.filter((f) => !SPECIAL.includes(f)))('%s: every expectation holds (exit 0)', async (f) => {
    const r = await cli.izo('run', scenario(f), '--json');
    expect(r.status, r.err).toBe(0);
    const j = JSON.parse(r.out) as Report;
    expect(j).toMatchObject({ name: f.replace(/\.yaml$/, ''), ok: true, exit: 0, failures: [] });
  }, 60_000);

  it('conflict-update, --explain: the protocol narrated, the conflict and why it was raised, the table', async () => {
    const r = await cli.izo('run', scenario('conflict-update.yaml'), '--explain');
    expect(r.status, r.err).toBe(0);
    expect(r.out).toMatch(/^== conflict-update \(.*conflict-update\.yaml, seed 1\)\nThe laptop, cut off, and the desk/);
    for (const phrase of [
      'presto takes it locally: disconnected operation', "laptop logs record 1 in its KML: CLOSE /doc.txt (cut off from server",
      'compare logs (REPSTATUS)', '(its last_rcvd)', 'its last_rcvd for desk now says', 'BACKFETCH',
      'is a UPDATE conflict: /doc.txt was updated here', 'the record is kept in lento.parked and a NOOP takes its place',
      'node    role', 'conflict-update: ok: 6 expectations held',
    ]) expect(r.out).toContain(phrase);
  }, 60_000);

  it('one-way-partition, the default output and --trace: one line per step and notable event, the table', async () => {
    const trace = join(cli.dir(), 'one-way.jsonl');
    const r = await cli.izo('run', scenario('one-way-partition.yaml'), '--trace', trace);
    expect(r.status, r.err).toBe(0);
    expect(r.out).toContain('   2.000s  step 2: cut branch -> server (one way)\n');
    expect(r.out).toMatch(/\n +\d+\.\d{3}s {4}branch loses its session with server/);
    expect(r.out).toMatch(/\n +\d+\.\d{3}s {4}branch reconnects to server\n/);
    expect(r.out).toMatch(/reintegration: server replays branch's records 1-2 \(2 applied\)/);
    expect(r.out).toMatch(/\n {2}node {4}role {7}made {2}shipped {2}applied {2}fetched {2}conflicts {9}KML\n/);
    expect(r.out).toMatch(/\n {2}branch {2}replicate +2 +2 +5 +1 \(8\) +0 +2 rec, 300\n/);
    const lines = readFileSync(trace, 'utf8').trimEnd().split('\n');
    const events = lines.map(parseTraceLine);
    expect(events.some((e) => e.ev === 'net.cut')).toBe(true);
    expect(events.map((e) => e.t)).toEqual([...events.map((e) => e.t)].sort((a, b) => a - b));
    const hash = /trace ([0-9a-f]{16})/.exec(r.out)?.[1];
    expect(hash).toMatch(/^[0-9a-f]{16}$/);
  }, 60_000);
});

describe('expectations that fail', () => {
  /** web-on-demand.yaml with each expectation kind made wrong, on its own line. */
  const EDITS: Array<[number, string, string]> = [
    [22, 'output: "<h1>Welcome</h1>"', 'output: "<h1>Goodbye</h1>"'],
    [23, "'<p>We moved</p>'\" }", "'<p>We moved</p>'\", error: EEXIST }"],
    [27, 'converged: true', 'converged: false'],
    [29, '"<p>We moved</p>"', '"<p>No news</p>"'],
    [30, '{ size: 50000 }', '{ size: 50001 }'],
    [32, 'fetches: 5', 'fetches: 6'],
    [33, 'made: 0 } }', `made: 0 }, files: { /site/index.html: { sha256: ${'ab'.repeat(32)} } }, absent: [/site/about.html] }`],
    [34, 'conflicts: 0', 'conflicts: [{ path: /site/news.html, class: UPDATE }]'],
  ];

  it('web-on-demand with its expectations edited: exit 1, each failure at its line and column, expected and got', async () => {
    const lines = readFileSync(scenario('web-on-demand.yaml'), 'utf8').split('\n');
    for (const [n, from, to] of EDITS) {
      expect(lines[n - 1], `line ${n}`).toContain(from);
      lines[n - 1] = (lines[n - 1] ?? '').replace(from, to);
    }
    const path = file('web-wrong.yaml', lines.join('\n'));
    const r = await cli.izo('run', path, '--quiet');
    expect(r.status).toBe(1);
    const failed = r.err.trimEnd().split('\n');
    const at = (where: string, text: string): void => {
      expect(failed.some((l) => l.startsWith(`${path}:${where}: FAILED `) && l.includes(text)), `${where} ${text}\n${r.err}`).toBe(true);
    };
    at('22:5', 'output of cat on web: expected <h1>Goodbye</h1>, got <h1>Welcome</h1>');
    at('23:5', 'step 5: run on master: write: expected EEXIST, got ok');
    at('27:3', 'converged: expected trees that differ, got every tree identical');
    for (const node of ['master', 'web', 'ftp']) at('29:5', `/site/news.html on ${node}: expected "<p>No news</p>", got "<p>We moved</p>"`);
    at('30:5', '/site/logo.png on web: expected 50001 bytes, got 50000 bytes');
    at('32:24', 'fetches on web: expected 6, got 5');
    at('33:56', `/site/index.html on ftp: expected sha256 ${'ab'.repeat(32)}, got sha256 `);
    at('33:163', '/site/about.html absent on ftp: expected ENOENT, got it exists');
    at('34:3', 'conflicts: expected UPDATE /site/news.html, got none');
    expect(failed).toHaveLength(13);
    expect(r.out).toMatch(/^web-on-demand: FAILED: 13 failures \(trace [0-9a-f]{16}, /);

    const json = JSON.parse((await cli.izo('run', path, '--json')).out) as Report;
    expect(json.ok).toBe(false);
    expect(json.exit).toBe(1);
    expect(json.failures.map((f) => `${f.line}:${f.column}`)).toContain('32:24');
    expect(json.failures.find((f) => f.line === 32)).toEqual({ line: 32, column: 24, what: 'fetches on web', expected: '6', actual: '5' });
  }, 120_000);

  it('a wait that times out, a step on a paused host, a restart of a host that is up: exit 1 at each step', async () => {
    const text = TINY.replace('  - { after: 1s, wait: converged, within: 30s }', [
      '  - { at: 2s, isolate: laptop }',
      '  - { at: 3s, on: laptop, run: "write /b x" }',
      '  - { after: 1s, wait: converged, within: 5s }',
      '  - { after: 1s, pause: laptop }',
      '  - { after: 1s, on: laptop, run: "cat /a", output: hello }',
      '  - { after: 1s, restart: server }',
      '  - { after: 1s, crash: server, when: { event: lento.conflict } }',
      '  - { after: 1s, resume: laptop }',
    ].join('\n')).replace('  files: { /a: hello }', '  converged: false');
    const path = file('steps.yaml', text);
    const r = await cli.izo('run', path, '--quiet');
    expect(r.status).toBe(1);
    expect(r.err).toContain(`${path}:10:5: FAILED step 4: wait converged: expected converged within 5 s, got not reached\n`);
    expect(r.err).toContain(`${path}:12:5: FAILED step 6: run on laptop: expected a running host, got the host is paused\n`);
    expect(r.err).toContain(`${path}:13:5: FAILED step 7: restart server: expected a crashed host, got the host is up\n`);
    expect(r.err).toContain(`${path}:14:5: FAILED step 8: crash trigger: expected the event to happen, got it never happened\n`);
  }, 60_000);
});

describe('--save-images and determinism', () => {
  it('the laptop scenario twice: the same --json bytes and images; e2fsck -fn passes them, debugfs reads them', async () => {
    const runs = [];
    for (const d of ['a', 'b']) {
      const dir = join(cli.dir(), d);
      const r = await cli.izo('run', scenario('laptop-disconnect.yaml'), '--json', '--save-images', dir);
      expect(r.status, r.err).toBe(0);
      runs.push({ dir, out: r.out });
    }
    const [a, b] = runs as [{ dir: string; out: string }, { dir: string; out: string }];
    expect(b.out).toBe(a.out);
    const j = JSON.parse(a.out) as Report;
    expect(j).toMatchObject({ name: 'laptop-disconnect', seed: 42, ok: true, conflicts: [] });
    expect(Object.keys(j.nodes)).toEqual(['server', 'laptop', 'desk']);
    expect(j.nodes.desk).toMatchObject({ role: 'client', mode: 'on-demand', up: true, made: 0 });
    expect(Number(j.nodes.desk?.fetches)).toBeGreaterThanOrEqual(2);
    for (const node of ['server', 'laptop', 'desk']) {
      const img = join(a.dir, `${node}.img`);
      expect(readFileSync(img).equals(readFileSync(join(b.dir, `${node}.img`))), node).toBe(true);
      const st = statSync(img);
      expect(st.blocks * 512, `${node} is sparse`).toBeLessThan(st.size / 2);
      const fsck = e2fsck(img);
      expect(fsck.status, fsck.output).toBe(0);
      expect(debugfsRead(img, 'cat /docs/plan.txt'), node).toBe('draft 1, revised on the train');
      expect(debugfsRead(img, 'cat /docs/trip/last-day.txt'), node).toBe('home');
    }
    expect(debugfsRead(join(a.dir, 'desk.img'), 'ls -l /.intermezzo/home')).toContain('last_rcvd');
  }, 120_000);

  it('--seed overrides the file\'s seed: another trace; the same seed, the same output', async () => {
    const path = file('tiny.yaml', TINY);
    const one = JSON.parse((await cli.izo('run', path, '--json')).out) as Report;
    const five = JSON.parse((await cli.izo('run', path, '--json', '--seed', '5')).out) as Report;
    expect(one.seed).toBe(1);
    expect(five).toMatchObject({ seed: 5, ok: true });
    expect(five.trace_hash).not.toBe(one.trace_hash);
    expect((await cli.izo('run', path, '--json', '--seed', '5')).out).toBe(`${JSON.stringify(five)}\n`);
  }, 60_000);
});

describe('usage', () => {
  it('izo help run shows the format\'s keys briefly', async () => {
    const r = await cli.izo('help', 'run');
    expect(r.status).toBe(0);
    expect(r.out).toMatch(/^usage: izo run FILE\.\.\. \[--seed S\] \[--explain\] \[--json\]/);
    for (const key of ['name:', 'fileset:', 'nodes:', 'role: server|client', 'network:', 'links:', 'steps:', 'partition:',
      'crash: A, when:', 'wait: converged|quiet', 'expect:', 'conflicts: 0 | [{path, class}]', 'Durations: us, ms, s, m']) {
      expect(r.out).toContain(key);
    }
  });

  it.each([
    [[], 'no scenario FILE given'],
    [['x.yaml', '--json', '--explain'], '--explain, --json and --quiet choose the output'],
    [['x.yaml', '--seed', 'lots'], "--seed must be a non-negative integer, got 'lots'"],
    [['x.yaml', '--colour'], "Unknown option '--colour'"],
    [['a.yaml', 'b.yaml', '--trace', 't.jsonl'], '--trace takes one scenario FILE'],
  ])('izo run %j: exit 2, the problem and the usage line', async (args, message) => {
    const r = await cli.izo('run', ...args);
    expect(r.status).toBe(2);
    expect(r.err).toContain(message);
    expect(r.err).toContain('usage: izo run FILE...');
  });

  it('several files: each is run, and the exit status is the worst', async () => {
    const good = file('good.yaml', TINY);
    const wrong = file('wrong.yaml', TINY.replace('/a: hello', '/a: bye'));
    const invalid = file('invalid.yaml', TINY.replace('fileset: home', 'fileset: home\nfileset: twice'));
    const one = await cli.izo('run', '--quiet', good, wrong);
    expect(one.status).toBe(1);
    expect(one.err).toContain(`${wrong}:10:12: FAILED /a on server: expected "bye", got "hello"`);
    const two = await cli.izo('run', '--quiet', wrong, invalid, good);
    expect(two.status).toBe(2);
    expect(two.err).toContain(`${invalid}:3:1: duplicate key`);
    const json = await cli.izo('run', '--json', good, good);
    expect(json.out.trimEnd().split('\n').map((l) => (JSON.parse(l) as Report).ok)).toEqual([true, true]);
  }, 60_000);

  it('several files with --save-images: DIR/NAME/NODE.img each', async () => {
    const dir = join(cli.dir(), 'many');
    mkdirSync(dir, { recursive: true });
    const other = file('tiny2.yaml', TINY.replace('name: tiny', 'name: tiny-two'));
    const r = await cli.izo('run', '--quiet', file('tiny.yaml', TINY), other, '--save-images', dir);
    expect(r.status, r.err).toBe(0);
    expect(readdirSync(join(dir, 'tiny')).sort()).toEqual(['laptop.img', 'server.img']);
    expect(e2fsck(join(dir, 'tiny-two', 'server.img')).status).toBe(0);
  }, 60_000);
});
