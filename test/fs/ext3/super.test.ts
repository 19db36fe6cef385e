/**
 * super.ts's answers to damage read from disk: the mount refuses a superblock whose geometry it
 * cannot trust and group descriptors that put a bitmap or inode table outside its group
 * (ext3_check_descriptors), and a corrupt root inode; at run time a damaged structure is
 * ext3_error: the typed trace event naming the block, s_state EXT3_ERROR_FS on disk, EUCLEAN to
 * the caller, then the errors= behaviour (continue, remount-ro, or panic, only when asked for).
 * Negative controls: an undamaged image mounts and allocates with no ext3.error event.
 */
import { describe, expect, it } from 'vitest';
import { BlockDevice } from '../../../kernel/blkdev.ts';
import { KernelPanic } from '../../../kernel/assert.ts';
import { EINVAL, EROFS, EUCLEAN } from '../../../kernel/errno.ts';
import { sys_lstat, sys_mkdir } from '../../../kernel/syscalls.ts';
import { mkfs } from '../../../fs/ext3/mkfs.ts';
import { ext3_check_descriptors, ext3_check_super, ext3_fs_type, parseMountOptions } from '../../../fs/ext3/super.ts';
import { decodeGroupDesc, decodeSuperblock, EXT2_ERROR_FS } from '../../../fs/ext3/ext3_fs.ts';
import { World } from '../../../sim/host.ts';

const BS = 1024;

function fresh(journal = true): BlockDevice {
  const dev = new BlockDevice({ name: 'hda', blockSize: BS, blocks: 4096 });
  const geo = mkfs(dev, { blockSize: BS, uuid: new Uint8Array(16).fill(7), time: 1_000_000_000, journalBlocks: journal ? 1024 : 0 });
  expect(typeof geo).not.toBe('string');
  return dev;
}

function block(dev: BlockDevice, b: number): Uint8Array {
  const buf = new Uint8Array(BS);
  expect(dev.read(b, buf)).toBe(0);
  return buf;
}

/** Mount `dev` with `data`: the host, the errno, and every ext3 event traced. */
function mount(dev: BlockDevice, data: string) {
  const world = new World({ seed: 1, trace: { keep: true } });
  const host = world.addHost('h');
  host.registerFs(ext3_fs_type);
  host.addDisk('hda', dev);
  const r = host.runKernel(host.kernel.mount_root('ext3', '/dev/hda', data));
  const events = (kind: string) => world.trace.records().filter((e) => e.ev === kind).map((e) => e.data);
  return { host, r, events, get proc() { return host.process('p'); } };
}

/** Clear the block bitmap: every block, the group's own metadata too, reads as free. */
function clearBlockBitmap(dev: BlockDevice): void {
  const d = decodeGroupDesc(block(dev, 2), 0);
  dev.write(d.blockBitmap, new Uint8Array(BS));
}

describe('ext3 mount refuses what it cannot trust', () => {
  it('group descriptors with an inode table outside the group (ext3_check_descriptors)', () => {
    const dev = fresh();
    const gdt = block(dev, 2);
    new DataView(gdt.buffer).setUint32(8, 0x7fffffff, true);
    dev.write(2, gdt);
    const { r, events } = mount(dev, 'ro');
    expect(r).toBe(EINVAL);
    expect(events('ext3.refused')).toEqual([{ dev: 'hda', reason: expect.stringMatching(/^group descriptors corrupted: the inode table/) }]);
    const raw = ext3_check_super(dev);
    expect(typeof raw).toBe('object');
    if (typeof raw === 'object') expect(ext3_check_descriptors(raw, [decodeGroupDesc(gdt, 0)], BS)).toMatch(/group 0 is not in the group \(1\.\.4095\)/);
  });

  it('a superblock longer than its device, or with impossible geometry, names it and mentions the backups', () => {
    const dev = fresh();
    const sb = block(dev, 1);
    new DataView(sb.buffer).setUint32(0x04, 999_999, true);
    dev.write(1, sb);
    expect(ext3_check_super(dev)).toMatch(/bad geometry: block count 999999 exceeds the size of the device \(4096 blocks.*e2fsck -b 8193/);
    new DataView(sb.buffer).setUint32(0x04, 4096, true);
    new DataView(sb.buffer).setUint32(0x28, 99_999, true); // inodes per group
    dev.write(1, sb);
    expect(ext3_check_super(dev)).toMatch(/99999 inodes per group, more than a bitmap block maps/);
  });

  it('parses errors=continue|remount-ro|panic and refuses another value', () => {
    for (const v of ['continue', 'remount-ro', 'panic'] as const) expect(parseMountOptions(`errors=${v}`)).toMatchObject({ errors: v });
    expect(parseMountOptions('errors=explode')).toBe("unknown or malformed mount option 'errors=explode'");
  });
});

describe('ext3_error: damage found at run time', () => {
  it('negative control: an undamaged image allocates with no ext3.error event', () => {
    const m = mount(fresh(), '');
    expect(m.host.run(m.proc, sys_mkdir(m.proc, '/d', 0o755))).toBe(0);
    expect(m.events('ext3.error')).toEqual([]);
  });

  it('errors=continue: EUCLEAN, the event names the block, the fs is marked with errors on disk, and work goes on', () => {
    const dev = fresh();
    clearBlockBitmap(dev);
    const m = mount(dev, 'errors=continue');
    expect(m.r).toBe(0);
    expect(m.host.run(m.proc, sys_mkdir(m.proc, '/d', 0o755))).toBe(EUCLEAN);
    expect(m.events('ext3.error')[0]).toEqual({
      dev: 'hda', fn: 'ext3_new_block', message: expect.stringMatching(/^Allocating block in system zone - block = \d+$/), action: 'continue',
    });
    expect(decodeSuperblock(block(dev, 1)).state & EXT2_ERROR_FS).toBe(EXT2_ERROR_FS);
  });

  it('errors=remount-ro: after the error the file system refuses changes (EROFS)', () => {
    const dev = fresh();
    clearBlockBitmap(dev);
    const m = mount(dev, 'errors=remount-ro');
    expect(m.host.run(m.proc, sys_mkdir(m.proc, '/d', 0o755))).toBe(EUCLEAN);
    expect(m.events('ext3.error')[0]).toMatchObject({ action: 'remount-ro' });
    expect(m.host.run(m.proc, sys_mkdir(m.proc, '/e', 0o755))).toBe(EROFS);
    m.host.shutdown(); // the journal is still closed cleanly
    expect(decodeSuperblock(block(dev, 1)).state & EXT2_ERROR_FS).toBe(EXT2_ERROR_FS);
  });

  it('errors=panic panics, as asked; s_errors=panic read from disk only remounts read-only', () => {
    const dev = fresh(false);
    clearBlockBitmap(dev);
    const m = mount(dev, 'errors=panic');
    expect(() => m.host.run(m.proc, sys_mkdir(m.proc, '/d', 0o755))).toThrow(KernelPanic);
    const dev2 = fresh(false);
    clearBlockBitmap(dev2);
    const sb = block(dev2, 1);
    new DataView(sb.buffer).setUint16(0x3c, 3, true); // s_errors = EXT2_ERRORS_PANIC
    dev2.write(1, sb);
    const m2 = mount(dev2, '');
    expect(m2.host.run(m2.proc, sys_mkdir(m2.proc, '/d', 0o755))).toBe(EUCLEAN);
    expect(m2.events('ext3.error')[0]).toMatchObject({ action: 'remount-ro' });
  });

  it('a read-only mount reports a damaged directory block (EUCLEAN) and writes nothing to the image', () => {
    const dev = fresh();
    const d = decodeGroupDesc(block(dev, 2), 0);
    const table = block(dev, d.inodeTable);
    const rootBlock = new DataView(table.buffer).getUint32(128 + 40, true); // inode 2's i_block[0]
    const dir = block(dev, rootBlock);
    new DataView(dir.buffer).setUint16(4, 3, true); // the first entry's rec_len: 3, too short
    dev.write(rootBlock, dir);
    const before = dev.toImage();
    const m = mount(dev, 'ro');
    expect(m.r).toBe(0);
    const p = m.proc;
    expect(m.host.run(p, sys_lstat(p, '/x'))).toBe(EUCLEAN);
    expect(m.events('ext3.error')[0]).toEqual({
      dev: 'hda', fn: 'ext3_check_dir_entry', message: expect.stringMatching(`^bad entry in directory #2, block ${rootBlock}: `), action: 'read-only',
    });
    expect(Buffer.compare(Buffer.from(dev.toImage()), Buffer.from(before))).toBe(0);
  });
});
