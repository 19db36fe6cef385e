/**
 * crashtest.ts: `izo crashtest`: exhaustive crash-consistency testing of ext3/JBD (src/crash/).
 *
 * Layer: user-space tool (builds worlds, starts worker threads, measures real time, runs e2fsck).
 * Interface: options choose the workloads (`--ops N` or `--ops A..B`, `--sample N`), the file
 * system (`--mode`, or `--mode all` for the three in turn; `--no-barrier`, `--aged`), the
 * negative controls (`--lying-flush`, `--broken-recovery MODE`), the sampling seed and caps
 * (`--seed`, `--max-states`), the threads (`--jobs`), and a cross-check of N crash states with
 * Linux's `e2fsck -fy` (`--e2fsck N`).
 * stdout gets the configuration, the figures, the violations by property and, per listed
 * violation, a reproducer; `--replay TOKEN` runs one again. It is the same for any `--jobs`.
 * stderr gets the progress bar and the time taken. Exit status: 0 no violation, 1 violations,
 * 2 bad usage.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Prng } from '../../sim/prng.ts';
import { loadImage, saveImage } from '../image.ts';
import { recover } from '../crash/check.ts';
import { treeDiff } from '../crash/oracle.ts';
import { runPool } from '../crash/pool.ts';
import { host, mountData, record, snapshot, type BrokenRecovery, type DataMode } from '../crash/record.ts';
import {
  describeConfig, formatSummary, parseReproducer, planWorkloads, replay, summarize, type RunPlan,
} from '../crash/run.ts';
import { crashStates, formatState, imageOf } from '../crash/states.ts';
import { MAX_OPS, workloadAt, workloadLines } from '../crash/workload.ts';
import { parseCommand, parseNatural, UsageError, type OptionTable, type Subcommand } from './command.ts';

const MODES: readonly DataMode[] = ['ordered', 'journal', 'writeback'];
const BROKEN: readonly BrokenRecovery[] = ['skip-revoke', 'first-transaction-only'];

const CRASHTEST_OPTIONS: OptionTable = {
  ops: {
    type: 'string', arg: 'N|A..B', default: '1..2',
    help: 'workload lengths: every workload of A to B operations',
  },
  mode: {
    type: 'string', arg: 'ordered|journal|writeback|all', default: 'ordered',
    help: 'ext3 data mode (all: each in turn)',
  },
  'no-barrier': { type: 'boolean', help: 'mount with barrier=0' },
  aged: { type: 'boolean', help: 'start from an aged file system' },
  seed: { type: 'string', arg: 'S', default: '1', help: 'the seed' },
  'max-states': { type: 'string', arg: 'N', default: '100000', help: 'crash states checked at most per workload' },
  jobs: { type: 'string', arg: 'N', help: 'worker threads (default: the number of cores)' },
  sample: { type: 'string', arg: 'N', help: 'check N sampled workloads instead of all' },
  'lying-flush': {
    type: 'boolean',
    help: 'a device that acknowledges flushes without doing them (a negative control)',
  },
  'broken-recovery': {
    type: 'string', arg: 'skip-revoke|first-transaction-only',
    help: 'a deliberately broken recovery (a negative control)',
  },
  e2fsck: { type: 'string', arg: 'N', default: '0', help: 'also judge N crash states with the real e2fsck' },
  replay: { type: 'string', arg: 'TOKEN', help: 'replay one reported violation' },
  quiet: { type: 'boolean', help: 'print only the summary' },
};

export const CRASHTEST: Subcommand = {
  options: CRASHTEST_OPTIONS,
  name: 'crashtest',
  usage: 'izo crashtest [--ops 1..3] [--mode ordered|journal|writeback|all] [--no-barrier] [--aged] [--seed S] '
    + '[--max-states N] [--jobs N] [--sample N] [--lying-flush] [--broken-recovery skip-revoke|first-transaction-only] '
    + '[--e2fsck N] [--replay TOKEN]',
  summary: 'crash ext3 after every write of every small workload; recover; check the journal\'s promises '
    + '(exit 1 on any violation)',
  run: (args) => crashtest(args),
};

function parseOps(s: string): [number, number] {
  const m = /^([1-9])(?:\.\.([1-9]))?$/.exec(s);
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (m === null || hi > MAX_OPS || lo > hi) {
    throw new UsageError(`--ops must be N or A..B within 1..${MAX_OPS}, got '${s}'`);
  }
  return m[2] === undefined ? [1, hi] : [lo, hi];
}

function planOf(values: Record<string, string | boolean | undefined>): RunPlan {
  const mode = (values.mode ?? 'ordered') as DataMode;
  if (!MODES.includes(mode)) {
    throw new UsageError(`--mode must be ordered, journal, writeback or all, got '${String(mode)}'`);
  }
  const broken = (values['broken-recovery'] ?? 'none') as BrokenRecovery;
  if (broken !== 'none' && !BROKEN.includes(broken)) {
    throw new UsageError(`--broken-recovery must be skip-revoke or first-transaction-only, got '${String(broken)}'`);
  }
  const [minOps, maxOps] = parseOps(String(values.ops ?? '1..2'));
  const given = values['max-states'];
  const maxStates = given === undefined ? 100_000 : parseNatural('--max-states', String(given));
  if (maxStates < 1) throw new UsageError('--max-states must be at least 1');
  return {
    cfg: {
      mode, barrier: values['no-barrier'] !== true, aged: values.aged === true,
      lyingFlush: values['lying-flush'] === true, brokenRecovery: broken,
      seed: values.seed === undefined ? 1 : parseNatural('--seed', String(values.seed)), maxStates,
    },
    minOps, maxOps,
    sample: values.sample === undefined ? null : parseNatural('--sample', String(values.sample)),
  };
}

async function crashtest(args: string[]): Promise<number> {
  const { values, positionals } = parseCommand(CRASHTEST_OPTIONS, args);
  if (positionals.length > 0) throw new UsageError(`crashtest takes no arguments, got '${positionals.join(' ')}'`);
  if (values.replay !== undefined) {
    const r = parseReproducer(String(values.replay), 1);
    if (typeof r === 'string') throw new UsageError(r);
    const { report, violations } = replay(r);
    process.stdout.write(report);
    return violations === 0 ? 0 : 1;
  }
  // --mode all: the three modes one after the other, each with its own figures.
  const modes = values.mode === 'all' ? MODES : [values.mode];
  const plans = modes.map((mode) => planOf({ ...values, mode }));
  const jobs = values.jobs === undefined ? availableParallelism() : parseNatural('--jobs', String(values.jobs));
  if (jobs < 1) throw new UsageError('--jobs must be at least 1');
  const e2 = values.e2fsck === undefined ? 0 : parseNatural('--e2fsck', String(values.e2fsck));
  let status = 0;
  for (const plan of plans) status = Math.max(status, await runPlan(plan, jobs, e2, values.quiet === true));
  return status;
}

async function runPlan(plan: RunPlan, jobs: number, e2: number, quiet: boolean): Promise<number> {
  const indexes = planWorkloads(plan);
  const ops = plan.minOps === plan.maxOps ? `${plan.minOps}` : `${plan.minOps}..${plan.maxOps}`;
  process.stdout.write(`izo crashtest: ${describeConfig(plan.cfg)}, operations ${ops}, `
    + `${indexes.length} workloads${plan.sample === null ? '' : ' (seeded sample)'}\n`);
  const started = process.hrtime.bigint();
  const bar = progressBar(quiet);
  const results = await runPool(plan, indexes, jobs, bar);
  process.stderr.write(bar.end());
  const summary = summarize(results);
  process.stdout.write(formatSummary(plan, summary));
  let bad = summary.violations;
  if (e2 > 0) {
    const x = crossCheck(plan, indexes, e2);
    const d = x.disagreements.length;
    process.stdout.write(`e2fsck -fy cross-check: ${x.checked} crash states, ${d} disagreements\n`);
    for (const d of x.disagreements.slice(0, 10)) process.stdout.write(`  ${d}\n`);
    bad += x.disagreements.length;
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  process.stderr.write(`time ${seconds.toFixed(1)} s on ${jobs} thread${jobs === 1 ? '' : 's'}\n`);
  return bad === 0 ? 0 : 1;
}

interface Bar {
  (done: number, total: number, violations: number): void;
  end(): string;
}

/** A one-line bar redrawn on a terminal; on a pipe, a line at every tenth. */
function progressBar(quiet: boolean): Bar {
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  const f = ((done: number, total: number, violations: number): void => {
    if (quiet) return;
    const width = 30;
    const filled = Math.round((width * done) / total);
    const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
    const line = `${bar} ${done}/${total} workloads, ${violations} violations`;
    if (tty) process.stderr.write(`\r${line}`);
    else if (Math.floor((10 * done) / total) > lastTenth) {
      lastTenth = Math.floor((10 * done) / total);
      process.stderr.write(`${line}\n`);
    }
  }) as Bar;
  f.end = () => (tty && !quiet ? '\n' : '');
  return f;
}

function e2fsckPath(): string {
  return ['/sbin/e2fsck', '/usr/sbin/e2fsck'].find((p) => existsSync(p)) ?? 'e2fsck';
}

/**
 * Our recovery against Linux's: for `n` seeded crash states, `e2fsck -fy` on the crash image (it
 * replays the journal and repairs), then our mount of its result, must give the tree our own
 * recovery gives. Runs in this thread (few states; e2fsck is a process each).
 */
export function crossCheck(
  plan: RunPlan, indexes: readonly number[], n: number,
): { checked: number; disagreements: string[] } {
  const rng = Prng.fromSeed(plan.cfg.seed).stream('crash/e2fsck');
  const dir = mkdtempSync(join(tmpdir(), 'izo-crashtest-'));
  const disagreements: string[] = [];
  let checked = 0;
  try {
    for (let k = 0; k < n && indexes.length > 0; k++) {
      const index = indexes[rng.below(indexes.length)] as number;
      const rec = record(plan.cfg, workloadLines(workloadAt(index, plan.maxOps, plan.minOps)));
      const states = crashStates(rec.dev, rec.journalMap, rng, plan.cfg.maxStates);
      const s = states[rng.below(states.length)];
      if (s === undefined) continue;
      const where = `workload ${index}, crash state ${formatState(s)}`;
      const ours = recover(imageOf(rec.dev, s), plan.cfg);
      const path = join(dir, `${k}.img`);
      saveImage(path, imageOf(rec.dev, s));
      let status = 0;
      try {
        execFileSync(e2fsckPath(), ['-fy', path], { stdio: 'pipe' });
      } catch (e) {
        status = (e as { status?: number }).status ?? 8;
      }
      checked++;
      if (status >= 4) {
        disagreements.push(`${where}: e2fsck -fy exit ${status}`);
        continue;
      }
      const h = host(loadImage(path, 1024, 'hda'), mountData(plan.cfg), 3);
      const theirs = snapshot(h, h.process('check'));
      h.shutdown();
      const diff = ours.tree === null ? ['our recovery failed'] : treeDiff(ours.tree, theirs, false);
      if (diff.length > 0) disagreements.push(`${where}: ${diff.slice(0, 2).join('; ')}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return { checked, disagreements };
}
