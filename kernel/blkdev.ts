/**
 * blkdev.ts: the in-memory disk every simulated host owns.
 *
 * Layer: kernel, the bottom of the storage stack (the buffer cache sits on it). Interface:
 * `read(blk, dst)`, `write(blk, src, {fua})`, `flush()`, each returning 0 or an Errno (EIO when a
 * fault is injected). Model: a write lands in a volatile cache and is *pending*; `flush()` makes
 * every pending write durable; a FUA write is durable by itself. Reads see the newest version.
 * `crash(plan)` gives the durable image a power failure would leave: each pending block keeps its
 * durable content or one of its pending versions, optionally torn at 512-byte sectors.
 * Storage is sparse (a Map of written blocks), so memory follows what was written, not the size.
 * The optional I/O log records every write and flush with a sequence number and an epoch (an epoch
 * ends at each flush or FUA write), so a crash harness can rebuild the state at any point.
 * Invariants: blocks are exactly `blockSize` bytes; a version, once written, is never mutated
 * (the device copies on write and the log shares the copies); durable state only changes at
 * flush/FUA. Counterpart: a SCSI/virtio disk with a volatile write cache, as the block layer sees it.
 */
import { assert, panic } from './assert.ts';
import { EIO, EINVAL, type Errno } from './errno.ts';
import type { Random } from './random.ts';
import { nullTracer, type Tracer } from './trace.ts';

export const SECTOR_SIZE = 512;
export type BlockSize = 1024 | 2048 | 4096;

export function isBlockSize(n: number): n is BlockSize {
  return n === 1024 || n === 2048 || n === 4096;
}

export interface WriteLogEntry {
  readonly op: 'write';
  readonly seq: number;
  readonly epoch: number;
  readonly blk: number;
  readonly fua: boolean;
  /** A lying device acknowledged FUA without honouring it: the write stayed pending. */
  readonly lied?: true;
  /** The version written (shared, never mutated). */
  readonly data: Uint8Array;
}
export interface FlushLogEntry {
  readonly op: 'flush';
  readonly seq: number;
  readonly epoch: number;
  /** A lying device acknowledged this flush without doing it (`lyingFlush`): nothing became durable. */
  readonly lied?: true;
}
export type IoLogEntry = WriteLogEntry | FlushLogEntry;

export interface DeviceStats {
  reads: number;
  writes: number;
  fuaWrites: number;
  flushes: number;
  bytesRead: number;
  bytesWritten: number;
  faults: number;
}

export interface FaultConfig {
  /** Blocks whose reads fail with EIO. */
  readonly readErrors?: ReadonlySet<number>;
  /** Blocks whose writes fail with EIO (the write does not happen). */
  readonly writeErrors?: ReadonlySet<number>;
  /** Any read fails with probability num/den (needs the device's Random). */
  readonly readChance?: readonly [num: number, den: number];
  readonly writeChance?: readonly [num: number, den: number];
  /** A flush fails with EIO with this probability (nothing becomes durable). */
  readonly flushChance?: readonly [num: number, den: number];
}

/** How a crash treats pending writes. Unlisted pending blocks are decided by `random`, else lost. */
export interface CrashPlan {
  /** Per block: 0 keeps the durable content; k >= 1 keeps the k-th pending version (oldest is 1). */
  readonly versions?: ReadonlyMap<number, number>;
  /** Per block: bit i set means sector i comes from the chosen version; clear, from the one before. */
  readonly torn?: ReadonlyMap<number, number>;
  /** Decides unlisted pending blocks: each version (and the durable one) equally likely. */
  readonly random?: Random;
  /** With `random`: the chance that a surviving pending version is torn. */
  readonly tearChance?: readonly [num: number, den: number];
}

/** What a crash decided, per pending block, so a harness can report and replay it. */
export interface CrashOutcome {
  readonly blk: number;
  readonly choices: number;
  readonly version: number;
  readonly tornMask: number | null;
}

/** Thrown by a device told to lose power after N writes: the world stops; nothing catches it but the simulator. */
export class PowerCut extends Error {
  override readonly name = 'PowerCut';
  constructor(
    message: string,
    /** The device that lost power (its name, as given to the constructor). */
    readonly device: string,
  ) {
    super(message);
  }
}

export interface BlockDeviceOptions {
  readonly name: string;
  readonly blockSize: BlockSize;
  readonly blocks: number;
  readonly random?: Random;
  readonly tracer?: Tracer;
  /** Record every write and flush (with data) from the start. */
  readonly log?: boolean;
  /**
   * A broken device for negative controls: flushes and FUA are acknowledged but not done, so
   * everything stays pending until a crash decides. The log marks each lie (`lied`).
   */
  readonly lyingFlush?: boolean;
}

interface Snapshot {
  readonly durable: Map<number, Uint8Array>;
  readonly pending: Map<number, Uint8Array[]>;
}

export class BlockDevice {
  readonly name: string;
  readonly blockSize: BlockSize;
  readonly blocks: number;
  readonly stats: DeviceStats = {
    reads: 0, writes: 0, fuaWrites: 0, flushes: 0, bytesRead: 0, bytesWritten: 0, faults: 0,
  };
  /** Sequence number of the next I/O (writes and flushes count). */
  private seq = 0;
  /** Epoch of the next write; ends (increments) at each flush or FUA write. */
  private epoch = 0;
  private durable = new Map<number, Uint8Array>();
  /** Versions written since the last flush, oldest first. */
  private pending = new Map<number, Uint8Array[]>();
  private faults: FaultConfig = {};
  private ioLog: IoLogEntry[] | null = null;
  private logBase: Snapshot | null = null;
  private powerCutAt: number | null = null;
  private readonly random: Random | undefined;
  private readonly tracer: Tracer;
  readonly lyingFlush: boolean;

  constructor(o: BlockDeviceOptions) {
    assert(isBlockSize(o.blockSize), () => `block size must be 1024, 2048 or 4096, got ${o.blockSize}`);
    assert(Number.isSafeInteger(o.blocks) && o.blocks > 0, () => `block count must be positive, got ${o.blocks}`);
    this.name = o.name;
    this.blockSize = o.blockSize;
    this.blocks = o.blocks;
    this.random = o.random;
    this.tracer = o.tracer ?? nullTracer;
    this.lyingFlush = o.lyingFlush === true;
    if (o.log === true) this.startLog();
  }

  get sizeBytes(): number {
    return this.blocks * this.blockSize;
  }

  /** Blocks held in memory (durable plus pending versions): the sparse footprint. */
  get storedBlocks(): number {
    let n = this.durable.size;
    for (const v of this.pending.values()) n += v.length;
    return n;
  }

  /** Copy block `blk` (its newest version, or zeros if never written) into `dst`. */
  read(blk: number, dst: Uint8Array): 0 | Errno {
    if (!this.checkRange(blk, dst.length, 'read')) return EIO;
    if (this.faultHits(blk, this.faults.readErrors, this.faults.readChance)) {
      this.tracer.emit('blkdev.fault', { dev: this.name, blk, op: 'read' });
      return EIO;
    }
    this.stats.reads++;
    this.stats.bytesRead += this.blockSize;
    const v = this.newest(blk);
    if (v === undefined) dst.fill(0);
    else dst.set(v);
    return 0;
  }

  /** Queue a write of `src` to block `blk`; with `fua` it is durable on return. */
  write(blk: number, src: Uint8Array, opts: { readonly fua?: boolean } = {}): 0 | Errno {
    if (!this.checkRange(blk, src.length, 'write')) return EIO;
    if (this.faultHits(blk, this.faults.writeErrors, this.faults.writeChance)) {
      this.tracer.emit('blkdev.fault', { dev: this.name, blk, op: 'write' });
      return EIO;
    }
    const fua = opts.fua === true;
    const data = src.slice();
    const seq = this.seq++;
    this.stats.writes++;
    this.stats.bytesWritten += this.blockSize;
    const lied = fua && this.lyingFlush;
    this.ioLog?.push({ op: 'write', seq, epoch: this.epoch, blk, fua, data, ...(lied ? { lied: true as const } : {}) });
    if (fua && !lied) {
      this.stats.fuaWrites++;
      // A FUA write is durable by itself; older pending versions of this block are superseded on
      // media, so a crash can no longer bring them back.
      this.pending.delete(blk);
      this.durable.set(blk, data);
      this.epoch++;
    } else {
      const versions = this.pending.get(blk);
      if (versions === undefined) this.pending.set(blk, [data]);
      else versions.push(data);
    }
    this.tracer.emit('blkdev.write', { dev: this.name, blk, seq, fua });
    if (this.powerCutAt !== null && this.stats.writes >= this.powerCutAt) {
      this.powerCutAt = null;
      throw new PowerCut(`${this.name}: power cut after write ${this.stats.writes}`, this.name);
    }
    return 0;
  }

  /** Make every pending write durable (a cache flush; the barrier JBD puts before a commit). */
  flush(): 0 | Errno {
    const [num, den] = this.faults.flushChance ?? [0, 1];
    if (num > 0 && this.chance(num, den)) {
      this.stats.faults++;
      this.tracer.emit('blkdev.fault', { dev: this.name, blk: null, op: 'flush' });
      return EIO;
    }
    const seq = this.seq++;
    this.stats.flushes++;
    if (this.lyingFlush) {
      // Acknowledged, not done: the negative control for harnesses that trust flushes.
      this.ioLog?.push({ op: 'flush', seq, epoch: this.epoch, lied: true });
      this.tracer.emit('blkdev.flush', { dev: this.name, seq, epoch: this.epoch });
      return 0;
    }
    this.ioLog?.push({ op: 'flush', seq, epoch: this.epoch });
    for (const [blk, versions] of this.pending) {
      const last = versions[versions.length - 1];
      assert(last !== undefined, 'pending block with no version');
      this.durable.set(blk, last);
    }
    this.pending.clear();
    this.tracer.emit('blkdev.flush', { dev: this.name, seq, epoch: this.epoch });
    this.epoch++;
    return 0;
  }

  setFaults(f: FaultConfig): void {
    const usesChance = f.readChance !== undefined || f.writeChance !== undefined || f.flushChance !== undefined;
    assert(!usesChance || this.random !== undefined, 'probabilistic faults need the device to have a Random');
    this.faults = f;
  }

  /** Lose power right after the device's `n`-th write since it was made (throws PowerCut). */
  cutPowerAfterWrites(n: number): void {
    assert(Number.isSafeInteger(n) && n >= 1, 'power cut needs a positive write count');
    this.powerCutAt = n;
  }

  /** Pending blocks and how many versions each has, in block order. */
  pendingBlocks(): Array<{ blk: number; versions: number }> {
    return [...this.pending].map(([blk, v]) => ({ blk, versions: v.length })).sort((a, b) => a.blk - b.blk);
  }

  /** Start (or restart) the I/O log; the current state becomes its base. */
  startLog(): void {
    this.ioLog = [];
    this.logBase = { durable: new Map(this.durable), pending: clonePending(this.pending) };
  }

  log(): readonly IoLogEntry[] {
    return this.ioLog ?? [];
  }

  /**
   * The device a power failure right now would leave: a new device, all of whose content is durable.
   * `outcome` (if given) receives what was decided for each pending block.
   */
  crash(plan: CrashPlan = {}, outcome?: CrashOutcome[]): BlockDevice {
    return this.crashFrom({ durable: this.durable, pending: this.pending }, plan, outcome);
  }

  /**
   * The crash image after the first `ios` entries of the I/O log (writes and flushes), as if the
   * power had failed right then. Needs the log.
   */
  crashAfterIos(ios: number, plan: CrashPlan = {}, outcome?: CrashOutcome[]): BlockDevice {
    return this.crashFrom(this.stateAfterIos(ios), plan, outcome);
  }

  /** The durable and pending state after the first `ios` log entries. */
  stateAfterIos(ios: number): { durable: Map<number, Uint8Array>; pending: Map<number, Uint8Array[]> } {
    const log = this.ioLog;
    const base = this.logBase;
    assert(log !== null && base !== null, 'stateAfterIos needs the I/O log (startLog)');
    assert(Number.isSafeInteger(ios) && ios >= 0 && ios <= log.length, () => `no I/O ${ios} in a log of ${log.length}`);
    const durable = new Map(base.durable);
    const pending = clonePending(base.pending);
    for (let i = 0; i < ios; i++) {
      const e = log[i] as IoLogEntry;
      if (e.lied === true && e.op === 'flush') continue;
      if (e.op === 'flush') {
        for (const [blk, v] of pending) durable.set(blk, v[v.length - 1] as Uint8Array);
        pending.clear();
      } else if (e.fua && e.lied !== true) {
        pending.delete(e.blk);
        durable.set(e.blk, e.data);
      } else {
        const v = pending.get(e.blk);
        if (v === undefined) pending.set(e.blk, [e.data]);
        else v.push(e.data);
      }
    }
    return { durable, pending };
  }

  /** Pending blocks after the first `ios` log entries and how many versions each has, in block order. */
  pendingAfter(ios: number): Array<[blk: number, versions: number]> {
    const { pending } = this.stateAfterIos(ios);
    return [...pending].map(([blk, v]): [number, number] => [blk, v.length]).sort((a, b) => a[0] - b[0]);
  }

  /** The newest content of every written block, in block order (for export and comparison). */
  *writtenBlocks(): Generator<[number, Uint8Array]> {
    const keys = new Set<number>(this.durable.keys());
    for (const k of this.pending.keys()) keys.add(k);
    for (const blk of [...keys].sort((a, b) => a - b)) {
      const v = this.newest(blk);
      if (v !== undefined) yield [blk, v];
    }
  }

  /** A device whose durable content is `blocks` (all-zero blocks may be omitted). */
  static fromBlocks(o: BlockDeviceOptions, blocks: Iterable<readonly [number, Uint8Array]>): BlockDevice {
    const dev = new BlockDevice({ ...o, log: false });
    for (const [blk, data] of blocks) {
      assert(dev.checkRange(blk, data.length, 'write'), () => `${o.name}: block ${blk} outside 0..${o.blocks - 1}`);
      dev.durable.set(blk, data.slice());
    }
    if (o.log === true) dev.startLog();
    return dev;
  }

  /** The whole device as one raw image (size = blocks x blockSize); for small devices and tests. */
  toImage(): Uint8Array {
    const out = new Uint8Array(this.sizeBytes);
    for (const [blk, data] of this.writtenBlocks()) out.set(data, blk * this.blockSize);
    return out;
  }

  /** A device holding a raw image; all-zero blocks are not stored. */
  static fromImage(o: Omit<BlockDeviceOptions, 'blocks'>, image: Uint8Array): BlockDevice | Errno {
    if (image.length === 0 || image.length % o.blockSize !== 0) return EINVAL;
    const blocks = image.length / o.blockSize;
    const parts: Array<[number, Uint8Array]> = [];
    for (let blk = 0; blk < blocks; blk++) {
      const b = image.subarray(blk * o.blockSize, (blk + 1) * o.blockSize);
      if (!isZero(b)) parts.push([blk, b]);
    }
    return BlockDevice.fromBlocks({ ...o, blocks }, parts);
  }

  private crashFrom(state: Snapshot, plan: CrashPlan, outcome?: CrashOutcome[]): BlockDevice {
    const result = new Map(state.durable);
    let torn = 0;
    const blocks = [...state.pending.keys()].sort((a, b) => a - b);
    for (const blk of blocks) {
      const versions = state.pending.get(blk) as Uint8Array[];
      const version = this.chooseVersion(blk, versions.length, plan);
      const tornMask = version === 0 ? null : this.chooseTear(blk, plan);
      if (version > 0) {
        const chosen = versions[version - 1] as Uint8Array;
        const before = version >= 2 ? versions[version - 2] : state.durable.get(blk);
        result.set(blk, tornMask === null ? chosen : this.tear(chosen, before, tornMask));
        if (tornMask !== null) torn++;
      }
      const o: CrashOutcome = { blk, choices: versions.length + 1, version, tornMask };
      outcome?.push(o);
      this.tracer.emit('blkdev.crash_block', { dev: this.name, ...o });
    }
    this.tracer.emit('blkdev.crash', { dev: this.name, pending: blocks.length, torn });
    // The versions are this device's own, never mutated once written: the new device may share them.
    const dev = new BlockDevice({ name: this.name, blockSize: this.blockSize, blocks: this.blocks });
    dev.durable = result;
    return dev;
  }

  private chooseVersion(blk: number, count: number, plan: CrashPlan): number {
    const given = plan.versions?.get(blk);
    if (given !== undefined) {
      assert(Number.isSafeInteger(given) && given >= 0 && given <= count,
        () => `block ${blk} has no pending version ${given}`);
      return given;
    }
    return plan.random === undefined ? 0 : plan.random.below(count + 1);
  }

  private chooseTear(blk: number, plan: CrashPlan): number | null {
    const sectors = this.blockSize / SECTOR_SIZE;
    const given = plan.torn?.get(blk);
    if (given !== undefined) {
      assert(Number.isSafeInteger(given) && given >= 0 && given < 2 ** sectors, () => `bad tear mask for block ${blk}`);
      return given;
    }
    const [num, den] = plan.tearChance ?? [0, 1];
    if (plan.random === undefined || num === 0 || !plan.random.chance(num, den)) return null;
    // A real tear: some sectors new, some old (all-new or all-old would be no tear at all).
    return 1 + plan.random.below(2 ** sectors - 2);
  }

  private tear(chosen: Uint8Array, before: Uint8Array | undefined, mask: number): Uint8Array {
    const out = before === undefined ? new Uint8Array(this.blockSize) : before.slice();
    for (let s = 0; s < this.blockSize / SECTOR_SIZE; s++) {
      if ((mask >>> s) & 1) out.set(chosen.subarray(s * SECTOR_SIZE, (s + 1) * SECTOR_SIZE), s * SECTOR_SIZE);
    }
    return out;
  }

  private newest(blk: number): Uint8Array | undefined {
    const v = this.pending.get(blk);
    return v === undefined ? this.durable.get(blk) : v[v.length - 1];
  }

  /**
   * A block past the end of the device is an I/O error, as Linux's block layer answers it ("attempt
   * to access beyond end of device"): a damaged block pointer read from disk asks for one. A buffer
   * of the wrong size is a bug of the caller (panic).
   */
  private checkRange(blk: number, length: number, op: 'read' | 'write'): boolean {
    assert(length === this.blockSize,
      () => `${this.name}: buffer of ${length} bytes for ${this.blockSize}-byte blocks`);
    if (Number.isSafeInteger(blk) && blk >= 0 && blk < this.blocks) return true;
    this.tracer.emit('blkdev.beyond_end', { dev: this.name, blk, blocks: this.blocks, op });
    return false;
  }

  private faultHits(
    blk: number, set: ReadonlySet<number> | undefined, ratio: readonly [number, number] | undefined,
  ): boolean {
    const hit = set?.has(blk) === true || (ratio !== undefined && ratio[0] > 0 && this.chance(ratio[0], ratio[1]));
    if (hit) this.stats.faults++;
    return hit;
  }

  private chance(num: number, den: number): boolean {
    if (this.random === undefined) return panic(`${this.name}: probabilistic fault without a Random`);
    return this.random.chance(num, den);
  }
}

function clonePending(p: Map<number, Uint8Array[]>): Map<number, Uint8Array[]> {
  const out = new Map<number, Uint8Array[]>();
  for (const [k, v] of p) out.set(k, v.slice());
  return out;
}

/** Is every byte zero? Word at a time when aligned (image import scans whole disks with it). */
export function isZero(b: Uint8Array): boolean {
  let i = 0;
  if (b.byteOffset % 4 === 0) {
    const words = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
    for (let w = 0; w < words.length; w++) if (words[w] !== 0) return false;
    i = words.length << 2;
  }
  for (; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}
