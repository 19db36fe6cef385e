import { describe, expect, it } from 'vitest';
import { bootKernel, enc, sys } from '../support/boot.ts';
import { makeCountFilter } from '../support/countfilter.ts';
import { ramfs_fs_type, ramfs_dir_inode_operations, ramfs_file_operations } from '../../fs/ramfs/inode.ts';
import { EIO, ENOSPC, EROFS } from '../../kernel/errno.ts';
import { O_CREAT, O_RDWR } from '../../kernel/fs.ts';
import { runSync } from '../../kernel/sched.ts';
import { path_lookup } from '../../kernel/namei.ts';
import { filter_fs_type } from '../../kernel/filter.ts';

function bootFiltered() {
  const { type, state } = makeCountFilter(ramfs_fs_type);
  const b = bootKernel({ rootfs: type.name, extraTypes: [type] });
  return { ...b, type, state };
}

describe('filter stacking (c2c / c2u)', () => {
  it('routes every call through the filter and down to the lower originals', () => {
    const { root, state } = bootFiltered();
    const s = sys(root);
    expect(s.sys_mkdir('/d', 0o755)).toBe(0);
    const fd = s.sys_open('/d/f', O_CREAT | O_RDWR, 0o644) as number;
    expect(s.sys_write(fd, enc('abc'))).toBe(3);
    expect(s.sys_close(fd)).toBe(0);
    expect(s.sys_rename('/d/f', '/d/g')).toBe(0);
    expect(state.calls.get('dir.mkdir')).toBe(1);
    expect(state.calls.get('dir.create')).toBe(1);
    expect(state.calls.get('dir.rename')).toBe(1);
    expect(state.calls.get('file.f_write')).toBe(1);
    // The new file's inode came back from the lower create and was filtered too.
    expect((s.sys_stat('/d/g') as { st_size: number }).st_size).toBe(3);
  });

  it('keeps the lower tables intact and reachable (c2c), and filtering is idempotent', () => {
    const { root, type } = bootFiltered();
    const s = sys(root);
    expect(s.sys_mkdir('/d', 0o755)).toBe(0);
    s.sys_close(s.sys_open('/d/f', O_CREAT | O_RDWR, 0o644) as number);
    const dir = runSync(path_lookup(root, '/d', 0));
    const file = runSync(path_lookup(root, '/d/f', 0));
    if (typeof dir === 'number' || typeof file === 'number') throw new Error('lookup failed');
    const f = type.filter;
    const dInode = dir.dentry.d_inode!;
    const fInode = file.dentry.d_inode!;
    expect(dInode.i_op).not.toBe(ramfs_dir_inode_operations);
    expect(f.c2c_iops(dInode)).toBe(ramfs_dir_inode_operations);
    expect(f.c2c_fops(fInode)).toBe(ramfs_file_operations);
    const before = dInode.i_op;
    f.filter_inode(dInode);
    expect(dInode.i_op).toBe(before);
    // The lower module's table was copied, not modified.
    expect(ramfs_dir_inode_operations.create?.name).toBe('ramfs_create');
  });

  it('can refuse modifications while reads go straight through', () => {
    const { root, state } = bootFiltered();
    const s = sys(root);
    expect(s.sys_mkdir('/d', 0o755)).toBe(0);
    state.refuseWrites = true;
    expect(s.sys_mkdir('/e', 0o755)).toBe(EROFS);
    expect(s.sys_open('/d/x', O_CREAT | O_RDWR, 0o644)).toBe(EROFS);
    expect(s.sys_stat('/d')).toMatchObject({ st_mode: 0o40755 }); // a read still works
    state.refuseWrites = false;
    expect(s.sys_mkdir('/e', 0o755)).toBe(0);
  });
});

describe('d_revalidate', () => {
  it('a filter that says a cached name is stale makes the VFS ask the file system again', () => {
    let lookups = 0;
    let valid = true;
    const type = filter_fs_type('reval', ramfs_fs_type, {
      name: 'reval',
      iops(kind, lower) {
        if (kind !== 'dir' || lower.lookup === undefined) return {};
        const lookup = lower.lookup;
        return { *lookup(dir, d) { lookups++; return yield* lookup(dir, d); } };
      },
      dops: () => ({ *d_revalidate() { return valid; } }),
    });
    const { root } = bootKernel({ rootfs: 'reval', extraTypes: [type] });
    const s = sys(root);
    s.sys_mkdir('/d', 0o755);
    const before = lookups;
    s.sys_stat('/d');
    s.sys_stat('/d');
    expect(lookups).toBe(before); // cached and valid: no lookup
    valid = false;
    s.sys_stat('/d');
    expect(lookups).toBe(before + 1); // stale: looked up again
    expect(s.sys_stat('/d')).toMatchObject({ st_mode: 0o40755 }); // and found
  });

  it("close(2) ignores what release returns, as Linux's fput does; flush's error it reports", () => {
    let released = 0;
    let flushErr: 0 | typeof EIO = 0;
    const type = filter_fs_type('failrel', ramfs_fs_type, {
      name: 'failrel',
      fops: (kind) => (kind !== 'file' ? {} : {
        *release() { released++; return ENOSPC; },
        *flush() { return flushErr; },
      }),
    });
    const { root } = bootKernel({ rootfs: 'failrel', extraTypes: [type] });
    const s = sys(root);
    const fd = s.sys_open('/f', O_CREAT | O_RDWR, 0o644) as number;
    expect(s.sys_write(fd, enc('abc'))).toBe(3);
    expect(s.sys_close(fd)).toBe(0);
    expect(released).toBe(1);
    flushErr = EIO;
    expect(s.sys_close(s.sys_open('/f', O_RDWR) as number)).toBe(EIO);
    expect(released).toBe(2);
  });
});
