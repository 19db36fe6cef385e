/**
 * host.ts: a simulated world and its hosts: scheduler, trace, seeded streams, kernels and disks,
 * and what can happen to a host: a power cut, a reboot, a pause.
 *
 * Layer: simulation (wires everything together; may import every layer). Interface:
 * `new World({seed})` owns the scheduler, the trace recorder and the root PRNG (one stream per
 * subsystem and host); `world.addHost(name, {clockSkew})` gives a Host with its own Kernel (ramfs
 * registered; more file system types through `registerFs`), disks added with `addDisk`;
 * `host.run(p, sys)` runs one system call (or any Sys) as process `p` in a task, advancing the
 * world until it finishes: other tasks (kjournald, lento, peers) run meanwhile. If the world goes
 * quiet while the task still sleeps, that is a deadlock, reported with where it sleeps.
 * A host's life: `start()` boots it (the root file system, then `boot(kernel)` registers what the
 * host has, then `init(process)` runs as a task: mounts, daemons); `crash()` is a power cut: every
 * disk keeps what its crash model lets survive (kernel/blkdev.ts), the kernel and every process
 * are gone (their timers never fire), and peers learn of it only through their own timeouts;
 * `restart()` boots a new kernel on the surviving disks; `pause()` freezes the host (its timers
 * and tasks wait; the packets sent to it queue) until `resume()`. A block device armed with
 * `cutPowerAfterWrites` crashes its host at that write (the PowerCut is caught by the world). The
 * host's real-time clock may be skewed (`clockSkew`, µs): file times and CLOCK_REALTIME show it.
 * Hosts share no mutable state: each has its kernel, disks and streams; the world only carries
 * packets and events between them. The world's `network` (sim/network.ts, drawing from the `net`
 * stream, tracing as host "net") carries the packets: each kernel is attached to it when made (a
 * crash detaches it, a pause holds what is sent to it); `WorldOptions.network` sets the default link.
 */
import { assert, panic } from '../kernel/assert.ts';
import { BlockDevice, PowerCut, type BlockSize, type CrashPlan } from '../kernel/blkdev.ts';
import { isErr, errnoName, type Errno } from '../kernel/errno.ts';
import { makeCred, type FileSystemType } from '../kernel/fs.ts';
import { Kernel } from '../kernel/kernel.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { sys_sync } from '../kernel/syscalls.ts';
import type { TimerId, Timers } from '../kernel/timer.ts';
import type { Tick } from '../kernel/types.ts';
import { ramfs_fs_type } from '../fs/ramfs/inode.ts';
import { DEFAULT_LINK, Network, type LinkSpec } from './network.ts';
import { Prng } from './prng.ts';
import { Scheduler } from './scheduler.ts';
import { TraceRecorder, type TraceOptions } from './trace.ts';

declare module '../kernel/trace.ts' {
  interface TraceEventMap {
    /** A host's life: booted (the nth time), crashed (power cut), restarted, paused, resumed. */
    'host.state': { state: 'up' | 'crashed' | 'paused' | 'resumed'; incarnation: number; why: string };
  }
}

export interface WorldOptions {
  readonly seed: number;
  readonly trace?: TraceOptions;
  /** The links hosts get unless set otherwise (default: DEFAULT_LINK, a 100 Mbit/s LAN). */
  readonly network?: LinkSpec;
}

export interface HostOptions {
  /** The host's real-time clock minus the world's, in µs (either sign). */
  readonly clockSkew?: number;
}

export class World {
  readonly sched = new Scheduler();
  readonly trace: TraceRecorder;
  readonly rng: Prng;
  readonly hosts = new Map<string, Host>();
  readonly network: Network;
  constructor(readonly options: WorldOptions) {
    this.trace = new TraceRecorder(this.sched, options.trace ?? {});
    this.rng = Prng.fromSeed(options.seed);
    this.network = new Network({
      sched: this.sched, rng: this.rng.stream('net'), trace: this.trace.tracerFor('net'),
      defaults: options.network ?? DEFAULT_LINK,
    });
  }

  addHost(name: string, opts: HostOptions = {}): Host {
    assert(!this.hosts.has(name), () => `host ${name} added twice`);
    const h = new Host(this, name, opts);
    this.hosts.set(name, h);
    return h;
  }

  /** Run the earliest event; a power cut it causes crashes the host whose disk lost power. */
  step(): boolean {
    try {
      return this.sched.step();
    } catch (e) {
      if (!(e instanceof PowerCut)) throw e;
      this.sched.current = null;
      const host = [...this.hosts.values()].find((h) => [...h.disks.values()].some((d) => d.name === e.device));
      assert(host !== undefined, () => `a power cut on ${e.device}, which no host has`);
      host.crash(`power cut: ${e.message}`, e);
      return true;
    }
  }

  /** Run until no event is left; panics past `maxEvents` (a livelock guard). */
  runUntilQuiescent(maxEvents = 100_000_000): number {
    let n = 0;
    while (this.step()) {
      n++;
      assert(n <= maxEvents, () => `not quiescent after ${maxEvents} events (last: ${this.sched.last ?? '?'})`);
    }
    return n;
  }

  /** Run every event up to and including tick `t`, then set the clock to `t`. */
  runUntil(t: Tick): number {
    let n = 0;
    for (let next = this.sched.nextTime(); next !== null && next <= t; next = this.sched.nextTime()) {
      this.step();
      n++;
    }
    this.sched.runUntil(t);
    return n;
  }

  runFor(ticks: number): number {
    return this.runUntil((this.sched.now() + ticks) as Tick);
  }
}

/**
 * A host's view of the world's timers, for one incarnation of its kernel: events of a crashed
 * incarnation never fire; while the host is paused they wait, then fire in order at resume.
 */
export class HostTimers implements Timers {
  alive = true;
  paused = false;
  /** Timers that came due while the host was paused, by id: they run at resume unless cancelled. */
  private readonly deferred = new Map<TimerId, () => void>();
  constructor(private readonly sched: Scheduler) {}

  now(): Tick {
    return this.sched.now();
  }

  at(when: Tick, what: string, fn: () => void): TimerId {
    const id: TimerId = this.sched.at(when, what, () => this.fire(id, fn));
    return id;
  }

  /** Forget a timer: one still queued, or one that came due during a pause and waits for resume. */
  cancel(id: TimerId): void {
    this.sched.cancel(id);
    this.deferred.delete(id);
  }

  private fire(id: TimerId, fn: () => void): void {
    if (!this.alive) return;
    if (this.paused) this.deferred.set(id, fn);
    else fn();
  }

  /** Unfreeze: what came due meanwhile runs now, in the order it came due (a Map keeps that order). */
  resume(): void {
    this.paused = false;
    const due = [...this.deferred];
    this.deferred.clear();
    for (const [id, fn] of due) {
      this.deferred.set(id, fn);
      this.sched.at(this.sched.now(), 'resume', () => {
        // Cancelled between the resume and now (a wake that beat its own timeout): nothing to do.
        if (!this.deferred.delete(id)) return;
        this.fire(id, fn);
      });
    }
  }
}

export type HostState = 'up' | 'crashed' | 'paused';

export class Host {
  kernel: Kernel;
  timers: HostTimers;
  readonly disks = new Map<string, BlockDevice>();
  state: HostState = 'up';
  incarnation = 1;
  /** Registers what this host has in each new kernel (file system types, drivers). */
  boot: ((k: Kernel) => void) | null = null;
  /** What init runs once the root is mounted (mounts, daemons); see start(). */
  init: ((p: Process) => Sys<0 | Errno>) | null = null;
  private readonly fsTypes: FileSystemType[] = [];
  private root: { fstype: string; disk: string | null; data: string } | null = null;
  private crashes = 0;
  /** The power cut that crashed this host, rethrown to whoever was running a call on it. */
  private powerCut: PowerCut | null = null;

  constructor(
    readonly world: World,
    readonly name: string,
    readonly opts: HostOptions = {},
  ) {
    this.timers = new HostTimers(world.sched);
    this.kernel = this.newKernel();
  }

  private newKernel(): Kernel {
    const w = this.world;
    const tag = this.incarnation === 1 ? '' : `/${this.incarnation}`;
    const k = new Kernel({
      hostname: this.name,
      timers: this.timers,
      tracer: w.trace.tracerFor(this.name),
      random: w.rng.stream(`kernel/${this.name}${tag}`),
      urandom: w.rng.stream(`urandom/${this.name}${tag}`),
      clockSkew: this.opts.clockSkew ?? 0,
    });
    k.register_filesystem(ramfs_fs_type);
    for (const t of this.fsTypes) k.register_filesystem(t);
    for (const [name, dev] of this.disks) k.register_blkdev(`/dev/${name}`, dev);
    k.netdev = w.network.attach(this.name, (pkt) => k.net_rx(pkt));
    return k;
  }

  get up(): boolean {
    return this.state !== 'crashed';
  }

  registerFs(t: FileSystemType): void {
    if (this.fsTypes.some((x) => x.name === t.name)) return;
    this.fsTypes.push(t);
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
    this.root = { fstype, disk, data };
    const r = this.runKernel(this.kernel.mount_root(fstype, disk === null ? null : `/dev/${disk}`, data));
    if (isErr(r)) panic(`${this.name}: mounting ${fstype} as root failed: ${errnoName(r)}`);
  }

  /**
   * Boot this incarnation: mount the root (ramfs unless mountRoot chose), let `boot` register
   * drivers, and start `init` as a task (it runs while the world advances; its failure is traced).
   */
  start(): void {
    const k = this.kernel;
    this.boot?.(k);
    const root = this.root ?? { fstype: 'ramfs', disk: null, data: '' };
    this.root = root;
    const r = this.runKernel(k.mount_root(root.fstype, root.disk === null ? null : `/dev/${root.disk}`, root.data));
    if (isErr(r)) panic(`${this.name}: mounting ${root.fstype} as root failed: ${errnoName(r)}`);
    k.tracer.emit('host.state', { state: 'up', incarnation: this.incarnation, why: 'boot' });
    const init = this.init;
    if (init === null) return;
    const p = k.new_process('init', makeCred(0, 0, [0]));
    k.spawn(p, (function* () {
      const e = yield* init(p);
      return isErr(e) ? 1 : 0;
    })());
  }

  /**
   * What a power cut keeps of each disk's cached writes: each pending block's version drawn at
   * random (and sometimes torn) from the host's crash stream, or every cached write lost, or every
   * one kept. A crash test sets it to try the extremes at each crash point.
   */
  crashMode: 'random' | 'lose-cached' | 'keep-cached' = 'random';

  private crashPlan(dev: BlockDevice, random: Prng): CrashPlan {
    if (this.crashMode === 'random') return { random, tearChance: [1, 8] };
    const keep = this.crashMode === 'keep-cached';
    return { versions: new Map(dev.pendingBlocks().map((b) => [b.blk, keep ? b.versions : 0])) };
  }

  /** A power cut: disks keep what survives, the kernel and its processes are gone. */
  crash(why = 'crash', cut: PowerCut | null = null): void {
    if (this.state === 'crashed') return;
    this.powerCut = cut;
    this.timers.alive = false;
    const random = this.world.rng.stream(`crash/${this.name}/${++this.crashes}`);
    for (const [name, dev] of this.disks) this.disks.set(name, dev.crash(this.crashPlan(dev, random)));
    this.world.network.detach(this.name); // packets held for it while paused are lost too
    this.state = 'crashed';
    this.kernel.tracer.emit('host.state', { state: 'crashed', incarnation: this.incarnation, why });
  }

  /** Boot again on the surviving disks (journal recovery happens at the mount, in init). */
  restart(): void {
    assert(this.state === 'crashed', () => `${this.name}: restart of a host that is ${this.state}`);
    this.incarnation++;
    this.timers = new HostTimers(this.world.sched);
    this.kernel = this.newKernel();
    this.state = 'up';
    this.start();
  }

  pause(): void {
    if (this.state !== 'up') return;
    this.timers.paused = true;
    this.world.network.hold(this.name);
    this.state = 'paused';
    this.kernel.tracer.emit('host.state', { state: 'paused', incarnation: this.incarnation, why: 'pause' });
  }

  resume(): void {
    if (this.state !== 'paused') return;
    this.state = 'up';
    this.kernel.tracer.emit('host.state', { state: 'resumed', incarnation: this.incarnation, why: 'resume' });
    this.world.network.unhold(this.name); // the packets that waited first, then the timers that came due
    this.timers.resume();
  }

  process(comm: string, uid = 0, gid = 0, groups: readonly number[] = [gid]): Process {
    return this.kernel.new_process(comm, makeCred(uid, gid, groups));
  }

  /** Run `body` as process `p` until it returns, advancing the world meanwhile. */
  run<T>(p: Process, body: Sys<T>): T {
    assert(this.state === 'up', () => `${this.name}: running ${p.comm} on a host that is ${this.state}`);
    let result: { value: T } | null = null;
    const task = this.kernel.spawn(p, (function* () {
      result = { value: yield* body };
      return 0;
    })());
    const w = this.world;
    while (task.state !== 'exited') {
      if ((this.state as HostState) === 'crashed') throw this.cutShort(p.comm);
      if (!w.step()) {
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

  /** What a call cut short by this host's crash throws: the power cut (only the simulator catches it). */
  private cutShort(what: string): PowerCut {
    return this.powerCut ?? new PowerCut(`${this.name} crashed while ${what} ran`, this.name);
  }

  /** Run kernel work that needs no process (mounting the root) as a kernel thread. */
  runKernel<T>(body: Sys<T>): T {
    let result: { value: T } | null = null;
    const task = this.kernel.kthread_run('init', (function* () {
      result = { value: yield* body };
      return 0;
    })());
    while (task.state !== 'exited') {
      if (this.state === 'crashed') throw this.cutShort('init');
      if (!this.world.step()) return panic(`${this.name}: init sleeps at '${task.sleeping?.point ?? '?'}' forever`);
    }
    assert(result !== null, 'kernel work ended without a result');
    return (result as { value: T }).value;
  }
}
