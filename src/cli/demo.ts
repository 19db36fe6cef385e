/**
 * demo.ts: what `npm start` shows: the layers that exist, at work, in one seeded world.
 *
 * Layer: user-space entry point (builds a simulated world). Everything printed is made from trace
 * events and statistics, the same data any other output of the project comes from. The run is a
 * pure function of the seed: the trace hash at the end is the same on every machine.
 */
import { BlockDevice, PowerCut, type CrashOutcome } from '../../kernel/blkdev.ts';
import { isErr } from '../../kernel/errno.ts';
import { sleepFor, sleepOn, wakeUp, WaitQueue, type Sys } from '../../kernel/sched.ts';
import type { TraceRecord } from '../../sim/trace.ts';
import { World } from '../../sim/host.ts';
import { journal_create, journal_load, journalIo, type JournalPlacement } from '../../fs/jbd/journal.ts';
import { journal_start_thread } from '../../fs/jbd/commit.ts';
import { journal_dirty_metadata, journal_get_write_access, journal_start, journal_stop, type JbdBuffer } from '../../fs/jbd/transaction.ts';
import { journal_recover } from '../../fs/jbd/recovery.ts';
import { formatStatus, parseScript, runScript } from '../sh.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../fs/ext3/super.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { sys_statfs, sys_sync } from '../../kernel/syscalls.ts';
import { EPOCH_BASE_SEC } from '../../kernel/types.ts';

export const DEFAULT_SEED = 2002;

function section(title: string): string {
  return `\n== ${title} ${'='.repeat(Math.max(0, 70 - title.length))}\n`;
}

/** Part 1: tasks writing blocks; one sleeps at a named point until another wakes it; a crash. */
function blockDevicePart(w: World): string {
  const h = w.addHost('alpha');
  const dev = h.addDisk('hda', { blockSize: 1024, blocks: 64 * 1024 });
  const rng = w.rng.stream('workload');
  const ready = new WaitQueue('demo.ready');
  const writer = (name: string, first: number): Sys<number> => (function* () {
    for (let i = 0; i < 4; i++) {
      const b = new Uint8Array(1024).fill(first + i);
      dev.write(first + rng.below(8), b);
      yield* sleepFor(10 + rng.below(50), 'demo.think');
    }
    if (name === 'w1') {
      dev.flush();
      wakeUp(ready);
    }
    return 0;
  })();
  h.kernel.kthread_run('w1', writer('w1', 10));
  h.kernel.kthread_run('w2', (function* () {
    yield* sleepOn(ready, 'demo.wait_for_w1');
    yield* writer('w2', 40);
    return 0;
  })());
  w.runUntilQuiescent();
  const pending = dev.pendingBlocks();
  const outcome: CrashOutcome[] = [];
  const crashed = dev.crash({ random: w.rng.stream('crash') }, outcome);
  let out = section('1. A disk with a volatile write cache');
  const events = w.trace.records().filter((r) => r.host === 'alpha');
  out += events.filter((r) => r.ev.startsWith('task.') || r.ev === 'blkdev.flush').slice(0, 14).map(show).join('');
  out += `  ... ${dev.stats.writes} writes, ${dev.stats.flushes} flush; ${pending.length} blocks still pending when the power fails\n`;
  for (const o of outcome) {
    out += `  block ${o.blk}: ${o.choices} possible contents; the crash kept ${o.version === 0 ? 'the durable one' : `pending version ${o.version}`}\n`;
  }
  out += `  crash image: ${[...crashed.writtenBlocks()].length} blocks written, all durable\n`;
  return out;
}

/** Part 2: a journal: handles join transactions, kjournald commits, a crash, recovery. */
function journalPart(w: World): string {
  const h = w.addHost('beta');
  const dev: BlockDevice = h.addDisk('hdb', { blockSize: 1024, blocks: 4096 });
  const placement: JournalPlacement = { dev, map: Array.from({ length: 1024 }, (_, i) => 2048 + i) };
  journal_create(placement, 1024, new Uint8Array(16).fill(0x5a));
  dev.flush();
  dev.startLog(); // crash points are counted from here: the journal exists and is durable
  const loaded = journal_load(h.kernel, placement, 1024, { barrier: true, commitInterval: 5_000, ioLatency: 200 });
  if (typeof loaded === 'string') return `journal: ${loaded}\n`;
  const j = loaded.journal;
  journal_start_thread(j);
  const bufs = Array.from({ length: 6 }, (_, i): JbdBuffer => ({ blk: 100 + i, data: new Uint8Array(1024), dirty: false, jh: null }));
  h.kernel.kthread_run('updater', (function* () {
    for (let op = 1; op <= 9; op++) {
      const handle = yield* journal_start(j, 2);
      if (isErr(handle)) return 1;
      for (const b of [bufs[op % 6]!, bufs[(op * 5) % 6]!]) {
        journal_get_write_access(handle, b);
        b.data.fill(op);
        journal_dirty_metadata(handle, b);
      }
      yield* journal_stop(handle);
      yield* sleepFor(1_500, 'demo.think');
    }
    return 0;
  })());
  w.runUntilQuiescent();
  const commits = w.trace.records().filter((r) => r.host === 'beta' && r.ev === 'jbd.commit' && (r.data as { phase: string }).phase === 'commit');
  const crashAt = Math.floor(dev.log().length * 0.8);
  const crashed = dev.crashAfterIos(crashAt, { random: w.rng.stream('crash/beta') });
  const rec = journal_recover(journalIo({ dev: crashed, map: placement.map }, 1024));
  let out = section('2. The journal (JBD): transactions, a crash, recovery');
  out += commits.map(show).join('');
  out += `  ${j.stats.commits} commits, ${j.stats.blocksLogged} blocks logged; power fails after I/O ${crashAt} of ${dev.log().length}\n`;
  if (typeof rec === 'string' || isErr(rec)) return `${out}  recovery failed: ${String(rec)}\n`;
  out += `  recovery found transactions ${rec.scan.transactions.map((t) => t.tid).join(', ') || 'none'} committed`;
  out += rec.scan.unfinished === null ? '' : ` (transaction ${rec.scan.unfinished.tid} unfinished: not replayed)`;
  out += `; replayed ${rec.replayed} blocks; ${rec.scan.stopReason}\n`;
  return out;
}

/** Part 3: the VFS: a shell script on ramfs, as a user would type it. */
function vfsPart(w: World): string {
  const h = w.addHost('gamma');
  h.mountRoot('ramfs', null);
  const script = 'mkdir /fset\nwrite /fset/hello "hi there"\nln /fset/hello /fset/link\nstat /fset/link\nas 1000:1000\nwrite /fset/nope x\nrm /fset/hello';
  const parsed = parseScript(script);
  if ('errors' in parsed) return 'bad demo script\n';
  const p = h.process('sh');
  const status = formatStatus(h.run(p, runScript(p, parsed.commands))).split('\n');
  let out = section('3. The VFS: a script on ramfs (izo sh --status form)');
  parsed.commands.forEach((c, i) => {
    out += `  ${[c.name, ...c.args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ').padEnd(34)} -> ${status[i] ?? ''}\n`;
  });
  return out;
}

/** Part 4: ext2 on a disk: a workload through the VFS, where it landed, and fsck's verdict. */
function ext2Part(w: World): string {
  const h = w.addHost('delta');
  const dev = h.addDisk('hdd', { blockSize: 1024, blocks: 8192 });
  const uuid = new Uint8Array(16);
  w.rng.stream('mkfs/delta').fill(uuid);
  const geo = mkfs(dev, { blockSize: 1024, uuid, time: EPOCH_BASE_SEC });
  if (typeof geo === 'string') return `mkfs: ${geo}\n`;
  h.registerFs(ext3_fs_type);
  h.mountRoot('ext3', 'hdd');
  const script = 'mkdir /home\nmkdir /home/ann\nwrite /home/ann/notes "meeting at 10"\nwriteb /home/ann/photo 30000 5\n'
    + 'symlink /home/ann/notes /notes\nln /home/ann/notes /home/ann/copy\nrm /home/ann/photo';
  const parsed = parseScript(script);
  if ('errors' in parsed) return 'bad demo script\n';
  const p = h.process('sh');
  const start = w.trace.count;
  h.run(p, runScript(p, parsed.commands));
  h.run(p, sys_sync(p));
  const events = w.trace.records().slice(start).filter((r) => r.host === 'delta');
  let out = section('4. ext2 on a disk: where a workload landed');
  out += `  mkfs: ${geo.blocks} blocks of 1024 in ${geo.groups} group(s), ${geo.inodesPerGroup * geo.groups} inodes; root is inode 2, lost+found 11\n`;
  const names = new Map<number, string>([[2, '/']]);
  for (const r of events) {
    const d = r.data as Record<string, number | string | boolean>;
    if (r.ev === 'ext3.new_inode') out += `  inode ${d['ino']} allocated in group ${d['group']}${d['dir'] === true ? ' (a directory)' : ''}\n`;
    if (r.ev === 'ext3.add_entry') {
      const path = `${names.get(d['dir'] as number) ?? '?'}${names.get(d['dir'] as number) === '/' ? '' : '/'}${d['name']}`;
      names.set(d['ino'] as number, path);
      out += `    entry ${JSON.stringify(d['name'])} -> inode ${d['ino']} in directory ${d['dir']}'s block ${d['blk']} at byte ${d['offset']}  (${path})\n`;
    }
    if (r.ev === 'ext3.del_entry') out += `    entry ${JSON.stringify(d['name'])} removed from directory ${d['dir']}\n`;
  }
  const allocated = events.filter((r) => r.ev === 'ext3.new_block').length;
  const freed = events.filter((r) => r.ev === 'ext3.free_block').length;
  const freedInodes = events.filter((r) => r.ev === 'ext3.free_inode').map((r) => (r.data as { ino: number }).ino);
  out += `  blocks: ${allocated} allocated, ${freed} freed again (the photo: data and its indirect block); inodes freed: ${freedInodes.join(', ') || 'none'}\n`;
  const st = h.run(p, sys_statfs(p, '/'));
  if (typeof st === 'object') out += `  bitmaps now: ${st.f_bfree} of ${st.f_blocks} blocks free, ${st.f_ffree} of ${st.f_files} inodes free\n`;
  const problems = fsck(dev);
  out += `  fsck (passes 0-5, read-only): ${problems.length === 0 ? 'clean' : problems.map((x) => x.code).join(', ')}\n`;
  return out;
}

/** Part 5: ext3: transactions a workload commits, a power cut, recovery at mount. */
function ext3Part(w: World): string {
  const h = w.addHost('epsilon');
  const dev = h.addDisk('hde', { blockSize: 1024, blocks: 8192 });
  const uuid = new Uint8Array(16);
  w.rng.stream('mkfs/epsilon').fill(uuid);
  const geo = mkfs(dev, { blockSize: 1024, uuid, time: EPOCH_BASE_SEC, journalBlocks: 1024 });
  if (typeof geo === 'string') return `mkfs: ${geo}\n`;
  h.registerFs(ext3_fs_type);
  const start = w.trace.count;
  dev.cutPowerAfterWrites(dev.stats.writes + 26);
  let out = section('5. ext3: transactions, a power cut, recovery at mount');
  const lines = ['mkdir /mail', 'write /mail/inbox "1 message"', 'fsync /mail/inbox', 'writeb /mail/attachment 9000 2',
    'append /mail/inbox ", 2 messages"', 'sync', 'rm /mail/attachment', 'write /mail/draft "unsent"', 'sync'];
  let crashed: BlockDevice | null = null;
  try {
    h.mountRoot('ext3', 'hde', 'data=ordered');
    const p = h.process('mua');
    for (const line of lines) {
      const parsed = parseScript(line);
      if ('errors' in parsed) return 'bad demo script\n';
      h.run(p, runScript(p, parsed.commands));
      out += `  $ ${line}\n`;
      w.sched.runFor(1_000_000);
    }
    h.shutdown();
  } catch (e) {
    if (!(e instanceof PowerCut)) throw e;
    crashed = dev.crash({ random: w.rng.stream('crash/epsilon') });
    out += `  *** power cut after the disk's ${dev.stats.writes}th write: pending writes survive at random ***\n`;
  }
  const ev = w.trace.records().slice(start).filter((r) => r.host === 'epsilon');
  const handles = new Map<number, number>();
  for (const r of ev) {
    if (r.ev !== 'jbd.start') continue;
    const tid = (r.data as { tid: number }).tid;
    handles.set(tid, (handles.get(tid) ?? 0) + 1);
  }
  for (const r of ev) {
    if (r.ev !== 'jbd.commit' || (r.data as { phase: string }).phase !== 'finished') continue;
    const d = r.data as { tid: number; blocks: number; revokes: number; data: number };
    out += `  transaction ${d.tid} committed: ${handles.get(d.tid) ?? 0} handles joined, ${d.blocks} blocks logged, `
      + `${d.revokes} revokes, ${d.data} ordered data blocks\n`;
  }
  if (crashed === null) return `${out}  (the workload finished before the power cut)\n`;
  const h2 = w.addHost('epsilon-reboot');
  h2.registerFs(ext3_fs_type);
  h2.addDisk('hde', crashed);
  const before = w.trace.count;
  h2.mountRoot('ext3', 'hde');
  const rec = w.trace.records().slice(before).find((r) => r.ev === 'jbd.recover');
  if (rec !== undefined) {
    const d = rec.data as { transactions: number; replayed: number; revoked: number };
    out += `  reboot: the journal needed recovery: ${d.transactions} committed transactions replayed (${d.replayed} blocks, ${d.revoked} revoked)\n`;
  }
  const p2 = h2.process('check');
  const parsed = parseScript('cat /mail/inbox\nls /mail') as { commands: Parameters<typeof runScript>[1] };
  const res = h2.run(p2, runScript(p2, parsed.commands));
  const inbox = res[0]?.status === 'ok' ? JSON.stringify(res[0].output) : res[0]?.status;
  out += `  after recovery: cat /mail/inbox -> ${inbox}; ls /mail -> ${JSON.stringify(res[1]?.output ?? res[1]?.status)}\n`;
  h2.shutdown();
  const problems = fsck(crashed);
  out += `  fsck after the clean unmount: ${problems.length === 0 ? 'clean' : problems.map((x) => x.code).join(', ')}\n`;
  return out;
}

function show(r: TraceRecord): string {
  const data = Object.entries(r.data as Record<string, unknown>).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(' ');
  return `  t=${String(r.t).padStart(6)}us ${r.host.padEnd(5)} ${r.ev.padEnd(14)} ${data}\n`;
}

export function demo(seed = DEFAULT_SEED): string {
  const w = new World({ seed, trace: { keep: true } });
  let out = `intermezzo-sim demo, seed ${seed} (run again with --seed N; same seed, same output)\n`;
  out += blockDevicePart(w);
  out += journalPart(w);
  out += vfsPart(w);
  out += ext2Part(w);
  out += ext3Part(w);
  out += section('trace');
  out += `  ${w.trace.count} events, hash ${w.trace.hash()}\n`;
  return out;
}
