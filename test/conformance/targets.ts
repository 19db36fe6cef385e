/**
 * targets.ts: every file system the conformance suite runs against, with what each can do.
 * Adding a file system is one entry here. Capabilities a target lacks make the tests that need
 * them skip, and every skip is named in the test output.
 */
import { World, type Host } from '../../sim/host.ts';
import { ramfs_fs_type } from '../../fs/ramfs/inode.ts';
import { makeCountFilter } from '../support/countfilter.ts';
import { BlockDevice } from '../../kernel/blkdev.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../fs/ext3/super.ts';
import { prestoHost } from '../support/presto.ts';

export type Capability = 'hardlinks' | 'symlinks' | 'devices' | 'sparseFiles' | 'mount' | 'nsecTimes';

export interface Target {
  readonly name: string;
  readonly caps: ReadonlySet<Capability>;
  /** A fresh host whose root file system is this target. */
  boot(seed?: number): Host;
}

const ALL: ReadonlySet<Capability> = new Set(['hardlinks', 'symlinks', 'devices', 'sparseFiles', 'mount', 'nsecTimes']);

/** A host whose root is a fresh ext2 (or, with a journal, ext3) made by our mkfs (16 MiB, 1 KiB blocks). */
function bootExt(seed: number, journalBlocks: number, data = ''): Host {
  const h = new World({ seed }).addHost('t');
  const dev = new BlockDevice({ name: 'hda', blockSize: 1024, blocks: 16384 });
  const geo = mkfs(dev, { blockSize: 1024, uuid: new Uint8Array(16).fill(seed & 0xff), time: 1_009_843_200, journalBlocks });
  if (typeof geo === 'string') throw new Error(geo);
  h.registerFs(ext3_fs_type);
  h.addDisk('hda', dev);
  h.mountRoot('ext3', 'hda', data);
  return h;
}
const EXT_CAPS: ReadonlySet<Capability> = new Set(['hardlinks', 'symlinks', 'devices', 'sparseFiles', 'mount']);

export const TARGETS: readonly Target[] = [
  {
    name: 'ramfs',
    caps: ALL,
    boot(seed = 1) {
      const h = new World({ seed }).addHost('t');
      h.mountRoot('ramfs', null);
      return h;
    },
  },
  {
    name: 'ramfs+filter',
    caps: ALL,
    boot(seed = 1) {
      const h = new World({ seed }).addHost('t');
      const { type } = makeCountFilter(ramfs_fs_type);
      h.registerFs(type);
      h.mountRoot(type.name, null);
      return h;
    },
  },
  { name: 'ext2', caps: EXT_CAPS, boot: (seed = 1) => bootExt(seed, 0) },
  { name: 'ext3 data=ordered', caps: EXT_CAPS, boot: (seed = 1) => bootExt(seed, 1024, 'data=ordered') },
  { name: 'ext3 data=journal', caps: EXT_CAPS, boot: (seed = 1) => bootExt(seed, 1024, 'data=journal') },
  { name: 'ext3 data=writeback', caps: EXT_CAPS, boot: (seed = 1) => bootExt(seed, 1024, 'data=writeback') },
  ...(['ordered', 'journal', 'writeback'] as const).map((data) => ({
    name: `presto over ext3 data=${data}`,
    caps: EXT_CAPS,
    boot: (seed = 1) => prestoHost(new World({ seed }), 't', { cache: 'ext3', data, blocks: 16384 }),
  })),
  { name: 'presto over ramfs', caps: ALL, boot: (seed = 1) => prestoHost(new World({ seed }), 't', { cache: 'ramfs' }) },
];
