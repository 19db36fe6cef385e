/**
 * kernel.ts: one simulated Linux kernel: its registries, mount table and processes.
 *
 * Layer: kernel. Interface: `new Kernel({hostname, timers, tracer, random})`; register file system
 * types, block devices and character devices; `mount_root` then `new_process` for processes that
 * call the syscalls (kernel/syscalls.ts); `spawn` runs a process's body as a scheduled Task. Each
 * host in a simulated world owns one Kernel: there are no globals, so many kernels share a process.
 * Subsystems outside kernel/ (presto) keep their per-kernel state in a `KernelSlot` (Linux keeps
 * such state in the module's own tables; here a module may hold no mutable state of its own, since
 * many kernels share one JavaScript process): `k.slot(KEY)` makes it on first use.
 * Invariants: exactly one root mount once booted; a mount's parent mount and mountpoint stay
 * pinned while it is mounted.
 */
import { assert } from './assert.ts';
import type { BlockDevice } from './blkdev.ts';
import { dget } from './dcache.ts';
import { EBUSY, ENODEV, ENXIO, isErr, type Errno } from './errno.ts';
import { SuperBlock, VfsMount, type Cred, type Dentry, type FileOperations, type FileSystemType, type Path } from './fs.ts';
import { FutexTable } from './futex.ts';
import type { NetDevice, Packet } from './netdevice.ts';
import { Process, type FdTable } from './process.ts';
import type { Random } from './random.ts';
import { Task, type Sys } from './sched.ts';
import { Semaphore } from './semaphore.ts';
import { tcp_v4_rcv } from './tcp_ipv4.ts';
import type { Timers } from './timer.ts';
import { nullTracer, type Tracer } from './trace.ts';
import type { Tick } from './types.ts';

/** What a new process shares with its parent (kernel/fork.ts). */
export interface NewProcessShared {
  /** A descriptor table: the parent's (CLONE_FILES, shared) or a copy of it. */
  readonly files?: FdTable;
  /** The thread group to join (CLONE_THREAD); null or absent: a group of its own. */
  readonly tgid?: number | null;
}

/** A key for one subsystem's per-kernel state: made by `init` the first time a kernel asks. */
export interface KernelSlot<T> {
  readonly name: string;
  init(k: Kernel): T;
}

export interface KernelOptions {
  readonly hostname: string;
  readonly timers: Timers;
  readonly tracer?: Tracer;
  /** Randomness for the kernel's own choices (generation numbers, uuids); none if never needed. */
  readonly random?: Random;
  /** What /dev/urandom reads (kernel/mem.ts): a stream of its own, so programs' draws shift nothing else. */
  readonly urandom?: Random;
  /**
   * How far this host's real-time clock is off the world's, in microseconds (either sign): the
   * clock file times and CLOCK_REALTIME read. Timers run on the world's clock (jiffies), unskewed.
   */
  readonly clockSkew?: number;
}

export class Kernel {
  readonly hostname: string;
  readonly timers: Timers;
  readonly tracer: Tracer;
  readonly random: Random | undefined;
  readonly urandom: Random | undefined;
  readonly clockSkew: number;
  readonly fsTypes = new Map<string, FileSystemType>();
  readonly bdevs = new Map<string, BlockDevice>();
  readonly chrdevs = new Map<number, FileOperations>();
  /** Every mount, root first, in mount order. */
  readonly mounts: VfsMount[] = [];
  readonly procs = new Map<number, Process>();
  /** Futex wait queues (kernel/futex.ts). */
  readonly futexes = new FutexTable();
  /** Serializes renames, so the ancestry checks stay true while they run (s_vfs_rename_sem). */
  readonly renameSem = new Semaphore('rename_sem');
  /** The network interface (sim/network.ts attaches one); null: no network, loopback only. */
  netdev: NetDevice | null = null;
  private readonly slots = new Map<KernelSlot<unknown>, unknown>();
  private rootMount: VfsMount | null = null;
  private nextPid = 1;
  private nextDev = 1;

  constructor(o: KernelOptions) {
    this.hostname = o.hostname;
    this.timers = o.timers;
    this.tracer = o.tracer ?? nullTracer;
    this.random = o.random;
    this.urandom = o.urandom;
    this.clockSkew = o.clockSkew ?? 0;
  }

  now(): Tick {
    return this.timers.now();
  }

  /** The real-time clock in microseconds since tick 0's wall time: now plus this host's skew (may be < 0). */
  realtime(): number {
    return this.timers.now() + this.clockSkew;
  }

  /** The wire delivers a packet to this host (Linux netif_rx); nothing in it is trusted. */
  net_rx(pkt: Packet): void {
    tcp_v4_rcv(this, pkt);
  }

  /** This kernel's state for the subsystem `key` names (made on first use). */
  slot<T>(key: KernelSlot<T>): T {
    if (this.slots.has(key)) return this.slots.get(key) as T;
    const v = key.init(this);
    this.slots.set(key, v);
    return v;
  }

  get rootMnt(): VfsMount {
    assert(this.rootMount !== null, 'no root file system mounted');
    return this.rootMount;
  }

  rootPath(): Path {
    const mnt = this.rootMnt;
    return { mnt, dentry: mnt.mnt_root };
  }

  register_filesystem(t: FileSystemType): void {
    assert(!this.fsTypes.has(t.name), () => `file system type ${t.name} registered twice`);
    this.fsTypes.set(t.name, t);
  }

  register_blkdev(name: string, dev: BlockDevice): void {
    assert(!this.bdevs.has(name), () => `block device ${name} registered twice`);
    this.bdevs.set(name, dev);
  }

  register_chrdev(major: number, fops: FileOperations): 0 | Errno {
    if (this.chrdevs.has(major)) return EBUSY;
    this.chrdevs.set(major, fops);
    return 0;
  }

  /** Build a super block of type `fstype` on device `devName` (or none). */
  *read_super(fstype: string, devName: string | null, data: string, flags: number): Sys<SuperBlock | Errno> {
    const type = this.fsTypes.get(fstype);
    if (type === undefined) return ENODEV;
    let dev: BlockDevice | null = null;
    if (type.requiresDevFor?.(data) ?? type.requiresDev) {
      dev = devName === null ? null : this.bdevs.get(devName) ?? null;
      if (dev === null) return ENXIO;
      if (this.mounts.some((m) => m.mnt_sb.s_bdev === dev)) return EBUSY;
    }
    const sb = new SuperBlock(type, this.nextDev++, dev, this);
    sb.s_flags = flags;
    const err = yield* type.read_super(sb, dev, data);
    if (isErr(err)) return err;
    assert(sb.s_root !== null && sb.s_root.d_inode !== null, () => `${fstype}: read_super left no root`);
    return sb;
  }

  *mount_root(fstype: string, devName: string | null, data = '', flags = 0): Sys<0 | Errno> {
    assert(this.rootMount === null, 'root mounted twice');
    const sb = yield* this.read_super(fstype, devName, data, flags);
    if (isErr(sb)) return sb;
    const root = sb.s_root as Dentry;
    const mnt = new VfsMount(sb, root, root, null, devName ?? fstype);
    mnt.mnt_parent = mnt;
    mnt.mnt_flags = flags;
    dget(root);
    this.rootMount = mnt;
    this.mounts.push(mnt);
    return 0;
  }

  /** Attach a super block at `at` (a directory); used by sys_mount. */
  graft(sb: SuperBlock, at: Path, devName: string, flags: number): VfsMount {
    const root = sb.s_root as Dentry;
    const mnt = new VfsMount(sb, root, at.dentry, at.mnt, devName);
    mnt.mnt_flags = flags;
    dget(root);
    dget(at.dentry);
    at.dentry.d_mounted++;
    this.mounts.push(mnt);
    return mnt;
  }

  /** The mount whose mountpoint is `dentry` in `mnt` (the newest, if several), if any. */
  lookup_mnt(mnt: VfsMount, dentry: Dentry): VfsMount | undefined {
    if (dentry.d_mounted === 0) return undefined;
    for (let i = this.mounts.length - 1; i >= 0; i--) {
      const m = this.mounts[i] as VfsMount;
      if (m !== this.rootMount && m.mnt_parent === mnt && m.mnt_mountpoint === dentry) return m;
    }
    return undefined;
  }

  /**
   * A process with these credentials, rooted at the root mount (or at its parent's root and cwd).
   * `shared` (kernel/fork.ts): a descriptor table to use (shared or a copy) and a thread group.
   */
  new_process(comm: string, cred: Cred, parent?: Process, shared: NewProcessShared = {}): Process {
    const root = parent?.root ?? this.rootPath();
    const pwd = parent?.pwd ?? this.rootPath();
    dget(root.dentry);
    dget(pwd.dentry);
    const pid = this.nextPid++;
    const fdtable = shared.files;
    const tgid = shared.tgid ?? undefined;
    const p = new Process(this, pid, comm, { ...cred, groups: [...cred.groups] }, root, pwd, {
      ...(fdtable === undefined ? {} : { fdtable }),
      ...(tgid === undefined ? {} : { tgid }),
    });
    if (parent !== undefined) p.umask = parent.umask;
    this.procs.set(p.pid, p);
    return p;
  }

  /** Start a kernel thread (kjournald, the psdev reader's peer...): a task with no process. */
  kthread_run(comm: string, body: Sys<number>): Task {
    return new Task(this.nextPid++, comm, body, this.timers, this.tracer);
  }

  /** Run `body` as a scheduled task of process `p`. */
  spawn(p: Process, body: Sys<number>): Task {
    assert(p.task === null, () => `process ${p.pid} already has a task`);
    const t = new Task(p.pid, p.comm, body, this.timers, this.tracer);
    t.signalPending = () => p.sigpending !== 0;
    p.task = t;
    return t;
  }
}
