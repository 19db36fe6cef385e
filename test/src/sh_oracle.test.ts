/**
 * The command language against Linux: each script in sh-scripts/ has the answers the real kernel
 * gave on a fresh ext2 file system (`X.linux`, made by sh_oracle.py on a loop-mounted mke2fs image;
 * regenerate with `LINUX_ORACLE=1 npx vitest run test/src/sh_oracle.test.ts` as root). Our
 * results must equal them. On ramfs, two ext2 facts are set aside, and only those: lost+found in
 * the root and a directory's size.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootKernel } from '../support/boot.ts';
import { runSync } from '../../kernel/sched.ts';
import { formatStatus, parseScript, runScript } from '../../src/sh.ts';

const DIR = join(import.meta.dirname, 'sh-scripts');
const scripts = readdirSync(DIR).filter((f) => f.endsWith('.sh')).map((f) => f.slice(0, -3)).sort();

function ours(script: string): string {
  const parsed = parseScript(script);
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  const { root } = bootKernel();
  return formatStatus(runSync(runScript(root, parsed.commands)));
}

/** Set aside what ext2 has and ramfs has not: lost+found at the root, directory sizes. */
function asRamfs(linux: string): string {
  return linux
    .split('\n')
    .map((l) => l.replace(',"lost+found"]', ']').replace('["lost+found"]', '[]').replace(/("type":"dir".*"size":)\d+/, '$10'))
    .join('\n');
}

function linuxAnswer(script: string): string {
  const work = mkdtempSync(join(tmpdir(), 'izo-oracle-'));
  const img = join(work, 'fs.img');
  const mnt = join(work, 'mnt');
  execFileSync('truncate', ['-s', '8M', img]);
  execFileSync('mke2fs', ['-q', '-t', 'ext2', '-F', img]);
  execFileSync('mkdir', [mnt]);
  execFileSync('mount', ['-o', 'loop', img, mnt]);
  try {
    return execFileSync('python3', [join(import.meta.dirname, 'sh_oracle.py'), mnt], { input: script, maxBuffer: 1 << 28 }).toString();
  } finally {
    execFileSync('umount', [mnt]);
    rmSync(work, { recursive: true, force: true });
  }
}

describe('command language agrees with Linux', () => {
  it('has scripts to check', () => {
    expect(scripts.length).toBeGreaterThanOrEqual(3);
  });
  for (const name of scripts) {
    const script = readFileSync(join(DIR, `${name}.sh`), 'utf8');
    it(`${name}: ramfs gives Linux's answers`, () => {
      const linux = readFileSync(join(DIR, `${name}.linux`), 'utf8');
      expect(ours(script)).toBe(asRamfs(linux));
    });
    it.runIf(process.env.LINUX_ORACLE === '1')(`${name}: the recorded answers are still Linux's (live)`, () => {
      const live = linuxAnswer(script);
      if (process.env.LINUX_ORACLE_WRITE === '1') writeFileSync(join(DIR, `${name}.linux`), live);
      expect(live).toBe(readFileSync(join(DIR, `${name}.linux`), 'utf8'));
    });
  }
});
