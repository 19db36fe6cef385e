/**
 * linux.ts: running a command-language script on the real kernel: a fresh loop-mounted ext2 made by
 * mke2fs, test/src/sh_oracle.py chrooted in it. Needs root and loop devices (LINUX_ORACLE=1 tests).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ORACLE = join(import.meta.dirname, '../src/sh_oracle.py');

export function linuxAnswer(script: string): string {
  const work = mkdtempSync(join(tmpdir(), 'izo-oracle-'));
  const img = join(work, 'fs.img');
  const mnt = join(work, 'mnt');
  execFileSync('truncate', ['-s', '8M', img]);
  execFileSync('mke2fs', ['-q', '-t', 'ext2', '-F', img]);
  execFileSync('mkdir', [mnt]);
  execFileSync('mount', ['-o', 'loop', img, mnt]);
  try {
    return execFileSync('python3', [ORACLE, mnt], { input: script, maxBuffer: 1 << 28 }).toString();
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(work, { recursive: true, force: true });
  }
}

/** ext2 facts ramfs does not share: lost+found in the root, directory sizes. */
export function asRamfs(linux: string): string {
  return linux
    .split('\n')
    .map((l) => l.replace(',"lost+found"]', ']').replace('["lost+found"]', '[]').replace(/("type":"dir".*"size":)\d+/, '$10'))
    .join('\n');
}
