import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkSource, type Violation } from './support/tidy.ts';

const ROOT = join(import.meta.dirname, '..');

function sources(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sources(p));
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function check(base: string, dirs: readonly string[]): Violation[] {
  return dirs.flatMap((d) => sources(join(base, d)).map((p) => checkSource(relative(base, p).split('\\').join('/'), readFileSync(p, 'utf8')))).flat();
}

describe('tidy', () => {
  it('finds no banned API, layer violation or overlong line in the source', () => {
    const v = check(ROOT, ['kernel', 'fs', 'sim', 'src']);
    expect(v.map((x) => `${x.path}:${x.line}: ${x.rule}`)).toEqual([]);
  });

  it('fires on planted violations (test/fixtures/tidy)', () => {
    const v = check(join(ROOT, 'test/fixtures/tidy'), ['kernel', 'fs', 'src']);
    const got = v.map((x) => `${x.path}:${x.line}: ${x.rule.split(':')[0]}`);
    expect(got).toEqual([
      'kernel/bad.ts:2: layer',
      'kernel/bad.ts:3: Math.random',
      'kernel/bad.ts:3: Date',
      'kernel/bad.ts:4: real timers',
      'fs/x/bad.ts:1: real I/O',
      'fs/x/bad.ts:2: layer',
      'fs/x/bad.ts:3: crypto randomness',
      'src/bad.ts:1: layer',
    ]);
  });

  it('lets the command line touch real files and build worlds', () => {
    expect(checkSource('src/cli/x.ts', "import { readFileSync } from 'node:fs';\nimport { World } from '../../sim/host.ts';")).toEqual([]);
    expect(checkSource('src/x.ts', "import { World } from '../sim/host.ts';")).toHaveLength(1);
  });
});
