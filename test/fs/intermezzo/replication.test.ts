/**
 * Replication through the KML alone: random command-language workloads run on host A's fileset; a
 * stand-in for lento (test/support/replay.ts) reads A's kml, replays every record into a fresh
 * replica B with REINTKML and answers B's BACKFETCH upcalls from A by inode number and generation.
 * The two trees must end identical (names, types, modes, owners, sizes, mtimes, ctimes, contents),
 * both images must pass Linux's e2fsck -fn, and replaying the same records again changes nothing.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import type { Process } from '../../../kernel/process.ts';
import { World, type Host } from '../../../sim/host.ts';
import { saveImage } from '../../../src/image.ts';
import { kmlRecords, replayRecords, serveUpcalls, type LogRecord, type Served } from '../../support/replay.ts';
import { parseScript, runScript } from '../../../src/sh.ts';
import { snapshotTree, type TreeNode } from '../../../src/tree.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';
import { filesetProcess, replicaHost } from '../../support/presto.ts';
import { commandLine } from '../../support/scripts.ts';

const UUID_A = new Uint8Array(16).fill(0xa1);
const TREE = { times: true, skip: ['lost+found', '.intermezzo'] } as const;

function snapshot(h: Host, p: Process): TreeNode {
  const t = h.run(p, snapshotTree(p, '/', TREE));
  if (isErr(t)) throw new Error(`snapshot ${h.name}: ${t}`);
  return t;
}

interface Pair {
  readonly w: World;
  readonly a: Host;
  readonly b: Host;
  readonly pa: Process;
  readonly pb: Process;
  readonly records: LogRecord[];
  readonly stats: Served;
}

function workloadOnA(lines: readonly string[], seed: number): Pair {
  const w = new World({ seed });
  const a = replicaHost(w, 'a');
  const b = replicaHost(w, 'b');
  const pa = filesetProcess(a, 'sh');
  for (const line of lines) {
    const parsed = parseScript(line);
    if (!('commands' in parsed)) throw new Error(`bad script: ${JSON.stringify(parsed.errors)}`);
    a.run(pa, runScript(pa, parsed.commands));
    // Time passes between commands, so a time a replay failed to carry over would show.
    w.sched.runFor(1_300_000);
  }
  const reader = a.process('reader');
  const kml = a.run(reader, kmlRecords(reader, '/izo', 'f'));
  if (isErr(kml)) throw new Error(`kml: ${kml}`);
  expect(kml.damage).toBeNull();
  const stats: Served = { backfetches: 0, opens: 0 };
  serveUpcalls(b, '/izo', 'f', reader, stats);
  return { w, a, b, pa, pb: filesetProcess(b, 'inspect'), records: kml.records, stats };
}

function replay(pair: Pair) {
  const r = pair.b.process('reint');
  return pair.b.run(r, replayRecords(r, '/izo', 'f', UUID_A, pair.records));
}

function fsckClean(h: Host, dir: string): void {
  h.shutdown();
  const image = join(dir, `${h.name}.img`);
  saveImage(image, h.disks.get('hda') as never);
  const r = e2fsck(image, '-fn');
  expect(r.status, r.output).toBe(0);
}

describe('replication through the KML alone', () => {
  it('a fixed workload: every record applies, data comes by backfetch, trees equal', () => {
    const pair = workloadOnA(
      ["mkdir /d", "write /d/e 'hello world'", 'ln /d/e /a', "append /a ' again'", 'mv /d /x', 'chmod 600 /a',
        'symlink /a /c', 'truncate /a 3', 'rm /x/e', 'mkfifo /p', 'chown 1000:1000 /c'],
      11,
    );
    const rep = replay(pair);
    expect(rep.errno).toBeNull();
    expect(rep.outcomes.map((o) => o.kind)).toEqual(pair.records.map(() => 'applied'));
    expect(pair.stats.backfetches).toBeGreaterThan(0);
    expect(snapshot(pair.b, pair.pb)).toEqual(snapshot(pair.a, pair.pa));
  });

  it('random workloads (fast-check): identical trees, e2fsck clean, a second replay changes nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-repl-'));
    let seed = 0;
    try {
      fc.assert(
        fc.property(fc.array(commandLine, { minLength: 1, maxLength: 14 }), (lines) => {
          seed++;
          const pair = workloadOnA(lines, seed);
          const first = replay(pair);
          expect(first.errno, `seed ${seed}`).toBeNull();
          expect(first.outcomes.map((o) => o.kind), `seed ${seed}`).toEqual(pair.records.map(() => 'applied'));
          const ta = snapshot(pair.a, pair.pa);
          expect(snapshot(pair.b, pair.pb), `seed ${seed}`).toEqual(ta);
          const again = replay(pair);
          expect(again.outcomes.every((o) => o.kind === 'duplicate'), `seed ${seed}`).toBe(true);
          expect(snapshot(pair.b, pair.pb)).toEqual(ta);
          if (seed % 10 === 1) {
            fsckClean(pair.a, dir);
            fsckClean(pair.b, dir);
          }
        }),
        { numRuns: Number(process.env.REPL_RUNS ?? 60), seed: 42 },
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
