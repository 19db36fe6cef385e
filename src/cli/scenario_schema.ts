/**
 * scenario_schema.ts: the shape of a scenario file (docs/scenarios.md) as zod schemas, and the
 * translation of zod's issues into messages that say what is wrong and what was expected.
 *
 * Layer: user-space input handling (the `izo run` loader, scenario_file.ts). Interface: `TOP`,
 * `NODE`, `STEP_ACTIONS` (one strict schema per step action), `CONFLICT`, `FILE_WANT`, `COUNTERS`;
 * `validate(schema, value, path)` gives the parsed value or `Issue`s, each with the path into the
 * document (for its line and column) and a message. Every object is strict: an unknown key is an
 * issue naming the keys that are allowed. Values with units go through units.ts. Invented (no
 * InterMezzo counterpart: the original was driven by hand).
 */
import { z } from 'zod';
import { errnoByName } from '../../kernel/errno.ts';
import { POLICY_NAMES } from '../../sim/cluster.ts';
import { parseBandwidth, parseDuration, parseRatio, parseSize } from './units.ts';

export type PathSeg = string | number;

export interface Issue {
  readonly path: readonly PathSeg[];
  /** Point at the key itself (an unknown key), not its value. */
  readonly key: boolean;
  readonly message: string;
}

/** A strict object whose unknown-key issue lists the keys it allows. */
function obj<S extends z.ZodRawShape>(shape: S): z.ZodObject<S, z.core.$strict> {
  const allowed = Object.keys(shape).join(', ');
  return z.strictObject(shape, {
    error: (iss) => (iss.code === 'unrecognized_keys' ? `allowed: ${allowed}` : undefined),
  });
}

/** A value read by a units.ts parser: the parsed value, or its message as the issue. */
function conv<T>(parse: (v: unknown) => T | string): z.ZodType<T> {
  return z.unknown().transform((v, ctx) => {
    const r = parse(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  }) as unknown as z.ZodType<T>;
}

const duration = conv((v) => parseDuration(v));
const signedDuration = conv((v) => parseDuration(v, true));
const size = conv(parseSize);
const bandwidth = conv(parseBandwidth);
const ratio = conv(parseRatio);

export interface LatencyValue {
  readonly min: number;
  readonly max: number;
}

/** A latency: one duration, or `{min, max}` (uniform between them). */
function parseLatency(v: unknown): number | LatencyValue | string {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return parseDuration(v);
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'min' && k !== 'max');
  if (extra.length > 0 || !('min' in o) || !('max' in o)) {
    return `a latency range has exactly the keys min and max (got ${Object.keys(o).join(', ') || 'none'})`;
  }
  const min = parseDuration(o.min);
  const max = parseDuration(o.max);
  if (typeof min === 'string') return `min: ${min}`;
  if (typeof max === 'string') return `max: ${max}`;
  if (min > max) return `min (${String(o.min)}) is above max (${String(o.max)})`;
  if (max - min >= 0x1_0000_0000) return 'the range from min to max must be under 71m';
  return { min, max };
}

const latency = conv(parseLatency);
const word = (what: string): z.ZodString => z.string({ error: `expected ${what}` });
export const NAME_RE = /^[a-z0-9][a-z0-9-]*$/;
const name = z.string({ error: 'expected a name: [a-z0-9-]+' })
  .regex(NAME_RE, { error: 'expected a name of lowercase letters, digits and dashes: [a-z0-9-]+' });
const nodeName = word('a node name');
const pair = z.array(nodeName, { error: 'expected two node names: [a, b]' })
  .length(2, { error: 'expected exactly two node names: [a, b]' });
const path = z.string({ error: 'expected a path' }).regex(/^\//, { error: 'expected an absolute path: /dir/file' });
const count = z.number({ error: 'expected an integer' }).int({ error: 'expected an integer' })
  .min(0, { error: 'expected an integer >= 0' });

const fileset = z.string({ error: 'expected a fileset name' })
  .regex(/^[A-Za-z0-9_][A-Za-z0-9._-]{0,63}$/,
    { error: 'expected a fileset name: letters, digits, . _ -, at most 64' });
const secret = z.string({ error: 'expected a secret' })
  .regex(/^[!-~]{1,128}$/, { error: 'expected a secret of 1 to 128 printable characters, no spaces' });

export const NODE = obj({
  role: z.enum(['server', 'client'], { error: 'expected server or client' }),
  mode: z.enum(['replicate', 'on-demand'], { error: 'expected replicate or on-demand' }).optional(),
  disk: size.optional(),
  'block-size': z.union([z.literal(1024), z.literal(2048), z.literal(4096)], { error: 'expected 1024, 2048 or 4096' })
    .optional(),
  data: z.enum(['ordered', 'journal', 'writeback'], { error: 'expected ordered, journal or writeback' }).optional(),
  'clock-skew': signedDuration.optional(),
  secret: secret.optional(),
});

const LINK_FIELDS = { latency: latency.optional(), bandwidth: bandwidth.optional(), loss: ratio.optional() };

export const TOP = obj({
  name,
  description: word('a text').optional(),
  seed: count.max(0xffff_ffff, { error: 'expected an integer from 0 to 4294967295' }).optional(),
  fileset,
  secret: secret.optional(),
  policy: z.enum(POLICY_NAMES as [string, ...string[]], { error: `expected one of: ${POLICY_NAMES.join(', ')}` })
    .optional(),
  nodes: z.record(z.string(), z.unknown(), { error: 'expected a map of node names to { role: ... }' }),
  network: obj(LINK_FIELDS).optional(),
  links: z.array(obj({ between: pair, ...LINK_FIELDS }), { error: 'expected a list of { between: [a, b], ... }' })
    .optional(),
  lento: obj({ heartbeat: duration.optional(), 'dead-after': duration.optional(), 'kml-limit': size.optional() })
    .optional(),
  steps: z.array(z.unknown(), { error: 'expected a list of steps' }),
  settle: duration.optional(),
  expect: z.unknown().optional(),
});

export const EXPECT = obj({
  converged: z.boolean({ error: 'expected true or false' }).optional(),
  files: z.record(z.string(), z.unknown(), { error: 'expected a map of paths to contents' }).optional(),
  absent: z.array(path, { error: 'expected a list of paths' }).optional(),
  on: z.record(z.string(), z.unknown(), { error: 'expected a map of node names to expectations' }).optional(),
  conflicts: z.unknown().optional(),
});

const TIME = { at: duration.optional(), after: duration.optional() };
const cred = z.string({ error: 'expected UID:GID' }).regex(/^\d{1,5}:\d{1,5}$/,
  { error: 'expected UID:GID, such as 1000:1000' });
const errno = z.string({ error: 'expected an errno name' })
  .refine((s) => /^E[A-Z0-9]+$/.test(s) && errnoByName(s) !== undefined,
    { error: 'expected an errno name: EROFS, ENOENT...' });

export const TRIGGER_EVENTS: readonly string[] = [
  'lento.apply', 'lento.ship', 'lento.ack', 'lento.fetch', 'lento.serve', 'lento.session', 'lento.repstatus',
  'lento.permit', 'lento.conflict', 'lento.connect', 'lento.truncate', 'presto.kml', 'presto.reint',
];

/** Each step action: its strict schema (its own keys, plus `at` and `after`). */
export const STEP_ACTIONS: Readonly<Record<string, z.ZodType>> = {
  run: obj({ ...TIME, on: nodeName, run: word('command-language lines'), as: cred.optional(),
    output: word('the output text').optional(), error: errno.optional(),
    repeat: count.min(1, { error: 'expected an integer from 1 to 10000' }).max(10_000,
      { error: 'expected an integer from 1 to 10000' })
      .optional() }),
  partition: obj({ ...TIME, partition: z.array(z.array(nodeName).min(1, { error: 'expected a non-empty group' }),
    { error: 'expected a list of groups: [[a], [b, c]]' }).min(1, { error: 'expected at least one group' }) }),
  cut: obj({ ...TIME, cut: obj({ from: nodeName, to: nodeName }) }),
  isolate: obj({ ...TIME, isolate: nodeName }),
  heal: obj({ ...TIME, heal: z.union([z.literal('all'), z.array(nodeName).min(1)],
    { error: 'expected all or a list of node names' }) }),
  jam: obj({ ...TIME, jam: pair }),
  release: obj({ ...TIME, release: pair }),
  reset: obj({ ...TIME, reset: pair }),
  latency: obj({ ...TIME, latency: obj({ between: pair, value: latency }) }),
  bandwidth: obj({ ...TIME, bandwidth: obj({ between: pair, value: bandwidth }) }),
  crash: obj({ ...TIME, crash: nodeName, 'restart-after': duration.optional(), when: obj({
    event: z.enum(TRIGGER_EVENTS as [string, ...string[]], { error: `expected one of: ${TRIGGER_EVENTS.join(', ')}` }),
    from: nodeName.optional(), nth: count.min(1, { error: 'expected an integer >= 1' }).optional(),
  }).optional() }),
  restart: obj({ ...TIME, restart: nodeName }),
  pause: obj({ ...TIME, pause: nodeName }),
  resume: obj({ ...TIME, resume: nodeName }),
  wait: obj({ ...TIME, wait: z.enum(['quiet', 'converged'], { error: 'expected quiet or converged' }),
    within: duration.optional() }),
};

export const CONFLICT = obj({
  path,
  class: z.enum(['NAME', 'UPDATE', 'DELETE', 'RENAME'], { error: 'expected NAME, UPDATE, DELETE or RENAME' }),
});

export const FILE_WANT = obj({
  size: count.optional(),
  sha256: z.string({ error: 'expected 64 hex digits' }).regex(/^[0-9a-f]{64}$/,
    { error: 'expected 64 lowercase hex digits' })
    .optional(),
});

/** A counter's expected value: a number, or {min, max} (either may be left out). */
const COUNT_WANT = z.union([count, obj({ min: count.optional(), max: count.optional() })],
  { error: 'expected an integer or { min: N, max: N }' });

export const COUNTER_KEYS: Readonly<Record<string, string>> = {
  made: 'made', shipped: 'shipped', applied: 'applied', conflicts: 'conflicts', fetches: 'fetches',
  'fetched-bytes': 'fetchedBytes', refused: 'refused', truncations: 'truncations',
};

export const COUNTERS = obj(Object.fromEntries(Object.keys(COUNTER_KEYS).map((k) => [k, COUNT_WANT.optional()])));

export const NODE_EXPECT = obj({
  files: z.record(z.string(), z.unknown(), { error: 'expected a map of paths to contents' }).optional(),
  absent: z.array(path, { error: 'expected a list of paths' }).optional(),
  counters: z.unknown().optional(),
});

function show(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'null (an empty value)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  return typeof v === 'string' ? `'${v}'` : String(v);
}

export function label(path: readonly PathSeg[]): string {
  let s = '';
  for (const p of path) s += typeof p === 'number' ? `[${p}]` : s === '' ? p : `.${p}`;
  return s === '' ? 'the file' : s;
}

function issuesOf(e: z.ZodError, prefix: readonly PathSeg[]): Issue[] {
  const out: Issue[] = [];
  for (const iss of e.issues) {
    const path = [...prefix, ...(iss.path as PathSeg[])];
    const input = (iss as { input?: unknown }).input;
    if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) {
        out.push({ path: [...path, k], key: true, message: `unknown key '${k}' in ${label(path)}; ${iss.message}` });
      }
    } else if (iss.code === 'invalid_type' && input === undefined && path.length > 0) {
      const key = path[path.length - 1];
      out.push({ path: path.slice(0, -1), key: false,
        message: `${label(path.slice(0, -1))}: missing key '${String(key)}'` });
    } else if (iss.code === 'invalid_union') {
      out.push({ path, key: false, message: `${label(path)}: got ${show(input)}; ${iss.message}` });
    } else {
      out.push({ path, key: false,
        message: `${label(path)}: ${iss.code === 'custom' ? '' : `got ${show(input)}; `}${iss.message}` });
    }
  }
  return out;
}

/** Parse `value` (found at `prefix` in the document) with `schema`: the data, or the issues. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, prefix: readonly PathSeg[]):
  { ok: true; data: T } | { ok: false; issues: Issue[] } {
  const r = schema.safeParse(value, { reportInput: true });
  return r.success ? { ok: true, data: r.data } : { ok: false, issues: issuesOf(r.error, prefix) };
}
