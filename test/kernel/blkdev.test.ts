import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockDevice, PowerCut, type CrashOutcome } from '../../kernel/blkdev.ts';
import { EIO } from '../../kernel/errno.ts';
import { KernelPanic } from '../../kernel/assert.ts';
import { Prng } from '../../sim/prng.ts';

const BS = 1024;
const small = (log = false): BlockDevice => new BlockDevice({ name: 'd', blockSize: BS, blocks: 32, random: Prng.fromSeed(1).stream('storage'), log });
const fill = (v: number): Uint8Array => new Uint8Array(BS).fill(v);
const content = (dev: BlockDevice, blk: number): Uint8Array => {
  const b = new Uint8Array(BS);
  dev.read(blk, b);
  return b;
};

type Op = { kind: 'write'; blk: number; v: number; fua: boolean } | { kind: 'flush' };
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), blk: fc.integer({ min: 0, max: 7 }), v: fc.integer({ min: 1, max: 255 }), fua: fc.boolean() }),
  fc.constant({ kind: 'flush' as const }),
);
function apply(dev: BlockDevice, ops: readonly Op[]): void {
  for (const o of ops) {
    if (o.kind === 'flush') dev.flush();
    else dev.write(o.blk, fill(o.v), { fua: o.fua });
  }
}

describe('block device', () => {
  it('reads unwritten blocks as zeros; a block outside the device is EIO (access beyond end of device)', () => {
    const dev = small();
    expect(content(dev, 5)).toEqual(new Uint8Array(BS));
    expect(dev.read(32, new Uint8Array(BS))).toBe(EIO);
    expect(dev.read(-1, new Uint8Array(BS))).toBe(EIO);
    expect(dev.write(1.5, fill(1))).toBe(EIO);
    expect(dev.stats.reads).toBe(1);
    expect(dev.stats.writes).toBe(0);
    expect(() => dev.write(0, new Uint8Array(10))).toThrow(KernelPanic);
  });

  it('after a flush every earlier write is durable: any crash gives exactly the newest versions (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), fc.nat(), fc.boolean(), (ops, seed, tear) => {
      const dev = small();
      apply(dev, ops);
      dev.flush();
      expect(dev.pendingBlocks()).toEqual([]);
      const plans = [{}, { random: Prng.fromSeed(seed), ...(tear ? { tearChance: [1, 1] as const } : {}) }];
      for (const plan of plans) {
        const crashed = dev.crash(plan);
        for (let b = 0; b < 8; b++) expect(content(crashed, b), `seed ${seed}, block ${b}`).toEqual(content(dev, b));
      }
    }));
  });

  it('a crash keeps, per block, the durable or one pending version; a torn one mixes it with the one before (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), fc.nat(), (ops, seed) => {
      const dev = small(true);
      apply(dev, ops);
      // Versions per block: the durable content (after the last flush or FUA) then each pending write.
      const state = dev.stateAfterIos(dev.log().length);
      const outcome: CrashOutcome[] = [];
      const crashed = dev.crash({ random: Prng.fromSeed(seed), tearChance: [1, 3] }, outcome);
      expect(outcome.map((o) => o.blk)).toEqual([...state.pending.keys()].sort((a, b) => a - b));
      for (let b = 0; b < 8; b++) {
        const durable = state.durable.get(b) ?? new Uint8Array(BS);
        const versions = [durable, ...(state.pending.get(b) ?? [])];
        const got = content(crashed, b);
        const o = outcome.find((x) => x.blk === b);
        if (o === undefined) {
          expect(got, `seed ${seed}: block ${b} had nothing pending`).toEqual(durable);
          continue;
        }
        expect(o.choices).toBe(versions.length);
        expect(o.version >= 0 && o.version < versions.length).toBe(true);
        if (o.tornMask === null) {
          expect(got, `seed ${seed}: block ${b}`).toEqual(versions[o.version]);
          continue;
        }
        // A real tear: some sectors from the chosen version, the others from the one before it.
        expect(o.version).toBeGreaterThan(0);
        expect(o.tornMask > 0 && o.tornMask < (1 << (BS / 512)) - 1).toBe(true);
        for (let sec = 0; sec < BS / 512; sec++) {
          const from = ((o.tornMask >>> sec) & 1) === 1 ? versions[o.version]! : versions[o.version - 1]!;
          expect(got.subarray(sec * 512, (sec + 1) * 512)).toEqual(from.subarray(sec * 512, (sec + 1) * 512));
        }
      }
    }));
  });

  it('follows an explicit crash plan: chosen versions and tear masks', () => {
    const dev = small();
    dev.write(1, fill(1));
    dev.write(1, fill(2));
    dev.write(1, fill(3));
    dev.write(2, fill(9));
    const crashed = dev.crash({ versions: new Map([[1, 2], [2, 1]]), torn: new Map([[2, 0b10]]) });
    expect(content(crashed, 1)).toEqual(fill(2));
    expect([...content(crashed, 2).subarray(0, 512)]).toEqual(new Array(512).fill(0));
    expect([...content(crashed, 2).subarray(512)]).toEqual(new Array(512).fill(9));
    expect(() => dev.crash({ versions: new Map([[1, 4]]) })).toThrow(KernelPanic);
    expect(() => dev.crash({ versions: new Map([[1, 1]]), torn: new Map([[1, 4]]) })).toThrow(KernelPanic);
    expect(content(dev.crash({}), 1)).toEqual(new Uint8Array(BS)); // no plan, no random: all lost
  });

  it('reports every crash decision as trace events', () => {
    const events: Array<[string, unknown]> = [];
    const dev = new BlockDevice({
      name: 'd', blockSize: BS, blocks: 8, tracer: { emit: (kind, data) => void events.push([kind, data]) },
    });
    dev.write(3, fill(1));
    dev.write(3, fill(2));
    dev.write(5, fill(1));
    const outcome: CrashOutcome[] = [];
    dev.crash({ random: Prng.fromSeed(7), tearChance: [1, 2] }, outcome);
    const crashEvents = events.filter(([k]) => k.startsWith('blkdev.crash'));
    expect(crashEvents).toEqual([
      ...outcome.map((o) => ['blkdev.crash_block', { dev: 'd', ...o }]),
      ['blkdev.crash', { dev: 'd', pending: 2, torn: outcome.filter((o) => o.tornMask !== null).length }],
    ]);
  });

  it('a FUA write is durable by itself; flush and FUA end epochs', () => {
    const dev = small(true);
    dev.write(1, fill(1));
    dev.write(2, fill(2), { fua: true });
    const crashed = dev.crash({});
    expect(content(crashed, 1)).toEqual(new Uint8Array(BS));
    expect(content(crashed, 2)).toEqual(fill(2));
    dev.flush();
    dev.write(3, fill(3));
    expect(dev.log().map((e) => [e.op, e.epoch])).toEqual([['write', 0], ['write', 0], ['flush', 1], ['write', 2]]);
  });

  it('crashAfterIos(n) equals the crash of a device that only did the first n I/Os (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 25 }), fc.nat(), fc.nat(), (ops, n0, seed) => {
      const dev = small(true);
      apply(dev, ops);
      const n = n0 % (dev.log().length + 1);
      const prefix = small();
      apply(prefix, ops.slice(0, n)); // every op is one I/O
      const a: CrashOutcome[] = [];
      const b: CrashOutcome[] = [];
      const fromLog = dev.crashAfterIos(n, { random: Prng.fromSeed(seed), tearChance: [1, 2] }, a);
      const fromPrefix = prefix.crash({ random: Prng.fromSeed(seed), tearChance: [1, 2] }, b);
      expect(a).toEqual(b);
      for (let blk = 0; blk < 8; blk++) expect(content(fromLog, blk), `I/O ${n}, block ${blk}`).toEqual(content(fromPrefix, blk));
    }));
  });

  it('injects EIO on chosen blocks and by probability, and counts it', () => {
    const dev = small();
    dev.setFaults({ readErrors: new Set([3]), writeErrors: new Set([4]) });
    expect(dev.read(3, new Uint8Array(BS))).toBe(EIO);
    expect(dev.write(4, fill(1))).toBe(EIO);
    expect(dev.read(5, new Uint8Array(BS))).toBe(0);
    dev.setFaults({ writeChance: [1, 2] });
    let failed = 0;
    for (let i = 0; i < 200; i++) if (dev.write(6, fill(1)) === EIO) failed++;
    expect(failed).toBeGreaterThan(60);
    expect(failed).toBeLessThan(140);
    expect(dev.stats.faults).toBe(2 + failed);
    const writesBefore = dev.stats.writes;
    expect(writesBefore).toBe(200 - failed); // a failed write is not a write
    dev.setFaults({ flushChance: [1, 1] });
    dev.write(7, fill(7));
    expect(dev.flush()).toBe(EIO);
    expect(dev.stats.flushes).toBe(0);
    expect(dev.pendingBlocks().some((p) => p.blk === 7)).toBe(true); // nothing became durable
    expect(dev.stats.faults).toBe(3 + failed);
    dev.setFaults({});
    expect(dev.flush()).toBe(0);
    expect(dev.pendingBlocks()).toEqual([]);
    const plain = new BlockDevice({ name: 'p', blockSize: BS, blocks: 4 });
    expect(() => plain.setFaults({ readChance: [1, 2] })).toThrow(KernelPanic); // chance needs a Random
  });

  it('loses power after the N-th write', () => {
    const dev = small();
    dev.cutPowerAfterWrites(2);
    expect(dev.write(0, fill(1))).toBe(0);
    expect(() => dev.write(1, fill(1))).toThrow(PowerCut);
  });

  it('stores only what was written: a 1 GiB device with 1 MiB written holds about 1 MiB', () => {
    const dev = new BlockDevice({ name: 'big', blockSize: 4096, blocks: 262_144 });
    for (let i = 0; i < 256; i++) dev.write(i * 1000, new Uint8Array(4096).fill(1));
    dev.flush();
    expect(dev.sizeBytes).toBe(1 << 30);
    expect(dev.storedBlocks).toBe(256);
  });

  it('exports to a raw image and imports it back unchanged (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 20 }), (ops) => {
      const dev = small();
      apply(dev, ops);
      const back = BlockDevice.fromImage({ name: 'd', blockSize: BS }, dev.toImage());
      if (typeof back === 'number') throw new Error('import failed');
      expect(Buffer.compare(back.toImage(), dev.toImage())).toBe(0);
    }));
  });
});
