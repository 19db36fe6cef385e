/** Running Linux's e2fsprogs from tests: the judge of every image we write. */
import { execFileSync } from 'node:child_process';

export function e2fsck(path: string, mode: '-fn' | '-fy' = '-fn'): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync('e2fsck', [mode, path], { stdio: 'pipe' }).toString() };
  } catch (e) {
    const err = e as { status: number; stdout?: Buffer; stderr?: Buffer };
    return { status: err.status, output: `${err.stdout?.toString() ?? ''}${err.stderr?.toString() ?? ''}` };
  }
}

/** A fresh image of `size` (truncate's syntax: 32M) made by Linux's mke2fs with `args`. */
export function mke2fs(path: string, size: string, args: readonly string[]): void {
  execFileSync('truncate', ['-s', size, path]);
  execFileSync('mke2fs', ['-q', ...args, '-F', path], { stdio: 'ignore' });
}

/** Run debugfs -w commands on an image; their output (debugfs reports most errors there). */
export function debugfs(path: string, cmds: readonly string[]): string {
  const input = `${cmds.join('\n')}\n`;
  return execFileSync('debugfs', ['-w', '-f', '-', path], { input, stdio: ['pipe', 'pipe', 'pipe'] }).toString();
}

/** One debugfs request, read-only (`stat /f`, `ea_list /f`...): what it prints. */
export function debugfsRead(path: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
}

/** The superblock's feature names, as dumpe2fs prints them. */
export function features(path: string): string[] {
  const out = execFileSync('dumpe2fs', ['-h', path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return (/^Filesystem features:\s*(.*)$/m.exec(out)?.[1] ?? '').split(/\s+/).filter((f) => f !== '' && f !== '(none)');
}
