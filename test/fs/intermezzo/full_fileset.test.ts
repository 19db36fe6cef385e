/**
 * A fileset driven past full (issues 18 and 19): random scripts of system calls on small fileset
 * images (2 and 4 KiB blocks, 4-8 MiB) that fill them with big writes, sparse writes far out,
 * truncates past 4 GiB and many names. After every call: a call that succeeded logged exactly its
 * records (opcode and path), a call that failed logged none and changed nothing (free blocks and
 * inodes, the log files aside, and the attributes of what it named). After every run, closed and
 * unmounted cleanly: the KML decodes without damage and holds exactly the records logged, the LML
 * holds no pending close, the fileset mounts again, and Linux's e2fsck -fn finds the image clean.
 * CI runs a bounded number of scripts; FULL_FILESET_RUNS=N runs N of each block size.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockDevice, type BlockSize } from '../../../kernel/blkdev.ts';
import { ENAMETOOLONG, ENOENT, ENOSPC, errnoName, isErr, type Errno } from '../../../kernel/errno.ts';
import { O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_ISREG, type Stat, type SuperBlock } from '../../../kernel/fs.ts';
import type { Process } from '../../../kernel/process.ts';
import * as k from '../../../kernel/syscalls.ts';
import type { Sys } from '../../../kernel/sched.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { ext3_free_blocks, ext3_fs_type, EXT3_SB } from '../../../fs/ext3/super.ts';
import { presto_get_cache } from '../../../fs/intermezzo/intermezzo_fs.ts';
import { kml_scan } from '../../../fs/intermezzo/kml.ts';
import { World, type Host } from '../../../sim/host.ts';
import { Prng } from '../../../sim/prng.ts';
import { saveImage } from '../../../src/image.ts';
import { plainMount, readFilesetLogs } from '../../../src/cli/presto_image.ts';
import { hostSys } from '../../support/boot.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';
import { prestoHost } from '../../support/presto.ts';

const NAMES = ['/a', '/b', '/d', '/d/c', '/d/e', '/g', '/g/h'] as const;
const FLAGS = { creat: O_WRONLY | O_CREAT | O_TRUNC, append: O_WRONLY | O_CREAT | O_APPEND, rw: O_RDWR } as const;
const SLOTS = 3;

export type Step =
  | { readonly op: 'open'; readonly path: string; readonly flags: keyof typeof FLAGS; readonly slot: number }
  | { readonly op: 'write'; readonly slot: number; readonly size: number }
  | { readonly op: 'pwrite'; readonly slot: number; readonly offset: number; readonly size: number }
  | { readonly op: 'close'; readonly slot: number }
  | { readonly op: 'truncate'; readonly path: string; readonly size: number }
  | { readonly op: 'mkdir' | 'rmdir' | 'unlink' | 'chmod'; readonly path: string }
  | { readonly op: 'rename' | 'link'; readonly from: string; readonly to: string }
  | { readonly op: 'symlink'; readonly target: string; readonly path: string }
  | { readonly op: 'sync' | 'wait' };

const name = fc.constantFrom(...NAMES);
const slot = fc.integer({ min: 0, max: SLOTS - 1 });
const big = fc.constantFrom(1, 700, 5000, 40_000, 300_000, 1_500_000, 3_000_000);
const far = fc.constantFrom(0, 12 * 4096, 1 << 20, 2 ** 32 - 3, 2 ** 32 + 5, 5 * 2 ** 30);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 5, arbitrary: fc.record({ op: fc.constant('open' as const), path: name, flags: fc.constantFrom('creat', 'append', 'rw') as fc.Arbitrary<keyof typeof FLAGS>, slot }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('write' as const), slot, size: big }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('pwrite' as const), slot, offset: far, size: fc.constantFrom(1, 3000, 70_000) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('close' as const), slot }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('truncate' as const), path: name, size: fc.constantFrom(0, 10, 2 ** 32 + 7) }) },
  { weight: 4, arbitrary: fc.record({ op: fc.constantFrom('mkdir' as const, 'rmdir' as const, 'unlink' as const, 'chmod' as const), path: name }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('rename' as const, 'link' as const), from: name, to: name }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('symlink' as const), target: fc.constantFrom('nowhere/x', 'nowhere/' + 'y'.repeat(300)), path: name }) },
  { weight: 1, arbitrary: fc.constantFrom({ op: 'sync' as const }, { op: 'wait' as const }) },
);

/** A start that fills the fileset: files written big until the writes come back short. */
const filling: fc.Arbitrary<Step[]> = fc
  .array(fc.tuple(name, slot, fc.array(fc.constantFrom(1 << 20, 3 << 20), { minLength: 1, maxLength: 3 })), {
    minLength: 1,
    maxLength: 3,
  })
  .map((files) =>
    files.flatMap(([path, s, sizes]) => [
      { op: 'open' as const, path, flags: 'creat' as const, slot: s },
      ...sizes.map((size) => ({ op: 'write' as const, slot: s, size })),
    ]),
  );

/**
 * A script: a fill, committed, then anything (removals free space, writes take it again; blocks a
 * truncate frees are not reusable until their transaction commits).
 */
export const script: fc.Arbitrary<Step[]> = fc
  .tuple(filling, fc.array(step, { minLength: 20, maxLength: 70 }))
  .map(([a, b]) => [...a, { op: 'sync' as const }, ...b]);

export interface Geometry {
  readonly blockSize: BlockSize;
  readonly bytes: number;
}

export function filesetDisk(g: Geometry): BlockDevice {
  const blocks = g.bytes / g.blockSize;
  const dev = new BlockDevice({ name: 'hda', blockSize: g.blockSize, blocks });
  const geo = mkfs(dev, { blockSize: g.blockSize, uuid: new Uint8Array(16).fill(9), time: 1_009_843_200, journalBlocks: 1024 });
  if (typeof geo === 'string') throw new Error(geo);
  return dev;
}

interface OpenFile {
  fd: number;
  path: string;
  written: boolean;
  /** Its name was removed or replaced: presto logs no CLOSE for it (there is no path to give). */
  gone: boolean;
}

const parentOf = (p: string): string => p.slice(0, p.lastIndexOf('/')) || '/';
const under = (p: string, dir: string): boolean => p === dir || p.startsWith(`${dir}/`);

/** Runs steps on one host, one system call each, checking each call's records as it goes. */
class Runner {
  readonly files: Array<OpenFile | null> = new Array<OpenFile | null>(SLOTS).fill(null);
  readonly logged: string[] = [];
  private current: string[] = [];
  readonly problems: string[] = [];
  /** How many calls ended in each errno (and 'ok'). */
  readonly outcomes = new Map<string, number>();
  constructor(
    readonly w: World,
    readonly h: Host,
    readonly p: Process,
  ) {}

  onEvent(op: string, path: string): void {
    this.current.push(`${op} ${path}`);
  }

  call<T>(body: Sys<T>): T {
    return this.h.run(this.p, body);
  }

  lstat(path: string): Stat | Errno {
    return this.call(k.sys_lstat(this.p, path));
  }

  /** Free blocks and inodes, counting the fileset's log files' blocks as free (presto's own). */
  space(): string {
    const sb = this.h.kernel.mounts[0]?.mnt_sb;
    if (sb === undefined) return '?';
    let logs = 0;
    for (const log of ['kml', 'lml', 'last_rcvd']) {
      const st = this.lstat(`/.intermezzo/f/${log}`);
      if (!isErr(st)) logs += st.st_blocks / (sb.s_blocksize / 512);
    }
    return `blocks ${ext3_free_blocks(sb) + logs}, inodes ${EXT3_SB(sb).raw.freeInodesCount}`;
  }

  /** What the call names, as it is now (to compare when the call fails). */
  looks(s: Step): string {
    const paths = 'path' in s ? [s.path] : 'from' in s ? [s.from, s.to] : [];
    const f = 'slot' in s ? this.files[s.slot] : null;
    const st = (x: Stat | Errno): string => (isErr(x) ? errnoName(x) : `${x.st_ino}:${x.st_mode}:${x.st_nlink}:${x.st_size}`);
    const fst = f === null || f === undefined ? '' : st(this.call(k.sys_fstat(this.p, f.fd)));
    return [this.space(), fst, ...paths.map((x) => `${x} ${st(this.lstat(x))}`)].join('; ');
  }

  run(s: Step, i: number): void {
    const before = this.looks(s);
    const expect = this.expected(s);
    this.current = [];
    const r = this.exec(s);
    const got = this.current;
    this.logged.push(...got);
    const what = `step ${i} ${JSON.stringify(s)} -> ${isErr(r) ? errnoName(r) : r}`;
    const short = (s.op === 'write' || s.op === 'pwrite') && !isErr(r) && r > 0 && r < s.size;
    const outcome = isErr(r) ? errnoName(r) : short ? 'short' : 'ok';
    this.outcomes.set(outcome, (this.outcomes.get(outcome) ?? 0) + 1);
    if (isErr(r)) {
      if (got.length > 0) this.problems.push(`${what}: failed but logged ${got.join(', ')}`);
      const after = this.looks(s);
      if (after !== before) this.problems.push(`${what}: failed but changed ${before} => ${after}`);
      if (s.op === 'close') this.problems.push(`${what}: close failed`);
      return;
    }
    this.after(s, r);
    if (JSON.stringify(got) !== JSON.stringify(expect)) {
      this.problems.push(`${what}: logged [${got.join(', ')}], expected [${expect.join(', ')}]`);
    }
  }

  /** The records a successful call must log, from the state before it. */
  private expected(s: Step): string[] {
    switch (s.op) {
      case 'open': {
        const st = this.lstat(s.path);
        if (isErr(st)) return (FLAGS[s.flags] & O_CREAT) !== 0 ? [`CREATE ${s.path}`] : [];
        return (FLAGS[s.flags] & O_TRUNC) !== 0 && S_ISREG(st.st_mode) ? [`CLOSE ${s.path}`, `SETATTR ${s.path}`] : [];
      }
      case 'close': {
        const f = this.files[s.slot];
        if (f === null || f === undefined || !f.written || f.gone) return [];
        const st = this.call(k.sys_fstat(this.p, f.fd));
        return !isErr(st) && st.st_nlink > 0 ? [`CLOSE ${f.path}`] : [];
      }
      case 'truncate':
        return [`CLOSE ${s.path}`, `SETATTR ${s.path}`];
      case 'mkdir':
        return [`MKDIR ${s.path}`];
      case 'rmdir':
        return [`RMDIR ${parentOf(s.path)}`];
      case 'unlink':
        return [`UNLINK ${parentOf(s.path)}`];
      case 'chmod':
        return [`SETATTR ${s.path}`];
      case 'rename': {
        // Two names of one inode: Linux's vfs_rename does nothing, and nothing is logged.
        const a = this.lstat(s.from);
        const b = this.lstat(s.to);
        return !isErr(a) && !isErr(b) && a.st_ino === b.st_ino ? [] : [`RENAME ${s.to}`];
      }
      case 'link':
        return [`LINK ${s.to}`];
      case 'symlink':
        return [`SYMLINK ${s.path}`];
      default:
        return [];
    }
  }

  private exec(s: Step): number | Errno {
    const p = this.p;
    const f = 'slot' in s ? this.files[s.slot] : null;
    switch (s.op) {
      case 'open':
        return this.call(k.sys_open(p, s.path, FLAGS[s.flags], 0o644));
      case 'write':
        return f === null || f === undefined ? 0 : this.call(k.sys_write(p, f.fd, new Uint8Array(s.size).fill(0x5a)));
      case 'pwrite':
        return f === null || f === undefined ? 0 : this.call(k.sys_pwrite(p, f.fd, new Uint8Array(s.size).fill(0xa5), s.offset));
      case 'close':
        return f === null || f === undefined ? 0 : this.call(k.sys_close(p, f.fd));
      case 'truncate':
        return this.call(k.sys_truncate(p, s.path, s.size));
      case 'mkdir':
        return this.call(k.sys_mkdir(p, s.path, 0o755));
      case 'rmdir':
        return this.call(k.sys_rmdir(p, s.path));
      case 'unlink':
        return this.call(k.sys_unlink(p, s.path));
      case 'chmod':
        return this.call(k.sys_chmod(p, s.path, 0o600));
      case 'rename':
        return this.call(k.sys_rename(p, s.from, s.to));
      case 'link':
        return this.call(k.sys_link(p, s.from, s.to));
      case 'symlink':
        return this.call(k.sys_symlink(p, s.target, s.path));
      case 'sync':
        return this.call(k.sys_sync(p));
      case 'wait':
        // Time passes: the commit timer fires.
        this.w.sched.runFor(6_000_000);
        return 0;
    }
  }

  /** Follow what a successful call did to the open files. */
  private after(s: Step, r: number): void {
    const open = this.files.filter((f): f is OpenFile => f !== null);
    if (s.op === 'open') return void (this.files[s.slot] = { fd: r, path: s.path, written: false, gone: false });
    if ((s.op === 'write' || s.op === 'pwrite') && this.files[s.slot] !== null) (this.files[s.slot] as OpenFile).written = true;
    if (s.op === 'close') this.files[s.slot] = null;
    if (s.op === 'unlink') for (const f of open) if (f.path === s.path) f.gone = true;
    if (s.op === 'rename' && s.from !== s.to && this.current.length > 0) {
      for (const f of open) {
        if (f.path === s.to) f.gone = true;
        else if (under(f.path, s.from)) f.path = s.to + f.path.slice(s.from.length);
      }
    }
  }
}

/**
 * A run that ends in a power cut instead, files still open: the crash image (random surviving
 * writes) must mount through presto again, its KML must be a prefix of what was logged followed
 * only by the CLOSEs that LML completion adds, its LML empty after, and e2fsck clean.
 */
export function runCrash(g: Geometry, steps: readonly Step[], seed: number): string[] {
  const dev = filesetDisk(g);
  let runner: Runner | null = null;
  const w = new World({
    seed,
    trace: { onEvent: (r) => r.ev === 'presto.kml' && runner?.onEvent((r.data as { op: string }).op, (r.data as { path: string }).path) },
  });
  const h = prestoHost(w, 'h', { dev });
  runner = new Runner(w, h, h.process('sh'));
  drive(runner, steps);
  const crashed = dev.crash({ random: Prng.fromSeed(seed).stream('crash'), tearChance: [1, 4] });
  const problems = [...runner.problems];
  const again = prestoHost(new World({ seed }), 'again', { dev: crashed });
  again.shutdown();
  const logs = readFilesetLogs(plainMount(crashed, 'crashed'), 'f', 'crashed');
  const kml = kml_scan(logs.kml);
  if (kml.damage !== null) problems.push(`KML damaged after the crash at ${kml.damage.offset}: ${kml.damage.reason}`);
  const got = kml.records.map((r) => `${r.rec.body.op} ${'path' in r.rec.body ? r.rec.body.path : ''}`);
  let kept = 0;
  while (kept < got.length && got[kept] === runner.logged[kept]) kept++;
  if (got.slice(kept).some((r) => !r.startsWith('CLOSE '))) problems.push(`KML after the crash: [${got.join(', ')}]`);
  const live = kml_scan(logs.lml, true).records.filter((r) => r.rec.cancelled !== true);
  if (live.length > 0) problems.push(`LML after the remount: ${live.length} pending`);
  problems.push(...fsckImage(crashed));
  return problems;
}

/** Run the steps; an open into a slot in use closes that slot's file first. */
function drive(runner: Runner, steps: readonly Step[]): void {
  steps.forEach((s, i) => {
    if (s.op === 'open' && runner.files[s.slot] !== null) runner.run({ op: 'close', slot: s.slot }, i);
    runner.run(s, i);
  });
}

export interface RunResult {
  readonly problems: string[];
  readonly outcomes: ReadonlyMap<string, number>;
}

/** One run: the steps, then every file closed, a clean unmount, and the checks of a whole run. */
export function runScript(g: Geometry, steps: readonly Step[], seed: number): RunResult {
  const dev = filesetDisk(g);
  let runner: Runner | null = null;
  const w = new World({
    seed,
    trace: {
      onEvent: (r) => {
        if (r.ev === 'presto.kml') {
          const d = r.data as { op: string; path: string };
          runner?.onEvent(d.op, d.path);
        }
      },
    },
  });
  const h = prestoHost(w, 'h', { dev });
  runner = new Runner(w, h, h.process('sh'));
  drive(runner, steps);
  for (let s = 0; s < SLOTS; s++) runner.run({ op: 'close', slot: s }, steps.length + s);
  const cache = presto_get_cache(h.kernel.mounts[0]?.mnt_sb as SuperBlock);
  if (cache?.close_held !== 0) runner.problems.push(`every file closed, but ${cache?.close_held} blocks still held`);
  h.shutdown();
  return { problems: [...runner.problems, ...checkImage(dev, runner.logged, seed)], outcomes: runner.outcomes };
}

/** The checks of a whole run, on the image a clean unmount left. */
function checkImage(dev: BlockDevice, logged: readonly string[], seed: number, pending = 0): string[] {
  const problems: string[] = [];
  const logs = readFilesetLogs(plainMount(dev, 'image'), 'f', 'image');
  const kml = kml_scan(logs.kml);
  if (kml.damage !== null) problems.push(`KML damaged at ${kml.damage.offset}: ${kml.damage.reason}`);
  const onDisk = kml.records.map((r) => `${r.rec.body.op} ${'path' in r.rec.body ? r.rec.body.path : ''}`);
  if (JSON.stringify(onDisk) !== JSON.stringify(logged)) problems.push(`KML holds [${onDisk.join(', ')}], logged [${logged.join(', ')}]`);
  kml.records.forEach((r, i) => {
    if (r.rec.recno !== i + 1) problems.push(`KML record ${i} has recno ${r.rec.recno}`);
  });
  const lml = kml_scan(logs.lml, true);
  const live = lml.records.filter((r) => r.rec.cancelled !== true);
  if (lml.damage !== null || live.length !== pending) {
    problems.push(`LML after a clean unmount: ${live.length} pending (${pending} expected), damage ${lml.damage?.reason}`);
  }
  const again = prestoHost(new World({ seed }), 'again', { dev });
  again.shutdown();
  return [...problems, ...fsckImage(dev)];
}

function fsckImage(dev: BlockDevice): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'izo-full-'));
  try {
    const image = join(dir, 'fs.img');
    saveImage(image, dev);
    const f = e2fsck(image, '-fn');
    return f.status === 0 ? [] : [`e2fsck -fn: ${f.output}`];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The journal takes 1024 blocks (mke2fs's least): 2 or 4 MiB of each image. */
const GEOMETRIES: readonly Geometry[] = [
  { blockSize: 2048, bytes: 4 << 20 },
  { blockSize: 2048, bytes: 6 << 20 },
  { blockSize: 4096, bytes: 6 << 20 },
  { blockSize: 4096, bytes: 8 << 20 },
];
const RUNS = Number(process.env.FULL_FILESET_RUNS ?? '6');

describe('a fileset driven past full', () => {
  for (const g of GEOMETRIES) {
    it(`${g.blockSize}-byte blocks, ${g.bytes >> 20} MiB: every call logs exactly its records; the image stays whole`, () => {
      let full = 0;
      const totals = new Map<string, number>();
      fc.assert(
        fc.property(script, fc.integer({ min: 1, max: 1 << 30 }), (steps, seed) => {
          const r = runScript(g, steps, seed);
          expect(r.problems, `world seed ${seed}`).toEqual([]);
          if ((r.outcomes.get('ENOSPC') ?? 0) + (r.outcomes.get('short') ?? 0) > 0) full++;
          for (const [o, n] of r.outcomes) totals.set(o, (totals.get(o) ?? 0) + n);
        }),
        { numRuns: RUNS, seed: 19 + g.bytes / g.blockSize },
      );
      if (process.env.FULL_FILESET_VERBOSE === '1') console.log(g, full, Object.fromEntries(totals));
      // The scripts must really drive the fileset past full, or they prove nothing.
      expect(full).toBeGreaterThanOrEqual(Math.ceil(RUNS / 2));
    });

    it(`${g.blockSize}-byte blocks, ${g.bytes >> 20} MiB: a power cut with files open, then a remount`, () => {
      fc.assert(
        fc.property(script, fc.integer({ min: 1, max: 1 << 30 }), (steps, seed) => {
          expect(runCrash(g, steps, seed), `world seed ${seed}`).toEqual([]);
        }),
        { numRuns: Math.max(1, Math.ceil(RUNS / 2)), seed: 91 + g.bytes / g.blockSize },
      );
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Regressions: each case a stress run found (issues 18 and 19), kept as a fixed script.

interface Fixture {
  readonly w: World;
  readonly h: Host;
  readonly dev: BlockDevice;
  readonly sys: ReturnType<typeof hostSys>;
  readonly kml: string[];
}

function fixture(g: Geometry = { blockSize: 2048, bytes: 4 << 20 }, dev = filesetDisk(g)): Fixture {
  const kml: string[] = [];
  const w = new World({
    seed: 7,
    trace: {
      onEvent: (r) => {
        if (r.ev === 'presto.kml') kml.push(`${(r.data as { op: string }).op} ${(r.data as { path: string }).path}`);
      },
    },
  });
  const h = prestoHost(w, 'h', { dev });
  return { w, h, dev, sys: hostSys(h, h.process('t')), kml };
}

/** Blocks an ordinary allocation can still take (free, less what presto holds back). */
function room(f: Fixture): number {
  const sb = f.h.kernel.mounts[0]?.mnt_sb;
  if (sb === undefined) throw new Error('no root');
  return ext3_free_blocks(sb) - (EXT3_SB(sb).reserved ?? 0);
}

/** Write /fill until only `leave` blocks an ordinary allocation could take are left. */
function fill(f: Fixture, leave: number, path = '/fill'): void {
  const bs = f.h.kernel.mounts[0]?.mnt_sb.s_blocksize ?? 0;
  const fd = f.sys.sys_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644);
  expect(fd).toBeGreaterThanOrEqual(0);
  // Data blocks, and the indirect blocks above them (one per bs/4 data blocks, and one double).
  const n = room(f) - leave;
  const data = Math.max(0, n - Math.ceil(n / (bs / 4)) - 2);
  if (data > 0) expect(f.sys.sys_write(fd, new Uint8Array(data * bs).fill(7))).toBeGreaterThan(0);
  expect(f.sys.sys_close(fd)).toBe(0);
}

/** Unmount cleanly, then what every run must show: the KML whole, the LML empty, a remount, fsck. */
function finish(f: Fixture): string[] {
  f.h.shutdown();
  return checkImage(f.dev, f.kml, 7);
}

describe('a fileset near full: regressions', () => {
  it('a KML record never runs past the space the log got (blocks freed by an uncommitted truncate are not there)', () => {
    const f = fixture();
    fill(f, 8);
    expect(f.sys.sys_sync()).toBe(0);
    // The truncate frees the file's blocks in a transaction not yet committed: counted free, but
    // ext3 cannot hand them out before the commit (the old code's mkdir got EIO: a torn record).
    expect(f.sys.sys_truncate('/fill', 0)).toBe(0);
    const made: number[] = [];
    for (let i = 0; i < 40; i++) made.push(f.sys.sys_mkdir(`/m${i}`, 0o755));
    for (let i = 0; i < 60; i++) expect([0, ENOSPC]).toContain(f.sys.sys_chmod('/fill', 0o600 + (i % 8)));
    expect(made.filter((r) => r !== 0 && r !== ENOSPC)).toEqual([]);
    expect(finish(f)).toEqual([]);
  });

  it('an unlink on a nearly full fileset completes, name, record and inode (it got EIO and leaked the inode)', () => {
    const f = fixture();
    for (let i = 0; i < 30; i++) expect(f.sys.sys_mknod(`/s${i}`, 0o100644, 0)).toBe(0);
    fill(f, 8);
    expect(f.sys.sys_sync()).toBe(0);
    expect(f.sys.sys_truncate('/fill', 0)).toBe(0);
    for (let i = 0; i < 40; i++) expect([0, ENOSPC]).toContain(f.sys.sys_mkdir(`/m${i}`, 0o755));
    for (let i = 0; i < 30; i++) expect(f.sys.sys_unlink(`/s${i}`)).toBe(0);
    expect(f.kml.filter((r) => r === 'UNLINK /')).toHaveLength(30);
    expect(finish(f)).toEqual([]);
  });

  it('one write that fills the device: a short write, close succeeds, the CLOSE is logged, the LML is empty', () => {
    const f = fixture();
    const fd = f.sys.sys_open('/big', O_WRONLY | O_CREAT, 0o644);
    const n = f.sys.sys_write(fd, new Uint8Array(8 << 20).fill(1));
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThan(8 << 20);
    expect(f.sys.sys_write(fd, new Uint8Array(4096))).toBe(ENOSPC);
    expect(f.sys.sys_close(fd)).toBe(0);
    expect(f.kml).toEqual(['CREATE /big', 'CLOSE /big']);
    expect(finish(f)).toEqual([]);
  });

  it('rm works on a full fileset, and gives the space back', () => {
    const f = fixture();
    for (const path of ['/x', '/y']) {
      const fd = f.sys.sys_open(path, O_WRONLY | O_CREAT, 0o644);
      f.sys.sys_write(fd, new Uint8Array(8 << 20).fill(2));
      f.sys.sys_close(fd);
    }
    const more = f.sys.sys_open('/z', O_WRONLY | O_CREAT, 0o644);
    expect(f.sys.sys_write(more, new Uint8Array(4096))).toBe(ENOSPC);
    expect(f.sys.sys_close(more)).toBe(0);
    expect(f.sys.sys_unlink('/y')).toBe(0);
    expect(f.sys.sys_unlink('/x')).toBe(0);
    f.h.world.sched.runFor(6_000_000);
    expect(room(f)).toBeGreaterThan(800);
    expect(f.sys.sys_mkdir('/d', 0o755)).toBe(0);
    expect(finish(f)).toEqual([]);
  });

  it('open(O_TRUNC) of an existing empty file is a truncation: CLOSE and SETATTR are logged', () => {
    const f = fixture();
    expect(f.sys.sys_close(f.sys.sys_open('/e', O_WRONLY | O_CREAT, 0o644))).toBe(0);
    expect(f.sys.sys_close(f.sys.sys_open('/e', O_WRONLY | O_TRUNC))).toBe(0);
    expect(f.kml).toEqual(['CREATE /e', 'CLOSE /e', 'SETATTR /e']);
    expect(finish(f)).toEqual([]);
  });

  it('a path the KML cannot carry (PATH_MAX or more) is refused with ENAMETOOLONG, nothing changed', () => {
    const f = fixture();
    // A chain of directories made from inside each other: every mkdir names one component, but
    // the path from the fileset root grows past PATH_MAX.
    const comp = 'c'.repeat(250);
    let made = 0;
    let r = 0;
    for (; made < 20; made++) {
      r = f.sys.sys_mkdir(comp, 0o755);
      if (r !== 0) break;
      expect(f.sys.sys_chdir(comp)).toBe(0);
    }
    expect(r).toBe(ENAMETOOLONG);
    expect(made).toBe(Math.floor(4095 / 251));
    expect(f.sys.sys_lstat(comp)).toBe(ENOENT);
    // A file near the limit, then a rename above it that takes its path past: it cannot be opened
    // for writing (its CLOSE could not name it), but it can be read and removed.
    const leaf = 'f'.repeat(4095 - 251 * made - 1);
    expect(f.sys.sys_close(f.sys.sys_open(leaf, O_WRONLY | O_CREAT, 0o644))).toBe(0);
    expect(f.sys.sys_rename(`/${comp}`, `/${comp}xy`)).toBe(0);
    expect(f.sys.sys_open(leaf, O_WRONLY)).toBe(ENAMETOOLONG);
    const rd = f.sys.sys_open(leaf, O_RDONLY);
    expect(rd).toBeGreaterThanOrEqual(0);
    expect(f.sys.sys_close(rd)).toBe(0);
    expect(f.sys.sys_unlink(leaf)).toBe(0);
    expect(f.kml.map((x) => x.split(' ')[0])).toEqual([...new Array<string>(made).fill('MKDIR'), 'CREATE', 'RENAME', 'UNLINK']);
    expect(f.sys.sys_chdir('/')).toBe(0);
    expect(finish(f)).toEqual([]);
  });

  /**
   * A fileset whose LML holds a pending close (the file was written, never closed) on a disk that
   * a plain ext3 mount then filled to the last block, and whose KML's last block has no room for
   * that CLOSE. `tail`: the bytes left there (room for an UNLINK of a short path, or for nothing).
   */
  function stuck(tail: number): { readonly f: Fixture; readonly g: Geometry; readonly w: string } {
    const g: Geometry = { blockSize: 2048, bytes: 4 << 20 };
    const f = fixture(g);
    const dir = `/${'p'.repeat(250)}`;
    const w = `${dir}/${'q'.repeat(250)}`;
    expect(f.sys.sys_mkdir(dir, 0o755)).toBe(0);
    const fd = f.sys.sys_open(w, O_WRONLY | O_CREAT, 0o644);
    expect(f.sys.sys_write(fd, new Uint8Array(100).fill(3))).toBe(100);
    // Pad the KML to `tail` bytes short of a block's end: SETATTRs of 152 bytes, then one MKDIR
    // (140 bytes and its path) of the length that lands there.
    const size = (): number => (f.sys.sys_lstat('/.intermezzo/f/kml') as Stat).st_size;
    let target = Math.ceil((size() + 1) / g.blockSize) * g.blockSize - tail;
    if (target - size() < 148) target += g.blockSize;
    while (target - size() > 300) expect(f.sys.sys_chmod('/', 0o755)).toBe(0);
    expect(f.sys.sys_mkdir(`/${'m'.repeat(target - size() - 141)}`, 0o755)).toBe(0);
    expect(size()).toBe(target);
    f.h.shutdown(); // the power stays on, but the file is never closed
    const plain = new World({ seed: 8 }).addHost('plain');
    plain.registerFs(ext3_fs_type);
    plain.addDisk('hda', f.dev);
    plain.mountRoot('ext3', 'hda');
    const ps = hostSys(plain, plain.process('p'));
    const pfd = ps.sys_open('/filler', O_WRONLY | O_CREAT, 0o644);
    while ((ps.sys_write(pfd, new Uint8Array(1 << 16)) as number) > 0);
    ps.sys_close(pfd);
    plain.shutdown();
    return { f, g, w };
  }

  it('a fileset whose LML needs completing at mount, with no block free, still mounts', () => {
    const { f, w } = stuck(0);
    const again = fixture(undefined, f.dev);
    expect(again.sys.sys_stat(w)).not.toBe(ENOENT);
    expect(again.kml).toEqual([]);
    // Not even a removal can log a record now: refused, nothing changed.
    expect(again.sys.sys_unlink('/filler')).toBe(ENOSPC);
    again.h.shutdown();
    expect(checkImage(f.dev, f.kml, 7, 1)).toEqual([]);
  });

  it('a close left pending at mount goes into the KML before the next change, once a removal made room', () => {
    const { f, w } = stuck(172);
    const again = fixture(undefined, f.dev);
    expect(again.kml).toEqual([]);
    expect(again.sys.sys_unlink('/filler')).toBe(0);
    again.h.world.sched.runFor(6_000_000);
    expect(again.sys.sys_mkdir('/after', 0o755)).toBe(0);
    expect(again.kml).toEqual(['UNLINK /', `CLOSE ${w}`, 'MKDIR /after']);
    again.h.shutdown();
    expect(checkImage(f.dev, [...f.kml, ...again.kml], 7)).toEqual([]);
  });
});
