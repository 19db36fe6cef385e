/**
 * Sizes and names at their limits, per block size (limits-cases.json): symlink targets from the
 * fast/slow boundary to one that no longer fits a block (ENAMETOOLONG), and files at s_maxbytes,
 * the largest size Linux 2.4's ext3_max_size allows (EFBIG one byte further, for writes and
 * truncates; EINVAL for lseek), and at the first byte of each indirect range.
 * `linux-limits.json` holds what the real kernel answered on a loop-mounted ext2 of each block size
 * (linux_oracle.py, as root: `python3 test/conformance/linux_oracle.py
 * test/conformance/limits-cases.json > test/conformance/linux-limits.json`), and that e2fsck -fn
 * found those images clean. Where the model follows Linux 2.4 and today's kernel does not (4 KiB
 * blocks: today's limit is lower), the case records both answers and why. Every case runs on ext2
 * and ext3 of its block size and on presto over that ext3, and the image it leaves must pass
 * e2fsck -fn; through presto the fileset's KML must also decode whole (a record at a limit, a
 * CLOSE or SETATTR of a file of s_maxbytes, a SYMLINK of the longest target, is still a record).
 * CONFORMANCE_LIVE=1 re-asks the kernel.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockDevice, type BlockSize } from '../../kernel/blkdev.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../fs/ext3/super.ts';
import { World, type Host } from '../../sim/host.ts';
import { saveImage } from '../../src/image.ts';
import { e2fsck } from '../support/e2fsprogs.ts';
import { prestoHost, readLog } from '../support/presto.ts';
import { linuxExpectation, runCase, type ErrnoCase } from './steps.ts';

const DIR = import.meta.dirname;
type LimitCase = ErrnoCase & { readonly blockSize: BlockSize };
const cases = JSON.parse(readFileSync(join(DIR, 'limits-cases.json'), 'utf8')) as LimitCase[];
const linux = JSON.parse(readFileSync(join(DIR, 'linux-limits.json'), 'utf8')) as {
  kernel: string;
  answers: Record<string, string>;
  e2fsck: Record<string, string>;
};
const work = mkdtempSync(join(tmpdir(), 'izo-limits-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function boot(bs: BlockSize, journalBlocks: number, presto = false): { h: Host; dev: BlockDevice } {
  const dev = new BlockDevice({ name: 'hda', blockSize: bs, blocks: (16 << 20) / bs });
  const geo = mkfs(dev, { blockSize: bs, uuid: new Uint8Array(16).fill(3), time: 1_009_843_200, journalBlocks });
  if (typeof geo === 'string') throw new Error(geo);
  if (presto) return { h: prestoHost(new World({ seed: 1 }), 't', { dev }), dev };
  const h = new World({ seed: 1 }).addHost('t');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', '');
  return { h, dev };
}

describe('limits table', () => {
  it('covers 1, 2 and 4 KiB blocks, each case named once', () => {
    expect(new Set(cases.map((c) => c.blockSize))).toEqual(new Set([1024, 2048, 4096]));
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it(`every expectation is what Linux ${linux.kernel} answered, or a recorded deviation`, () => {
    const wrong = cases.filter((c) => linux.answers[c.name] !== linuxExpectation(c))
      .map((c) => `${c.name}: Linux ${linux.answers[c.name]}, recorded ${linuxExpectation(c)}`);
    expect(wrong).toEqual([]);
    expect(Object.values(linux.e2fsck)).toEqual(['clean', 'clean', 'clean']);
    for (const c of cases.filter((x) => x.deviation !== undefined)) expect(c.deviation?.linux).not.toBe(c.expect);
  });

  it.runIf(process.env.CONFORMANCE_LIVE === '1')('the recorded answers are still the kernel\'s (live)', () => {
    const out = execFileSync('python3', [join(DIR, 'linux_oracle.py'), join(DIR, 'limits-cases.json')]).toString();
    const live = JSON.parse(out) as typeof linux;
    expect(live.answers).toEqual(linux.answers);
  });

  const targets = [['ext2', 0, false], ['ext3', 1024, false], ['presto over ext3', 1024, true]] as const;
  for (const [name, journalBlocks, presto] of targets) {
    describe(name, () => {
      for (const c of cases) {
        it(`${c.name} -> ${c.expect}`, () => {
          const { h, dev } = boot(c.blockSize, journalBlocks, presto);
          expect(runCase(h, c)).toBe(c.expect);
          if (presto) expect(readLog(h, h.process('log')).damage).toBeNull();
          h.shutdown();
          const img = join(work, 'case.img');
          saveImage(img, dev);
          const r = e2fsck(img);
          expect(r.status, r.output).toBe(0);
        });
      }
    });
  }
});
