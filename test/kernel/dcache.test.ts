/**
 * The dentry cache's invariants (kernel/dcache.ts): the accessor for a dentry that must be positive
 * returns its inode, and panics, naming the dentry, on a negative one (where the VFS and presto
 * used to cast and fail later with a TypeError far from the cause).
 */
import { describe, expect, it } from 'vitest';
import { KernelPanic } from '../../kernel/assert.ts';
import { d_alloc, d_inode_of } from '../../kernel/dcache.ts';
import { bootKernel } from '../support/boot.ts';

describe('dcache', () => {
  it('d_inode_of gives a positive dentry its inode and refuses a negative one by name', () => {
    const { root } = bootKernel({});
    const r = root.root.dentry;
    expect(d_inode_of(r)).toBe(r.d_inode);
    const negative = d_alloc(r, 'ghost');
    expect(() => d_inode_of(negative)).toThrow(KernelPanic);
    expect(() => d_inode_of(negative)).toThrow(/dentry 'ghost' is negative where it must be positive/);
  });
});
