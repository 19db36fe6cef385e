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
