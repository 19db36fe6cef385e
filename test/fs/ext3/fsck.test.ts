/**
 * Our fsck against deliberate corruptions: each case corrupts specific bytes of a clean image and
 * names the problem it expects; Linux's e2fsck -fn must reject the same image (a non-zero exit),
 * and both must find the clean image clean.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BlockDevice } from '../../../kernel/blkdev.ts';
import { isErr } from '../../../kernel/errno.ts';
import { sys_lstat } from '../../../kernel/syscalls.ts';
import { decodeDirBlock, decodeGroupDesc, decodeInode, encodeGroupDesc, encodeInode, type RawInode } from '../../../fs/ext3/ext3_fs.ts';
import { fsck } from '../../../fs/ext3/fsck.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../../fs/ext3/super.ts';
import { World } from '../../../sim/host.ts';
import { parseScript, runScript } from '../../../src/sh.ts';
import { saveImage } from '../../../src/image.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';

const BS = 1024;
const SCRIPT = 'mkdir /d\nmkdir /d/sub\nwriteb /f1 5000 3\nwrite /f2 two\nsymlink f2 /ln\nwrite /d/file inside\nmkdir /empty';

interface Image {
  readonly dev: BlockDevice;
  readonly ino: Record<string, number>;
}

function build(journal = 0): Image {
  const dev = new BlockDevice({ name: 'hda', blockSize: BS, blocks: 8192 });
  const geo = mkfs(dev, { blockSize: BS, uuid: new Uint8Array(16).fill(9), time: 1_009_843_200, journalBlocks: journal });
  if (typeof geo === 'string') throw new Error(geo);
  const h = new World({ seed: 1 }).addHost('h');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda');
  const p = h.process('sh');
  const parsed = parseScript(SCRIPT) as { commands: Parameters<typeof runScript>[1] };
  h.run(p, runScript(p, parsed.commands));
  const ino: Record<string, number> = {};
  for (const path of ['/', '/d', '/d/sub', '/f1', '/f2', '/ln', '/d/file', '/empty']) {
    const st = h.run(p, sys_lstat(p, path));
    if (isErr(st)) throw new Error(path);
    ino[path] = st.st_ino;
  }
  h.shutdown();
  return { dev, ino };
}

/** Read-modify-write one block of the device. */
function patch(dev: BlockDevice, blk: number, f: (b: Uint8Array) => void): void {
  const b = new Uint8Array(BS);
  dev.read(blk, b);
  f(b);
  dev.write(blk, b);
}

const GD_BLK = 2;
function gd(dev: BlockDevice) {
  const b = new Uint8Array(BS);
  dev.read(GD_BLK, b);
  return decodeGroupDesc(b, 0);
}
function inodeLoc(dev: BlockDevice, ino: number): { blk: number; off: number } {
  return { blk: gd(dev).inodeTable + Math.floor(((ino - 1) * 128) / BS), off: ((ino - 1) * 128) % BS };
}
function editInode(dev: BlockDevice, ino: number, f: (r: RawInode) => void): void {
  const { blk, off } = inodeLoc(dev, ino);
  patch(dev, blk, (b) => {
    const r = decodeInode(b, off);
    f(r);
    encodeInode(b, off, r);
  });
}
function readInode(dev: BlockDevice, ino: number): RawInode {
  const { blk, off } = inodeLoc(dev, ino);
  const b = new Uint8Array(BS);
  dev.read(blk, b);
  return decodeInode(b, off);
}
/** Edit the directory entry `name` in directory inode `dir` (first block). */
function editEntry(dev: BlockDevice, dir: number, name: string, f: (v: DataView, off: number) => void): void {
  const blk = readInode(dev, dir).block[0] as number;
  patch(dev, blk, (b) => {
    const e = (decodeDirBlock(b) as Array<{ name: string; offset: number }>).find((x) => x.name === name);
    if (e === undefined) throw new Error(`no entry ${name}`);
    f(new DataView(b.buffer), e.offset);
  });
}
function flipBit(dev: BlockDevice, blk: number, bit: number): void {
  patch(dev, blk, (b) => {
    b[bit >> 3] = (b[bit >> 3] as number) ^ (1 << (bit & 7));
  });
}

const CASES: Array<{ name: string; code: string; corrupt: (img: Image) => void; linuxSilent?: string }> = [
  { name: 'a directory entry with a bad rec_len', code: 'dirent-corrupt', corrupt: ({ dev, ino }) => editEntry(dev, ino['/d']!, 'file', (v, o) => v.setUint16(o + 4, 5, true)) },
  { name: 'a wrong link count', code: 'link-count-wrong', corrupt: ({ dev, ino }) => editInode(dev, ino['/f2']!, (r) => { r.linksCount = 3; }) },
  { name: 'a block claimed twice', code: 'block-claimed-twice', corrupt: ({ dev, ino }) => editInode(dev, ino['/f2']!, (r) => { r.block[0] = readInode(dev, ino['/f1']!).block[0]!; }) },
  { name: 'a used block cleared in the bitmap', code: 'block-bitmap-differs', corrupt: ({ dev, ino }) => flipBit(dev, gd(dev).blockBitmap, readInode(dev, ino['/f1']!).block[0]! - 1) },
  { name: 'a free block set in the bitmap', code: 'block-bitmap-differs', corrupt: ({ dev }) => flipBit(dev, gd(dev).blockBitmap, 8000) },
  { name: 'a wrong group free-block count', code: 'group-free-blocks-wrong', corrupt: ({ dev }) => patch(dev, GD_BLK, (b) => { const g = decodeGroupDesc(b, 0); g.freeBlocksCount -= 3; encodeGroupDesc(b, 0, g); }) },
  { name: 'a deletion time on a live inode', code: 'dtime-set', corrupt: ({ dev, ino }) => editInode(dev, ino['/f2']!, (r) => { r.dtime = 1_000_000_000; }) },
  { name: 'a wrong file type in an entry', code: 'dirent-file-type', corrupt: ({ dev, ino }) => editEntry(dev, ino['/']!, 'f2', (v, o) => v.setUint8(o + 7, 2)) },
  { name: '"." missing', code: 'missing-dot', corrupt: ({ dev, ino }) => editEntry(dev, ino['/d']!, '.', (v, o) => v.setUint8(o + 8, 0x78)) },
  { name: '".." pointing elsewhere', code: 'dotdot-wrong', corrupt: ({ dev, ino }) => editEntry(dev, ino['/d/sub']!, '..', (v, o) => v.setUint32(o, ino['/empty']!, true)) },
  { name: 'an unreachable directory', code: 'unreachable-dir', corrupt: ({ dev, ino }) => editEntry(dev, ino['/']!, 'empty', (v, o) => v.setUint32(o, 0, true)) },
  { name: 'a block number outside the file system', code: 'block-out-of-range', corrupt: ({ dev, ino }) => editInode(dev, ino['/f2']!, (r) => { r.block[0] = 9_999_999; }) },
  { name: 'a wrong i_blocks', code: 'i-blocks-wrong', corrupt: ({ dev, ino }) => editInode(dev, ino['/f1']!, (r) => { r.blocks += 2; }) },
  { name: 'a directory smaller than its blocks', code: 'dir-size-wrong', corrupt: ({ dev, ino }) => editInode(dev, ino['/d']!, (r) => { r.size = 512; }) },
  {
    name: 'an orphan list leaving the inode table', code: 'orphan-list-corrupt',
    corrupt: ({ dev }) => patch(dev, 1, (b) => new DataView(b.buffer).setUint32(0xe8, 99_999, true)),
    linuxSilent: 'e2fsck -n leaves the orphan list alone: it is processed only when e2fsck may write',
  },
  { name: 'a used inode cleared in its bitmap', code: 'inode-bitmap-differs', corrupt: ({ dev, ino }) => flipBit(dev, gd(dev).inodeBitmap, ino['/f2']! - 1) },
  { name: 'an impossible mode', code: 'bad-mode', corrupt: ({ dev, ino }) => editInode(dev, ino['/f2']!, (r) => { r.mode = 0o170644; }) },
  { name: 'an entry naming an unused inode', code: 'dirent-unused-inode', corrupt: ({ dev, ino }) => editEntry(dev, ino['/']!, 'f2', (v, o) => v.setUint32(o, 2000, true)) },
  { name: 'a root that is not a directory', code: 'root-not-dir', corrupt: ({ dev }) => editInode(dev, 2, (r) => { r.mode = 0o100755; }) },
  { name: 'a bad superblock magic', code: 'bad-superblock', corrupt: ({ dev }) => patch(dev, 1, (b) => new DataView(b.buffer).setUint16(0x38, 0x1234, true)) },
  { name: 'a fast symlink with length 0', code: 'bad-symlink', corrupt: ({ dev, ino }) => editInode(dev, ino['/ln']!, (r) => { r.size = 0; }) },
];

function linuxRejects(dev: BlockDevice): number {
  const dir = mkdtempSync(join(tmpdir(), 'izo-fsck-'));
  try {
    const img = join(dir, 'fs.img');
    saveImage(img, dev);
    return e2fsck(img).status;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('fsck', () => {
  it('finds clean images clean, as e2fsck does (ext2, and ext3 with a journal)', () => {
    for (const j of [0, 1024]) {
      const img = build(j);
      expect(fsck(img.dev)).toEqual([]);
      expect(linuxRejects(img.dev)).toBe(0);
    }
  });

  it(`has a table of at least 15 corruptions (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  for (const c of CASES) {
    it(`catches ${c.name} (${c.code}), and so does e2fsck`, () => {
      const img = build();
      c.corrupt(img);
      const problems = fsck(img.dev);
      expect(problems.map((p) => p.code), JSON.stringify(problems.slice(0, 3))).toContain(c.code);
      for (const p of problems) expect(p.message.length).toBeGreaterThan(10);
      if (c.linuxSilent === undefined) expect(linuxRejects(img.dev)).not.toBe(0);
      else expect(linuxRejects(img.dev), c.linuxSilent).toBe(0);
    });
  }

  it('refuses to judge an image whose journal needs recovery, and says so', () => {
    const img = build(1024);
    patch(img.dev, 1, (b) => { const v = new DataView(b.buffer); v.setUint32(0x60, v.getUint32(0x60, true) | 4, true); });
    expect(fsck(img.dev)).toEqual([expect.objectContaining({ code: 'needs-recovery' })]);
  });

  it('never writes', () => {
    const img = build();
    const before = img.dev.stats.writes;
    fsck(img.dev);
    expect(img.dev.stats.writes).toBe(before);
  });
});
