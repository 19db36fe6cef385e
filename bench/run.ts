/**
 * run.ts: `npm run bench`: micro-benchmarks of the hot paths, printed as operations per second,
 * then the side-by-side figure (bench/compare.ts: node:fs, memfs, ramfs, ext3, presto on one
 * workload, by CPU and wall time) and the multi-node figure. `--json FILE` also writes the two
 * figures as JSON. `npm run bench:report` regenerates docs/performance.md (bench/report.ts).
 * Real time is measured here and only here (never in tests). Not run by CI.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { BlockDevice } from '../kernel/blkdev.ts';
import { Prng } from '../sim/prng.ts';
import { Scheduler } from '../sim/scheduler.ts';
import { World } from '../sim/host.ts';
import { runSync } from '../kernel/sched.ts';
import {
  sys_accept, sys_bind, sys_close, sys_connect, sys_listen, sys_open, sys_recv, sys_send, sys_socket, sys_unlink,
  sys_write,
} from '../kernel/syscalls.ts';
import { AF_INET, MSG_WAITALL, SOCK_STREAM } from '../kernel/socket.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import type { LinkSpec } from '../sim/network.ts';
import { O_CREAT, O_WRONLY } from '../kernel/fs.ts';
import { mkfs } from '../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../fs/ext3/super.ts';
import { intermezzo_fs_type } from '../fs/intermezzo/super.ts';
import { kml_decode, kml_encode, ZERO_VERSION, type KmlRecord } from '../fs/intermezzo/kml.ts';
import { multiNode, multiNodeReport } from './multinode.ts';
import { compare, compareTable, nodeFs } from './compare.ts';

function bench(name: string, ops: number, fn: () => void): void {
  fn(); // warm up
  const t0 = performance.now();
  fn();
  const ms = performance.now() - t0;
  console.log(`${name.padEnd(44)} ${Math.round((ops / ms) * 1000).toLocaleString('en').padStart(14)} ops/s`);
}

const N = 1_000_000;
bench('prng u32', N, () => {
  const p = Prng.fromSeed(1);
  for (let i = 0; i < N; i++) p.u32();
});
bench('scheduler events', 200_000, () => {
  const s = new Scheduler();
  for (let i = 0; i < 200_000; i++) s.after(i % 1000, 'e', () => {});
  s.runUntilQuiescent();
});
const blk = new Uint8Array(4096).fill(7);
bench('blkdev 4 KiB writes (pending)', 100_000, () => {
  const d = new BlockDevice({ name: 'd', blockSize: 4096, blocks: 1 << 20 });
  for (let i = 0; i < 100_000; i++) d.write(i % 50_000, blk);
});
bench('blkdev 4 KiB reads', 100_000, () => {
  const d = new BlockDevice({ name: 'd', blockSize: 4096, blocks: 1 << 20 });
  for (let i = 0; i < 1000; i++) d.write(i, blk);
  const dst = new Uint8Array(4096);
  for (let i = 0; i < 100_000; i++) d.read(i % 2000, dst);
});
bench('blkdev crash image, 10k pending blocks', 1, () => {
  const d = new BlockDevice({ name: 'd', blockSize: 1024, blocks: 1 << 16 });
  for (let i = 0; i < 10_000; i++) d.write(i, new Uint8Array(1024));
  d.crash({ random: Prng.fromSeed(2) });
});
bench('ramfs create+write 4 KiB+close+unlink', 20_000, () => {
  const w = new World({ seed: 1 });
  const h = w.addHost('h');
  h.mountRoot('ramfs', null);
  const p = h.process('b');
  for (let i = 0; i < 20_000; i++) {
    const fd = runSync(sys_open(p, `/f${i % 100}`, O_CREAT | O_WRONLY, 0o644)) as number;
    runSync(sys_write(p, fd, blk));
    runSync(sys_close(p, fd));
    runSync(sys_unlink(p, `/f${i % 100}`));
  }
});

/** The same small-file workload on ext3 and on presto over ext3: the cost of logging every change. */
function fileWorkload(fstype: 'ext3' | 'intermezzo', ops: number): void {
  const w = new World({ seed: 1 });
  const h = w.addHost('h');
  h.registerFs(ext3_fs_type);
  h.registerFs(intermezzo_fs_type);
  const dev = h.addDisk('hda', { blockSize: 1024, blocks: 65536 });
  const geo = mkfs(dev, { blockSize: 1024, uuid: new Uint8Array(16).fill(1), time: 1_009_843_200, journalBlocks: 4096 });
  if (typeof geo === 'string') throw new Error(geo);
  h.mountRoot(fstype, 'hda', fstype === 'ext3' ? 'data=ordered' : 'cache_type=ext3,fileset=f,data=ordered');
  const p = h.process('b');
  h.run(p, (function* () {
    for (let i = 0; i < ops; i++) {
      const fd = (yield* sys_open(p, `/f${i % 100}`, O_CREAT | O_WRONLY, 0o644)) as number;
      yield* sys_write(p, fd, blk);
      yield* sys_close(p, fd);
      yield* sys_unlink(p, `/f${i % 100}`);
    }
    return 0;
  })());
}
bench('ext3 create+write 4 KiB+close+unlink', 2000, () => fileWorkload('ext3', 2000));
bench('presto/ext3 create+write 4 KiB+close+unlink', 2000, () => fileWorkload('intermezzo', 2000));
const sample: KmlRecord = {
  pid: 1, auid: 0, fsuid: 0, fsgid: 0, groups: [0], recno: 1, time: 1,
  body: { op: 'MKDIR', old_parent: ZERO_VERSION, new_parent: ZERO_VERSION, new_object: ZERO_VERSION,
    mode: 0o40755, uid: 0, gid: 0, path: '/some/directory/name' },
};
bench('kml encode+decode (MKDIR record)', 200_000, () => {
  for (let i = 0; i < 200_000; i++) kml_decode(kml_encode(sample), 0);
});

/**
 * TCP through the simulated network: a server on host a:80 runs `serve` on the one connection it
 * accepts; host b connects and runs `client`; the whole world runs to quiescence. Returns the wall
 * time (ms), the scheduler events and the simulated µs of the run.
 */
type Side = (p: Process, fd: number) => Sys<unknown>;
function tcpRun(network: LinkSpec | undefined, serve: Side, client: Side): { ms: number; events: number; sim: number } {
  const w = new World({ seed: 1, ...(network === undefined ? {} : { network }) });
  const [a, b] = [w.addHost('a'), w.addHost('b')];
  a.mountRoot('ramfs', null);
  b.mountRoot('ramfs', null);
  const srv = a.process('srv');
  a.kernel.spawn(srv, (function* () {
    const l = (yield* sys_socket(srv, AF_INET, SOCK_STREAM)) as number;
    yield* sys_bind(srv, l, { host: '*', port: 80 });
    yield* sys_listen(srv, l, 5);
    yield* serve(srv, ((yield* sys_accept(srv, l)) as { fd: number }).fd);
    return 0;
  })());
  const cli = b.process('cli');
  const t0 = performance.now();
  const e0 = w.sched.executed;
  b.run(cli, (function* () {
    const fd = (yield* sys_socket(cli, AF_INET, SOCK_STREAM)) as number;
    yield* sys_connect(cli, fd, { host: 'a', port: 80 });
    yield* client(cli, fd);
    yield* sys_close(cli, fd);
    return 0;
  })());
  w.runUntilQuiescent();
  return { ms: performance.now() - t0, events: w.sched.executed - e0, sim: w.sched.now() };
}

const fmt = (x: number): string => Math.round(x).toLocaleString('en').padStart(14);

const bulk = new Uint8Array(64 * 1024 * 1024).fill(3);
const b1 = tcpRun({ latency: 50, bandwidth: 125_000_000 }, function* (p, fd) {
  const buf = new Uint8Array(1 << 20);
  while (((yield* sys_recv(p, fd, buf)) as number) > 0);
}, (p, fd) => sys_send(p, fd, bulk));
console.log(`${'tcp bulk 64 MiB, 1 Gbit/s link: bytes/s'.padEnd(44)} ${fmt(bulk.length / b1.ms * 1000)} B/s wall`);
console.log(`${'  scheduler events/s'.padEnd(44)} ${fmt(b1.events / b1.ms * 1000)} events/s (${b1.events} events)`);
console.log(`${'  simulated/wall time'.padEnd(44)} ${(b1.sim / 1000 / b1.ms).toFixed(2).padStart(14)}x`);

const ROUNDS = 20_000;
const b2 = tcpRun(undefined, function* (p, fd) {
  const buf = new Uint8Array(200);
  while (((yield* sys_recv(p, fd, buf, MSG_WAITALL)) as number) > 0) yield* sys_send(p, fd, buf);
}, function* (p, fd) {
  const msg = new Uint8Array(200).fill(1);
  const buf = new Uint8Array(200);
  for (let i = 0; i < ROUNDS; i++) {
    yield* sys_send(p, fd, msg);
    yield* sys_recv(p, fd, buf, MSG_WAITALL);
  }
});
console.log(`${`tcp ${ROUNDS} round trips of 200 bytes`.padEnd(44)} ${fmt(ROUNDS / b2.ms * 1000)} ops/s`);
const perOp = (b2.events / ROUNDS).toFixed(1);
console.log(`${'  scheduler events/s'.padEnd(44)} ${fmt(b2.events / b2.ms * 1000)} events/s (${perOp}/op)`);

// The multi-node figure (issue 11's goal: 10,000 operations in under 1 s of wall time, at least
// 100,000 simulated events per second).
const cluster = multiNode(Number(process.env.BENCH_CLUSTER_OPS ?? 10_000));
console.log(multiNodeReport(cluster));

const OPS = Number(process.env.BENCH_COMPARE_OPS ?? 10_000);
const ROUNDS_CMP = Number(process.env.BENCH_COMPARE_ROUNDS ?? 7);
console.log(`\nside by side: ${OPS} operations, ${ROUNDS_CMP} interleaved rounds; node:fs on ${nodeFs().where}`);
const figures = compare(OPS, ROUNDS_CMP);
console.log(compareTable(figures));
const at = process.argv.indexOf('--json');
if (at >= 0) {
  const file = process.argv[at + 1];
  if (file === undefined) throw new Error('--json needs a file name');
  writeFileSync(file, JSON.stringify({ compare: { ops: OPS, rounds: ROUNDS_CMP, figures }, cluster }, null, 2) + '\n');
}
