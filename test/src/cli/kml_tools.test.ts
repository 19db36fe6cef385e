/**
 * The Presto tools (src/cli/kml_tools.ts, src/cli/presto_image.ts, and the presto parts of
 * src/cli/image_tools.ts): `izo mkfs --fileset` makes an InterMezzo-ready image, `izo sh` mounts an
 * image with filesets through presto (so the script's operations are logged), `izo kml` decodes the
 * logs read-only. Invariants checked: every image they leave passes Linux's `e2fsck -fn`; `izo kml`
 * never changes the image; damage is reported with its byte offset and exit 1, bad usage exit 2,
 * an unusable image exit 8. Most cases call `main` in this process; `izo sh` reads its script
 * from standard input, so it runs through bin/izo.js.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inProcessIzo, launchIzo, type IzoResult } from '../../support/cli.ts';
import { chooseFileset, type KmlReport } from '../../../src/cli/kml_tools.ts';
import { UsageError } from '../../../src/cli/command.ts';
import { ImageError } from '../../../src/image.ts';
import { e2fsck } from '../../support/e2fsprogs.ts';

const cli = inProcessIzo('izo-kml-');
const izo = cli.izo;

/** `izo sh` through the launcher: the script is its standard input. */
function sh(image: string, script: string, ...opts: string[]): IzoResult {
  return launchIzo(['sh', image, '--status', ...opts], script);
}

async function report(image: string, ...opts: string[]): Promise<KmlReport> {
  const r = await izo('kml', image, '--json', ...opts);
  expect(r.status, r.err).toBe(0);
  return JSON.parse(r.out) as KmlReport;
}

const clean = (img: string): void => {
  const f = e2fsck(img);
  expect(f.status, f.output).toBe(0);
};

describe('izo mkfs --fileset', () => {
  it('makes an e2fsck-clean image with /.intermezzo/NAME/{ROOT,kml,lml,last_rcvd} and empty logs', async () => {
    const img = join(cli.dir(), 'mk.img');
    const made = await izo('mkfs', img, '--size', '8M', '--fileset', 'home');
    expect(made.status, made.err).toBe(0);
    expect(made.out).toBe(`${img}: ext3, 8192 blocks of 1024, 1 groups, 2048 inodes, InterMezzo fileset home at /\n`);
    clean(img);
    expect((await izo('ls', img, '/.intermezzo')).out).toBe('home\n');
    expect((await izo('ls', img, '/.intermezzo/home')).out).toBe('ROOT\nkml\nlast_rcvd\nlml\n');
    const root = JSON.parse((await izo('stat', img, '/.intermezzo/home/ROOT')).out) as unknown;
    expect(root).toMatchObject({ type: 'symlink', size: 5 });
    const rep = await report(img);
    expect(rep).toMatchObject({ fileset: 'home', log: 'kml', size: 0, logical_base: 0, records: [], damage: null });
    expect(rep.last_rcvd).toEqual([{
      slot: 0, uuid: '0'.repeat(32), remote_recno: 0, remote_offset: 0, local_recno: 0, local_offset: 0, last_ctime: 0,
    }]);
  });

  it('without --fileset makes a plain image, as before; over ext2 (--no-journal) the cache is ext2', async () => {
    const plain = join(cli.dir(), 'plain.img');
    expect((await izo('mkfs', plain, '--size', '4M')).status).toBe(0);
    expect((await izo('ls', plain)).out).toBe('lost+found\n');
    const e2 = join(cli.dir(), 'e2.img');
    expect((await izo('mkfs', e2, '--size', '4M', '--no-journal', '--fileset', 'f')).status).toBe(0);
    clean(e2);
    expect((await report(e2)).records).toEqual([]);
  });

  it('refuses a fileset name that is not one path component, or has a comma (exit 2)', async () => {
    for (const bad of ['a/b', '..', 'a,b', '']) {
      const r = await izo('mkfs', join(cli.dir(), 'bad.img'), '--fileset', bad);
      expect([r.status, r.err.split('\n')[0]]).toEqual([2, `izo mkfs: --fileset must be one path component (no comma, `
        + `not . or .., at most 64 bytes), got '${bad}'`]);
    }
  });
});

describe('izo sh on an image with filesets, then izo kml', () => {
  it('logs the script through presto: izo kml shows each record, and the image stays e2fsck-clean', async () => {
    const img = join(cli.dir(), 'sh.img');
    expect((await izo('mkfs', img, '--size', '8M', '--fileset', 'f')).status).toBe(0);
    const r = sh(img, 'mkdir /d\nwrite /d/x hello\nmv /d/x /d/y\nchmod 600 /d/y\nsymlink y /d/s\nrm /d/s\n'
      + 'ln /d/y /h\nmkfifo /p\ntruncate /h 2\nrm /h\nrmdir /nope\n', '--data-mode', 'journal');
    expect(r.status, r.err).toBe(1); // rmdir /nope failed
    expect(r.out).toBe('ok\n'.repeat(10) + 'ENOENT\n');
    clean(img);
    const rep = await report(img);
    expect(rep.records.map((x) => [x.recno, x.op])).toEqual([
      [1, 'MKDIR'], [2, 'CREATE'], [3, 'CLOSE'], [4, 'RENAME'], [5, 'SETATTR'], [6, 'SYMLINK'], [7, 'UNLINK'],
      [8, 'LINK'], [9, 'MKNOD'], [10, 'CLOSE'], [11, 'SETATTR'], [12, 'UNLINK'],
    ]);
    let at = 0;
    for (const x of rep.records) {
      expect([x.offset, x.logical_offset]).toEqual([at, at]);
      at += x.len;
    }
    expect(rep.size).toBe(at);
    const [mkdir, create, close] = rep.records;
    expect(mkdir).toMatchObject({ opcode: 2, auid: 0, fsuid: 0, fsgid: 0, groups: [0], cancelled: false });
    expect(mkdir?.body).toMatchObject({ mode: 0o40755, uid: 0, gid: 0, path: '/d' });
    expect(Object.keys(mkdir?.body ?? {})).toEqual(['old_parent', 'new_parent', 'new_object', 'mode', 'uid', 'gid',
      'path']);
    expect(create?.body).toMatchObject({ mode: 0o100644, path: '/d/x', new_object: { size: 0 } });
    expect(close?.body).toMatchObject({ path: '/d/x', old_object: { size: 0 }, new_object: { size: 5 } });
    expect(rep.records[6]?.body).toMatchObject({ path: '/d', name: 's', old_target: 'y' });
    // Keys in a stable order: the document's own, then each record's.
    expect(Object.keys(rep)).toEqual(['fileset', 'log', 'size', 'logical_base', 'records', 'damage', 'last_rcvd',
      'last_rcvd_damage']);
    expect(Object.keys(mkdir ?? {})).toEqual(['offset', 'logical_offset', 'len', 'recno', 'time', 'opcode', 'op',
      'cancelled', 'pid', 'auid', 'fsuid', 'fsgid', 'groups', 'body']);

    // The LML is empty after a clean unmount; izo kml wrote nothing.
    const before = readFileSync(img);
    expect((await report(img, '--lml')).records).toEqual([]);
    const text = await izo('kml', img);
    expect(text.status).toBe(0);
    expect(Buffer.compare(before, readFileSync(img))).toBe(0);
    expect(text.out).toMatch(/^fileset f: kml, \d+ bytes, 12 records, logical offset base 0\n\n/);
    expect(text.out).toContain('\n\nrecord 1: MKDIR (opcode 2), offset 0 (logical 0), 144 bytes, time ');
    expect(text.out).toContain('\n  path       "/d"\n');
    expect(text.out).toContain('\n  mode       040755\n');
    expect(text.out).toContain('\nlast_rcvd: 1 record\n  slot 0: uuid 00000000000000000000000000000000');

    // A second run goes on numbering where the log ended; --ext3 bypasses presto (nothing logged).
    expect(sh(img, 'mkdir /e\n').out).toBe('ok\n');
    expect(sh(img, 'mkdir /g\n', '--ext3').out).toBe('ok\n');
    clean(img);
    const again = await report(img);
    expect(again.records.map((x) => [x.recno, x.op, x.body.path])).toEqual([
      ...rep.records.map((x) => [x.recno, x.op, x.body.path]), [13, 'MKDIR', '/e'],
    ]);
  });

  it('names the damage (byte offset and reason), prints the records before it, exits 1', async () => {
    const img = join(cli.dir(), 'bad.img');
    expect((await izo('mkfs', img, '--size', '4M', '--fileset', 'f')).status).toBe(0);
    expect(sh(img, 'mkdir /a\nmkdir /b\n').status).toBe(0);
    const len = (await report(img)).records[0]?.len ?? 0;
    // Overwrite the second record's version word, bypassing presto.
    expect(sh(img, `pwrite /.intermezzo/f/kml ${len + 4} XXXX\n`, '--ext3').out).toBe('ok\n');
    const r = await izo('kml', img);
    expect(r.status).toBe(1);
    expect(r.out).toContain('record 1: MKDIR');
    expect(r.out).not.toContain('record 2:');
    const why = 'version 0x58585858, expected 0x10002';
    expect(r.out).toContain(`\ndamage at byte offset ${len + 4} (logical ${len + 4}): ${why};`);
    const j = await izo('kml', img, '--json');
    expect(j.status).toBe(1);
    const rep = JSON.parse(j.out) as KmlReport;
    expect(rep.records.length).toBe(1);
    expect(rep.damage).toEqual({ offset: len + 4, logical_offset: len + 4, reason: why });
    clean(img);
  });
});

describe('izo sh through presto, crashed', () => {
  it('after a power cut, izo kml reads the log of the recovered journal (in memory), and presto goes on', async () => {
    const img = join(cli.dir(), 'crash.img');
    expect((await izo('mkfs', img, '--size', '8M', '--fileset', 'f')).status).toBe(0);
    const cut = sh(img, 'mkdir /d\nwrite /d/x hello\nmkdir /e\nsync\nmkdir /g\nwrite /g/y abc\n',
      '--crash-after-writes', '25', '--seed', '3');
    expect(cut.err).toMatch(/power cut after write 25/);
    const before = readFileSync(img);
    const r = await izo('kml', img, '--json');
    expect([r.status, r.err]).toEqual([0, `izo kml: ${img}: the journal was recovered in memory only\n`]);
    expect(Buffer.compare(before, readFileSync(img))).toBe(0);
    const ops = (JSON.parse(r.out) as KmlReport).records.map((x) => [x.recno, x.op, x.body.path]);
    expect(ops.slice(0, 3)).toEqual([[1, 'MKDIR', '/d'], [2, 'CREATE', '/d/x'], [3, 'CLOSE', '/d/x']]);
    expect(sh(img, 'mkdir /z\n').out).toBe('ok\n');
    clean(img);
    const after = await report(img);
    expect(after.records.map((x) => [x.recno, x.op, x.body.path])).toEqual([...ops, [ops.length + 1, 'MKDIR', '/z']]);
  });
});

describe('izo kml: choosing a fileset, bad usage, unusable images', () => {
  it('takes the only fileset, or the one named; several and none named is a usage error listing them', async () => {
    expect(chooseFileset(['f'], undefined, 'i')).toBe('f');
    expect(chooseFileset(['a', 'b'], 'b', 'i')).toBe('b');
    const two = new UsageError('i has 2 filesets (a, b): choose one with --fileset');
    expect(() => chooseFileset(['a', 'b'], undefined, 'i')).toThrow(two);
    expect(() => chooseFileset(['a'], 'c', 'i')).toThrow(new UsageError("no fileset 'c' in i; its filesets: a"));
    expect(() => chooseFileset([], undefined, 'i')).toThrow(ImageError);

    const img = join(cli.dir(), 'two.img');
    expect((await izo('mkfs', img, '--size', '4M', '--fileset', 'a')).status).toBe(0);
    expect(sh(img, 'mkdir /.intermezzo/b\n', '--ext3').out).toBe('ok\n');
    const r = await izo('kml', img);
    const msg = `izo kml: ${img} has 2 filesets (a, b): choose one with --fileset`;
    expect([r.status, r.err.split('\n')[0]]).toEqual([2, msg]);
    expect((await izo('kml', img, '--fileset', 'a')).status).toBe(0);
    expect((await izo('kml', img, '--fileset', 'zz')).status).toBe(2);
    expect((await izo('kml')).status).toBe(2);
    expect((await izo('kml', img, 'extra')).status).toBe(2);
  });

  it('an image with no filesets, or no image: exit 8, the file named', async () => {
    const plain = join(cli.dir(), 'nofs.img');
    expect((await izo('mkfs', plain, '--size', '4M')).status).toBe(0);
    const r = await izo('kml', plain);
    expect([r.status, r.err]).toEqual([8, `izo kml: ${plain}: no InterMezzo filesets (nothing under /.intermezzo)\n`]);
    const missing = await izo('kml', join(cli.dir(), 'missing.img'));
    expect([missing.status, missing.err]).toEqual([8, `izo kml: ${join(cli.dir(), 'missing.img')}: no such image\n`]);
  });
});
