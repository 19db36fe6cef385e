/**
 * The directory-entry invariants ext3_fs.ts asserts (namei.ts's essay: rec_len 4-aligned, at least
 * its minimum, inside its block; the last entry reaching the block's end), each fired on a planted
 * inconsistency and named, and silent on the blocks the model really writes.
 */
import { describe, expect, it } from 'vitest';
import { KernelPanic } from '../../../kernel/assert.ts';
import { assertDirBlockTiled, decodeDirBlock, writeDirEntry } from '../../../fs/ext3/ext3_fs.ts';

function panicOf(f: () => void): string {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelPanic) return e.message;
    throw e;
  }
  return 'no panic';
}

describe('directory entry invariants', () => {
  it('a well-formed block passes and decodes', () => {
    const b = new Uint8Array(1024);
    writeDirEntry(b, 0, 2, 12, '.', 2);
    writeDirEntry(b, 12, 2, 1012, '..', 2);
    assertDirBlockTiled(b, 'planted');
    expect(decodeDirBlock(b)).toHaveLength(2);
  });

  it('writeDirEntry refuses a rec_len below the minimum, unaligned, past the block, or a name over 255 bytes', () => {
    const b = new Uint8Array(1024);
    expect(panicOf(() => writeDirEntry(b, 0, 11, 12, 'longer-name', 1))).toMatch(/rec_len 12 is below the minimum for 'longer-name'/);
    expect(panicOf(() => writeDirEntry(b, 0, 11, 14, 'a', 1))).toMatch(/not 4-aligned/);
    expect(panicOf(() => writeDirEntry(b, 1016, 11, 12, 'a', 1))).toMatch(/runs past the 1024-byte block/);
    expect(panicOf(() => writeDirEntry(b, 0, 11, 1024, 'n'.repeat(256), 1))).toMatch(/is not 0-255 bytes/);
  });

  it('assertDirBlockTiled names a block whose entries stop short of or overshoot its end, and a rec_len below its name', () => {
    const b = new Uint8Array(1024);
    writeDirEntry(b, 0, 2, 12, '.', 2);
    writeDirEntry(b, 12, 2, 1000, '..', 2);
    expect(panicOf(() => assertDirBlockTiled(b, 'dir 2'))).toMatch(/dir 2: entry at 1012 has rec_len 0/);
    new DataView(b.buffer).setUint16(12 + 4, 1016, true); // now the last entry overshoots by 4
    expect(panicOf(() => assertDirBlockTiled(b, 'dir 2'))).toMatch(/dir 2: entry at 12 has rec_len 1016/);
    const c = new Uint8Array(1024);
    writeDirEntry(c, 0, 2, 1024, 'name', 1);
    new DataView(c.buffer).setUint16(4, 8, true); // rec_len 8 under a 4-byte name
    expect(panicOf(() => assertDirBlockTiled(c, 'dir 3'))).toMatch(/dir 3: entry at 0: name_len 4 exceeds rec_len 8/);
  });
});
