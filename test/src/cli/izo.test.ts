/**
 * The `izo` dispatcher (src/cli/izo.ts) and its foundation subcommands: help, version, demo,
 * image-info. Most cases call `main` in this process with stdout and stderr captured; one runs
 * the real launcher (bin/izo.js), which must work with no build step.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inProcessIzo } from '../../support/cli.ts';
import { BlockDevice } from '../../../kernel/blkdev.ts';
import { commands } from '../../../src/cli/izo.ts';
import { demo, DEFAULT_SEED } from '../../../src/cli/demo.ts';
import { saveImage } from '../../../src/image.ts';

const ROOT = join(import.meta.dirname, '../../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

const cli = inProcessIzo('izo-main-');
const izo = cli.izo;

describe('izo', () => {
  it('lists every subcommand with its usage and summary: no arguments, help, --help', async () => {
    const names = commands().map((c) => c.name);
    expect(names.slice(0, 4)).toEqual(['help', 'version', 'demo', 'image-info']);
    expect(new Set(names).size).toBe(names.length);
    for (const args of [[], ['help'], ['--help'], ['-h']]) {
      const r = await izo(...args);
      expect(r.status, args.join(' ')).toBe(0);
      for (const c of commands()) {
        expect(r.out).toContain(`  ${c.usage}\n      ${c.summary}\n`);
        expect(c.usage.startsWith(`izo ${c.name}`), c.name).toBe(true);
      }
    }
    expect(await izo('help', 'image-info')).toMatchObject({ status: 0, out: expect.stringMatching(/^usage: izo image-info IMAGE/) });
    expect(await izo('demo', '--help')).toMatchObject({
      status: 0,
      out: 'usage: izo demo [--seed N]\n  the demonstration of the layers (`npm start` before scenario files; same seed, same output)\n\noptions:\n'
        + '  --seed N    the seed (no seed: the built-in default)\n  -h, --help  show this help\n',
    });
  });

  it('prints the version from package.json', async () => {
    expect(await izo('version')).toEqual({ status: 0, out: `izo ${VERSION}\n`, err: '' });
    expect((await izo('--version')).out).toBe(`izo ${VERSION}\n`);
  });

  it('izo demo is the npm start demonstration, for the default seed or --seed N', async () => {
    const r = await izo('demo', '--seed', '7');
    expect(r.status).toBe(0);
    expect(r.out).toBe(demo(7));
    expect(r.out).toMatch(/^intermezzo-sim demo, seed 7 /);
    expect(r.out).toMatch(/\n {2}\d+ events, hash [0-9a-f]{16}\n$/);
    expect((await izo('demo')).out).toBe(demo(DEFAULT_SEED));
  });

  it('izo image-info counts the blocks of a raw image that are not all zero', async () => {
    const dev = new BlockDevice({ name: 'd', blockSize: 2048, blocks: 1000 });
    for (const blk of [0, 5, 999]) dev.write(blk, new Uint8Array(2048).fill(blk + 1));
    const img = join(cli.dir(), 'info.img');
    saveImage(img, dev);
    expect(await izo('image-info', img, '--block-size', '2048')).toEqual({
      status: 0, out: `${img}: 2048000 bytes, block size 2048, 1000 blocks, 3 not all zero\n`, err: '',
    });
    // Read with 1024-byte blocks, each written 2048-byte block is two non-zero blocks.
    expect((await izo('image-info', img)).out).toBe(`${img}: 2048000 bytes, block size 1024, 2000 blocks, 6 not all zero\n`);
  });

  it('bad usage: a message naming the problem on stderr, the usage line, exit 2', async () => {
    const cases: Array<[string[], string]> = [
      [['frob'], "izo: unknown command 'frob'; try 'izo help'\n"],
      [['image-info'], 'izo image-info: image-info needs an IMAGE\n'],
      [['image-info', 'a', 'b'], "izo image-info: image-info takes one IMAGE, got also 'b'\n"],
      [['image-info', 'a', '--block-size', '512'], "izo image-info: --block-size must be 1024, 2048 or 4096, got '512'\n"],
      [['image-info', 'a', '--frob'], "izo image-info: Unknown option '--frob'"],
      [['demo', '--seed', '-3'], 'izo demo: '],
      [['demo', '--seed', 'x'], "izo demo: --seed must be a non-negative integer, got 'x'\n"],
      [['help', 'nope'], "izo help: no command 'nope'\n"],
    ];
    for (const [args, message] of cases) {
      const r = await izo(...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.err.startsWith(message), `${args.join(' ')}: ${r.err}`).toBe(true);
      expect(r.out).toBe('');
      if (args[0] !== 'frob') expect(r.err).toMatch(/\nusage: izo \S+/);
    }
  });

  it('an image it cannot use: the file named, exit 8', async () => {
    const missing = join(cli.dir(), 'nope.img');
    const r = await izo('image-info', missing);
    expect(r.status).toBe(8);
    expect(r.err).toMatch(new RegExp(`^izo image-info: ${missing.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot open image`));
  });

  it('runs through bin/izo.js with no build step, and passes its arguments and exit status on', () => {
    const launcher = join(ROOT, 'bin/izo.js');
    expect(readFileSync(launcher, 'utf8').startsWith('#!/usr/bin/env node\n')).toBe(true);
    const ok = spawnSync(process.execPath, [launcher, 'version'], { encoding: 'utf8' });
    expect([ok.status, ok.stdout]).toEqual([0, `izo ${VERSION}\n`]);
    const bad = spawnSync(process.execPath, [launcher, 'image-info'], { encoding: 'utf8', cwd: tmpdir() });
    expect([bad.status, bad.stderr.split('\n')[0]]).toEqual([2, 'izo image-info: image-info needs an IMAGE']);
  });
});
