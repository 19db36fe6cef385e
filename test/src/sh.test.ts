import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bootKernel } from '../support/boot.ts';
import { runSync } from '../../kernel/sched.ts';
import { formatHuman, formatStatus, parseScript, runScript, splitWords, writebBytes, type Command } from '../../src/sh.ts';
import { script } from '../support/scripts.ts';
import { BlockDevice } from '../../kernel/blkdev.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../fs/ext3/super.ts';
import { World } from '../../sim/host.ts';

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

  it('writeb bytes are xorshift32 from the seed, four little-endian bytes a step (known answers; seed 0 means 0x9e3779b9)', () => {
    // Computed independently (Python) from the rule writebBytes documents, so the oracle's and a
    // scenario's bytes cannot drift from it unnoticed.
    expect([...writebBytes(10, 1)]).toEqual([33, 32, 4, 0, 1, 6, 8, 4, 197, 168]);
    expect([...writebBytes(6, 0)]).toEqual([25, 70, 12, 81, 62, 85]);
    expect([...writebBytes(5, 7)]).toEqual([231, 224, 28, 0, 7]);
  });

  it('runs parsed commands unchanged (the result carries line numbers)', () => {
    const parsed = parseScript('\n\nmkdir /a\n# c\nrmdir /a') as { commands: Command[] };
    const { root } = bootKernel();
    const res = runSync(runScript(root, parsed.commands));
    expect(res.map((r) => [r.line, r.command, r.status])).toEqual([[3, 'mkdir', 'ok'], [5, 'rmdir', 'ok']]);
  });
});

describe('command language: output as it runs (izo sh)', () => {
  /** The script run twice on fresh kernels: collected and formatted after, and streamed. */
  function both(text: string, status: boolean): { after: string; streamed: string } {
    const parsed = parseScript(text) as { commands: Command[] };
    const a = bootKernel();
    const results = runSync(runScript(a.root, parsed.commands));
    const after = status ? formatStatus(results) : formatHuman(results);
    const b = bootKernel();
    const chunks: Buffer[] = [];
    const out = { status, write: (c: string | Uint8Array) => void chunks.push(Buffer.from(c)) };
    runSync(runScript(b.root, parsed.commands, out));
    // What process.stdout makes of it: strings go out as UTF-8, a cat's bytes as they are.
    return { after, streamed: Buffer.concat(chunks).toString('utf8') };
  }

  it('streams exactly what formatStatus prints after the run, cat included (property)', () => {
    fc.assert(
      fc.property(script, (text) => {
        const r = both(text, true);
        expect(r.streamed).toBe(r.after);
      }),
      { numRuns: 150, seed: 12 },
    );
  });

  it('streams a cat of a file past 4 GiB, which no buffer could hold (ext3, 4 KiB blocks)', () => {
    const h = new World({ seed: 1 }).addHost('h');
    const dev = new BlockDevice({ name: 'hda', blockSize: 4096, blocks: 2048 });
    expect(typeof mkfs(dev, { blockSize: 4096, uuid: new Uint8Array(16), time: 1_009_843_200, journalBlocks: 1024 })).toBe('object');
    h.registerFs(ext3_fs_type);
    h.addDisk('hda', dev);
    h.mountRoot('ext3', 'hda');
    const p = h.process('sh');
    const size = 2 ** 32 + 6;
    const parsed = parseScript(`pwrite /big ${size - 3} end\ncat /big`) as { commands: Command[] };
    let n = 0;
    let tail = '';
    const write = (c: string | Uint8Array): void => {
      n += c.length;
      if (c.length > 0) tail = Buffer.from(c.slice(-8)).toString('latin1');
    };
    const res = h.run(p, runScript(p, parsed.commands, { status: false, write }));
    expect(res.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(n).toBe(size);
    expect(tail.endsWith('\0end')).toBe(true);
  });

  it('in a shell\'s form too: cat writes the bytes, errors their line', () => {
    const text = 'write /a "h\u00e9llo\\nworld"\ncat /a\ncat /nope\nwriteb /b 300000 4\ncat /b\nls /';
    const r = both(text, false);
    expect(r.streamed).toBe(r.after);
    expect(r.streamed.startsWith('h\u00e9llo\nworld')).toBe(true);
    expect(r.streamed).toContain('cat: /nope: No such file or directory (ENOENT)\n');
  });
});
