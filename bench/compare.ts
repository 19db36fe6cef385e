/**
 * compare.ts: the side-by-side figure of `npm run bench` (issue 16): one seeded small-file
 * workload run by real and simulated file systems in one process, in interleaved rounds, timed by
 * CPU and by wall clock, each contender's result checked afterwards so none can skip work.
 *
 * The workload (`workload(ops, seed)`): creates of 4 KiB files (written and closed), renames,
 * unlinks and mkdirs in the proportions of the measurement (3,835 : 2,014 : 3,840 : 311
 * per 10,000), about 100 files live at a time, spread over the directories made so far. The
 * contenders: node:fs on a tmpfs directory (/dev/shm when there is one, said which), memfs (an
 * in-memory JavaScript file system), and this project's ramfs, ext3 in each data mode and presto
 * over ext3, each on a simulated host driven through its system calls. After each run every live
 * file's size is read back and compared with the workload's own account.
 * Real time and real I/O are used here and only here (bench/ is not simulated code).
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Volume } from 'memfs';
import { isErr } from '../kernel/errno.ts';
import { O_CREAT, O_TRUNC, O_WRONLY } from '../kernel/fs.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { sys_close, sys_mkdir, sys_open, sys_rename, sys_stat, sys_unlink, sys_write } from '../kernel/syscalls.ts';
import { mkfs } from '../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../fs/ext3/super.ts';
import { intermezzo_fs_type } from '../fs/intermezzo/super.ts';
import { World } from '../sim/host.ts';
import { Prng } from '../sim/prng.ts';

export type Op =
  | { readonly kind: 'create'; readonly path: string }
  | { readonly kind: 'rename'; readonly from: string; readonly to: string }
  | { readonly kind: 'unlink'; readonly path: string }
  | { readonly kind: 'mkdir'; readonly path: string };

export interface Workload {
  readonly ops: readonly Op[];
  /** The files live at the end (each 4 KiB). */
  readonly live: readonly string[];
}

export const FILE_BYTES = 4096;
const NAMES = 200;

/** Pick a kind by the proportions (per 10,000). */
function kindOf(rng: Prng): Op['kind'] {
  const x = rng.below(10_000);
  return x < 3835 ? 'create' : x < 3835 + 2014 ? 'rename' : x < 3835 + 2014 + 3840 ? 'unlink' : 'mkdir';
}

/** The seeded workload, with the live set it leaves. */
export function workload(count: number, seed = 1): Workload {
  const rng = Prng.fromSeed(seed);
  const dirs = ['/d0'];
  const live: string[] = [];
  const ops: Op[] = [{ kind: 'mkdir', path: '/d0' }];
  const freeName = (): string => {
    for (;;) {
      const p = `${dirs[rng.below(dirs.length)]}/f${rng.below(NAMES)}`;
      if (!live.includes(p)) return p;
    }
  };
  while (ops.length < count) {
    let kind = kindOf(rng);
    if (kind !== 'mkdir' && kind !== 'create' && live.length === 0) kind = 'create';
    if (kind === 'create' && live.length >= 120) kind = 'unlink';
    if (kind === 'create') {
      const path = freeName();
      live.push(path);
      ops.push({ kind, path });
    } else if (kind === 'unlink') {
      const [path] = live.splice(rng.below(live.length), 1) as [string];
      ops.push({ kind, path });
    } else if (kind === 'rename') {
      const i = rng.below(live.length);
      const from = live[i] as string;
      const to = freeName();
      live[i] = to;
      ops.push({ kind, from, to });
    } else {
      const path = `/d${dirs.length}`;
      dirs.push(path);
      ops.push({ kind, path });
    }
  }
  return { ops, live: [...live].sort() };
}

/** A file system as the benchmark drives it: run the whole workload, then report live sizes. */
export interface Contender {
  readonly name: string;
  /** Run `w` on a fresh instance; then the sizes of `w.live`, in order (-1: missing). */
  run(w: Workload): number[];
}

const DATA = new Uint8Array(FILE_BYTES).fill(0x5a);

/** node:fs on a tmpfs directory when there is one (the real kernel), else the system temp dir. */
export function nodeFs(): Contender & { readonly where: string } {
  const base = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  return {
    name: 'node:fs', where: base === '/dev/shm' ? '/dev/shm (tmpfs)' : `${base} (not tmpfs)`,
    run(w) {
      const root = mkdtempSync(join(base, 'izo-bench-'));
      try {
        for (const op of w.ops) {
          if (op.kind === 'create') writeFileSync(root + op.path, DATA);
          else if (op.kind === 'rename') renameSync(root + op.from, root + op.to);
          else if (op.kind === 'unlink') unlinkSync(root + op.path);
          else mkdirSync(root + op.path);
        }
        return w.live.map((p) => statSync(root + p).size);
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    },
  };
}

export function memFs(): Contender {
  return {
    name: 'memfs',
    run(w) {
      const v = new Volume();
      for (const op of w.ops) {
        if (op.kind === 'create') v.writeFileSync(op.path, DATA);
        else if (op.kind === 'rename') v.renameSync(op.from, op.to);
        else if (op.kind === 'unlink') v.unlinkSync(op.path);
        else v.mkdirSync(op.path);
      }
      return w.live.map((p) => Number(v.statSync(p).size));
    },
  };
}

function* playOn(p: Process, w: Workload): Sys<number[]> {
  for (const op of w.ops) {
    if (op.kind === 'create') {
      const fd = yield* sys_open(p, op.path, O_CREAT | O_WRONLY | O_TRUNC, 0o644);
      if (isErr(fd)) throw new Error(`create ${op.path}: ${fd}`);
      yield* sys_write(p, fd, DATA);
      yield* sys_close(p, fd);
    } else if (op.kind === 'rename') yield* sys_rename(p, op.from, op.to);
    else if (op.kind === 'unlink') yield* sys_unlink(p, op.path);
    else yield* sys_mkdir(p, op.path, 0o755);
  }
  const sizes: number[] = [];
  for (const path of w.live) {
    const st = yield* sys_stat(p, path);
    sizes.push(isErr(st) ? -1 : st.st_size);
  }
  return sizes;
}

type SimKind = 'ramfs' | 'ext3' | 'intermezzo';

/** A simulated host with `kind` as its root (ext3 and presto on a fresh 64 MiB, 4 KiB-block disk). */
export function simFs(name: string, kind: SimKind, data = 'ordered'): Contender {
  return {
    name,
    run(w) {
      const world = new World({ seed: 1 });
      const h = world.addHost('h');
      if (kind === 'ramfs') h.mountRoot('ramfs', null);
      else {
        h.registerFs(ext3_fs_type);
        h.registerFs(intermezzo_fs_type);
        const dev = h.addDisk('hda', { blockSize: 4096, blocks: 16384 });
        const geo = mkfs(dev, { blockSize: 4096, uuid: new Uint8Array(16).fill(1), time: 1_009_843_200, journalBlocks: 2048 });
        if (typeof geo === 'string') throw new Error(geo);
        h.mountRoot(kind, 'hda', kind === 'ext3' ? `data=${data}` : `cache_type=ext3,fileset=f,data=${data}`);
      }
      const p = h.process('bench');
      const sizes = h.run(p, playOn(p, w));
      if (isErr(sizes)) throw new Error(`${name}: ${sizes}`);
      return sizes;
    },
  };
}

export function contenders(): Contender[] {
  return [
    nodeFs(), memFs(), simFs('ramfs', 'ramfs'), simFs('ext3 ordered', 'ext3', 'ordered'),
    simFs('ext3 writeback', 'ext3', 'writeback'), simFs('ext3 journal', 'ext3', 'journal'),
    simFs('presto/ext3 ordered', 'intermezzo', 'ordered'),
  ];
}

export interface Figures {
  readonly name: string;
  /** Operations per CPU second (user + system) and per wall second: median, min, max over rounds. */
  readonly cpu: { readonly median: number; readonly min: number; readonly max: number };
  readonly wall: { readonly median: number; readonly min: number; readonly max: number };
}

const stats = (xs: number[]): { median: number; min: number; max: number } => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)] as number, min: s[0] as number, max: s[s.length - 1] as number };
};

/** One timed run; throws if the contender's live files are not the workload's. */
function timed(c: Contender, w: Workload): { cpu: number; wall: number } {
  const u0 = process.cpuUsage();
  const t0 = performance.now();
  const sizes = c.run(w);
  const wall = (performance.now() - t0) / 1000;
  const u = process.cpuUsage(u0);
  const bad = sizes.findIndex((s) => s !== FILE_BYTES);
  if (bad >= 0) throw new Error(`${c.name}: ${w.live[bad]} has size ${sizes[bad]}, not ${FILE_BYTES}: it skipped work`);
  return { cpu: (u.user + u.system) / 1e6, wall };
}

/** Every contender, `rounds` times, interleaved (round 1 of each, then round 2 ...), after a warm-up. */
export function compare(ops = 10_000, rounds = 7, list = contenders()): Figures[] {
  const w = workload(ops);
  for (const c of list) timed(c, workload(Math.min(ops, 1000), 2));
  const runs = new Map(list.map((c) => [c.name, { cpu: [] as number[], wall: [] as number[] }]));
  for (let r = 0; r < rounds; r++) {
    for (const c of list) {
      const t = timed(c, w);
      const m = runs.get(c.name) as { cpu: number[]; wall: number[] };
      m.cpu.push(w.ops.length / t.cpu);
      m.wall.push(w.ops.length / t.wall);
    }
  }
  return list.map((c) => {
    const m = runs.get(c.name) as { cpu: number[]; wall: number[] };
    return { name: c.name, cpu: stats(m.cpu), wall: stats(m.wall) };
  });
}

const n = (x: number): string => Math.round(x).toLocaleString('en');

/** The table: ops per CPU-second and per wall-second, median (range), and the ratio to node:fs. */
export function compareTable(fig: readonly Figures[]): string {
  const base = fig.find((f) => f.name === 'node:fs')?.cpu.median ?? NaN;
  const rows = fig.map((f) => `| ${f.name} | ${n(f.cpu.median)} (${n(f.cpu.min)}-${n(f.cpu.max)}) | ` +
    `${(f.cpu.median / base).toFixed(2)} | ${n(f.wall.median)} (${n(f.wall.min)}-${n(f.wall.max)}) |`);
  return ['| system | ops per CPU-s, median (range) | vs node:fs (CPU) | ops per wall-s, median (range) |',
    '|---|---|---|---|', ...rows].join('\n');
}
