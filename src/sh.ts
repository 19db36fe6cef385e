/**
 * sh.ts: the command language: one command per line, shell-like quoting, run as system calls.
 *
 * Layer: user space (src/). Interface: `parseScript(text, source)` turns a script into commands or a
 * list of errors (each naming the line and column), and nothing runs unless the whole script
 * parses; `runScript(p, commands, out?)` runs them as process `p` (a Sys, so a simulated task can
 * run it and block), making the system calls a shell would (see docs/commands.md), and returns one
 * `CommandResult` per command: data, from which `formatStatus` (the `--status` form: one line per
 * command, `ok` or the errno name, plus JSON output for cat/ls/stat) and `formatHuman` are made.
 * Given an `out`, each command's output is written there as the command ends, and `cat` streams
 * the file in pieces instead of holding it (a file of any size, past 4 GiB too).
 * Text in scripts is UTF-8; paths and contents are turned into the kernel's byte strings here.
 */
import { EINVAL, errnoName, isErr, type Errno } from '../kernel/errno.ts';
import {
  makeCred, O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY, S_IFIFO, S_ISBLK, S_ISCHR, S_ISDIR, S_ISFIFO,
  S_ISLNK, S_ISREG, S_ISSOCK, type Stat,
} from '../kernel/fs.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { read_dir, read_file } from './libc.ts';
import {
  sys_chown, sys_chmod, sys_close, sys_fsync, sys_link, sys_lstat, sys_mkdir, sys_mknod, sys_open,
  sys_pwrite, sys_read, sys_rename, sys_rmdir, sys_symlink, sys_sync, sys_truncate, sys_unlink, sys_write,
} from '../kernel/syscalls.ts';

export interface Command {
  readonly line: number;
  readonly name: string;
  readonly args: readonly string[];
}

export interface ParseError {
  readonly source: string;
  readonly line: number;
  readonly column: number;
  readonly message: string;
}

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export interface CommandResult {
  readonly line: number;
  readonly command: string;
  readonly args: readonly string[];
  /** 'ok' or an errno name such as 'EEXIST'. */
  readonly status: string;
  /** cat: the content (a byte string); ls: names; stat: attributes. */
  readonly output?: Json;
}

interface Spec {
  readonly min: number;
  readonly max: number;
  readonly usage: string;
}

const SPECS: Readonly<Record<string, Spec>> = {
  write: { min: 2, max: 2, usage: 'write PATH TEXT' },
  append: { min: 2, max: 2, usage: 'append PATH TEXT' },
  writeb: { min: 2, max: 3, usage: 'writeb PATH SIZE [SEED]' },
  pwrite: { min: 3, max: 3, usage: 'pwrite PATH OFFSET TEXT' },
  mkdir: { min: 1, max: 1, usage: 'mkdir PATH' },
  rm: { min: 1, max: 1, usage: 'rm PATH' },
  rmdir: { min: 1, max: 1, usage: 'rmdir PATH' },
  mv: { min: 2, max: 2, usage: 'mv SRC DST' },
  ln: { min: 2, max: 2, usage: 'ln SRC DST' },
  symlink: { min: 2, max: 2, usage: 'symlink TARGET PATH' },
  mkfifo: { min: 1, max: 1, usage: 'mkfifo PATH' },
  chmod: { min: 2, max: 2, usage: 'chmod MODE PATH' },
  chown: { min: 2, max: 2, usage: 'chown UID:GID PATH' },
  truncate: { min: 2, max: 2, usage: 'truncate PATH SIZE' },
  cat: { min: 1, max: 1, usage: 'cat PATH' },
  ls: { min: 1, max: 1, usage: 'ls PATH' },
  stat: { min: 1, max: 1, usage: 'stat PATH' },
  fsync: { min: 1, max: 1, usage: 'fsync PATH' },
  sync: { min: 0, max: 0, usage: 'sync' },
  as: { min: 1, max: 1, usage: 'as UID:GID' },
};

export const COMMAND_NAMES: readonly string[] = Object.keys(SPECS);

/** Split one line into words: '...' literal, "..." with \\ escapes, \\x outside quotes, # comments. */
export function splitWords(text: string): { words: string[] } | { error: string; column: number } {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i] as string;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
    } else if (c === '#' && !inWord) {
      break;
    } else if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) return { error: 'unterminated single quote', column: i + 1 };
      cur += text.slice(i + 1, end);
      inWord = true;
      i = end;
    } else if (c === '"') {
      const r = readDouble(text, i + 1);
      if ('error' in r) return { error: r.error, column: i + 1 };
      cur += r.value;
      inWord = true;
      i = r.end;
    } else if (c === '\\') {
      if (i + 1 >= text.length) return { error: 'backslash at end of line', column: i + 1 };
      cur += text[++i];
      inWord = true;
    } else {
      cur += c;
      inWord = true;
    }
  }
  if (inWord) words.push(cur);
  return { words };
}

const ESCAPES: Readonly<Record<string, string>> = { n: '\n', t: '\t', '\\': '\\', '"': '"', $: '$', '0': '\0' };

function readDouble(text: string, from: number): { value: string; end: number } | { error: string } {
  let value = '';
  for (let i = from; i < text.length; i++) {
    const c = text[i] as string;
    if (c === '"') return { value, end: i };
    if (c === '\\' && i + 1 < text.length) {
      const n = text[++i] as string;
      value += ESCAPES[n] ?? `\\${n}`;
    } else {
      value += c;
    }
  }
  return { error: 'unterminated double quote' };
}

export function parseScript(text: string, source = '<script>'): { commands: Command[] } | { errors: ParseError[] } {
  const commands: Command[] = [];
  const errors: ParseError[] = [];
  // A byte order mark opening the text is no command (editors on some systems write one).
  const body = text.startsWith('\ufeff') ? text.slice(1) : text;
  body.split('\n').forEach((raw, idx) => {
    const line = idx + 1;
    const split = splitWords(raw.replace(/\r$/, ''));
    if ('error' in split) {
      errors.push({ source, line, column: split.column, message: split.error });
      return;
    }
    const [name, ...args] = split.words;
    if (name === undefined) return;
    const spec = SPECS[name];
    if (spec === undefined) {
      errors.push({ source, line, column: raw.indexOf(name) + 1, message: `unknown command '${name}' (commands: ${COMMAND_NAMES.join(', ')})` });
      return;
    }
    if (args.length < spec.min || args.length > spec.max) {
      errors.push({ source, line, column: 1, message: `'${name}' takes ${describeArity(spec)}; usage: ${spec.usage}` });
      return;
    }
    const bad = checkArgs(name, args);
    if (bad !== null) errors.push({ source, line, column: 1, message: `${name}: ${bad}; usage: ${spec.usage}` });
    else commands.push({ line, name, args });
  });
  return errors.length > 0 ? { errors } : { commands };
}

function describeArity(s: Spec): string {
  if (s.min === s.max) return s.min === 1 ? '1 argument' : `${s.min} arguments`;
  return `${s.min} to ${s.max} arguments`;
}

const UINT = /^(0|[1-9][0-9]*)$/;
/** UID:GID, each a whole number or -1 (no change, for chown); the range is the kernel's to judge. */
const IDS = /^(-1|0|[1-9][0-9]*):(-1|0|[1-9][0-9]*)$/;

/** A whole number the language can carry exactly (below 2^53; the kernel judges the range). */
function whole(s: string, what: string): string | null {
  if (!UINT.test(s)) return `${what} must be a whole number, got '${s}'`;
  return Number.isSafeInteger(Number(s)) ? null : `${what} ${s} is too large (at most ${Number.MAX_SAFE_INTEGER})`;
}

function checkArgs(name: string, args: readonly string[]): string | null {
  const n = (i: number): string => args[i] as string;
  switch (name) {
    case 'writeb':
      return whole(n(1), 'SIZE') ?? (args.length === 3 ? whole(n(2), 'SEED') : null);
    case 'pwrite':
      return whole(n(1), 'OFFSET');
    case 'truncate':
      return whole(n(1), 'SIZE');
    case 'chmod':
      return /^[0-7]{1,4}$/.test(n(0)) ? null : `MODE must be octal (like 644 or 0755), got '${n(0)}'`;
    case 'chown':
      return IDS.test(n(0)) ? null : `owner must be UID:GID in numbers, got '${n(0)}'`;
    case 'as':
      return IDS.test(n(0)) ? null : `user must be UID:GID in numbers, got '${n(0)}'`;
    default:
      return null;
  }
}

/** UTF-8 text to the kernel's byte string (one char per byte). */
export function toBytestring(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

export function bytesOf(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text, 'utf8'));
}

/**
 * The bytes `writeb` writes: xorshift32 from the seed (default 1), four bytes per step, little
 * endian. Defined here, not drawn from the simulation's streams, so a script means the same bytes
 * everywhere: `izo sh`, scenarios, and the Linux oracle in the tests.
 */
export function writebBytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  writebFill(out, (seed >>> 0) || 0x9e3779b9);
  return out;
}

/** Fill `out` with the stream from state `x` (out's length a multiple of 4 but for the last piece); the next state. */
function writebFill(out: Uint8Array, from: number): number {
  let x = from;
  for (let i = 0; i < out.length; i += 4) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    for (let j = 0; j < 4 && i + j < out.length; j++) out[i + j] = (x >>> (8 * j)) & 0xff;
  }
  return x;
}

/** Bytes `writeb` hands to one write(2): the file is streamed, so memory stays small for any SIZE. */
const WRITEB_CHUNK = 1 << 20;

/**
 * `writeb`: open, then the bytes in pieces of WRITEB_CHUNK, each piece one write; it stops at the
 * first short or failed write and reports as one write(2) of all SIZE bytes would: ok if anything
 * was written (a short count), else the errno.
 */
function* writebFile(p: Process, path: string, size: number, seed: number): Sys<Outcome> {
  const fd = yield* sys_open(p, path, O_WRONLY | O_CREAT | O_TRUNC, 0o666);
  if (isErr(fd)) return fd;
  let x = (seed >>> 0) || 0x9e3779b9;
  let done = 0;
  let err: Errno | 0 = 0;
  const buf = new Uint8Array(Math.min(size, WRITEB_CHUNK));
  while (done < size) {
    const piece = buf.subarray(0, Math.min(buf.length, size - done));
    x = writebFill(piece, x);
    const n = yield* sys_write(p, fd, piece);
    if (isErr(n)) {
      if (done === 0) err = n;
      break;
    }
    done += n;
    if (n < piece.length) break;
  }
  const c = yield* sys_close(p, fd);
  return err !== 0 ? err : c;
}

function typeName(mode: number): string {
  if (S_ISREG(mode)) return 'file';
  if (S_ISDIR(mode)) return 'dir';
  if (S_ISLNK(mode)) return 'symlink';
  if (S_ISFIFO(mode)) return 'fifo';
  if (S_ISCHR(mode)) return 'chr';
  if (S_ISBLK(mode)) return 'blk';
  if (S_ISSOCK(mode)) return 'sock';
  return 'unknown';
}

export function statJson(st: Stat): Json {
  return {
    type: typeName(st.st_mode),
    mode: '0' + (st.st_mode & 0o7777).toString(8).padStart(3, '0'),
    nlink: st.st_nlink,
    size: st.st_size,
    uid: st.st_uid,
    gid: st.st_gid,
  };
}

type Outcome = 0 | Errno | { output: Json };

function* writeFile(p: Process, path: string, data: Uint8Array, flags: number): Sys<Outcome> {
  const fd = yield* sys_open(p, path, flags, 0o666);
  if (isErr(fd)) return fd;
  const n = data.length === 0 ? 0 : yield* sys_write(p, fd, data);
  const c = yield* sys_close(p, fd);
  if (isErr(n)) return n;
  return c;
}

function* catFile(p: Process, path: string): Sys<Outcome> {
  const data = yield* read_file(p, path);
  return isErr(data) ? data : { output: Buffer.from(data).toString('latin1') };
}

function* listDir(p: Process, path: string): Sys<Outcome> {
  const st = yield* sys_lstat(p, path);
  if (isErr(st)) return st;
  if (!S_ISDIR(st.st_mode)) return { output: [path] };
  const ents = yield* read_dir(p, path);
  return isErr(ents) ? ents : { output: ents.map((e) => e.d_name).sort(compareBytes) };
}

function compareBytes(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function* fsyncPath(p: Process, path: string): Sys<Outcome> {
  const fd = yield* sys_open(p, path, O_RDONLY);
  if (isErr(fd)) return fd;
  const r = yield* sys_fsync(p, fd);
  yield* sys_close(p, fd);
  return r;
}

function ids(s: string): [number, number] {
  const [u, g] = s.split(':');
  return [Number(u), Number(g)];
}

/** Run one command as `p`. `as` changes p's credentials. */
export function* runCommand(p: Process, c: Command): Sys<Outcome> {
  const a = c.args;
  const path = (i: number): string => toBytestring(a[i] as string);
  switch (c.name) {
    case 'write': return yield* writeFile(p, path(0), bytesOf(a[1] as string), O_WRONLY | O_CREAT | O_TRUNC);
    case 'append': return yield* writeFile(p, path(0), bytesOf(a[1] as string), O_WRONLY | O_CREAT | O_APPEND);
    case 'writeb': return yield* writebFile(p, path(0), Number(a[1]), a[2] === undefined ? 1 : Number(a[2]));
    case 'pwrite': {
      const fd = yield* sys_open(p, path(0), O_WRONLY | O_CREAT, 0o666);
      if (isErr(fd)) return fd;
      const n = yield* sys_pwrite(p, fd, bytesOf(a[2] as string), Number(a[1]));
      yield* sys_close(p, fd);
      return isErr(n) ? n : 0;
    }
    case 'mkdir': return yield* sys_mkdir(p, path(0), 0o777);
    case 'rm': return yield* sys_unlink(p, path(0));
    case 'rmdir': return yield* sys_rmdir(p, path(0));
    case 'mv': return yield* sys_rename(p, path(0), path(1));
    case 'ln': return yield* sys_link(p, path(0), path(1));
    case 'symlink': return yield* sys_symlink(p, path(0), path(1));
    case 'mkfifo': return yield* sys_mknod(p, path(0), S_IFIFO | 0o666, 0);
    case 'chmod': return yield* sys_chmod(p, path(1), parseInt(a[0] as string, 8));
    case 'chown': {
      const [uid, gid] = ids(a[0] as string);
      return yield* sys_chown(p, path(1), uid, gid);
    }
    case 'truncate': return yield* sys_truncate(p, path(0), Number(a[1]));
    case 'cat': return yield* catFile(p, path(0));
    case 'ls': return yield* listDir(p, path(0));
    case 'stat': {
      const st = yield* sys_lstat(p, path(0));
      return isErr(st) ? st : { output: statJson(st) };
    }
    case 'fsync': return yield* fsyncPath(p, path(0));
    case 'sync': return yield* sys_sync(p);
    case 'as': {
      const [uid, gid] = ids(a[0] as string);
      // setresuid/setresgid: a 32-bit id, and -1 (4294967295) is no id at all.
      if (!(uid >= 0 && uid < 0xffffffff && gid >= 0 && gid < 0xffffffff)) return EINVAL;
      p.cred = makeCred(uid, gid, [gid]);
      return 0;
    }
    default: return 0;
  }
}

/** Where a script's output goes as it runs (`izo sh`): the `--status` form or a shell's. */
export interface ScriptOutput {
  readonly status: boolean;
  write(chunk: string | Uint8Array): void;
  /** Called with each command before it runs (`izo sh --verbose`). */
  echo?(c: Command): void;
}

export function* runScript(p: Process, commands: readonly Command[], out?: ScriptOutput): Sys<CommandResult[]> {
  const results: CommandResult[] = [];
  for (const c of commands) {
    out?.echo?.(c);
    const base = { line: c.line, command: c.name, args: c.args };
    if (out !== undefined && c.name === 'cat') {
      const e = yield* streamCat(p, toBytestring(c.args[0] as string), out);
      const r = { ...base, status: e === 0 ? 'ok' : errnoName(e) };
      if (e !== 0 && !out.status) out.write(formatHuman([r]));
      results.push(r);
      continue;
    }
    const r = yield* runCommand(p, c);
    const res = typeof r === 'object' ? { ...base, status: 'ok', output: r.output } : { ...base, status: r === 0 ? 'ok' : errnoName(r) };
    results.push(res);
    if (out !== undefined) out.write(out.status ? formatStatus([res]) : formatHuman([res]));
  }
  return results;
}

/** Bytes `cat` reads at a time when it streams. */
const CAT_CHUNK = 1 << 20;

/**
 * `cat` as it goes: open, then each piece read is written out (raw for a shell; in `--status`,
 * `ok "` and the piece's JSON-escaped bytes, then `"`: the same line formatStatus makes). The
 * errno of the open or of a read; a read that fails after output began ends the status line as
 * `ok "..." ERRNO`.
 */
export function* streamCat(p: Process, path: string, out: ScriptOutput): Sys<0 | Errno> {
  const fd = yield* sys_open(p, path, O_RDONLY);
  if (isErr(fd)) {
    if (out.status) out.write(`${errnoName(fd)}\n`);
    return fd;
  }
  const buf = new Uint8Array(CAT_CHUNK);
  if (out.status) out.write('ok "');
  let err: 0 | Errno = 0;
  for (;;) {
    const n = yield* sys_read(p, fd, buf);
    if (isErr(n)) {
      err = n;
      break;
    }
    if (n === 0) break;
    const piece = buf.subarray(0, n);
    out.write(out.status ? JSON.stringify(Buffer.from(piece).toString('latin1')).slice(1, -1) : piece.slice());
  }
  yield* sys_close(p, fd);
  if (out.status) out.write(err === 0 ? '"\n' : `" ${errnoName(err)}\n`);
  return err;
}

/** `--status` output: one line per command. */
export function formatStatus(results: readonly CommandResult[]): string {
  return results.map((r) => (r.output === undefined || r.status !== 'ok' ? r.status : `ok ${JSON.stringify(r.output)}`) + '\n').join('');
}

const MESSAGES: Readonly<Record<string, string>> = {
  ENOENT: 'No such file or directory', EEXIST: 'File exists', ENOTDIR: 'Not a directory', EISDIR: 'Is a directory',
  ENOTEMPTY: 'Directory not empty', EACCES: 'Permission denied', EPERM: 'Operation not permitted', EINVAL: 'Invalid argument',
  ELOOP: 'Too many levels of symbolic links', ENAMETOOLONG: 'File name too long', ENOSPC: 'No space left on device',
  EROFS: 'Read-only file system', EXDEV: 'Invalid cross-device link', EBUSY: 'Device or resource busy', EIO: 'Input/output error',
  EFBIG: 'File too large', EMLINK: 'Too many links', ENXIO: 'No such device or address',
};

/** Human output: what a shell session would print. */
export function formatHuman(results: readonly CommandResult[]): string {
  let out = '';
  for (const r of results) {
    if (r.status !== 'ok') {
      out += `${r.command}: ${r.args[0] ?? ''}: ${MESSAGES[r.status] ?? r.status} (${r.status})\n`;
    } else if (r.command === 'cat' && typeof r.output === 'string') {
      out += Buffer.from(r.output, 'latin1').toString('utf8');
    } else if (r.command === 'ls' && Array.isArray(r.output)) {
      for (const n of r.output) out += `${Buffer.from(String(n), 'latin1').toString('utf8')}\n`;
    } else if (r.command === 'stat' && r.output !== undefined) {
      out += `${r.args[0] ?? ''}: ${JSON.stringify(r.output)}\n`;
    }
  }
  return out;
}

export function formatParseErrors(errors: readonly ParseError[]): string {
  return errors.map((e) => `${e.source}:${e.line}:${e.column}: ${e.message}\n`).join('');
}
