/**
 * steps.ts: the small step language of errno-cases.json and limits-cases.json, run on a simulated
 * host. The same steps run on the real kernel in linux_oracle.py; keep the two interpreters in step.
 * A case's answer is `ok` or the errno name of its test step, except for the steps that report
 * something: `pwrite` (`wrote N`), `mode` (`mode 0755`, the permission bits in octal), `size`
 * (`size N`) and `readlinklen` (`len N`). A string `<c*N>` stands for the character c N times.
 */
import { isErr, errnoName, type Errno } from '../../kernel/errno.ts';
import { O_APPEND, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFREG } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import * as k from '../../kernel/syscalls.ts';
import type { Host } from '../../sim/host.ts';
import { EPOCH_BASE_SEC } from '../../kernel/types.ts';

export type Step = readonly [string, ...unknown[]];
export interface ErrnoCase {
  readonly name: string;
  readonly setup?: readonly Step[];
  readonly test: Step;
  readonly expect: string;
  /** Where the model follows Linux 2.4 and today's kernel answers otherwise: its answer, and why. */
  readonly deviation?: { readonly linux: string; readonly why: string };
}

/** What Linux answered for a case: the expectation, or the recorded deviation's answer. */
export function linuxExpectation(c: ErrnoCase): string {
  return c.deviation?.linux ?? c.expect;
}

const FLAGS: Record<string, number> = { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW };
const TYPES: Record<string, number> = { S_IFIFO, S_IFCHR, S_IFBLK, S_IFREG, S_IFDIR };
const WHENCE: Record<string, number> = { SEEK_SET: 0, SEEK_CUR: 1, SEEK_END: 2 };

export function expand(p: unknown): string {
  if (p === '/NAME256') return '/' + 'n'.repeat(256);
  if (p === '/NAME255') return '/' + 'n'.repeat(255);
  if (p === 'PATH4096') return '/' + 'a/'.repeat(2047) + 'a';
  const rep = /^<(.)\*([0-9]+)>$/.exec(String(p));
  if (rep !== null) return (rep[1] as string).repeat(Number(rep[2]));
  return String(p);
}

interface Answer {
  readonly answer: string;
}

interface State {
  readonly fds: number[];
}

function lastFd(st: State): number {
  return st.fds[st.fds.length - 1] ?? -1;
}

/** One step as a Sys whose value is 0/result or an Errno. */
function* step(p: Process, s: Step, st: State): Sys<number | Errno | object | string> {
  const [op, ...a] = s;
  const str = (i: number): string => expand(a[i]);
  const num = (i: number): number => a[i] as number;
  switch (op) {
    case 'writefile': {
      const fd = yield* k.sys_open(p, str(0), O_WRONLY | O_CREAT | O_TRUNC, 0o644);
      if (isErr(fd)) return fd;
      yield* k.sys_write(p, fd, new TextEncoder().encode(str(1)));
      return yield* k.sys_close(p, fd);
    }
    case 'mkdir': return yield* k.sys_mkdir(p, str(0), num(1));
    case 'rmdir': return yield* k.sys_rmdir(p, str(0));
    case 'unlink': return yield* k.sys_unlink(p, str(0));
    case 'rename': return yield* k.sys_rename(p, str(0), str(1));
    case 'link': return yield* k.sys_link(p, str(0), str(1));
    case 'symlink': return yield* k.sys_symlink(p, str(0), str(1));
    case 'readlink': return yield* k.sys_readlink(p, str(0));
    case 'chain': {
      let prev = str(0);
      for (let i = 1; i <= num(1); i++) {
        const r = yield* k.sys_symlink(p, prev, `/l${i}`);
        if (isErr(r)) return r;
        prev = `/l${i}`;
      }
      return 0;
    }
    case 'open': {
      const flags = (a[1] as string[]).reduce((f, n) => f | (FLAGS[n] ?? 0), 0);
      const fd = yield* k.sys_open(p, str(0), flags, a.length > 2 ? num(2) : 0o666);
      if (!isErr(fd)) st.fds.push(fd);
      return fd;
    }
    case 'close': return yield* k.sys_close(p, lastFd(st));
    case 'read': return yield* k.sys_read(p, lastFd(st), new Uint8Array(num(0)));
    case 'write': return yield* k.sys_write(p, lastFd(st), new TextEncoder().encode(str(0)));
    case 'pread': return yield* k.sys_pread(p, lastFd(st), new Uint8Array(num(0)), num(1));
    case 'pwrite': {
      const n = yield* k.sys_pwrite(p, lastFd(st), new TextEncoder().encode(str(0)), num(1));
      return isErr(n) ? n : { answer: `wrote ${n}` } satisfies Answer;
    }
    case 'mode':
    case 'size': {
      const sb = yield* k.sys_lstat(p, str(0));
      if (isErr(sb)) return sb;
      const mode = (sb.st_mode & 0o7777).toString(8).padStart(4, '0');
      const answer = op === 'mode' ? `mode ${mode}` : `size ${sb.st_size}`;
      return { answer } satisfies Answer;
    }
    case 'readlinklen': {
      const t = yield* k.sys_readlink(p, str(0));
      return isErr(t) ? t : { answer: `len ${t.length}` } satisfies Answer;
    }
    case 'lseek': return yield* k.sys_lseek(p, lastFd(st), num(0), typeof a[1] === 'string' ? (WHENCE[a[1]] ?? -1) : num(1));
    case 'truncate': return yield* k.sys_truncate(p, str(0), num(1));
    case 'ftruncate': return yield* k.sys_ftruncate(p, lastFd(st), num(0));
    case 'stat': return yield* k.sys_stat(p, str(0));
    case 'lstat': return yield* k.sys_lstat(p, str(0));
    case 'fstatfd': return yield* k.sys_fstat(p, num(0));
    case 'chmod': return yield* k.sys_chmod(p, str(0), num(1));
    case 'chown': return yield* k.sys_chown(p, str(0), num(1), num(2));
    case 'utimes': {
      const t = a[1] as [number, number] | null;
      return yield* k.sys_utimes(p, str(0), t === null ? null : [{ sec: EPOCH_BASE_SEC + t[0], nsec: 0 }, { sec: EPOCH_BASE_SEC + t[1], nsec: 0 }]);
    }
    case 'access': return yield* k.sys_access(p, str(0), num(1));
    case 'mknod': {
      const type = typeof a[1] === 'string' ? (TYPES[a[1]] ?? 0) : num(1);
      return yield* k.sys_mknod(p, str(0), type | num(2), (num(3) << 8) | num(4));
    }
    case 'chdir': return yield* k.sys_chdir(p, str(0));
    case 'ioctl': return yield* k.sys_ioctl(p, lastFd(st), num(0));
    case 'as':
      p.cred = { uid: num(0), gid: num(1), euid: num(0), egid: num(1), fsuid: num(0), fsgid: num(1), groups: [num(1)] };
      return 0;
    case 'setmaxfiles':
      p.maxFiles = num(0);
      return 0;
    default:
      throw new Error(`unknown step ${op}`);
  }
}

/** Run a case on a fresh host: 'ok', an errno name, or 'SETUP <errno>' if the setup failed. */
export function runCase(h: Host, c: ErrnoCase): string {
  const p = h.process('case');
  const st: State = { fds: [] };
  for (const s of c.setup ?? []) {
    const r = h.run(p, step(p, s, st));
    if (typeof r === 'number' && isErr(r)) return `SETUP ${errnoName(r)}`;
  }
  const r = h.run(p, step(p, c.test, st));
  if (typeof r === 'object' && r !== null && 'answer' in r) return (r as Answer).answer;
  return typeof r === 'number' && isErr(r) ? errnoName(r) : 'ok';
}
