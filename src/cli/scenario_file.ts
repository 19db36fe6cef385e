/**
 * scenario_file.ts: the loader of scenario files (docs/scenarios.md): YAML text in, a typed
 * `Scenario` (sim/scenario.ts) and its expectations out, or every problem with its place.
 *
 * Layer: user-space input handling (`izo run`; in src/cli/ because the typed scenario it makes is
 * sim/'s). Interface: `loadScenario(file, text)` gives `{ok: true, loaded}` or `{ok: false,
 * problems}`, each problem `{line, col, message}` (1-based) and `formatProblem` prints it as
 * `FILE:LINE:COLUMN: message`. The text is parsed with the yaml library, which keeps source
 * ranges (a LineCounter turns offsets into lines and columns); YAML errors (bad syntax, tabs as
 * indentation, duplicate keys, several documents) stop there. Then the schema (scenario_schema.ts)
 * and the rules no schema states: exactly one server, every node a step or expectation names is
 * declared, time never goes backwards, every `run:` block is valid command language
 * (src/sh.ts, its errors placed inside the block). All problems are reported at once, in file
 * order, and nothing runs unless there are none. Invented (no InterMezzo counterpart).
 */
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YNode } from 'yaml';
import type { LatencySpec, LinkSpec } from '../../sim/network.ts';
import type { NodeSpec } from '../../sim/cluster.ts';
import type { CrashTrigger, Scenario, Step, StepAction } from '../../sim/scenario.ts';
import { parseScript } from '../sh.ts';
import {
  CONFLICT, COUNTER_KEYS, COUNTERS, EXPECT, FILE_WANT, label, NAME_RE, NODE, NODE_EXPECT, STEP_ACTIONS, TOP, validate,
  type Issue, type LatencyValue, type PathSeg,
} from './scenario_schema.ts';
import { showDuration } from './units.ts';

export interface Where {
  readonly line: number;
  readonly col: number;
}

export interface Problem extends Where {
  readonly message: string;
}

export type FileWant = { readonly content: string } | { readonly size: number } | { readonly sha256: string };

/** One expectation of `expect:`, with where it is written. `node` null: on every node. */
export type Expectation =
  | { readonly kind: 'converged'; readonly want: boolean; readonly at: Where }
  | { readonly kind: 'file'; readonly node: string | null; readonly path: string; readonly want: FileWant;
      readonly at: Where }
  | { readonly kind: 'absent'; readonly node: string | null; readonly path: string; readonly at: Where }
  | { readonly kind: 'counter'; readonly node: string; readonly key: string; readonly field: string;
      readonly min: number; readonly max: number; readonly at: Where }
  | { readonly kind: 'conflicts'; readonly want: ReadonlyArray<{ readonly path: string; readonly cls: string }>;
      readonly at: Where };

export interface LoadedScenario {
  readonly file: string;
  readonly scenario: Scenario;
  readonly description: string | null;
  /** Where each step is written (its first key). */
  readonly steps: readonly Where[];
  readonly expectations: readonly Expectation[];
}

export type LoadResult = { readonly ok: true; readonly loaded: LoadedScenario }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/** How long a `wait` waits without `within`, and the world is given to go quiet before `expect`. */
export const DEFAULT_WITHIN = 60_000_000;
/** The latest time a step may have: a day of simulated time. */
export const MAX_TIME = 24 * 3600 * 1_000_000;
const MIN_DISK = 8 * 1024 * 1024;
const MAX_DISK = 1024 * 1024 * 1024;

export function formatProblem(file: string, p: Problem): string {
  return `${file}:${p.line}:${p.col}: ${p.message}`;
}

/** Places in the document: the node a path names (or the deepest that exists), as line and column. */
class Places {
  constructor(private readonly doc: Document, private readonly lc: LineCounter) {}

  pos(offset: number): Where {
    const p = this.lc.linePos(offset);
    return { line: p.line, col: p.col };
  }

  /** The node at `path`, or where the path stops existing; `key`: the last key itself. */
  at(path: readonly PathSeg[], key = false): Where {
    let node: unknown = this.doc.contents;
    let where = this.startOf(node) ?? { line: 1, col: 1 };
    for (let i = 0; i < path.length; i++) {
      const seg = path[i];
      if (isMap(node)) {
        const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(seg));
        if (pair === undefined) return where;
        const last = i === path.length - 1;
        const k = this.startOf(pair.key);
        if (last && key) return k ?? where;
        node = pair.value;
        where = this.startOf(node) ?? k ?? where;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
        if (node === undefined) return where;
        where = this.startOf(node) ?? where;
      } else {
        return where;
      }
    }
    return where;
  }

  node(path: readonly PathSeg[]): YNode | null {
    const n = this.doc.getIn(path, true);
    return n !== undefined && n !== null && typeof n === 'object' && 'range' in n ? (n as YNode) : null;
  }

  private startOf(n: unknown): Where | null {
    if (n === null || typeof n !== 'object' || !('range' in n)) return null;
    const r = (n as YNode).range;
    return r === undefined || r === null ? null : this.pos(r[0]);
  }
}

/** Collects problems; `add` places each by its path into the document. */
class Problems {
  readonly list: Problem[] = [];
  constructor(readonly places: Places) {}

  add(path: readonly PathSeg[], message: string, key = false): void {
    this.list.push({ ...this.places.at(path, key), message });
  }

  issues(issues: readonly Issue[]): void {
    for (const i of issues) this.add(i.path, i.message, i.key);
  }

  /** Parse with a schema, recording its issues; null when it failed. */
  parse<T>(schema: import('zod').ZodType<T>, value: unknown, path: readonly PathSeg[]): T | null {
    const r = validate(schema, value, path);
    if (r.ok) return r.data;
    this.issues(r.issues);
    return null;
  }
}

/** YAML's own errors, and keys that are not plain scalars (a JS object cannot hold them). */
function yamlProblems(doc: Document, places: Places): Problem[] {
  const out: Problem[] = doc.errors.map((e) => ({ ...places.pos(e.pos[0]), message: yamlMessage(e.code, e.message) }));
  const visit = (n: unknown): void => {
    if (isMap(n)) {
      for (const it of n.items) {
        if (!isScalar(it.key)) {
          const r = (it.key as YNode | null)?.range;
          out.push({ ...places.pos(r?.[0] ?? 0), message: 'a key must be a plain word, not a list or a map' });
        }
        visit(it.value);
      }
    } else if (isSeq(n)) {
      for (const it of n.items) visit(it);
    } else if (isPair(n)) {
      visit(n.value);
    }
  };
  if (out.length === 0) visit(doc.contents);
  return out;
}

function yamlMessage(code: string, message: string): string {
  switch (code) {
    case 'DUPLICATE_KEY': return 'duplicate key: each key may appear once in a map';
    case 'TAB_AS_INDENT': return 'a tab in the indentation: YAML indents with spaces';
    case 'MULTIPLE_DOCS': return 'a second YAML document (---): a scenario file holds one';
    default: return `YAML: ${message.split('\n')[0] ?? message}`;
  }
}

export function loadScenario(file: string, text: string): LoadResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const places = new Places(doc, lc);
  const yp = yamlProblems(doc, places);
  if (yp.length > 0) return { ok: false, problems: sorted(yp) };
  const data: unknown = doc.toJS({ maxAliasCount: 100 });
  const pr = new Problems(places);
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    pr.add([], 'a scenario file is a map of keys (name:, fileset:, nodes:, steps:, ...)');
    return { ok: false, problems: pr.list };
  }
  const loaded = new Builder(file, pr, text).build(data as Record<string, unknown>);
  return loaded === null || pr.list.length > 0 ? { ok: false, problems: sorted(pr.list) } : { ok: true, loaded };
}

function sorted(ps: readonly Problem[]): Problem[] {
  return [...ps].sort((a, b) => a.line - b.line || a.col - b.col);
}

/** Turns validated data into the typed scenario, adding the rules between its parts. */
class Builder {
  private nodes = new Set<string>();

  constructor(private readonly file: string, private readonly pr: Problems, private readonly text: string) {}

  build(raw: Record<string, unknown>): LoadedScenario | null {
    // Each part is checked even when another is wrong: every problem is reported at once.
    const top = this.pr.parse(TOP, raw, []);
    const rawNodes = raw.nodes;
    const nodes = rawNodes !== null && typeof rawNodes === 'object' && !Array.isArray(rawNodes)
      ? this.buildNodes(rawNodes as Record<string, unknown>) : null;
    const steps = Array.isArray(raw.steps) ? this.buildSteps(raw.steps) : null;
    const expectations = raw.expect === undefined ? [] : this.buildExpect(raw.expect);
    if (top?.settle !== undefined && top.settle > MAX_TIME) this.pr.add(['settle'],
      `settle ${showDuration(top.settle)}: at most 24h`);
    if (top === null || nodes === null || steps === null) return null;
    const links = (top.links ?? []).map((l, i) => {
      this.pairOk(l.between, ['links', i, 'between']);
      return { between: [l.between[0] ?? '', l.between[1] ?? ''] as const, spec: linkSpec(l) };
    });
    const net = top.network === undefined ? undefined : linkSpec(top.network);
    const scenario: Scenario = {
      name: top.name, seed: top.seed ?? 1, fileset: top.fileset, nodes, steps: steps.steps,
      policy: top.policy ?? 'manual', links,
      ...(top.secret === undefined ? {} : { secret: top.secret }),
      ...(net === undefined ? {} : { network: { latency: 100, bandwidth: 12_500_000, ...net } }),
      ...(top.lento === undefined ? {} : { lento: lentoSpec(top.lento) }),
      ...(top.settle === undefined ? { quiet: DEFAULT_WITHIN } : { settle: top.settle }),
    };
    return { file: this.file, scenario, description: top.description ?? null, steps: steps.where, expectations };
  }

  private buildNodes(raw: Record<string, unknown>): NodeSpec[] | null {
    const before = this.pr.list.length;
    const out: NodeSpec[] = [];
    for (const [name, v] of Object.entries(raw)) {
      this.nodes.add(name);
      if (!NAME_RE.test(name)) this.pr.add(['nodes', name], `node name '${name}': expected [a-z0-9-]+`, true);
      const n = this.pr.parse(NODE, v, ['nodes', name]);
      if (n === null) continue;
      const where = ['nodes', name];
      if (n.role === 'server' && n.mode !== undefined) this.pr.add([...where, 'mode'],
        'mode is a client\'s (the server holds everything)');
      if (n.disk !== undefined && (n.disk < MIN_DISK || n.disk > MAX_DISK)) {
        this.pr.add([...where, 'disk'], `disk: ${n.disk} bytes; expected from 8M (the journal needs 4M) to 1G`);
      }
      out.push({
        name, role: n.role, ...(n.mode === undefined ? {} : { mode: n.mode }),
        ...(n.disk === undefined ? {} : { disk: n.disk }), ...(n.data === undefined ? {} : { data: n.data }),
        ...(n['block-size'] === undefined ? {} : { blockSize: n['block-size'] }),
        ...(n['clock-skew'] === undefined ? {} : { clockSkew: n['clock-skew'] }),
        ...(n.secret === undefined ? {} : { secret: n.secret }),
      });
    }
    const servers = out.filter((n) => n.role === 'server');
    if (servers.length > 1) {
      this.pr.add(['nodes', servers[1]?.name ?? '', 'role'],
        `a second server (${servers.map((s) => s.name).join(', ')}): a fileset has exactly one`);
    } else if (servers.length === 0 && out.length === Object.keys(raw).length) {
      this.pr.add(['nodes'], 'no server: exactly one node has role: server');
    }
    if (out.length === Object.keys(raw).length && out.length - servers.length < 1) {
      this.pr.add(['nodes'], 'no client: at least one node has role: client');
    }
    return this.pr.list.length > before ? null : out;
  }

  private known(name: string, path: readonly PathSeg[]): boolean {
    if (this.nodes.has(name)) return true;
    this.pr.add(path, `no node '${name}' is declared in nodes: (declared: ${[...this.nodes].join(', ')})`);
    return false;
  }

  private pairOk(p: readonly string[], path: readonly PathSeg[]): void {
    const ok = p.every((n, i) => this.known(n, [...path, i]));
    if (ok && p[0] === p[1]) this.pr.add(path, `[${p.join(', ')}] names one node twice; expected two different nodes`);
  }

  private buildSteps(raw: readonly unknown[]): { steps: Step[]; where: Where[] } | null {
    const steps: Step[] = [];
    const where: Where[] = [];
    let now = 0;
    raw.forEach((s, i) => {
      const path = ['steps', i];
      where.push(this.pr.places.at(path));
      const step = this.buildStep(s, path);
      if (step === null) return;
      if (step.at !== undefined && step.at < now) {
        this.pr.add([...path, 'at'],
          `at ${showDuration(step.at)} is before the previous step (${showDuration(now)}); ` +
          'steps run in time order (use after: for a relative time)');
      }
      now = step.at ?? now + (step.after ?? 0);
      if (now > MAX_TIME) this.pr.add(path, `this step is at ${showDuration(now)}; a scenario lasts at most 24h`);
      steps.push(step);
    });
    return steps.length === raw.length ? { steps, where } : null;
  }

  private buildStep(s: unknown, path: readonly PathSeg[]): Step | null {
    if (s === null || typeof s !== 'object' || Array.isArray(s)) {
      this.pr.add(path, `${label(path)}: expected a map such as { at: 1s, on: NODE, run: "..." }`);
      return null;
    }
    const keys = Object.keys(s);
    const actions = keys.filter((k) => k in STEP_ACTIONS);
    if (actions.length !== 1) {
      const msg = actions.length === 0
        ? `${label(path)}: no action; expected one of: ${Object.keys(STEP_ACTIONS).join(', ')}`
        : `${label(path)}: one action per step, this one has ${actions.join(' and ')}`;
      this.pr.add(actions.length === 0 ? path : [...path, actions[1] ?? ''], msg, actions.length > 0);
      return null;
    }
    const action = actions[0] as string;
    const v = this.pr.parse(STEP_ACTIONS[action] as import('zod').ZodType<Record<string, unknown>>, s, path);
    if (v === null) return null;
    if (v.at !== undefined && v.after !== undefined) {
      this.pr.add([...path, 'after'], `${label(path)}: at and after both given; expected one of them`, true);
    }
    const act = this.action(action, v, path);
    if (act === null) return null;
    return { ...act, ...(v.at === undefined ? {} : { at: v.at as number }), ...(v.after === undefined ? {}
      : { after: v.after as number }) } as Step;
  }

  /** The typed action of a validated step, with its node names checked. */
  private action(kind: string, v: Record<string, unknown>, path: readonly PathSeg[]): StepAction | null {
    const n = (key: string): string => v[key] as string;
    const before = this.pr.list.length;
    switch (kind) {
      case 'run': return this.runStep(v, path);
      case 'partition': {
        const groups = v.partition as string[][];
        const seen = new Set<string>();
        groups.forEach((g, gi) => g.forEach((h, hi) => {
          if (!this.known(h, [...path, 'partition', gi, hi])) return;
          if (seen.has(h)) this.pr.add([...path, 'partition', gi, hi], `${h} is in two groups; a node is in one`);
          seen.add(h);
        }));
        return this.pr.list.length > before ? null : { partition: groups };
      }
      case 'cut': {
        const c = v.cut as { from: string; to: string };
        this.pairOk([c.from, c.to], [...path, 'cut']);
        return this.pr.list.length > before ? null : { cut: c };
      }
      case 'heal': {
        const h = v.heal as 'all' | string[];
        if (h !== 'all') h.forEach((x, i) => this.known(x, [...path, 'heal', i]));
        return this.pr.list.length > before ? null : { heal: h };
      }
      case 'jam': case 'release': case 'reset': {
        const p = v[kind] as [string, string];
        this.pairOk(p, [...path, kind]);
        return this.pr.list.length > before ? null : ({ [kind]: p } as unknown as StepAction);
      }
      case 'latency': case 'bandwidth': {
        const o = v[kind] as { between: [string, string]; value: unknown };
        this.pairOk(o.between, [...path, kind, 'between']);
        const value = kind === 'latency' ? latencyOf(o.value as number | LatencyValue) : o.value;
        return this.pr.list.length > before ? null : ({ [kind]: { between: o.between,
          value } } as unknown as StepAction);
      }
      case 'crash': return this.crashStep(v, path);
      case 'wait': {
        const within = (v.within as number | undefined) ?? DEFAULT_WITHIN;
        if (within > MAX_TIME) this.pr.add([...path, 'within'], `within ${showDuration(within)}: at most 24h`);
        return { wait: v.wait as 'quiet' | 'converged', within };
      }
      default: // isolate, restart, pause, resume: one node
        return this.known(n(kind), [...path, kind]) ? ({ [kind]: n(kind) } as unknown as StepAction) : null;
    }
  }

  private crashStep(v: Record<string, unknown>, path: readonly PathSeg[]): StepAction | null {
    const name = v.crash as string;
    const ok = this.known(name, [...path, 'crash']);
    const w = v.when as { event: string; from?: string; nth?: number } | undefined;
    if (w?.from !== undefined) this.known(w.from, [...path, 'when', 'from']);
    if (!ok) return null;
    const when: CrashTrigger | undefined = w === undefined ? undefined
      : { event: w.event, ...(w.nth === undefined ? {} : { nth: w.nth }), ...(w.from === undefined ? {}
        : { peer: w.from }) };
    const ra = v['restart-after'] as number | undefined;
    if (ra !== undefined && ra > MAX_TIME) this.pr.add([...path, 'restart-after'],
      `restart-after ${showDuration(ra)}: at most 24h`);
    return { crash: name, ...(when === undefined ? {} : { when }), ...(ra === undefined ? {} : { restartAfter: ra }) };
  }

  private runStep(v: Record<string, unknown>, path: readonly PathSeg[]): StepAction | null {
    const on = v.on as string;
    const ok = this.known(on, [...path, 'on']);
    const written = v.run as string;
    const parsed = parseScript(written.replaceAll('{i}', '1'), this.file);
    if ('errors' in parsed) {
      for (const e of parsed.errors) {
        const w = this.scriptPlace([...path, 'run'], e.line, e.column);
        this.pr.list.push({ ...w, message: `run: ${e.message}` });
      }
      return null;
    }
    if (!ok) return null;
    const repeat = (v.repeat as number | undefined) ?? 1;
    const text = repeat === 1 && !written.includes('{i}') ? written
      : Array.from({ length: repeat }, (_, k) => written.replaceAll('{i}', `${k + 1}`)).join('\n');
    const as = typeof v.as === 'string' ? (v.as.split(':').map(Number) as [number, number]) : undefined;
    return {
      on, run: text, ...(as === undefined ? {} : { as }),
      ...(v.output === undefined ? {} : { output: v.output as string }),
      ...(v.error === undefined ? {} : { error: v.error as string }),
    };
  }

  /** Where line `line`, column `col` of a `run:` script is in the file. */
  private scriptPlace(path: readonly PathSeg[], line: number, col: number): Where {
    const node = this.pr.places.node(path);
    const start = this.pr.places.at(path);
    if (node === null || !isScalar(node)) return start;
    if (node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED') {
      const lines = this.text.split('\n');
      const first = lines.slice(start.line).find((l) => l.trim() !== '') ?? '';
      const indent = first.length - first.trimStart().length;
      return { line: start.line + line, col: indent + col };
    }
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE' ? 1 : 0;
    return line === 1 ? { line: start.line, col: start.col + quoted + col - 1 } : start;
  }

  private buildExpect(raw: unknown): Expectation[] {
    const e = this.pr.parse(EXPECT, raw, ['expect']);
    if (e === null) return [];
    const out: Expectation[] = [];
    const at = (p: readonly PathSeg[]): Where => this.pr.places.at(p, true);
    if (e.converged !== undefined) out.push({ kind: 'converged', want: e.converged, at: at(['expect', 'converged']) });
    this.files(e.files, null, ['expect', 'files'], out);
    (e.absent ?? []).forEach((p, i) => out.push({ kind: 'absent', node: null, path: p,
      at: this.pr.places.at(['expect', 'absent', i]) }));
    for (const [name, raw] of Object.entries(e.on ?? {})) {
      const path = ['expect', 'on', name];
      if (!this.nodes.has(name)) {
        this.pr.add(path, `no node '${name}' is declared in nodes: (declared: ${[...this.nodes].join(', ')})`, true);
        continue;
      }
      const ne = this.pr.parse(NODE_EXPECT, raw, path);
      if (ne === null) continue;
      this.files(ne.files, name, [...path, 'files'], out);
      (ne.absent ?? []).forEach((p, i) => out.push({ kind: 'absent', node: name, path: p,
        at: this.pr.places.at([...path, 'absent', i]) }));
      if (ne.counters !== undefined) this.counters(ne.counters, name, [...path, 'counters'], out);
    }
    if (e.conflicts !== undefined) this.conflicts(e.conflicts, out);
    return out;
  }

  private files(files: Record<string, unknown> | undefined, node: string | null, path: PathSeg[],
    out: Expectation[]): void {
    for (const [p, v] of Object.entries(files ?? {})) {
      const here = [...path, p];
      if (!p.startsWith('/')) this.pr.add(here, `'${p}': expected an absolute path: /dir/file`, true);
      const at = this.pr.places.at(here, true);
      if (typeof v === 'string') {
        out.push({ kind: 'file', node, path: p, want: { content: v }, at });
        continue;
      }
      const w = this.pr.parse(FILE_WANT, v, here);
      if (w === null) continue;
      if ((w.size === undefined) === (w.sha256 === undefined)) {
        this.pr.add(here, `${label(here)}: expected the content as text, or { size: N }, or { sha256: HEX }`);
        continue;
      }
      const want = w.size !== undefined ? { size: w.size } : { sha256: w.sha256 ?? '' };
      out.push({ kind: 'file', node, path: p, want, at });
    }
  }

  private counters(raw: unknown, node: string, path: PathSeg[], out: Expectation[]): void {
    const c = this.pr.parse(COUNTERS, raw, path) as Record<string,
      number | { min?: number; max?: number } | undefined> | null;
    if (c === null) return;
    for (const [key, v] of Object.entries(c)) {
      if (v === undefined) continue;
      const min = typeof v === 'number' ? v : (v.min ?? 0);
      const max = typeof v === 'number' ? v : (v.max ?? Number.MAX_SAFE_INTEGER);
      if (min > max) this.pr.add([...path, key], `${key}: min ${min} is above max ${max}`);
      out.push({ kind: 'counter', node, key, field: COUNTER_KEYS[key] ?? key, min, max,
        at: this.pr.places.at([...path, key], true) });
    }
  }

  private conflicts(raw: unknown, out: Expectation[]): void {
    const path = ['expect', 'conflicts'];
    const at = this.pr.places.at(path, true);
    if (raw === 0) {
      out.push({ kind: 'conflicts', want: [], at });
      return;
    }
    if (!Array.isArray(raw)) {
      this.pr.add(path, 'expect.conflicts: expected 0 or a list of { path: /p, class: NAME|UPDATE|DELETE|RENAME }');
      return;
    }
    const want: Array<{ path: string; cls: string }> = [];
    raw.forEach((c, i) => {
      const v = this.pr.parse(CONFLICT, c, [...path, i]);
      if (v !== null) want.push({ path: v.path, cls: v.class });
    });
    out.push({ kind: 'conflicts', want, at });
  }
}

function latencyOf(v: number | LatencyValue): number | LatencySpec {
  return typeof v === 'number' ? v : { min: v.min, max: v.max };
}

function linkSpec(l: { latency?: number | LatencyValue | undefined; bandwidth?: number | null | undefined;
  loss?: { num: number; den: number } | undefined; }):
  Partial<LinkSpec> {
  return {
    ...(l.latency === undefined ? {} : { latency: latencyOf(l.latency) }),
    ...(l.bandwidth === undefined ? {} : { bandwidth: l.bandwidth }),
    ...(l.loss === undefined ? {} : { loss: l.loss }),
  };
}

function lentoSpec(l: { heartbeat?: number | undefined; 'dead-after'?: number | undefined;
  'kml-limit'?: number | undefined; }):
  NonNullable<Scenario['lento']> {
  return {
    ...(l.heartbeat === undefined ? {} : { heartbeat: l.heartbeat }),
    ...(l['dead-after'] === undefined ? {} : { deadAfter: l['dead-after'] }),
    ...(l['kml-limit'] === undefined ? {} : { kmlLimit: l['kml-limit'] }),
  };
}
