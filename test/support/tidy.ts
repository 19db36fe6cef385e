/**
 * tidy.ts: checks on the source itself (TigerBeetle's "tidy"): banned APIs in simulated code, the
 * layer rules between directories, and line length. A pure function of (path, text), so the test
 * can show it fires on planted violations.
 *
 * Rules:
 * - Simulated code (kernel/, fs/, sim/, src/) uses no real time, timers, randomness or I/O:
 *   Math.random, Date, setTimeout/setInterval/setImmediate, queueMicrotask, process.nextTick,
 *   performance.now, crypto randomness, node:fs/net/child_process... Allowed: the command line
 *   and tools (src/cli/**, src/main.ts, src/image.ts), which touch real files and real time.
 * - Layers: kernel/ imports nothing from fs/, src/ or sim/; fs/ nothing from src/ or sim/;
 *   src/ nothing from sim/ except the entry points that build a world (src/main.ts, src/cli/**).
 * - Lines at most 160 characters.
 */

export interface Violation {
  readonly path: string;
  readonly line: number;
  readonly rule: string;
}

const BANNED: ReadonlyArray<readonly [RegExp, string]> = [
  [/\bMath\.random\b/, 'Math.random: use a Prng stream'],
  [/\bDate\.now\b|\bnew Date\b|\bDate\(/, 'Date: use the simulated clock'],
  [/\bsetTimeout\b|\bsetInterval\b|\bsetImmediate\b/, 'real timers: use the scheduler'],
  [/\bqueueMicrotask\b|\bprocess\.nextTick\b/, 'microtasks: run to completion instead'],
  [/\bperformance\.now\b/, 'performance.now: real time'],
  [/\brandomBytes\b|\brandomUUID\b|\bgetRandomValues\b|\brandomInt\b/, 'crypto randomness: use a Prng stream'],
  [/from ['"](node:)?(fs|fs\/promises|net|http|https|child_process|dgram|worker_threads|os)['"]/, 'real I/O: not in simulated code'],
];

const ALLOWED_REAL = [/^src\/cli\//, /^src\/main\.ts$/, /^src\/image\.ts$/];
const WORLD_BUILDERS = [/^src\/cli\//, /^src\/main\.ts$/];
const MAX_LINE = 160;

function layerOf(path: string): string | null {
  const m = /^(kernel|fs|src|sim)\//.exec(path);
  return m === null ? null : (m[1] as string);
}

const FORBIDDEN: Readonly<Record<string, readonly string[]>> = {
  kernel: ['fs', 'src', 'sim'],
  fs: ['src', 'sim'],
  src: ['sim'],
  sim: [],
};

/** Resolve a relative import against the importing file's directory; null for packages. */
function target(from: string, spec: string): string | null {
  if (!spec.startsWith('.')) return null;
  const parts = from.split('/').slice(0, -1);
  for (const seg of spec.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.') parts.push(seg);
  }
  return parts.join('/');
}

const IMPORT = /(?:^|[^.\w])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[^.\w])import\s*\(\s*['"]([^'"]+)['"]\s*\)|^\s*import\s+['"]([^'"]+)['"]/g;

/** Violations in one file; `path` is relative to the repository root. */
export function checkSource(path: string, text: string): Violation[] {
  const out: Violation[] = [];
  const layer = layerOf(path);
  if (layer === null) return out;
  const lines = text.split('\n');
  const real = ALLOWED_REAL.some((r) => r.test(path));
  lines.forEach((raw, i) => {
    const line = i + 1;
    // Comments may name what they ban; only code counts.
    const trimmed = raw.trimStart();
    const code = trimmed.startsWith('*') || trimmed.startsWith('/*') ? '' : raw.replace(/\/\/.*$/, '');
    if (raw.length > MAX_LINE) out.push({ path, line, rule: `line longer than ${MAX_LINE} characters` });
    if (!real) for (const [re, why] of BANNED) if (re.test(code)) out.push({ path, line, rule: why });
    for (const m of code.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2] ?? m[3];
      if (spec === undefined) continue;
      const to = target(path, spec);
      const toLayer = to === null ? null : layerOf(`${to}/`) ?? layerOf(to);
      if (toLayer === null) continue;
      const exempt = layer === 'src' && toLayer === 'sim' && WORLD_BUILDERS.some((r) => r.test(path));
      if (!exempt && (FORBIDDEN[layer] ?? []).includes(toLayer)) out.push({ path, line, rule: `layer: ${layer}/ may not import ${toLayer}/ (${spec})` });
    }
  });
  return out;
}
