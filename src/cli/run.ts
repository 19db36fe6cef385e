/**
 * run.ts: `izo run FILE...`: play scenario files (docs/scenarios.md) and say whether they held.
 *
 * Layer: user-space entry point (builds worlds; reads and writes real files). Interface: the
 * `RUN` Subcommand. Per file: load and validate it (scenario_file.ts; every problem as
 * `FILE:LINE:COLUMN: message`, exit 2, nothing run), play it (sim/scenario.ts), judge its
 * expectations (scenario_expect.ts), and tell it (scenario_story.ts): the timeline and the
 * summary table, or `--explain`'s narration, or `--json`'s one object per file (a contract:
 * docs/scenarios.md). `--trace OUT` writes the JSON Lines trace of the run, `--save-images DIR`
 * each node's disk after a clean unmount. Exit status: 0 every expectation held, 1 one failed, 2
 * bad usage or an invalid file, 3 the model panicked (a bug: the seed and the command that
 * reruns it are printed; IZO_DEBUG=1 adds the stack); with several files, the worst.
 * Invariant: the same file and seed print the same bytes and write the same images.
 */
import { closeSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { KernelPanic } from '../../kernel/assert.ts';
import type { Cluster } from '../../sim/cluster.ts';
import { runScenario, type Scenario, type ScenarioResult } from '../../sim/scenario.ts';
import { traceLine, type TraceRecord } from '../../sim/trace.ts';
import { saveImage } from '../image.ts';
import { parseCommand, parseSeed, UsageError, type OptionTable, type Subcommand } from './command.ts';
import { checkFinal, stepFailures, type Failure } from './scenario_expect.ts';
import { formatProblem, loadScenario, type LoadedScenario } from './scenario_file.ts';
import { Story, table } from './scenario_story.ts';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INVALID = 2;
export const EXIT_PANIC = 3;

interface RunOptions {
  readonly seed: number | undefined;
  readonly explain: boolean;
  readonly json: boolean;
  readonly quiet: boolean;
  readonly check: boolean;
  readonly trace: string | undefined;
  readonly images: string | undefined;
  /** Several files: images go to DIR/NAME/. */
  readonly several: boolean;
}

function out(s: string): void {
  process.stdout.write(s);
}

function err(s: string): void {
  process.stderr.write(s);
}

export const FORMAT_HELP = `
A scenario file (YAML; docs/scenarios.md has every key, with examples):
  name: NAME                 required, [a-z0-9-]+       description: TEXT    seed: N (default 1)
  fileset: NAME              required                   secret: S            policy: manual|server-wins|...
  nodes:                     exactly one server, one or more clients
    NAME: { role: server|client, mode: replicate|on-demand, disk: 32M, block-size: 4096,
            data: ordered|journal|writeback, clock-skew: -2s, secret: S }
  network: { latency: 5ms | {min: 1ms, max: 20ms}, bandwidth: 10MB/s | none, loss: 1/100 }
  links: [ { between: [A, B], latency: ..., bandwidth: ..., loss: ... } ]
  lento: { heartbeat: 1s, dead-after: 5s, kml-limit: 256K }
  steps: each { at: TIME | after: TIME } and one action:
    on: NODE, run: LINES (docs/commands.md), as: UID:GID, output: TEXT, error: ERRNO
    partition: [[A], [B, C]]   cut: {from: A, to: B}   isolate: A   heal: all | [A, B]
    jam | release | reset: [A, B]   latency: {between: [A, B], value: 200ms}
    bandwidth: {between: [A, B], value: 1MB/s}   pause | resume | restart: A
    crash: A, when: {event: lento.apply, from: B, nth: 1}, restart-after: 2s
    wait: converged|quiet, within: 60s
  settle: TIME               run this long after the last step (default: until quiet, at most 60s)
  expect: { converged: true, files: {/p: TEXT | {size: N} | {sha256: HEX}}, absent: [/p],
            on: {NODE: {files, absent, counters: {made, shipped, applied, conflicts, fetches,
            fetched-bytes, refused, truncations: N | {min, max}}}}, conflicts: 0 | [{path, class}] }
  Durations: us, ms, s, m. Sizes: bytes, K, M, G; bandwidth with /s.
Exit status: 0 every expectation held, 1 one failed, 2 bad usage or invalid file, 3 model panic.`;

const RUN_OPTIONS: OptionTable = {
  seed: { type: 'string', arg: 'S', help: 'the seed (instead of the file\'s seed:, default 1)' },
  explain: { type: 'boolean', help: 'narrate the protocol for a learner, from the trace events' },
  json: { type: 'boolean', help: 'one JSON object per file (docs/scenarios.md: a contract)' },
  quiet: { type: 'boolean', help: 'print only failures' },
  check: { type: 'boolean', help: 'validate the files only; run nothing' },
  trace: { type: 'string', arg: 'OUT.jsonl', help: 'write the run\'s JSON Lines trace (one FILE only)' },
  'save-images': { type: 'string', arg: 'DIR', help: 'write each node\'s disk as DIR/NODE.img after a clean unmount' },
};

export const RUN: Subcommand = {
  name: 'run',
  usage: 'izo run FILE... [--seed S] [--explain] [--json] [--quiet] [--check] [--trace OUT.jsonl] [--save-images DIR]',
  summary: 'play scenario files (docs/scenarios.md): 0 all held, 1 an expectation failed, 2 invalid, 3 model panic',
  options: RUN_OPTIONS,
  details: FORMAT_HELP,
  run(args) {
    const a = parseCommand(RUN_OPTIONS, args);
    const files = a.positionals;
    if (files.length === 0) throw new UsageError('no scenario FILE given');
    if (['explain', 'json', 'quiet'].filter((x) => a.flag(x)).length > 1) {
      throw new UsageError('--explain, --json and --quiet choose the output: give at most one');
    }
    const trace = a.str('trace');
    if (trace !== undefined && files.length > 1) throw new UsageError('--trace takes one scenario FILE');
    const seed = a.str('seed');
    const o: RunOptions = {
      seed: seed === undefined ? undefined : parseSeed(seed), explain: a.flag('explain'), json: a.flag('json'),
      quiet: a.flag('quiet'), check: a.flag('check'), trace, images: a.str('save-images'), several: files.length > 1,
    };
    let worst = EXIT_OK;
    for (const f of files) worst = Math.max(worst, runFile(f, o));
    return worst;
  },
};

function load(file: string): LoadedScenario | null {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    err(`izo run: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}\n`);
    return null;
  }
  const r = loadScenario(file, text);
  if (r.ok) return r.loaded;
  for (const p of r.problems) err(`${formatProblem(file, p)}\n`);
  err(`izo run: ${file}: ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}; nothing was run\n`);
  return null;
}

/** Load, play, judge and tell one file; its exit status. */
export function runFile(file: string, o: RunOptions): number {
  const loaded = load(file);
  if (loaded === null) return EXIT_INVALID;
  if (o.check) {
    const what = `${loaded.scenario.steps.length} steps, ${loaded.expectations.length} expectations`;
    if (!o.quiet && !o.json) out(`${file}: ok (${what})\n`);
    return EXIT_OK;
  }
  const scenario: Scenario = o.seed === undefined ? loaded.scenario : { ...loaded.scenario, seed: o.seed };
  const played = play(file, loaded, scenario, o);
  if (played === null) return EXIT_PANIC;
  const { result, failures, story } = played;
  const code = failures.length === 0 ? EXIT_OK : EXIT_FAILED;
  if (o.json) out(`${JSON.stringify(jsonReport(file, scenario, result, failures, code))}\n`);
  else tell(file, loaded, scenario, result, failures, story, o);
  return code;
}

interface Played {
  readonly result: ScenarioResult;
  readonly failures: Failure[];
  readonly story: Story;
}

function play(file: string, loaded: LoadedScenario, scenario: Scenario, o: RunOptions): Played | null {
  const story = new Story(o.explain ? 'explain' : 'timeline', scenario);
  const fd = o.trace === undefined ? null : openSync(o.trace, 'w');
  let open = true;
  const onEvent = (r: TraceRecord): void => {
    if (!open) return;
    story.event(r);
    if (fd !== null) writeSync(fd, `${traceLine(r)}\n`);
  };
  let finals: Failure[] = [];
  const end = (c: Cluster, r: ScenarioResult): void => {
    open = false;
    story.close();
    finals = checkFinal(loaded, r, c);
    if (o.images !== undefined) saveImages(c, o.several ? join(o.images, scenario.name) : o.images);
  };
  try {
    const result = runScenario(scenario, { onEvent }, end);
    return { result, failures: [...stepFailures(loaded, result), ...finals], story };
  } catch (e) {
    panicked(file, scenario, e);
    return null;
  } finally {
    if (fd !== null) closeSync(fd);
  }
}

/** Every node shut down cleanly (lento stopped, the fileset unmounted), its disk saved as DIR/NODE.img. */
function saveImages(c: Cluster, dir: string): void {
  mkdirSync(dir, { recursive: true });
  c.shutdown();
  for (const n of c.nodes.values()) {
    saveImage(join(dir, `${n.name}.img`), n.disk);
  }
}

function panicked(file: string, s: Scenario, e: unknown): void {
  const what = e instanceof KernelPanic ? 'the model panicked' : 'the model failed';
  const msg = e instanceof Error ? e.message : String(e);
  err(`izo run: ${file}: ${what} (a bug in intermezzo-sim, not in the scenario): ${msg}\n` +
    `  seed ${s.seed}; rerun with: izo run ${file} --seed ${s.seed}\n`);
  if (process.env.IZO_DEBUG !== undefined && e instanceof Error) err(`${e.stack ?? ''}\n`);
  else err('  (IZO_DEBUG=1 shows the stack)\n');
}

/** Words wrapped to lines of at most `width` characters (a longer word stands alone). */
function wrapText(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}

function failureLine(file: string, f: Failure): string {
  return `${file}:${f.at.line}:${f.at.col}: FAILED ${f.what}: expected ${f.expected}, got ${f.actual}`;
}

function tell(file: string, loaded: LoadedScenario, s: Scenario, r: ScenarioResult, failures: readonly Failure[],
  story: Story, o: RunOptions): void {
  if (!o.quiet) {
    out(`== ${s.name} (${file}, seed ${s.seed})\n`);
    if (o.explain && loaded.description !== null) out(`${wrapText(loaded.description.trim(), 96)}\n`);
    out('\n');
    for (const l of story.render(r.started)) out(`${l}\n`);
    out('\n');
    for (const l of table(s, r)) out(`  ${l}\n`);
    out('\n');
  }
  for (const f of failures) err(`${failureLine(file, f)}\n`);
  if (!o.quiet || failures.length > 0) {
    const n = loaded.expectations.length + s.steps.filter((x) => 'run' in x && (x.output !== undefined
      || x.error !== undefined)).length;
    const verdict = failures.length === 0 ? `ok: ${n} expectation${n === 1 ? '' : 's'} held`
      : `FAILED: ${failures.length} failure${failures.length === 1 ? '' : 's'}`;
    const run = `trace ${r.traceHash}, ${r.events} events, ${(r.endTime / 1e6).toFixed(3)}s simulated`;
    out(`${s.name}: ${verdict} (${run})\n`);
  }
}

/** The `--json` object; its keys and their order are a contract (docs/scenarios.md). */
export function jsonReport(file: string, s: Scenario, r: ScenarioResult, failures: readonly Failure[],
  code: number): unknown {
  const nodes: Record<string, unknown> = {};
  for (const n of s.nodes) {
    const nr = r.nodes[n.name];
    const c = nr?.counters;
    nodes[n.name] = {
      role: n.role, mode: n.role === 'server' ? null : (n.mode ?? 'replicate'), up: nr?.up ?? false,
      made: c?.made ?? 0, shipped: c?.shipped ?? 0, applied: c?.applied ?? 0, conflicts: c?.conflicts ?? 0,
      fetches: c?.fetches ?? 0, fetched_bytes: c?.fetchedBytes ?? 0, refused: c?.refused ?? 0,
      truncations: c?.truncations ?? 0, kml_records: nr?.status?.kmlRecno ?? null,
      kml_bytes: nr?.status?.kmlOffset ?? null,
    };
  }
  return {
    name: s.name, file, seed: s.seed, ok: failures.length === 0, exit: code,
    failures: failures.map((f) => ({ line: f.at.line, column: f.at.col, what: f.what, expected: f.expected,
      actual: f.actual })),
    conflicts: r.conflicts.map((c) => ({ node: c.node, from: c.from, recno: c.recno, class: c.cls, op: c.op,
      path: c.path, reason: c.reason })),
    nodes, trace_hash: r.traceHash, events: r.events, end_us: r.endTime,
  };
}
