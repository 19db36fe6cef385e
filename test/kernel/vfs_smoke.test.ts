import { describe, expect, it } from 'vitest';
import { bootKernel, dec, enc, sys } from '../support/boot.ts';
import { O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../../kernel/fs.ts';
import { EEXIST, ENOENT, ENOTDIR, ENOTEMPTY, EISDIR, errnoName } from '../../kernel/errno.ts';

describe('vfs smoke on ramfs', () => {
  it('creates, writes, reads, renames, unlinks', () => {
    const { root } = bootKernel();
    const s = sys(root);
    expect(s.sys_mkdir('/a', 0o755)).toBe(0);
    expect(s.sys_mkdir('/a', 0o755)).toBe(EEXIST);
    const fd = s.sys_open('/a/f', O_CREAT | O_WRONLY, 0o644);
    expect(fd).toBe(0);
    expect(s.sys_write(fd, enc('hello world'))).toBe(11);
    expect(s.sys_close(fd)).toBe(0);
    const st = s.sys_stat('/a/f');
    if (typeof st === 'number') throw new Error(errnoName(st));
    expect(st.st_size).toBe(11);
    expect(st.st_mode & 0o777).toBe(0o644);
    const rfd = s.sys_open('/a/f', O_RDONLY);
    const buf = new Uint8Array(64);
    const n = s.sys_read(rfd as number, buf);
    expect(dec(buf.subarray(0, n as number))).toBe('hello world');
    expect(s.sys_rename('/a/f', '/a/g')).toBe(0);
    expect(s.sys_stat('/a/f')).toBe(ENOENT);
    expect(s.sys_rmdir('/a')).toBe(ENOTEMPTY);
    expect(s.sys_unlink('/a')).toBe(EISDIR);
    expect(s.sys_unlink('/a/g/')).toBe(ENOTDIR);
    expect(s.sys_unlink('/a/g')).toBe(0);
    // still open: readable after unlink
    const n2 = s.sys_pread(rfd as number, buf, 6);
    expect(dec(buf.subarray(0, n2 as number))).toBe('world');
    expect(s.sys_close(rfd as number)).toBe(0);
    expect(s.sys_rmdir('/a')).toBe(0);
    const dfd = s.sys_open('/', O_RDONLY);
    const ents = s.sys_getdents(dfd as number);
    expect(Array.isArray(ents) ? ents.map((e) => e.d_name) : ents).toEqual(['.', '..']);
    expect(s.sys_symlink('/nowhere', '/l')).toBe(0);
    expect(s.sys_open('/l', O_RDWR)).toBe(ENOENT);
    expect(s.sys_open('/l', O_RDWR | O_CREAT, 0o600)).toBe(1);
    expect(s.sys_readlink('/l')).toBe('/nowhere');
    expect(s.sys_getcwd()).toBe('/');
  });
});

describe('open(O_TRUNC) of an existing empty file (issue 19)', () => {
  it('truncates anyway: mtime and ctime move, as Linux 2.4 (do_truncate from open_namei) does', () => {
    const { root, sched } = bootKernel();
    const s = sys(root);
    expect(s.sys_close(s.sys_open('/e', O_CREAT | O_WRONLY, 0o644) as number)).toBe(0);
    const before = s.sys_stat('/e');
    if (typeof before === 'number') throw new Error(errnoName(before));
    expect(before.st_size).toBe(0);
    sched.runFor(3_000_000);
    expect(s.sys_close(s.sys_open('/e', O_WRONLY | O_TRUNC) as number)).toBe(0);
    const after = s.sys_stat('/e');
    if (typeof after === 'number') throw new Error(errnoName(after));
    expect(after.st_size).toBe(0);
    expect(after.st_mtime.sec).toBeGreaterThan(before.st_mtime.sec);
    expect(after.st_ctime.sec).toBeGreaterThan(before.st_ctime.sec);
    // O_TRUNC on a read-only open of a file the caller can write also truncates (Linux does).
    sched.runFor(3_000_000);
    expect(s.sys_close(s.sys_open('/e', O_RDONLY | O_TRUNC) as number)).toBe(0);
    const third = s.sys_stat('/e');
    if (typeof third === 'number') throw new Error(errnoName(third));
    expect(third.st_mtime.sec).toBeGreaterThan(after.st_mtime.sec);
  });
});
