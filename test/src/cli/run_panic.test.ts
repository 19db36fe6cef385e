/**
 * `izo run` when the model itself panics (src/cli/run.ts): exit 3, the seed and the exact command
 * that reruns it, and no stack trace unless IZO_DEBUG asks for one. The runner is replaced here
 * by one that panics as a broken invariant would (a KernelPanic); the file itself is valid.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { KernelPanic } from '../../../kernel/assert.ts';
import { inProcessIzo } from '../../support/cli.ts';

vi.mock('../../../sim/scenario.ts', async (original) => ({
  ...(await original<typeof import('../../../sim/scenario.ts')>()),
  runScenario: () => {
    throw new KernelPanic('server: presto: a record numbered twice (planted)');
  },
}));

const cli = inProcessIzo('izo-run-panic-');

const TINY = 'name: tiny\nseed: 9\nfileset: home\nnodes:\n  server: { role: server }\n  laptop: { role: client }\n' +
  'steps:\n  - { at: 1s, on: laptop, run: "write /a hello" }\n';

describe('izo run: a model panic', () => {
  afterEach(() => {
    delete process.env.IZO_DEBUG;
  });

  it('exit 3, with the seed and how to rerun it, and no stack trace', async () => {
    const path = join(cli.dir(), 'tiny.yaml');
    writeFileSync(path, TINY);
    const r = await cli.izo('run', path, '--seed', '12');
    expect(r.status).toBe(3);
    expect(r.out).toBe('');
    expect(r.err).toBe(`izo run: ${path}: the model panicked (a bug in intermezzo-sim, not in the scenario): ` +
      'server: presto: a record numbered twice (planted)\n' +
      `  seed 12; rerun with: izo run ${path} --seed 12\n  (IZO_DEBUG=1 shows the stack)\n`);
  });

  it('IZO_DEBUG=1 adds the stack; several files: the worst status, 3', async () => {
    const path = join(cli.dir(), 'tiny.yaml');
    writeFileSync(path, TINY);
    const bad = join(cli.dir(), 'bad.yaml');
    writeFileSync(bad, 'name: Bad\n');
    process.env.IZO_DEBUG = '1';
    const r = await cli.izo('run', bad, path);
    expect(r.status).toBe(3);
    expect(r.err).toContain('seed 9; rerun with:');
    expect(r.err).toMatch(/KernelPanic: server: presto: a record numbered twice \(planted\)\n\s+at /);
  });
});
