/**
 * What every system call does when it succeeds, on every target. Written once; each target's
 * missing capabilities skip the tests that need them, by name.
 */
import { describe, expect, it } from 'vitest';
import { TARGETS, type Capability, type Target } from './targets.ts';
import { hostSys, enc, dec, type SyncSys } from '../support/boot.ts';
import {
  O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, S_IFCHR, S_IFIFO, S_ISGID, S_ISUID, DT_DIR, DT_REG, DT_LNK,
  SEEK_CUR, SEEK_END, SEEK_SET, R_OK, W_OK, type Stat, type Dirent,
} from '../../kernel/fs.ts';
import { EBUSY, ENOENT, ENOTTY, EXDEV, isErr } from '../../kernel/errno.ts';
import type { Host } from '../../sim/host.ts';

function st(x: Stat | number): Stat {
  if (typeof x === 'number') throw new Error(`expected a stat, got errno ${x}`);
  return x;
}
function fd(x: number): number {
  if (isErr(x)) throw new Error(`expected an fd, got errno ${x}`);
  return x;
}
function readAll(s: SyncSys, path: string): string {
  const f = fd(s.sys_open(path, O_RDONLY));
  const buf = new Uint8Array(1 << 20);
  const n = s.sys_read(f, buf) as number;
  s.sys_close(f);
  return dec(buf.subarray(0, n));
}
function write(s: SyncSys, path: string, text: string, flags = O_WRONLY | O_CREAT | O_TRUNC): void {
  const f = fd(s.sys_open(path, flags, 0o644));
  s.sys_write(f, enc(text));
  s.sys_close(f);
}
function names(s: SyncSys, path: string): Dirent[] {
  const f = fd(s.sys_open(path, O_RDONLY));
  const all: Dirent[] = [];
  for (let batch = s.sys_getdents(f, 3) as Dirent[]; batch.length > 0; batch = s.sys_getdents(f, 3) as Dirent[]) all.push(...batch);
  s.sys_close(f);
  return all;
}

for (const t of TARGETS) {
  describe(`semantics on ${t.name}`, () => {
    const needs = (cap: Capability, name: string, fn: (h: Host, s: SyncSys) => void): void => {
      if (t.caps.has(cap)) it(name, () => run(t, fn));
      else it.skip(`${name} [skipped: ${t.name} lacks ${cap}]`, () => {});
    };
    const run = (target: Target, fn: (h: Host, s: SyncSys) => void): void => {
      const h = target.boot();
      fn(h, hostSys(h, h.process('root')));
    };
    const test = (name: string, fn: (h: Host, s: SyncSys) => void): void => void it(name, () => run(t, fn));

    test('open/read/write/lseek/pread/pwrite, with holes reading as zeros', (_h, s) => {
      const f = fd(s.sys_open('/f', O_RDWR | O_CREAT, 0o644));
      expect(s.sys_write(f, enc('hello'))).toBe(5);
      expect(s.sys_lseek(f, 0, SEEK_CUR)).toBe(5);
      expect(s.sys_lseek(f, 10, SEEK_SET)).toBe(10);
      expect(s.sys_write(f, enc('X'))).toBe(1);
      expect(s.sys_lseek(f, -1, SEEK_END)).toBe(10);
      const buf = new Uint8Array(11);
      expect(s.sys_pread(f, buf, 0)).toBe(11);
      expect([...buf]).toEqual([104, 101, 108, 108, 111, 0, 0, 0, 0, 0, 88]);
      expect(s.sys_pwrite(f, enc('J'), 0)).toBe(1);
      expect(s.sys_lseek(f, 0, SEEK_CUR)).toBe(10); // pread and pwrite leave the position alone
      expect(s.sys_close(f)).toBe(0);
      expect(readAll(s, '/f').slice(0, 5)).toBe('Jello');
    });

    test('O_APPEND appends (pwrite too, as on Linux); O_TRUNC empties; O_EXCL creates', (_h, s) => {
      write(s, '/f', 'abc');
      write(s, '/f', 'def', O_WRONLY | O_APPEND);
      expect(readAll(s, '/f')).toBe('abcdef');
      const f = fd(s.sys_open('/f', O_WRONLY | O_APPEND));
      s.sys_pwrite(f, enc('!'), 0);
      s.sys_close(f);
      expect(readAll(s, '/f')).toBe('abcdef!');
      s.sys_close(fd(s.sys_open('/f', O_WRONLY | O_TRUNC)));
      expect(st(s.sys_stat('/f')).st_size).toBe(0);
      expect(s.sys_open('/g', O_WRONLY | O_CREAT | O_EXCL, 0o600)).toBeGreaterThanOrEqual(0);
    });

    needs('symlinks', 'symlink, readlink, lstat, and O_CREAT through a dangling link', (_h, s) => {
      expect(s.sys_symlink('/target', '/l')).toBe(0);
      expect(s.sys_readlink('/l')).toBe('/target');
      expect(st(s.sys_lstat('/l')).st_size).toBe(7);
      write(s, '/l', 'via link');
      expect(readAll(s, '/target')).toBe('via link');
    });

    test('truncate and ftruncate shrink, and extend with zeros', (_h, s) => {
      write(s, '/f', '0123456789');
      expect(s.sys_truncate('/f', 4)).toBe(0);
      expect(readAll(s, '/f')).toBe('0123');
      const f = fd(s.sys_open('/f', O_RDWR));
      expect(s.sys_ftruncate(f, 8)).toBe(0);
      s.sys_close(f);
      expect(readAll(s, '/f')).toBe('0123\0\0\0\0');
    });

    test('fsync, fdatasync and sync succeed; statfs answers', (_h, s) => {
      write(s, '/f', 'x');
      const f = fd(s.sys_open('/f', O_RDONLY));
      expect(s.sys_fsync(f)).toBe(0);
      expect(s.sys_fdatasync(f)).toBe(0);
      expect(s.sys_sync()).toBe(0);
      const sf = s.sys_statfs('/');
      expect(typeof sf === 'object' && sf.f_namelen).toBe(255);
    });

    test('stat: link counts of directories, owners, umask and setgid inheritance', (h, s) => {
      s.sys_mkdir('/d', 0o777);
      s.sys_mkdir('/d/a', 0o755);
      s.sys_mkdir('/d/b', 0o755);
      expect(st(s.sys_stat('/d')).st_nlink).toBe(4);
      expect(st(s.sys_stat('/d')).st_mode & 0o777).toBe(0o755);
      s.sys_chown('/d', 1000, 50);
      s.sys_chmod('/d', 0o2777);
      const u = hostSys(h, h.process('u', 1000, 1000));
      u.sys_mkdir('/d/sub', 0o777);
      write(u, '/d/file', 'x');
      expect(st(u.sys_stat('/d/file'))).toMatchObject({ st_uid: 1000, st_gid: 50 });
      expect(st(u.sys_stat('/d/sub')).st_mode & S_ISGID).toBe(S_ISGID);
      expect(s.sys_umask(0o077)).toBe(0o022);
      write(s, '/private', 'x');
      expect(st(s.sys_stat('/private')).st_mode & 0o777).toBe(0o600);
    });

    test('unlink of an open file: gone from the names, still readable', (_h, s) => {
      write(s, '/f', 'still here');
      const f = fd(s.sys_open('/f', O_RDONLY));
      expect(s.sys_unlink('/f')).toBe(0);
      expect(s.sys_stat('/f')).toBe(ENOENT);
      expect(st(s.sys_fstat(f)).st_nlink).toBe(0);
      const buf = new Uint8Array(20);
      expect(dec(buf.subarray(0, s.sys_read(f, buf) as number))).toBe('still here');
      expect(s.sys_close(f)).toBe(0);
    });

    needs('hardlinks', 'rename replaces files, moves directories over empty ones, keeps inode numbers', (_h, s) => {
      write(s, '/a', 'A');
      write(s, '/b', 'B');
      const ino = st(s.sys_stat('/a')).st_ino;
      expect(s.sys_rename('/a', '/b')).toBe(0);
      expect(readAll(s, '/b')).toBe('A');
      expect(st(s.sys_stat('/b')).st_ino).toBe(ino);
      s.sys_mkdir('/d', 0o755);
      s.sys_mkdir('/e', 0o755);
      s.sys_mkdir('/d/x', 0o755);
      expect(s.sys_rename('/d', '/e')).toBe(0);
      expect(st(s.sys_stat('/e/x')).st_nlink).toBe(2);
      s.sys_link('/b', '/c');
      expect(s.sys_rename('/b', '/c')).toBe(0);
      expect(st(s.sys_stat('/b')).st_nlink).toBe(2);
    });

    needs('hardlinks', 'link counts follow links and unlinks', (_h, s) => {
      write(s, '/f', 'x');
      s.sys_link('/f', '/g');
      s.sys_link('/g', '/h');
      expect(st(s.sys_stat('/f')).st_nlink).toBe(3);
      s.sys_unlink('/g');
      expect(st(s.sys_stat('/h')).st_nlink).toBe(2);
    });

    test('readdir returns every name once with its type, after many creates and deletes', (_h, s) => {
      s.sys_mkdir('/d', 0o755);
      for (let i = 0; i < 60; i++) write(s, `/d/f${i}`, 'x');
      for (let i = 0; i < 60; i += 3) s.sys_unlink(`/d/f${i}`);
      s.sys_mkdir('/d/sub', 0o755);
      s.sys_symlink('f1', '/d/ln');
      const ents = names(s, '/d');
      const byName = new Map(ents.map((e) => [e.d_name, e.d_type]));
      expect(ents.length).toBe(byName.size);
      expect(byName.size).toBe(2 + 40 + 2);
      expect(byName.get('.')).toBe(DT_DIR);
      expect(byName.get('sub')).toBe(DT_DIR);
      expect(byName.get('f1')).toBe(DT_REG);
      expect(byName.get('ln')).toBe(DT_LNK);
      expect(byName.has('f3')).toBe(false);
    });

    test('chmod drops setgid for a non-member; chown keeps -1 fields and drops setuid', (h, s) => {
      write(s, '/f', 'x');
      s.sys_chown('/f', 1000, 0);
      const u = hostSys(h, h.process('u', 1000, 1000));
      expect(u.sys_chmod('/f', 0o2755)).toBe(0);
      expect(st(s.sys_stat('/f')).st_mode & 0o7777).toBe(0o755);
      s.sys_chmod('/f', 0o4755);
      expect(s.sys_chown('/f', -1, 7)).toBe(0);
      expect(st(s.sys_stat('/f'))).toMatchObject({ st_uid: 1000, st_gid: 7 });
      expect(st(s.sys_stat('/f')).st_mode & S_ISUID).toBe(0);
    });

    test('utimes sets times exactly or to now; ctime moves with changes', (h, s) => {
      write(s, '/f', 'x');
      const before = st(s.sys_stat('/f')).st_ctime;
      h.world.sched.runFor(3_000_000);
      expect(s.sys_utimes('/f', [{ sec: 1_000_000_000, nsec: 0 }, { sec: 1_100_000_000, nsec: 0 }])).toBe(0);
      const after = st(s.sys_stat('/f'));
      expect(after.st_mtime.sec).toBe(1_100_000_000);
      expect(after.st_atime.sec).toBe(1_000_000_000);
      expect(after.st_ctime.sec).toBe(before.sec + 3);
      h.world.sched.runFor(2_000_000);
      expect(s.sys_utimes('/f', null)).toBe(0);
      expect(st(s.sys_stat('/f')).st_mtime.sec).toBe(before.sec + 5);
    });

    test('writes, creates and unlinks move mtime and ctime on the simulated clock', (h, s) => {
      s.sys_mkdir('/d', 0o755);
      const t0 = st(s.sys_stat('/d')).st_mtime.sec;
      h.world.sched.runFor(2_000_000);
      write(s, '/d/f', 'x');
      expect(st(s.sys_stat('/d')).st_mtime.sec).toBe(t0 + 2);
      h.world.sched.runFor(2_000_000);
      write(s, '/d/f', 'y', O_WRONLY | O_APPEND);
      expect(st(s.sys_stat('/d/f')).st_mtime.sec).toBe(t0 + 4);
      h.world.sched.runFor(2_000_000);
      s.sys_unlink('/d/f');
      expect(st(s.sys_stat('/d')).st_ctime.sec).toBe(t0 + 6);
    });

    test('open(O_TRUNC) of an existing empty file still stamps mtime and ctime (POSIX, Linux)', (h, s) => {
      write(s, '/e', '');
      const t0 = st(s.sys_stat('/e'));
      h.world.sched.runFor(2_000_000);
      s.sys_close(fd(s.sys_open('/e', O_WRONLY | O_TRUNC)));
      const t1 = st(s.sys_stat('/e'));
      expect(t1.st_size).toBe(0);
      expect(t1.st_mtime.sec).toBe(t0.st_mtime.sec + 2);
      expect(t1.st_ctime.sec).toBe(t0.st_ctime.sec + 2);
    });

    test('access uses the real uid', (h, s) => {
      write(s, '/f', 'x');
      s.sys_chmod('/f', 0o604);
      const u = hostSys(h, h.process('u', 1000, 1000));
      expect(u.sys_access('/f', R_OK)).toBe(0);
      expect(u.sys_access('/f', W_OK)).toBeLessThan(0);
    });

    needs('devices', 'mknod makes fifos and device nodes (metadata)', (_h, s) => {
      expect(s.sys_mknod('/p', S_IFIFO | 0o644, 0)).toBe(0);
      expect(s.sys_mknod('/c', S_IFCHR | 0o600, (4 << 8) | 1)).toBe(0);
      expect(st(s.sys_stat('/c')).st_rdev).toBe((4 << 8) | 1);
      expect(st(s.sys_stat('/p')).st_mode & 0o170000).toBe(S_IFIFO);
    });

    test('chdir and relative paths; getcwd; a removed cwd', (_h, s) => {
      s.sys_mkdir('/a', 0o755);
      s.sys_mkdir('/a/b', 0o755);
      expect(s.sys_chdir('/a/b')).toBe(0);
      expect(s.sys_getcwd()).toBe('/a/b');
      write(s, 'f', 'rel');
      expect(readAll(s, '/a/b/f')).toBe('rel');
      expect(readAll(s, '../b/./f')).toBe('rel');
      expect(st(s.sys_stat('/../../a/../..')).st_ino).toBe(st(s.sys_stat('/')).st_ino); // .. at the root stays
      s.sys_unlink('/a/b/f');
      expect(s.sys_rmdir('/a/b')).toBe(0);
      expect(s.sys_getcwd()).toBe(ENOENT);
    });

    test('ioctl without a handler is ENOTTY', (_h, s) => {
      write(s, '/f', 'x');
      expect(s.sys_ioctl(fd(s.sys_open('/f', O_RDONLY)), 0x5401)).toBe(ENOTTY);
    });

    needs('mount', 'mount a second file system: .. climbs out, EXDEV across, EBUSY while in use', (_h, s) => {
      s.sys_mkdir('/mnt', 0o755);
      expect(s.sys_mount(null, '/mnt', 'ramfs', 0, '')).toBe(0);
      write(s, '/mnt/f', 'inside');
      write(s, '/outside', 'x');
      expect(st(s.sys_stat('/mnt/..')).st_ino).toBe(st(s.sys_stat('/')).st_ino);
      expect(s.sys_rename('/outside', '/mnt/o')).toBe(EXDEV);
      expect(s.sys_link('/outside', '/mnt/o')).toBe(EXDEV);
      const f = fd(s.sys_open('/mnt/f', O_RDONLY));
      expect(s.sys_umount('/mnt')).toBe(EBUSY);
      s.sys_close(f);
      expect(s.sys_umount('/mnt')).toBe(0);
      expect(s.sys_stat('/mnt/f')).toBe(ENOENT);
    });
  });
}
