/**
 * demo.ts: what `npm start` shows: the layers that exist, at work, in one seeded world.
 *
 * Layer: user-space entry point (builds a simulated world). Everything printed is made from trace
 * events and statistics, the same data any other output of the project comes from. The run is a
 * pure function of the seed: the trace hash at the end is the same on every machine.
 */
import { BlockDevice, PowerCut } from '../../kernel/blkdev.ts';
import type { TraceEventMap } from '../../kernel/trace.ts';
import { isErr } from '../../kernel/errno.ts';
import { sleepFor, sleepOn, wakeUp, WaitQueue, type Sys } from '../../kernel/sched.ts';
import type { TraceRecord } from '../../sim/trace.ts';
import { World } from '../../sim/host.ts';
import { journal_create, journal_load, journalIo, type JournalPlacement } from '../../fs/jbd/journal.ts';
import { journal_start_thread } from '../../fs/jbd/commit.ts';
import {
  journal_dirty_metadata, journal_get_write_access, journal_start, journal_stop, type JbdBuffer,
} from '../../fs/jbd/transaction.ts';
import { journal_recover } from '../../fs/jbd/recovery.ts';
import { formatStatus, parseScript, runScript } from '../sh.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../fs/ext3/super.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { sys_statfs, sys_sync } from '../../kernel/syscalls.ts';
import { EPOCH_BASE_SEC } from '../../kernel/types.ts';
import { prestoPart } from './demo_presto.ts';

export const DEFAULT_SEED = 2002;

function section(title: string): string {
  return `\n== ${title} ${'='.repeat(Math.max(0, 70 - title.length))}\n`;
}

/** Part 1: tasks writing blocks; one sleeps on a wait queue until another wakes it; a crash. */
function blockDevicePart(w: World): string {
  const h = w.addHost('alpha');
  const dev = h.addDisk('hda', { blockSize: 1024, blocks: 64 * 1024 });
  const rng = w.rng.stream('workload');
  const flushed = new WaitQueue('demo.flushed');
  const think = (lo: number, hi: number): Sys<void> => sleepFor(rng.between(lo, hi), 'demo.think');
  const put = (blk: number, fua = false): void => {
    dev.write(blk, new Uint8Array(1024).fill(rng.below(256)), { fua });
  };
  h.kernel.kthread_run('writer', (function* () {
    for (let i = 0; i < 3; i++) {
      put(1 + rng.below(3));
      yield* think(10, 20);
    }
    dev.flush();
    wakeUp(flushed);
    for (let i = 0; i < 4; i++) {
      yield* think(10, 40);
      put(1 + rng.below(3));
    }
    return 0;
  })());
  h.kernel.kthread_run('logger', (function* () {
    yield* sleepOn(flushed, 'demo.wait_for_flush');
    put(100, true);
    return 0;
  })());
  h.kernel.kthread_run('scribbler', (function* () {
    for (let i = 0; i < 4; i++) {
      yield* think(20, 50);
      put(20 + rng.below(2));
    }
    return 0;
  })());
  w.runUntilQuiescent();
  dev.crash({ random: w.rng.stream('crash/alpha'), tearChance: [1, 3] });
  let out = section('1. A disk with a volatile write cache');
  out += '  Three tasks share one disk: writer (blocks 1-3) flushes, then wakes logger, asleep on a\n'
    + '  wait queue, which writes block 100 with FUA; scribbler (blocks 20-21) never flushes.\n';
  const events = w.trace.records().filter((r) => r.host === 'alpha');
  out += events.map(timelineLine(events)).filter((l) => l !== '').join('');
  out += crashReport(events);
  const st = dev.stats;
  const flushes = `${st.flushes} flush${st.flushes === 1 ? '' : 'es'}`;
  out += `  device stats: ${st.writes} writes (${st.fuaWrites} FUA), ${flushes}, `
    + `${st.reads} reads, ${st.bytesWritten} bytes written, ${st.faults} faults\n`;
  return out;
}

type Ev<K extends keyof TraceEventMap> = TraceEventMap[K];

/** One line of part 1's timeline per interesting event (think-time sleeps are left out). */
function timelineLine(events: readonly TraceRecord[]): (r: TraceRecord) => string {
  const comm = new Map<number, string>();
  for (const r of events) {
    if (r.ev === 'task.spawn') comm.set((r.data as Ev<'task.spawn'>).pid, (r.data as Ev<'task.spawn'>).comm);
  }
  const at = (r: TraceRecord, who: string, what: string): string =>
    `  t=${String(r.t).padStart(4)}us  ${who.padEnd(10)} ${what}\n`;
  const name = (pid: number): string => comm.get(pid) ?? `pid ${pid}`;
  return (r) => {
    if (r.ev === 'blkdev.write') {
      const d = r.data as Ev<'blkdev.write'>;
      const what = d.fua ? ' with FUA: durable at once' : ': pending in the cache';
      return at(r, 'disk', `write block ${d.blk} (I/O ${d.seq})${what}`);
    }
    if (r.ev === 'blkdev.flush') {
      return at(r, 'disk', `flush (I/O ${(r.data as Ev<'blkdev.flush'>).seq}): every pending write durable`);
    }
    if (r.ev === 'task.sleep') {
      const d = r.data as Ev<'task.sleep'>;
      if (d.point === 'demo.think') return '';
      return at(r, name(d.pid), `sleeps at ${d.point}${d.timeout === null ? ' (no timeout)' : ''}`);
    }
    if (r.ev === 'task.wake') {
      const d = r.data as Ev<'task.wake'>;
      return d.reason === 'timeout' && d.point === 'demo.think' ? '' : at(r, name(d.pid), `${d.reason} at ${d.point}`);
    }
    if (r.ev === 'task.exit') return at(r, name((r.data as Ev<'task.exit'>).pid), 'exits');
    return '';
  };
}

/** What was pending when the power failed (rebuilt from the write/flush events) and what survived. */
function crashReport(events: readonly TraceRecord[]): string {
  const pending = new Map<number, number[]>();
  for (const r of events) {
    if (r.ev === 'blkdev.flush') pending.clear();
    if (r.ev !== 'blkdev.write') continue;
    const d = r.data as Ev<'blkdev.write'>;
    if (d.fua) pending.delete(d.blk);
    else pending.set(d.blk, [...(pending.get(d.blk) ?? []), d.seq]);
  }
  const kept = events.filter((r) => r.ev === 'blkdev.crash_block').map((r) => r.data as Ev<'blkdev.crash_block'>);
  let out = `  *** power fails; ${pending.size} blocks are pending (written since the last flush, not FUA) ***\n`;
  let newest = 0;
  for (const c of kept) {
    const seqs = pending.get(c.blk) ?? [];
    const io = (v: number): string => (v === 0 ? 'the durable content' : `I/O ${seqs[v - 1] ?? '?'}`);
    const full = (1 << (1024 / 512)) - 1;
    const torn = c.tornMask !== null && c.tornMask !== full;
    const what = c.version === 0 ? 'the durable content (its pending writes are lost)'
      : `${io(c.version)}${c.version === c.choices - 1 ? ' (the newest)' : ' (an older write)'}`;
    const mask = c.tornMask ?? 0;
    const tear = !torn ? ''
      : `, torn: sector ${sectorList(mask, true)} from it, ${sectorList(mask, false)} from ${io(c.version - 1)}`;
    out += `    block ${String(c.blk).padStart(3)}: pending I/O ${seqs.join(', ').padEnd(10)} -> kept ${what}${tear}\n`;
    if (c.version === c.choices - 1 && !torn) newest++;
  }
  out += `  durable image vs the cache: ${newest} of ${kept.length} pending blocks read back as last written; `
    + `${kept.length - newest} lost their newest write\n`;
  return out;
}

function sectorList(mask: number, set: boolean): string {
  const s = [0, 1].filter((i) => (((mask >>> i) & 1) === 1) === set);
  return s.length === 0 ? 'none' : s.join('+');
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
  const bufs = Array.from({ length: 6 }, (_, i): JbdBuffer => (
    { blk: 100 + i, data: new Uint8Array(1024), dirty: false, jh: null }
  ));
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
  const commits = w.trace.records()
    .filter((r) => r.host === 'beta' && r.ev === 'jbd.commit' && (r.data as { phase: string }).phase === 'commit');
  const crashAt = Math.floor(dev.log().length * 0.8);
  const crashed = dev.crashAfterIos(crashAt, { random: w.rng.stream('crash/beta') });
  const rec = journal_recover(journalIo({ dev: crashed, map: placement.map }, 1024));
  let out = section('2. The journal (JBD): transactions, a crash, recovery');
  out += commits.map(show).join('');
  out += `  ${j.stats.commits} commits, ${j.stats.blocksLogged} blocks logged; `
    + `power fails after I/O ${crashAt} of ${dev.log().length}\n`;
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
  const script = 'mkdir /fset\nwrite /fset/hello "hi there"\nln /fset/hello /fset/link\nstat /fset/link\n'
    + 'as 1000:1000\nwrite /fset/nope x\nrm /fset/hello';
  const parsed = parseScript(script);
  if ('errors' in parsed) return 'bad demo script\n';
  const p = h.process('sh');
  const status = formatStatus(h.run(p, runScript(p, parsed.commands))).split('\n');
  let out = section('3. The VFS: a script on ramfs (izo sh --status form)');
  parsed.commands.forEach((c, i) => {
    const line = [c.name, ...c.args.map((a) => (/\s/.test(a) ? JSON.stringify(a) : a))].join(' ');
    out += `  ${line.padEnd(34)} -> ${status[i] ?? ''}\n`;
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
  out += `  mkfs: ${geo.blocks} blocks of 1024 in ${geo.groups} group(s), ${geo.inodesPerGroup * geo.groups} inodes; `
    + 'root is inode 2, lost+found 11\n';
  const names = new Map<number, string>([[2, '/']]);
  for (const r of events) {
    const d = r.data as Record<string, number | string | boolean>;
    if (r.ev === 'ext3.new_inode') {
      out += `  inode ${d['ino']} allocated in group ${d['group']}${d['dir'] === true ? ' (a directory)' : ''}\n`;
    }
    if (r.ev === 'ext3.add_entry') {
      const parent = names.get(d['dir'] as number);
      const path = `${parent ?? '?'}${parent === '/' ? '' : '/'}${d['name']}`;
      names.set(d['ino'] as number, path);
      out += `    entry ${JSON.stringify(d['name'])} -> inode ${d['ino']} in directory ${d['dir']}'s block ${d['blk']} `
        + `at byte ${d['offset']}  (${path})\n`;
    }
    if (r.ev === 'ext3.del_entry') out += `    entry ${JSON.stringify(d['name'])} removed from directory ${d['dir']}\n`;
  }
  const allocated = events.filter((r) => r.ev === 'ext3.new_block').length;
  const freed = events.filter((r) => r.ev === 'ext3.free_block').length;
  const freedInodes = events.filter((r) => r.ev === 'ext3.free_inode').map((r) => (r.data as { ino: number }).ino);
  out += `  blocks: ${allocated} allocated, ${freed} freed again (the photo: data and its indirect block); `
    + `inodes freed: ${freedInodes.join(', ') || 'none'}\n`;
  const st = h.run(p, sys_statfs(p, '/'));
  if (typeof st === 'object') {
    out += `  bitmaps now: ${st.f_bfree} of ${st.f_blocks} blocks free, ${st.f_ffree} of ${st.f_files} inodes free\n`;
  }
  const problems = fsck(dev);
  out += `  fsck (passes 0-5, read-only): ${verdict(problems)}\n`;
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
    out += `  reboot: the journal needed recovery: ${d.transactions} committed transactions replayed `
      + `(${d.replayed} blocks, ${d.revoked} revoked)\n`;
  }
  const p2 = h2.process('check');
  const parsed = parseScript('cat /mail/inbox\nls /mail') as { commands: Parameters<typeof runScript>[1] };
  const res = h2.run(p2, runScript(p2, parsed.commands));
  const inbox = res[0]?.status === 'ok' ? JSON.stringify(res[0].output) : res[0]?.status;
  const listing = JSON.stringify(res[1]?.output ?? res[1]?.status);
  out += `  after recovery: cat /mail/inbox -> ${inbox}; ls /mail -> ${listing}\n`;
  h2.shutdown();
  const problems = fsck(crashed);
  out += `  fsck after the clean unmount: ${verdict(problems)}\n`;
  return out;
}

function verdict(problems: ReadonlyArray<{ readonly code: string }>): string {
  return problems.length === 0 ? 'clean' : problems.map((x) => x.code).join(', ');
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
  out += prestoPart(w, section);
  out += section('trace');
  out += `  ${w.trace.count} events, hash ${w.trace.hash()}\n`;
  return out;
}
