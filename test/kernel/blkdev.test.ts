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
  it('reads unwritten blocks as zeros and panics outside the device', () => {
    const dev = small();
    expect(content(dev, 5)).toEqual(new Uint8Array(BS));
    expect(() => dev.read(32, new Uint8Array(BS))).toThrow(KernelPanic);
    expect(() => dev.write(0, new Uint8Array(10))).toThrow(KernelPanic);
  });

  it('after a flush every earlier write is durable (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), fc.integer({ min: 0, max: 1000 }), (ops, seed) => {
      const dev = small();
      apply(dev, ops);
      dev.flush();
      const crashed = dev.crash({ random: Prng.fromSeed(seed) });
      for (let b = 0; b < 8; b++) expect(content(crashed, b)).toEqual(content(dev, b));
    }));
  });

  it('a crash keeps, per block, the durable or one pending version; torn sectors mix neighbours (property)', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 30 }), fc.integer({ min: 0, max: 1000 }), (ops, seed) => {
      const dev = small(true);
      apply(dev, ops);
      const outcome: CrashOutcome[] = [];
      const crashed = dev.crash({ random: Prng.fromSeed(seed), tearChance: [1, 3] }, outcome);
      // Versions per block: the durable content (after the last flush) then each pending write.
      const state = dev.stateAfterIos(dev.log().length);
      for (let b = 0; b < 8; b++) {
        const durable = state.durable.get(b) ?? new Uint8Array(BS);
        const versions = [durable, ...(state.pending.get(b) ?? [])];
        const got = content(crashed, b);
        for (let s = 0; s < BS / 512; s++) {
          const sector = got.subarray(s * 512, (s + 1) * 512);
          expect(versions.some((v) => sector.every((x, i) => x === v[s * 512 + i]))).toBe(true);
        }
        const o = outcome.find((x) => x.blk === b);
        if (o !== undefined && o.tornMask === null) expect(got).toEqual(versions[o.version]);
      }
    }));
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

  it('crashAfterIos(n) equals the crash of a device that only did the first n I/Os', () => {
    fc.assert(fc.property(fc.array(opArb, { maxLength: 25 }), fc.nat(), (ops, n0) => {
      const dev = small(true);
      apply(dev, ops);
      const n = n0 % (dev.log().length + 1);
      const prefix = small();
      let done = 0;
      for (const o of ops) {
        if (done === n) break;
        apply(prefix, [o]);
        done++;
      }
      const versions = new Map(prefix.pendingBlocks().map((p) => [p.blk, p.versions]));
      const a = dev.crashAfterIos(n, { versions });
      const b = prefix.crash({ versions });
      for (let blk = 0; blk < 8; blk++) expect(content(a, blk)).toEqual(content(b, blk));
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
