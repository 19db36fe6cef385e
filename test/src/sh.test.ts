import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bootKernel } from '../support/boot.ts';
import { runSync } from '../../kernel/sched.ts';
import { formatStatus, parseScript, runScript, splitWords, writebBytes, type Command } from '../../src/sh.ts';

function run(script: string): string {
  const parsed = parseScript(script);
  if ('errors' in parsed) throw new Error(JSON.stringify(parsed.errors));
  const { root } = bootKernel();
  return formatStatus(runSync(runScript(root, parsed.commands)));
}

describe('command language: parsing', () => {
  it('splits words with shell-like quoting', () => {
    expect(splitWords(`write /a 'hello world'`)).toEqual({ words: ['write', '/a', 'hello world'] });
    expect(splitWords(`write /a "tab\\there \\"q\\""`)).toEqual({ words: ['write', '/a', 'tab\there "q"'] });
    expect(splitWords(`write /a\\ b x # comment`)).toEqual({ words: ['write', '/a b', 'x'] });
    expect(splitWords(`write /a ''`)).toEqual({ words: ['write', '/a', ''] });
    expect(splitWords(`write /a 'unterminated`)).toEqual({ error: 'unterminated single quote', column: 10 });
  });

  it('reports every bad line with its line and column, and accepts nothing then', () => {
    const r = parseScript('mkdir /a\nfrobnicate /x\nwrite /a\nchmod 9z /a\nchown root /a\nwritex', 'demo.sh');
    expect('errors' in r).toBe(true);
    if (!('errors' in r)) return;
    expect(r.errors.map((e) => [e.line, e.message.split(';')[0]])).toEqual([
      [2, "unknown command 'frobnicate' (commands: write, append, writeb, pwrite, mkdir, rm, rmdir, mv, ln, symlink, mkfifo, chmod, chown, truncate, cat, ls, stat, fsync, sync, as)"],
      [3, "'write' takes 2 arguments"],
      [4, "chmod: MODE must be octal (like 644 or 0755), got '9z'"],
      [5, "chown: owner must be UID:GID in numbers, got 'root'"],
      [6, "unknown command 'writex' (commands: write, append, writeb, pwrite, mkdir, rm, rmdir, mv, ln, symlink, mkfifo, chmod, chown, truncate, cat, ls, stat, fsync, sync, as)"],
    ]);
    expect(r.errors[0]?.source).toBe('demo.sh');
  });

  it('round-trips any word through single quotes (property)', () => {
    fc.assert(fc.property(fc.array(fc.string({ minLength: 1 }).filter((s) => !s.includes("'") && !s.includes('\n'))), (words) => {
      const line = words.map((w) => `'${w}'`).join(' ');
      expect(splitWords(line)).toEqual({ words });
    }));
  });
});

describe('command language: running (ramfs)', () => {
  it('makes the system calls a shell would, one status line per command', () => {
    const out = run(`
      mkdir /d
      mkdir /d          # exists
      write /d/f 'hello'
      append /d/f ' world'
      cat /d/f
      pwrite /d/f 6 W
      cat /d/f
      stat /d/f
      ln /d/f /d/g
      stat /d/g
      mv /d/g /d/h
      ls /d
      symlink /d/f /s
      stat /s
      cat /s
      truncate /d/f 2
      cat /d/h
      chmod 600 /d/f
      as 1000:1000
      cat /d/f
      write /d/x nope
      as 0:0
      chown 1000:1000 /d
      as 1000:1000
      write /d/x yes
      rm /d/h
      rmdir /d          # / is not writable by uid 1000: EACCES before ENOTEMPTY
      mkfifo /d/p
      stat /d/p
      fsync /d/x
      sync
      writeb /d/b 10 7
      stat /d/b
    `);
    expect(out.split('\n')).toEqual([
      'ok', 'EEXIST', 'ok', 'ok', 'ok "hello world"', 'ok', 'ok "hello World"',
      'ok {"type":"file","mode":"0644","nlink":1,"size":11,"uid":0,"gid":0}',
      'ok', 'ok {"type":"file","mode":"0644","nlink":2,"size":11,"uid":0,"gid":0}',
      'ok', 'ok ["f","h"]', 'ok', 'ok {"type":"symlink","mode":"0777","nlink":1,"size":4,"uid":0,"gid":0}',
      'ok "hello World"', 'ok', 'ok "he"', 'ok', 'ok', 'EACCES', 'EACCES', 'ok', 'ok', 'ok', 'ok', 'ok', 'EACCES', 'ok',
      'ok {"type":"fifo","mode":"0644","nlink":1,"size":0,"uid":1000,"gid":1000}', 'ok', 'ok',
      'ok', 'ok {"type":"file","mode":"0644","nlink":1,"size":10,"uid":1000,"gid":1000}', '',
    ]);
  });

  it('writeb bytes are a fixed function of size and seed', () => {
    expect([...writebBytes(6, 1)]).toEqual([...writebBytes(6, 1)]);
    expect(writebBytes(6, 1)).not.toEqual(writebBytes(6, 2));
    expect(writebBytes(5, 3).length).toBe(5);
  });

  it('runs parsed commands unchanged (the result carries line numbers)', () => {
    const parsed = parseScript('\n\nmkdir /a\n# c\nrmdir /a') as { commands: Command[] };
    const { root } = bootKernel();
    const res = runSync(runScript(root, parsed.commands));
    expect(res.map((r) => [r.line, r.command, r.status])).toEqual([[3, 'mkdir', 'ok'], [5, 'rmdir', 'ok']]);
  });
});
