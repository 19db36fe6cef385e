/**
 * The command language against Linux: each script in sh-scripts/ has the answers the real kernel
 * gave on a fresh ext2 file system (`X.linux`, made by sh_oracle.py on a loop-mounted mke2fs image;
 * regenerate with `LINUX_ORACLE=1 npx vitest run test/src/sh_oracle.test.ts` as root). Our
 * results must equal them. On ramfs, two ext2 facts are set aside, and only those: lost+found in
 * the root and a directory's size.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { bootKernel } from '../support/boot.ts';
import { asRamfs, linuxAnswer } from '../support/linux.ts';
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
