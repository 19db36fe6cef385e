/**
 * Reading images made and filled by Linux's own tools (mke2fs, debugfs -w) through our VFS: the
 * tree, contents, links, devices, holes and a file reaching triple-indirect blocks must read back
 * exactly as debugfs wrote them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync, openSync, writeSync, closeSync, ftruncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { World } from '../../../sim/host.ts';
import { ext3_fs_type, ext3_check_super } from '../../../fs/ext3/super.ts';
import { loadImage, saveImage } from '../../../src/image.ts';
import { snapshotTree } from '../../../src/tree.ts';
import { hostSys, dec } from '../../support/boot.ts';
import { O_CREAT, O_RDONLY, O_WRONLY } from '../../../kernel/fs.ts';
import { EROFS, isErr } from '../../../kernel/errno.ts';
import { BlockDevice } from '../../../kernel/blkdev.ts';

function debugfs(img: string, cmds: string[]): void {
  execFileSync('debugfs', ['-w', '-f', '-', img], { input: cmds.join('\n') + '\n', stdio: ['pipe', 'ignore', 'ignore'] });
}

function mountImage(path: string, bs: number) {
  const w = new World({ seed: 1 });
  const h = w.addHost('h');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', loadImage(path, bs));
  h.mountRoot('ext3', 'hda', 'ro');
  return { h, s: hostSys(h, h.process('reader')) };
}

describe('ext2 read path against Linux-made images', () => {
  for (const [bs, inodeSize] of [[1024, 128], [4096, 256]] as const) {
    it(`reads a mke2fs + debugfs image (${bs}-byte blocks, ${inodeSize}-byte inodes)`, () => {
      const dir = mkdtempSync(join(tmpdir(), 'izo-read-'));
      try {
        const img = join(dir, 'fs.img');
        execFileSync('truncate', ['-s', '200M', img]);
        execFileSync('mke2fs', ['-q', '-t', 'ext2', '-O', '^dir_index,^ext_attr,^resize_inode', '-b', String(bs), '-I', String(inodeSize), '-F', img], { stdio: 'ignore' });
        const small = join(dir, 'small');
        writeFileSync(small, 'hello from debugfs\n');
        const big = join(dir, 'big');
        writeFileSync(big, Buffer.alloc(300_000, 'x'));
        const sparse = join(dir, 'sparse');
        const fd = openSync(sparse, 'w');
        ftruncateSync(fd, 150 << 20);
        writeSync(fd, Buffer.from('the end'), 0, 7, (150 << 20) - 7);
        closeSync(fd);
        const longTarget = '/a/very/long/target/'.repeat(5);
        debugfs(img, [
          'mkdir /d', 'mkdir /d/e', `write ${small} /d/small`, `write ${big} /d/big`, `write ${sparse} /sparse`,
          'symlink /fast /d/small', `symlink /slow ${longTarget}`, 'cd /d', 'mknod pipe p', 'mknod tty c 4 1', 'cd /',
          'ln /d/small /d/hard', 'sif /d/hard links_count 2',
          ...Array.from({ length: 60 }, (_, i) => `mkdir /d/e/sub${i}`),
        ]);
        expect(typeof ext3_check_super(loadImage(img, bs))).toBe('object');
        const { h, s } = mountImage(img, bs);
        const readFile = (p: string, max = 1 << 20): string => {
          const f = s.sys_open(p, O_RDONLY) as number;
          const buf = new Uint8Array(max);
          const n = s.sys_read(f, buf) as number;
          s.sys_close(f);
          return dec(buf.subarray(0, n));
        };
        expect(readFile('/d/small')).toBe('hello from debugfs\n');
        expect(readFile('/d/big')).toBe('x'.repeat(300_000));
        expect(readFile('/fast')).toBe('hello from debugfs\n');
        expect(s.sys_readlink('/slow')).toBe(longTarget);
        expect(s.sys_readlink('/fast')).toBe('/d/small');
        const sp = s.sys_stat('/sparse');
        expect(typeof sp === 'object' && sp.st_size).toBe(150 << 20);
        expect(typeof sp === 'object' && sp.st_blocks).toBeLessThan(100);
        const f = s.sys_open('/sparse', O_RDONLY) as number;
        const tail = new Uint8Array(16);
        expect(s.sys_pread(f, tail, (150 << 20) - 16)).toBe(16);
        expect(dec(tail.subarray(9))).toBe('the end');
        expect(s.sys_pread(f, tail, 12345)).toBe(16);
        expect([...tail]).toEqual(new Array(16).fill(0));
        const tty = s.sys_stat('/d/tty');
        expect(typeof tty === 'object' && tty.st_rdev).toBe((4 << 8) | 1);
        const hard = s.sys_stat('/d/hard');
        expect(typeof hard === 'object' && hard.st_nlink).toBe(2);
        const p = h.process('tree');
        const tree = h.run(p, snapshotTree(p, '/'));
        if (isErr(tree)) throw new Error('snapshot');
        expect(Object.keys(tree.children ?? {}).sort()).toEqual(['d', 'fast', 'lost+found', 'slow', 'sparse']);
        expect(Object.keys(tree.children?.['d']?.children?.['e']?.children ?? {}).length).toBe(60);
        expect(tree.children?.['d']?.children?.['pipe']?.type).toBe('fifo');
        // Mounted with the ro option: changes are refused.
        expect(s.sys_open('/new', O_CREAT | O_WRONLY, 0o644)).toBe(EROFS);
        expect(s.sys_mkdir('/x', 0o755)).toBe(EROFS);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('refuses, by name, images with features it does not implement, and never writes them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-read-'));
    try {
      const img = join(dir, 'fs.img');
      execFileSync('truncate', ['-s', '16M', img]);
      execFileSync('mke2fs', ['-q', '-t', 'ext4', '-F', img], { stdio: 'ignore' });
      const dev = loadImage(img, 1024);
      const why = ext3_check_super(dev instanceof BlockDevice ? dev : dev);
      expect(why).toMatch(/unsupported incompatible features: .*extent/);
      const w = new World({ seed: 1 });
      const h = w.addHost('h');
      h.registerFs(ext3_fs_type);
      h.addDisk('hda', dev);
      expect(() => h.mountRoot('ext3', 'hda')).toThrow(/EINVAL/);
      expect(dev.stats.writes).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('ext3 images made by Linux', () => {
  it('an mke2fs -t ext3 image filled by debugfs mounts read-write through its journal and stays clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-ext3-'));
    try {
      const img = join(dir, 'fs.img');
      execFileSync('truncate', ['-s', '32M', img]);
      execFileSync('mke2fs', ['-q', '-t', 'ext3', '-O', '^dir_index,^ext_attr,^resize_inode', '-I', '128', '-b', '1024', '-J', 'size=1', '-F', img], { stdio: 'ignore' });
      const src = join(dir, 'src');
      writeFileSync(src, 'made by debugfs\n');
      debugfs(img, ['mkdir /d', `write ${src} /d/f`, 'symlink /l /d/f']);
      const w = new World({ seed: 1 });
      const h = w.addHost('h');
      h.registerFs(ext3_fs_type);
      const dev = loadImage(img, 1024);
      h.addDisk('hda', dev);
      h.mountRoot('ext3', 'hda', 'data=ordered');
      const s = hostSys(h, h.process('w'));
      const f = s.sys_open('/d/new', O_CREAT | O_WRONLY, 0o644) as number;
      s.sys_write(f, new TextEncoder().encode('written through the journal'));
      s.sys_fsync(f);
      s.sys_close(f);
      expect(s.sys_rename('/d/f', '/d/g')).toBe(0);
      expect(s.sys_readlink('/l')).toBe('/d/f');
      h.shutdown();
      saveImage(img, dev);
      const r = execFileSync('e2fsck', ['-fn', img], { stdio: 'pipe' }).toString();
      expect(r).toMatch(/Pass 5/);
      expect(execFileSync('debugfs', ['-R', 'cat /d/new', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()).toBe('written through the journal');
      expect(execFileSync('debugfs', ['-R', 'cat /d/g', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString()).toBe('made by debugfs\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
