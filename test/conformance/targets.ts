/**
 * targets.ts: every file system the conformance suite runs against, with what each can do.
 * Adding a file system is one entry here. Capabilities a target lacks make the tests that need
 * them skip, and every skip is named in the test output.
 */
import { World, type Host } from '../../sim/host.ts';
import { ramfs_fs_type } from '../../fs/ramfs/inode.ts';
import { makeCountFilter } from '../support/countfilter.ts';

export type Capability = 'hardlinks' | 'symlinks' | 'devices' | 'sparseFiles' | 'mount' | 'nsecTimes';

export interface Target {
  readonly name: string;
  readonly caps: ReadonlySet<Capability>;
  /** A fresh host whose root file system is this target. */
  boot(seed?: number): Host;
}

const ALL: ReadonlySet<Capability> = new Set(['hardlinks', 'symlinks', 'devices', 'sparseFiles', 'mount', 'nsecTimes']);

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
];
