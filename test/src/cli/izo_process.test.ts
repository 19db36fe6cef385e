/**
 * izo as a user runs it: the launcher (bin/izo.js) as a child process, against images that the
 * real e2fsprogs check and debugfs fills; what a process sees (exit status, stdout, stderr, pipes).
 * The in-process tests beside it (izo.test.ts and the rest) cover the subcommands' logic.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { IZO_LAUNCHER, launchIzo, type IzoResult } from '../../support/cli.ts';

function izo(...args: string[]): IzoResult {
  return launchIzo(args);
}
function izoIn(input: string, ...args: string[]): IzoResult {
  return launchIzo(args, input);
}

describe('izo', () => {
  it('makes an image e2fsck accepts, and reads back what debugfs put in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-cli-'));
    try {
      const img = join(dir, 'a.img');
      const made = izo('mkfs', img, '--size', '8M', '--block-size', '2048');
      expect(made.status, made.err).toBe(0);
      expect(made.out).toMatch(/ext3, 4096 blocks of 2048/);
      expect(spawnSync('e2fsck', ['-fn', img]).status).toBe(0);
      const src = join(dir, 'src');
      writeFileSync(src, 'data\n');
      execFileSync('debugfs', ['-w', '-f', '-', img], { input: `mkdir /d\nwrite ${src} /d/f\nsymlink /l /d/f\n`, stdio: ['pipe', 'ignore', 'ignore'] });
      expect(izo('ls', img).out).toBe('d\nl\nlost+found\n');
      expect(izo('cat', img, '/l').out).toBe('data\n');
      expect(JSON.parse(izo('stat', img, '/d/f').out)).toMatchObject({ type: 'file', size: 5, nlink: 1 });
      const missing = izo('cat', img, '/nope');
      expect([missing.status, missing.err.trim()]).toEqual([1, 'izo cat: /nope: ENOENT']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('izo sh runs a script on an image, one status line per command, and leaves it e2fsck-clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-cli-'));
    try {
      const img = join(dir, 'b.img');
      expect(izo('mkfs', img, '--size', '8M', '--no-journal').status).toBe(0);
      const r = izoIn('mkdir /d\nwrite /d/f "hi there"\nmkdir /d\ncat /d/f\n', 'sh', img, '--status');
      expect(r.status, r.err).toBe(1); // the second mkdir failed: the script's status says so, as sh's would
      expect(r.out).toBe('ok\nok\nEEXIST\nok "hi there"\n');
      expect(spawnSync('e2fsck', ['-fn', img]).status).toBe(0);
      expect(izo('cat', img, '/d/f').out).toBe('hi there');
      const malformed = izoIn('mkdir /e\nfrob\n', 'sh', img);
      expect(malformed.status).toBe(2);
      expect(malformed.err).toMatch(/<stdin>:2:1: unknown command 'frob'/);
      expect(izo('ls', img).out).toBe('d\nlost+found\n'); // nothing ran
      expect(izo('fsck', img)).toMatchObject({ status: 0, out: `${img}: clean\n` });
      const raw = readFileSync(img);
      raw.writeUInt32LE(7, 1024 + 0x10); // the superblock's free-inode count: now wrong
      writeFileSync(img, raw);
      const bad = izo('fsck', img);
      expect(bad.status).toBe(4);
      expect(bad.out).toMatch(/sb-free-inodes-wrong/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('izo sh streams a cat bigger than a string can be (it ended in a RangeError) and saves the image', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-cli-'));
    try {
      const img = join(dir, 'big.img');
      expect(izo('mkfs', img, '--size', '8M', '--block-size', '4096').status).toBe(0);
      const script = join(dir, 'big.sh');
      // 600 MiB: past the longest string V8 makes (512 MiB); test/src/sh.test.ts streams 4 GiB.
      const size = 600 << 20;
      writeFileSync(script, `pwrite /big ${size - 3} end\ncat /big\nmkdir /after\n`);
      // The bytes go through a pipe to wc: nothing holds them all.
      const count = execFileSync('bash', ['-c', `node ${IZO_LAUNCHER} sh ${img} < ${script} | wc -c`]).toString().trim();
      expect(count).toBe(String(size));
      expect(izo('ls', img).out).toBe('after\nbig\nlost+found\n');
      expect(JSON.parse(izo('stat', img, '/big').out)).toMatchObject({ size });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('izo journal shows a Linux-written journal; izo recover replays it and e2fsck agrees', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-cli-'));
    try {
      const img = join(dir, 'crash.img');
      writeFileSync(img, gunzipSync(readFileSync(join(import.meta.dirname, '../../fixtures/jbd/linux-ext3-crash.img.gz'))));
      const shown = izo('journal', img);
      expect(shown.status, shown.err).toBe(0);
      expect(shown.out).toMatch(/needs recovery: yes/);
      expect(shown.out).toMatch(/transaction 2: log blocks from 1, commit at 14/);
      expect(shown.out).toMatch(/block 8709 logged at 13/);
      expect(izo('fsck', img).status).toBe(8); // not judged before recovery
      const rec = izo('recover', img);
      expect(rec.out).toMatch(/replayed 12 blocks of transactions 2, 3/);
      expect(spawnSync('e2fsck', ['-fn', img]).status).toBe(0);
      expect(izo('cat', img, '/d/f5').out).toBe('file 5\n');
      expect(izo('journal', img).out).toMatch(/needs recovery: no .* log clean/);
      const ext2 = join(dir, 'plain.img');
      izo('mkfs', ext2, '--size', '4M', '--no-journal');
      expect(izo('journal', ext2)).toMatchObject({ status: 8 });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('izo sh --crash-after-writes leaves an image needing recovery; izo recover makes it clean', () => {
    const dir = mkdtempSync(join(tmpdir(), 'izo-cli-'));
    try {
      const img = join(dir, 'c.img');
      expect(izo('mkfs', img, '--size', '8M').status).toBe(0);
      const r = izoIn('mkdir /d\nwrite /d/f hello\nfsync /d/f\nwriteb /d/big 20000 3\nsync\nrm /d/f\n', 'sh', img, '--crash-after-writes', '30', '--seed', '4');
      expect(r.status, r.err).toBe(0);
      expect(r.err).toMatch(/power cut after write 30/);
      expect(izo('journal', img).out).toMatch(/needs recovery: yes/);
      expect(izo('fsck', img).status).toBe(8);
      expect(izo('recover', img).out).toMatch(/replayed \d+ blocks/);
      expect(spawnSync('e2fsck', ['-fn', img]).status).toBe(0);
      expect(izo('cat', img, '/d/f').out).toBe('hello'); // fsynced before the cut
      expect(izo('sh', img, '--data-mode', 'sideways').status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('says what is wrong: exit 2 for bad usage, 8 for an unusable image', () => {
    expect(izo('frob').status).toBe(2);
    const bad = izo('mkfs', '/tmp/x.img', '--block-size', '3000');
    expect([bad.status, bad.err.split('\n')[0]]).toEqual([2, "izo mkfs: --block-size must be 1024, 2048 or 4096, got '3000'"]);
    const none = izo('ls', '/nonexistent/image.img');
    expect([none.status, none.err.trim()]).toEqual([8, 'izo ls: /nonexistent/image.img: no such image']);
    expect(izo('help').out).toMatch(/izo mkfs IMAGE/);
  });
});
