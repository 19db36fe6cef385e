/**
 * cli.ts: running `izo` from tests, two ways. `inProcessIzo(prefix)` (call it at a test file's top
 * level) calls `main` in this process with stdout and stderr captured per call, and keeps a
 * temporary directory for the file's images; `launchIzo(args, input)` runs the real launcher,
 * bin/izo.js, in a child process, with `input` as its standard input.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, vi } from 'vitest';
import { main } from '../../src/cli/izo.ts';

export interface IzoResult {
  readonly status: number;
  readonly out: string;
  readonly err: string;
}

export const IZO_LAUNCHER = join(import.meta.dirname, '../../bin/izo.js');

export function launchIzo(args: readonly string[], input = ''): IzoResult {
  const r = spawnSync(process.execPath, [IZO_LAUNCHER, ...args], { encoding: 'utf8', input });
  return { status: r.status ?? -1, out: r.stdout, err: r.stderr };
}

export interface InProcessIzo {
  izo(...args: string[]): Promise<IzoResult>;
  /** The file's temporary directory (removed after its last test). */
  dir(): string;
}

export function inProcessIzo(prefix: string): InProcessIzo {
  let out = '';
  let err = '';
  let dir = '';
  beforeEach(() => {
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => ((out += String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => ((err += String(s)), true));
  });
  afterEach(() => vi.restoreAllMocks());
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), prefix));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return {
    async izo(...args: string[]): Promise<IzoResult> {
      out = '';
      err = '';
      const status = await main(args);
      return { status, out, err };
    },
    dir: () => dir,
  };
}
