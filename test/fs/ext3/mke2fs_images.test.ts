/**
 * Images Linux's own tools make, changed through the model: for mke2fs's default features and each
 * of ^filetype, ^large_file, -r 0, dir_index (directories indexed by e2fsck -D), ext_attr (EA
 * blocks, one shared by two inodes) and 1, 2 and 4 KiB blocks, an image filled by debugfs is
 * changed through our ext3 (files written, appended, truncated, renamed, removed; entries added to
 * and removed from an indexed directory; files with EA blocks removed; a file past 2 GiB; long
 * symlinks) and must then pass `e2fsck -fn` and our fsck, keep the features it declared (and gain
 * large_file), and read back as written. Images with features the model does not implement are
 * refused read-write, by name, and never written. Without e2fsprogs (no /usr/sbin/mke2fs) the
 * suite is skipped, and one skipped case says why.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EINVAL, ENAMETOOLONG, isErr } from '../../../kernel/errno.ts';
import {
  DT_DIR, DT_UNKNOWN, O_APPEND, O_CREAT, O_RDONLY, O_WRONLY, type Dirent, type Inode,
} from '../../../kernel/fs.ts';
import { path_lookup } from '../../../kernel/namei.ts';
import { EXT2_INDEX_FL } from '../../../fs/ext3/ext3_fs.ts';
import { fsck } from '../../../fs/ext3/fsck.ts';
import { EXT3_I } from '../../../fs/ext3/inode.ts';
import { ext3_check_super, ext3_fs_type } from '../../../fs/ext3/super.ts';
import { ext3_xattr_list } from '../../../fs/ext3/xattr.ts';
import { World, type Host } from '../../../sim/host.ts';
import { loadImage, saveImage } from '../../../src/image.ts';
import { dec, enc, hostSys, type SyncSys } from '../../support/boot.ts';
import { inProcessIzo, launchIzo } from '../../support/cli.ts';
import { debugfs, debugfsRead, e2fsck, features, mke2fs } from '../../support/e2fsprogs.ts';

const work = mkdtempSync(join(tmpdir(), 'izo-mke2fs-'));
const { izo } = inProcessIzo('izo-mke2fs-cli-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The suites need Linux's own mke2fs, debugfs and e2fsck; without them they are skipped, saying so. */
const MKE2FS = '/usr/sbin/mke2fs';
const HAVE_E2FSPROGS = existsSync(MKE2FS);
if (!HAVE_E2FSPROGS) it.skip(`skipped: ${MKE2FS} not found (install e2fsprogs to run these suites)`, () => {});

const SMALL = 'hello from debugfs\n';
const BIG_VALUE = 'v'.repeat(300); // too big for any inode body: an EA block
const ENTRIES = 200;
const entry = (i: number): string => `entry_with_a_rather_long_name_${i}`;

function hostFile(name: string, content: Buffer | string): string {
  const p = join(work, name);
  writeFileSync(p, content);
  return p;
}

function blockSizeOf(img: string): number {
  const out = execFileSync('dumpe2fs', ['-h', img], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  return Number(/^Block size:\s*(\d+)/m.exec(out)?.[1]);
}

function fileAcl(img: string, path: string): number {
  return Number(/File ACL: (\d+)/.exec(debugfsRead(img, `stat ${path}`))?.[1] ?? 0);
}

function inodeFlags(img: string, path: string): number {
  return Number(/Flags: (0x[0-9a-f]+)/.exec(debugfsRead(img, `stat ${path}`))?.[1] ?? 0);
}

/** What debugfs puts on every image: files, holes, links, devices, two big directories, EAs. */
function fill(img: string, ext_attr: boolean): void {
  const small = hostFile('small', SMALL);
  const big = hostFile('big', Buffer.alloc(300_000, 'x'));
  const sparse = hostFile('sparse', Buffer.alloc(0));
  execFileSync('truncate', ['-s', '100M', sparse]);
  writeFileSync(sparse, 'the end', { flag: 'r+' });
  const lines = [
    'mkdir /d', 'mkdir /d/e', `write ${small} /d/small`, `write ${big} /d/big`, `write ${sparse} /sparse`,
    'symlink /fast /d/small', `symlink /slow ${'/a/long/target'.repeat(8)}`,
    'cd /d', 'mknod pipe p', 'mknod tty c 4 1', 'cd /',
    'ln /d/small /d/hard', 'sif /d/hard links_count 2', 'mkdir /htree', 'mkdir /htree2',
    ...Array.from({ length: ENTRIES }, (_, i) => `write ${small} /htree/${entry(i)}`),
    ...Array.from({ length: ENTRIES }, (_, i) => `write ${small} /htree2/${entry(i)}`),
  ];
  if (ext_attr) {
    lines.push(`write ${small} /ea1`, 'ea_set /ea1 user.color red', `ea_set /ea1 user.big ${BIG_VALUE}`);
    lines.push(`write ${small} /ea2`, `write ${small} /ea3`, `ea_set /ea2 user.shared ${BIG_VALUE}`);
    // A fast symlink with an EA block: i_blocks counts the block, the target is still in the inode.
    lines.push('symlink /eafast /d/small', `ea_set /eafast user.link ${BIG_VALUE}`);
  }
  debugfs(img, lines);
  if (ext_attr) {
    // Two inodes sharing one EA block (as Linux shares identical attribute sets): refcount 2.
    const blk = fileAcl(img, '/ea2');
    const sectors = Number(/Blockcount: (\d+)/.exec(debugfsRead(img, 'stat /ea3'))?.[1]) + blockSizeOf(img) / 512;
    debugfs(img, [`sif /ea3 file_acl ${blk}`, `sif /ea3 blocks ${sectors}`, `zap_block -o 4 -l 1 -p 2 ${blk}`]);
  }
}

function boot(img: string, data: string): { h: Host; s: SyncSys; dev: ReturnType<typeof loadImage> } {
  const dev = loadImage(img, blockSizeOf(img));
  const h = new World({ seed: 1 }).addHost('h');
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', data);
  return { h, s: hostSys(h, h.process('izo')), dev };
}

function inodeAt(h: Host, path: string): Inode {
  const p = h.process('look');
  const r = h.run(p, path_lookup(p, path, 0));
  if (isErr(r)) throw new Error(`lookup ${path}: ${r}`);
  return r.dentry.d_inode as Inode;
}

function put(s: SyncSys, path: string, text: string, flags = O_WRONLY | O_CREAT): void {
  const f = s.sys_open(path, flags, 0o644) as number;
  expect(f).toBeGreaterThanOrEqual(0);
  expect(s.sys_write(f, enc(text))).toBe(text.length);
  expect(s.sys_close(f)).toBe(0);
}

function get(s: SyncSys, path: string): string {
  const f = s.sys_open(path, O_RDONLY) as number;
  const buf = new Uint8Array(1 << 16);
  const n = s.sys_read(f, buf) as number;
  s.sys_close(f);
  return dec(buf.subarray(0, n));
}

/** The changes made through the model, on every image. */
function change(h: Host, s: SyncSys, bs: number, ext_attr: boolean): void {
  if (ext_attr) {
    const attrs = ext3_xattr_list(inodeAt(h, '/ea1'), EXT3_I(inodeAt(h, '/ea1')).fileAcl);
    if (isErr(attrs)) throw new Error(`xattrs: ${attrs}`);
    const pairs = attrs.map((a) => [a.name, dec(a.value)]);
    expect(pairs).toEqual(expect.arrayContaining([['user.color', 'red'], ['user.big', BIG_VALUE]]));
    const ino = inodeAt(h, '/ea1').i_ino;
    expect(s.sys_unlink('/ea1')).toBe(0); // its own EA block: freed
    put(s, '/reuse', 'a new inode in an old slot');
    expect(inodeAt(h, '/reuse').i_ino).toBe(ino); // which held a stale i_file_acl
    expect(s.sys_unlink('/ea2')).toBe(0); // a shared one: one reference less, kept for /ea3
    expect(s.sys_readlink('/eafast')).toBe('/d/small');
    expect(s.sys_unlink('/eafast')).toBe(0);
  }
  put(s, '/new', 'fresh');
  put(s, '/d/small', ' and more', O_WRONLY | O_APPEND);
  expect(s.sys_truncate('/d/big', 1000)).toBe(0);
  const f = s.sys_open('/sparse', O_WRONLY) as number;
  expect(s.sys_pwrite(f, enc('middle'), 50 << 20)).toBe(6);
  s.sys_close(f);
  expect(s.sys_mkdir('/d/e/f', 0o755)).toBe(0);
  expect(s.sys_rename('/d/hard', '/d/moved')).toBe(0);
  expect(s.sys_rmdir('/d/e/f')).toBe(0);
  for (let i = 0; i < 40; i++) put(s, `/htree/added_${i}`, `${i}`);
  for (let i = 0; i < 10; i++) expect(s.sys_unlink(`/htree/${entry(i * 7)}`)).toBe(0);
  expect(s.sys_rename(`/htree/${entry(1)}`, '/htree/renamed')).toBe(0);
  expect(s.sys_symlink('t'.repeat(bs - 1), '/longest')).toBe(0);
  expect(s.sys_symlink('t'.repeat(bs), '/toolong')).toBe(ENAMETOOLONG);
  const large = s.sys_open('/large', O_WRONLY | O_CREAT, 0o644) as number;
  expect(s.sys_pwrite(large, enc('past 2 GiB'), 3 * 2 ** 30)).toBe(10);
  s.sys_close(large);
}

interface Config {
  readonly name: string;
  readonly args: readonly string[];
}

const CONFIGS: readonly Config[] = [
  { name: 'default features (mke2fs -t ext3)', args: ['-t', 'ext3'] },
  { name: '^filetype', args: ['-t', 'ext3', '-O', '^filetype'] },
  { name: '^large_file', args: ['-t', 'ext3', '-O', '^large_file'] },
  { name: '-r 0 (revision 0, no features)', args: ['-t', 'ext2', '-r', '0'] },
  { name: 'dir_index, no journal', args: ['-t', 'ext2', '-O', 'dir_index'] },
  {
    name: 'ext_attr with 128-byte inodes (every attribute in an EA block)',
    args: ['-t', 'ext3', '-O', 'ext_attr', '-I', '128'],
  },
  { name: '1 KiB blocks', args: ['-t', 'ext3', '-b', '1024'] },
  { name: '2 KiB blocks', args: ['-t', 'ext3', '-b', '2048'] },
  { name: '4 KiB blocks', args: ['-t', 'ext3', '-b', '4096'] },
];

describe.skipIf(!HAVE_E2FSPROGS)('images made by mke2fs and debugfs, changed through the model', () => {
  for (const c of CONFIGS) {
    it(c.name, async () => {
      const img = join(work, `${c.name.replace(/[^a-z0-9]+/gi, '_')}.img`);
      mke2fs(img, '32M', c.args);
      const before = features(img);
      const ext_attr = before.includes('ext_attr');
      fill(img, ext_attr);
      if (before.includes('dir_index')) execFileSync('e2fsck', ['-fyD', img], { stdio: 'ignore' });
      expect(e2fsck(img).output).toMatch(/\d+\/\d+ files/);
      expect(e2fsck(img).status).toBe(0);
      const indexed = before.includes('dir_index');
      if (indexed) expect(inodeFlags(img, '/htree') & EXT2_INDEX_FL).toBe(EXT2_INDEX_FL);
      if (ext_attr) expect(fileAcl(img, '/ea1')).toBeGreaterThan(0);
      const bs = blockSizeOf(img);

      const { h, s, dev } = boot(img, '');
      change(h, s, bs, ext_attr);
      h.shutdown();
      saveImage(img, dev);

      const check = e2fsck(img);
      expect(check.output).not.toMatch(/\?/);
      expect(check.status).toBe(0);
      expect(fsck(loadImage(img, bs))).toEqual([]);
      // Features kept, large_file gained (and a revision 0 file system moved to revision 1 for it).
      const after = features(img);
      expect(after).toEqual(expect.arrayContaining(before));
      expect(after.filter((x) => !before.includes(x))).toEqual(before.includes('large_file') ? [] : ['large_file']);
      expect(debugfsRead(img, 'stats').match(/Filesystem revision #:\s*(\d)/)?.[1]).toBe('1');
      if (indexed) {
        expect(inodeFlags(img, '/htree') & EXT2_INDEX_FL).toBe(0); // changed: no longer indexed
        expect(inodeFlags(img, '/htree2') & EXT2_INDEX_FL).toBe(EXT2_INDEX_FL); // untouched: still indexed
      }
      if (ext_attr) {
        expect(debugfsRead(img, 'ea_list /ea3')).toContain('user.shared');
        expect(fileAcl(img, '/reuse')).toBe(0);
        const stat = await izo('stat', img, '/ea3');
        expect(stat.status).toBe(0);
        const json = JSON.parse(stat.out) as { xattrs: Record<string, string> };
        expect(json.xattrs).toEqual({ 'user.shared': BIG_VALUE });
      }

      const again = boot(img, 'ro');
      expect(get(again.s, '/d/small')).toBe(`${SMALL} and more`);
      expect(get(again.s, '/d/moved')).toBe(`${SMALL} and more`);
      expect(get(again.s, '/new')).toBe('fresh');
      expect(again.s.sys_readlink('/longest')).toBe('t'.repeat(bs - 1));
      const st = again.s.sys_stat('/large');
      expect(typeof st === 'object' && st.st_size).toBe(3 * 2 ** 30 + 10);
      const names = again.s.sys_stat(`/htree/${entry(7)}`);
      expect(names).toBe(-2); // ENOENT: removed
      expect(get(again.s, '/htree/added_39')).toBe('39');
      expect(get(again.s, '/htree/renamed')).toBe(SMALL);
      // readdir gives types only where the directory entries carry them.
      const root = again.s.sys_open('/', O_RDONLY) as number;
      const ents = again.s.sys_getdents(root, 100) as Dirent[];
      again.s.sys_close(root);
      expect(ents.find((e) => e.d_name === 'd')?.d_type).toBe(after.includes('filetype') ? DT_DIR : DT_UNKNOWN);
    });
  }
});

describe.skipIf(!HAVE_E2FSPROGS)('images with features the model does not implement', () => {
  const REFUSED = [
    { feature: 'huge_file', args: ['-t', 'ext3', '-O', 'huge_file'], ro: true },
    { feature: 'metadata_csum', args: ['-t', 'ext3', '-O', 'metadata_csum'], ro: true },
    { feature: 'sparse_super2', args: ['-t', 'ext3', '-O', 'sparse_super2'], ro: true },
    { feature: 'extent', args: ['-t', 'ext4'], ro: false },
  ] as const;
  for (const r of REFUSED) {
    const ro = r.ro ? ', readable read-only' : ' (and read-only: incompatible)';
    it(`${r.feature}: refused read-write by name${ro}, never written`, () => {
      const img = join(work, `refused_${r.feature}.img`);
      mke2fs(img, '16M', r.args);
      debugfs(img, [`write ${hostFile('small', SMALL)} /f`]);
      const original = readFileSync(img);
      const dev = loadImage(img, blockSizeOf(img));
      const why = ext3_check_super(dev, true);
      expect(why).toEqual(expect.stringContaining(r.feature));
      const h = new World({ seed: 1, trace: { keep: true } }).addHost('h');
      h.registerFs(ext3_fs_type);
      h.addDisk('hda', dev);
      expect(h.runKernel(h.kernel.mount_root('ext3', '/dev/hda', ''))).toBe(EINVAL);
      const refused = h.world.trace.records().find((t) => t.ev === 'ext3.refused');
      const reason = refused?.data as { reason: string } | undefined;
      expect(reason?.reason).toContain(r.feature);
      if (r.ro) {
        expect(typeof ext3_check_super(dev)).toBe('object');
        expect(h.runKernel(h.kernel.mount_root('ext3', '/dev/hda', 'ro'))).toBe(0);
        expect(get(hostSys(h, h.process('r')), '/f')).toBe(SMALL);
      } else {
        expect(typeof ext3_check_super(dev)).toBe('string');
      }
      const named = expect.objectContaining({ code: 'bad-superblock', message: expect.stringContaining(r.feature) });
      expect(fsck(dev)).toEqual([named]);
      expect(dev.stats.writes).toBe(0);
      const cli = launchIzo(['sh', img], 'write /x y\n');
      expect(cli.status).toBe(8);
      expect(cli.err).toContain(r.feature);
      expect(readFileSync(img).equals(original)).toBe(true);
    });
  }
});
