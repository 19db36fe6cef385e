import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BlockDevice, PowerCut } from '../../../kernel/blkdev.ts';
import { isErr } from '../../../kernel/errno.ts';
import {
  decodeJournalSuperblock, decodeRevoke, decodeTags, encodeCommit, encodeDescriptor, encodeJournalSuperblock,
  encodeRevoke, JFS_FEATURE_INCOMPAT_REVOKE, JFS_FLAG_ESCAPE, JFS_MAGIC_NUMBER, needsEscape, tagsPerDescriptor,
} from '../../../fs/jbd/jbd.ts';
import { journal_recover, journal_scan, type JournalIo } from '../../../fs/jbd/recovery.ts';

const BS = 1024;
const J0 = 100; // journal's first device block in the synthetic layout
const MAXLEN = 64;
const UUID = new Uint8Array(16).fill(7);

function ioFor(dev: BlockDevice, map: (n: number) => number = (n) => J0 + n): JournalIo {
  return {
    blocksize: BS,
    readLog: (n, dst) => dev.read(map(n), dst),
    writeLog: (n, src) => dev.write(map(n), src),
    writeHome: (blk, src) => dev.write(blk, src),
    flush: () => dev.flush(),
  };
}

function block(fill: number): Uint8Array {
  return new Uint8Array(BS).fill(fill);
}

interface Tx {
  readonly tid: number;
  readonly writes: ReadonlyArray<readonly [number, Uint8Array]>;
  readonly revokes?: readonly number[];
  readonly commit?: boolean;
}

/** Lay transactions into the log from block `start`, as JBD's commit would. Returns the next free block. */
function writeLog(dev: BlockDevice, start: number, txs: readonly Tx[], sequence = txs[0]?.tid ?? 1): number {
  const sb = new Uint8Array(BS);
  encodeJournalSuperblock(sb, {
    blocktype: 4, blocksize: BS, maxlen: MAXLEN, first: 1, sequence, start, errno: 0, featureCompat: 0,
    featureIncompat: JFS_FEATURE_INCOMPAT_REVOKE, featureRoCompat: 0, uuid: UUID, nrUsers: 1, maxTransaction: 0, maxTransData: 0,
  });
  dev.write(J0, sb);
  let pos = start;
  const put = (b: Uint8Array): void => {
    dev.write(J0 + pos, b);
    pos = pos + 1 >= MAXLEN ? 1 : pos + 1;
  };
  for (const t of txs) {
    if (t.revokes !== undefined) {
      const r = new Uint8Array(BS);
      encodeRevoke(r, t.tid, t.revokes);
      put(r);
    }
    if (t.writes.length > 0) {
      const d = new Uint8Array(BS);
      encodeDescriptor(d, t.tid, t.writes.map(([blk, data]) => ({ blocknr: blk, flags: needsEscape(data) ? JFS_FLAG_ESCAPE : 0 })), UUID);
      put(d);
      for (const [, data] of t.writes) {
        const copy = data.slice();
        if (needsEscape(copy)) copy.fill(0, 0, 4);
        put(copy);
      }
    }
    if (t.commit !== false) {
      const c = new Uint8Array(BS);
      encodeCommit(c, t.tid);
      put(c);
    }
  }
  dev.flush();
  return pos;
}

function newDev(): BlockDevice {
  return new BlockDevice({ name: 'j', blockSize: BS, blocks: 256 });
}

function home(dev: BlockDevice, blk: number): number {
  const b = new Uint8Array(BS);
  dev.read(blk, b);
  return b[100] as number;
}

describe('JBD format', () => {
  it('round-trips descriptor tags, revoke blocks and the superblock', () => {
    const d = new Uint8Array(BS);
    const tags = [{ blocknr: 5, flags: 0 }, { blocknr: 9, flags: JFS_FLAG_ESCAPE }, { blocknr: 1 << 30, flags: 0 }];
    encodeDescriptor(d, 3, tags, UUID);
    expect(decodeTags(d).map((t) => [t.blocknr, t.flags])).toEqual([[5, 0], [9, 1 | 2], [1 << 30, 2 | 8]]);
    const r = new Uint8Array(BS);
    encodeRevoke(r, 3, [1, 2, 3]);
    expect(decodeRevoke(r)).toEqual([1, 2, 3]);
    expect(tagsPerDescriptor(1024)).toBe(124);
    const sb = new Uint8Array(BS);
    encodeJournalSuperblock(sb, {
      blocktype: 4, blocksize: BS, maxlen: 1024, first: 1, sequence: 0xfffffffe, start: 7, errno: 0, featureCompat: 0,
      featureIncompat: 1, featureRoCompat: 0, uuid: UUID, nrUsers: 1, maxTransaction: 0, maxTransData: 0,
    });
    const back = decodeJournalSuperblock(sb);
    expect(typeof back === 'object' && [back.sequence, back.start, back.maxlen]).toEqual([0xfffffffe, 7, 1024]);
    expect(sb[0]).toBe(0xc0); // big-endian magic
  });
});

describe('JBD recovery', () => {
  it('replays committed transactions in order, never the unfinished last one', () => {
    const dev = newDev();
    writeLog(dev, 1, [
      { tid: 5, writes: [[10, block(1)], [11, block(1)]] },
      { tid: 6, writes: [[10, block(2)]] },
      { tid: 7, writes: [[12, block(3)]], commit: false },
    ]);
    const r = journal_recover(ioFor(dev));
    if (typeof r === 'string' || isErr(r)) throw new Error(String(r));
    expect(r.scan.transactions.map((t) => t.tid)).toEqual([5, 6]);
    expect(r.scan.unfinished?.tid).toBe(7);
    expect([home(dev, 10), home(dev, 11), home(dev, 12)]).toEqual([2, 1, 0]);
    expect(r.newSequence).toBe(8);
    const again = journal_scan(ioFor(dev));
    expect(typeof again === 'object' && again.clean).toBe(true);
  });

  it('skips a block revoked by the same or a later transaction, but not an earlier one', () => {
    const dev = newDev();
    writeLog(dev, 1, [
      { tid: 1, writes: [[20, block(1)], [21, block(1)]] },
      { tid: 2, writes: [], revokes: [20] },
      { tid: 3, writes: [[20, block(3)]] },
      { tid: 4, writes: [[22, block(4)]], revokes: [21] },
    ]);
    const r = journal_recover(ioFor(dev));
    if (typeof r === 'string' || isErr(r)) throw new Error(String(r));
    expect([home(dev, 20), home(dev, 21), home(dev, 22)]).toEqual([3, 0, 4]);
    expect(r.revokedSkips).toBe(2);
  });

  it('restores escaped blocks that begin with the journal magic', () => {
    const dev = newDev();
    const magicBlock = block(9);
    new DataView(magicBlock.buffer).setUint32(0, JFS_MAGIC_NUMBER);
    writeLog(dev, 1, [{ tid: 1, writes: [[30, magicBlock]] }]);
    expect(isErr(journal_recover(ioFor(dev)))).toBe(false);
    const b = new Uint8Array(BS);
    dev.read(30, b);
    expect(b).toEqual(magicBlock);
  });

  it('follows the log around its end', () => {
    const dev = newDev();
    const writes: Array<[number, Uint8Array]> = [];
    for (let i = 0; i < 10; i++) writes.push([40 + i, block(10 + i)]);
    writeLog(dev, MAXLEN - 4, [{ tid: 9, writes }]);
    const r = journal_recover(ioFor(dev));
    if (typeof r === 'string' || isErr(r)) throw new Error(String(r));
    expect(r.replayed).toBe(10);
    for (let i = 0; i < 10; i++) expect(home(dev, 40 + i)).toBe(10 + i);
  });

  it('stops at a torn commit block (its sector with the header never reached the disk)', () => {
    const dev = newDev();
    const end = writeLog(dev, 1, [{ tid: 1, writes: [[50, block(1)]] }, { tid: 2, writes: [[50, block(2)]] }]);
    const commitBlock = J0 + end - 1;
    dev.write(commitBlock, new Uint8Array(BS)); // the last commit's header lost
    dev.flush();
    const r = journal_recover(ioFor(dev));
    if (typeof r === 'string' || isErr(r)) throw new Error(String(r));
    expect(home(dev, 50)).toBe(1);
  });

  it('is idempotent and survives a crash at any write during recovery (property)', () => {
    fc.assert(fc.property(
      fc.array(fc.record({ blk: fc.integer({ min: 10, max: 20 }), v: fc.integer({ min: 1, max: 250 }), revoke: fc.boolean() }), { minLength: 1, maxLength: 12 }),
      fc.integer({ min: 1, max: 40 }),
      (ops, cutAt) => {
        const txs: Tx[] = ops.map((o, i) => ({ tid: i + 1, writes: [[o.blk, block(o.v)]], ...(o.revoke ? { revokes: [o.blk + 1] } : {}) }));
        const reference = newDev();
        writeLog(reference, 1, txs);
        expect(isErr(journal_recover(ioFor(reference)))).toBe(false);
        const dev = newDev();
        writeLog(dev, 1, txs);
        dev.cutPowerAfterWrites(dev.stats.writes + cutAt);
        let crashed = dev;
        try {
          journal_recover(ioFor(dev));
        } catch (e) {
          if (!(e instanceof PowerCut)) throw e;
          crashed = dev.crash({});
        }
        expect(isErr(journal_recover(ioFor(crashed)))).toBe(false);
        for (let blk = 10; blk <= 21; blk++) expect(home(crashed, blk)).toBe(home(reference, blk));
      },
    ), { numRuns: 200 });
  });
});

describe('JBD recovery of a journal written by Linux', () => {
  it('replays what e2fsck replays, leaving a file system e2fsck finds clean', () => {
    const work = mkdtempSync(join(tmpdir(), 'izo-jbd-'));
    try {
      const image = gunzipSync(readFileSync(join(import.meta.dirname, '../../fixtures/jbd/linux-ext3-crash.img.gz')));
      const theirs = join(work, 'theirs.img');
      const ours = join(work, 'ours.img');
      writeFileSync(theirs, image);
      const map = journalMap(execFileSync('debugfs', ['-R', 'stat <8>', theirs], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
      expect(map.length).toBe(1024);
      const dev = BlockDevice.fromImage({ name: 'img', blockSize: 1024 }, new Uint8Array(image));
      if (isErr(dev)) throw new Error('bad image');
      const r = journal_recover(ioFor(dev, (n) => map[n] as number));
      if (typeof r === 'string' || isErr(r)) throw new Error(String(r));
      expect(r.scan.transactions.map((t) => t.tid)).toEqual([2, 3]);
      expect(r.replayed).toBe(12);
      // Recovery done: clear ext3's needs_recovery flag (incompat 0x4), as the file system would.
      const out = dev.toImage();
      const v = new DataView(out.buffer, 1024);
      v.setUint32(0x60, v.getUint32(0x60, true) & ~0x4, true);
      writeFileSync(ours, out);
      // e2fsck -fy replays the journal itself; exit 1 means "errors corrected" (it also refreshes counts).
      expect(e2fsck(['-fy', theirs]).status).toBeLessThanOrEqual(1);
      const check = e2fsck(['-fn', ours]);
      expect(check.status, check.output).toBe(0);
      const listing = (img: string): string => execFileSync('debugfs', ['-R', 'ls -l /d', img], { stdio: ['ignore', 'pipe', 'ignore'] })
        .toString().replace(/\s+\d+-\w+-\d+ \d+:\d+\s+/g, ' ');
      expect(listing(ours)).toBe(listing(theirs));
      expect(execFileSync('debugfs', ['-R', 'cat /d/f5', ours], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()).toBe('file 5\n');
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});

/** Logical -> physical blocks of the journal inode, from debugfs's "(0-11):530-541, (IND):542, ..." */
function journalMap(stat: string): number[] {
  const map: number[] = [];
  for (const m of stat.matchAll(/\((\d+)(?:-(\d+))?\):(\d+)(?:-(\d+))?/g)) {
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    for (let i = from; i <= to; i++) map[i] = Number(m[3]) + (i - from);
  }
  return map;
}

function e2fsck(args: string[]): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync('e2fsck', args, { stdio: 'pipe' }).toString() };
  } catch (e) {
    const err = e as { status: number; stdout?: Buffer };
    return { status: err.status, output: err.stdout?.toString() ?? '' };
  }
}
