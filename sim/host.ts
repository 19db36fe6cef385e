/**
 * host.ts: a simulated world and its hosts: scheduler, trace, seeded streams, kernels and disks.
 *
 * Layer: simulation (wires everything together; may import every layer). Interface:
 * `new World({seed})` owns the scheduler, the trace recorder and the root PRNG (one stream per
 * subsystem and host); `world.addHost(name)` gives a Host with its own Kernel (ramfs registered;
 * more file system types through `registerFs`), disks added with `addDisk`; `host.run(p, sys)` runs
 * one system call (or any Sys) as process `p` in a task, advancing the world until it finishes:
 * other tasks (kjournald, lento, peers) run meanwhile. If the world goes quiet while the task still
 * sleeps, that is a deadlock, reported with where it sleeps.
 */
import { assert, panic } from '../kernel/assert.ts';
import { BlockDevice, type BlockSize } from '../kernel/blkdev.ts';
import { isErr, errnoName } from '../kernel/errno.ts';
import { makeCred, type FileSystemType } from '../kernel/fs.ts';
import { Kernel } from '../kernel/kernel.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { sys_sync } from '../kernel/syscalls.ts';
import { ramfs_fs_type } from '../fs/ramfs/inode.ts';
import { Prng } from './prng.ts';
import { Scheduler } from './scheduler.ts';
import { TraceRecorder, type TraceOptions } from './trace.ts';

export interface WorldOptions {
  readonly seed: number;
  readonly trace?: TraceOptions;
}

export class World {
  readonly sched = new Scheduler();
  readonly trace: TraceRecorder;
  readonly rng: Prng;
  readonly hosts = new Map<string, Host>();
  constructor(readonly options: WorldOptions) {
    this.trace = new TraceRecorder(this.sched, options.trace ?? {});
    this.rng = Prng.fromSeed(options.seed);
  }

  addHost(name: string): Host {
    assert(!this.hosts.has(name), () => `host ${name} added twice`);
    const h = new Host(this, name);
    this.hosts.set(name, h);
    return h;
  }

  runUntilQuiescent(): number {
    return this.sched.runUntilQuiescent();
  }
}

export class Host {
  readonly kernel: Kernel;
  readonly disks = new Map<string, BlockDevice>();
  constructor(
    readonly world: World,
    readonly name: string,
  ) {
    this.kernel = new Kernel({
      hostname: name,
      timers: world.sched,
      tracer: world.trace.tracerFor(name),
      random: world.rng.stream(`kernel/${name}`),
    });
    this.kernel.register_filesystem(ramfs_fs_type);
  }

  registerFs(t: FileSystemType): void {
    if (!this.kernel.fsTypes.has(t.name)) this.kernel.register_filesystem(t);
  }

  /** A new empty disk (or `dev`, e.g. loaded from an image) registered as /dev/NAME. */
  addDisk(name: string, spec: { blockSize: BlockSize; blocks: number; log?: boolean } | BlockDevice): BlockDevice {
    const dev = spec instanceof BlockDevice
      ? spec
      : new BlockDevice({
        name: `${this.name}:${name}`, blockSize: spec.blockSize, blocks: spec.blocks,
        random: this.world.rng.stream(`storage/${this.name}/${name}`), tracer: this.world.trace.tracerFor(this.name),
        ...(spec.log === true ? { log: true } : {}),
      });
    this.disks.set(name, dev);
    this.kernel.register_blkdev(`/dev/${name}`, dev);
    return dev;
  }

  /** Mount the root file system: `fstype` on /dev/`disk` (or none for ramfs). */
  mountRoot(fstype: string, disk: string | null, data = ''): void {
    const r = this.runKernel(this.kernel.mount_root(fstype, disk === null ? null : `/dev/${disk}`, data));
    if (isErr(r)) panic(`${this.name}: mounting ${fstype} as root failed: ${errnoName(r)}`);
  }

  process(comm: string, uid = 0, gid = 0, groups: readonly number[] = [gid]): Process {
    return this.kernel.new_process(comm, makeCred(uid, gid, groups));
  }

  /** Run `body` as process `p` until it returns, advancing the world meanwhile. */
  run<T>(p: Process, body: Sys<T>): T {
    let result: { value: T } | null = null;
    const task = this.kernel.spawn(p, (function* () {
      result = { value: yield* body };
      return 0;
    })());
    const sched = this.world.sched;
    while (task.state !== 'exited') {
      if (!sched.step()) {
        const where = task.sleeping?.point ?? task.state;
        p.task = null;
        return panic(`${this.name}: ${p.comm}[${p.pid}] sleeps at '${where}' and nothing will wake it`);
      }
    }
    p.task = null;
    assert(result !== null, 'task exited without a result');
    return (result as { value: T }).value;
  }

  /** A clean shutdown: sync, then every file system's put_super, newest mount first. */
  shutdown(): void {
    const k = this.kernel;
    const p = this.process('shutdown');
    this.run(p, sys_sync(p));
    for (const m of [...k.mounts].reverse()) {
      const sb = m.mnt_sb;
      if (sb.s_op.put_super !== undefined) this.runKernel(sb.s_op.put_super(sb));
    }
  }

  /** Run kernel work that needs no process (mounting the root) as a kernel thread. */
  runKernel<T>(body: Sys<T>): T {
    let result: { value: T } | null = null;
    const task = this.kernel.kthread_run('init', (function* () {
      result = { value: yield* body };
      return 0;
    })());
    while (task.state !== 'exited') {
      if (!this.world.sched.step()) return panic(`${this.name}: init sleeps at '${task.sleeping?.point ?? '?'}' forever`);
    }
    assert(result !== null, 'kernel work ended without a result');
    return (result as { value: T }).value;
  }
}
