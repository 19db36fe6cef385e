/**
 * A full disk on ext2 and ext3: random system-call scripts (test/support/enospc.ts) on small images
 * filled to within a few hundred blocks of full, then driven past it. After every call that fails
 * (ENOSPC above all, but any errno), the sizes, block counts and link counts of every name, and the
 * block and inode bitmaps and free counts, must be exactly as before the call: no i_size moved by a
 * write that wrote nothing, no indirect block left behind by an allocation that failed half way.
 * And the image must be clean: after each failing call it is unmounted and checked by our fsck
 * (Linux's e2fsck -fn too, after the first ENOSPC of each script and at its end), then mounted again.
 * Runs: ENOSPC_RUNS per flavour (default 6); ENOSPC_SEED=S (default 1) picks the seed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { BlockDevice, type BlockSize } from '../../../kernel/blkdev.ts';
import { ENOSPC, errnoName, isErr, type Errno } from '../../../kernel/errno.ts';
import { O_CREAT, O_WRONLY, type SuperBlock } from '../../../kernel/fs.ts';
import { fsck } from '../../../fs/ext3/fsck.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { EXT3_SB, ext3_free_blocks, ext3_fs_type } from '../../../fs/ext3/super.ts';
import { World, type Host } from '../../../sim/host.ts';
import { saveImage } from '../../../src/image.ts';
import { hostSys, type SyncSys } from '../../support/boot.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';
import { ENOSPC_PATHS, fsOpArb, runOp, type FsOp } from '../../support/enospc.ts';

const work = mkdtempSync(join(tmpdir(), 'izo-enospc-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Flavour {
  readonly name: string;
  readonly bs: BlockSize;
  readonly blocks: number;
  readonly inodes: number;
  readonly journalBlocks: number;
  readonly data: string;
}

const FLAVOURS: readonly Flavour[] = [
  { name: 'ext2, 1 KiB blocks', bs: 1024, blocks: 2048, inodes: 64, journalBlocks: 0, data: '' },
  {
    name: 'ext3 data=ordered, 1 KiB blocks, two groups', bs: 1024, blocks: 10000, inodes: 96, journalBlocks: 1024,
    data: 'data=ordered',
  },
  {
    name: 'ext3 data=journal, 4 KiB blocks', bs: 4096, blocks: 2048, inodes: 64, journalBlocks: 1024,
    data: 'data=journal',
  },
];

class Mounted {
  h!: Host;
  s!: SyncSys;
  constructor(readonly dev: BlockDevice, readonly f: Flavour) {
    this.mount();
  }

  mount(): void {
    this.h = new World({ seed: 1 }).addHost('h');
    this.h.registerFs(ext3_fs_type);
    this.h.addDisk('hda', this.dev);
    this.h.mountRoot('ext3', 'hda', this.f.data);
    this.s = hostSys(this.h, this.h.process('script'));
  }

  get sb(): SuperBlock {
    return this.h.kernel.mounts[0]!.mnt_sb;
  }

  /** Unmount cleanly, check, mount again. */
  cycle(withE2fsck: boolean, where: string): void {
    this.h.shutdown();
    expect(fsck(this.dev), `our fsck after ${where}`).toEqual([]);
    if (withE2fsck) {
      const img = join(work, 'check.img');
      saveImage(img, this.dev);
      const r = e2fsck(img);
      expect(r.status, `e2fsck -fn after ${where}:\n${r.output}`).toBe(0);
    }
    this.mount();
  }
}

/** Everything a failing call must leave alone: bitmaps, free counts, and each name's size and blocks. */
function state(m: Mounted): string {
  const s = EXT3_SB(m.sb);
  const parts: string[] = [`free ${s.raw.freeBlocksCount} ${s.raw.freeInodesCount}`];
  for (const d of s.descs) {
    const bb = s.cache.bread(d.blockBitmap);
    const ib = s.cache.bread(d.inodeBitmap);
    if (isErr(bb) || isErr(ib)) throw new Error('cannot read a bitmap');
    parts.push(`group ${d.freeBlocksCount} ${d.freeInodesCount} ${d.usedDirsCount}`);
    parts.push(Buffer.from(bb.data).toString('hex'), Buffer.from(ib.data).toString('hex'));
    s.cache.brelse(bb);
    s.cache.brelse(ib);
  }
  for (const p of ENOSPC_PATHS) {
    const st = m.s.sys_lstat(p);
    if (typeof st === 'number') parts.push(`${p}: ${errnoName(st)}`);
    else parts.push(`${p}: ino ${st.st_ino} size ${st.st_size} blocks ${st.st_blocks} nlink ${st.st_nlink}`);
  }
  return parts.join('\n');
}

/** The lines of two states that differ (bitmaps shown as the bytes that changed). */
function changed(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  const out: string[] = [];
  a.forEach((line, i) => {
    const now = b[i] ?? '';
    if (line === now) return;
    if (!/^[0-9a-f]+$/.test(line)) out.push(`${line} -> ${now}`);
    else for (let k = 0; k < line.length; k += 2) {
      const [was, is] = [line.slice(k, k + 2), now.slice(k, k + 2)];
      if (was !== is) out.push(`bitmap line ${i}, byte ${k / 2}: ${was} -> ${is}`);
    }
  });
  return out;
}

/** Fill the file system to within `slack` blocks of full (one big file the script never names). */
function prefill(m: Mounted, slack: number): void {
  const fd = m.s.sys_open('/fill', O_WRONLY | O_CREAT, 0o644) as number;
  const bs = m.f.bs;
  const chunk = new Uint8Array(256 * bs).fill(0x5a);
  // A margin for the indirect blocks the file needs: the script, not the filling, meets ENOSPC.
  for (let free = ext3_free_blocks(m.sb); free > slack + 40;) {
    const n = Math.min(chunk.length, (free - slack - 40) * bs);
    expect(m.s.sys_write(fd, chunk.subarray(0, n))).toBe(n);
    free = ext3_free_blocks(m.sb);
  }
  m.s.sys_close(fd);
  for (const d of ['/d', '/d/e']) expect(m.s.sys_mkdir(d, 0o755)).toBe(0);
}

function runScript(f: Flavour, slack: number, ops: readonly FsOp[]): { failures: number; enospc: number } {
  const dev = new BlockDevice({ name: 'hda', blockSize: f.bs, blocks: f.blocks });
  const uuid = new Uint8Array(16).fill(7);
  const { journalBlocks, inodes } = f;
  const geo = mkfs(dev, { blockSize: f.bs, uuid, time: 1_009_843_200, journalBlocks, inodes });
  if (typeof geo === 'string') throw new Error(geo);
  const m = new Mounted(dev, f);
  prefill(m, slack);
  let failures = 0;
  let enospc = 0;
  ops.forEach((o, i) => runOp(m.s, o, (what, call) => {
    const before = state(m);
    const r = call();
    if (!isErr(r as Errno)) return r;
    failures++;
    const where = `op ${i} ${what} = ${errnoName(r as Errno)}`;
    expect(changed(before, state(m)).join('\n'), `${where} changed the file system`).toBe('');
    if (r === ENOSPC) enospc++;
    m.cycle(r === ENOSPC && enospc === 1, where);
    return r;
  }));
  m.cycle(true, 'the end of the script');
  return { failures, enospc };
}

const RUNS = Number(process.env.ENOSPC_RUNS ?? 6);
// A fixed seed by default, so that a run is the same every time (and the count of scripts that met a
// full disk, checked below, cannot fall short by chance); ENOSPC_SEED explores others.
const SEED = Number(process.env.ENOSPC_SEED ?? 1);

describe('a full disk: a failing call changes nothing, and the image stays clean', () => {
  for (const f of FLAVOURS) {
    it(`${f.name} (property)`, () => {
      let enospc = 0;
      const slack = fc.integer({ min: 0, max: (400 * 1024) / f.bs });
      const prop = fc.property(slack, fc.array(fsOpArb(f.bs), { minLength: 20, maxLength: 70 }), (free, ops) => {
        enospc += runScript(f, free, ops).enospc;
      });
      const out = fc.check(prop, { numRuns: RUNS, seed: SEED });
      if (out.failed) {
        const why = out.errorInstance instanceof Error ? out.errorInstance.message : String(out.errorInstance);
        const rerun = `rerun: ENOSPC_SEED=${out.seed} npx vitest run test/fs/ext3/enospc.test.ts`;
        throw new Error(`${why}\n${fc.defaultReportMessage(out)}\n${rerun}`);
      }
      // The scripts must really have run into a full disk, or the property says nothing.
      expect(enospc).toBeGreaterThan(RUNS);
    });
  }
});
