/**
 * presto.ts: hosts with an InterMezzo root for tests: ext3 (a fresh image) or ramfs as the cache,
 * fileset `f` rooted at /, and helpers to read a fileset's logs back.
 */
import { BlockDevice } from '../../kernel/blkdev.ts';
import { isErr } from '../../kernel/errno.ts';
import { makeCred, S_IFCHR } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import {
  sys_chdir, sys_chroot, sys_mkdir, sys_mknod, sys_mount,
} from '../../kernel/syscalls.ts';
import { INTERMEZZO_MINOR, MISC_MAJOR } from '../../fs/intermezzo/psdev.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext2_fs_type, ext3_fs_type } from '../../fs/ext3/super.ts';
import { intermezzo_fs_type } from '../../fs/intermezzo/super.ts';
import { kml_scan, type Scan } from '../../fs/intermezzo/kml.ts';
import type { Host, World } from '../../sim/host.ts';
import type { Sys } from '../../kernel/sched.ts';
import { read_file } from '../../src/libc.ts';

export interface PrestoHostOptions {
  readonly cache?: 'ext3' | 'ramfs';
  /** ext3's data mode. */
  readonly data?: 'ordered' | 'journal' | 'writeback';
  readonly fileset?: string;
  readonly extra?: string;
  readonly blocks?: number;
  readonly dev?: BlockDevice;
}

export function newExt3Disk(blocks = 8192, uuidByte = 7): BlockDevice {
  const dev = new BlockDevice({ name: 'hda', blockSize: 1024, blocks });
  const geo = mkfs(dev, { blockSize: 1024, uuid: new Uint8Array(16).fill(uuidByte), time: 1_009_843_200, journalBlocks: 1024 });
  if (typeof geo === 'string') throw new Error(geo);
  return dev;
}

/** Mount options for an InterMezzo root. */
export function prestoOptions(o: PrestoHostOptions = {}): string {
  const cache = o.cache ?? 'ext3';
  const parts = [`cache_type=${cache}`, `fileset=${o.fileset ?? 'f'}`];
  if (cache === 'ext3' && o.data !== undefined) parts.push(`data=${o.data}`);
  if (o.extra !== undefined) parts.push(o.extra);
  return parts.join(',');
}

export function prestoHost(w: World, name: string, o: PrestoHostOptions = {}): Host {
  const h = w.addHost(name);
  h.registerFs(ext3_fs_type);
  h.registerFs(ext2_fs_type);
  h.registerFs(intermezzo_fs_type);
  const cache = o.cache ?? 'ext3';
  if (cache === 'ext3') h.addDisk('hda', o.dev ?? newExt3Disk(o.blocks));
  h.mountRoot('intermezzo', cache === 'ext3' ? 'hda' : null, prestoOptions(o));
  return h;
}

export function* readWhole(p: Process, path: string): Sys<Uint8Array> {
  const r = yield* read_file(p, path);
  if (isErr(r)) throw new Error(`reading ${path}: ${r}`);
  return r;
}

/** Decode fileset `fset`'s KML (or LML) as seen through the mount at `mount`. */
export function readLog(h: Host, p: Process, log: 'kml' | 'lml' = 'kml', fset = 'f', mount = ''): Scan {
  return kml_scan(h.run(p, readWhole(p, `${mount}/.intermezzo/${fset}/${log}`)), log === 'lml');
}

/**
 * A host as a replica: ramfs root with /dev/intermezzo, and fileset `f` of an InterMezzo mount
 * (over a fresh ext3 disk, or ramfs) at /izo.
 */
export function replicaHost(w: World, name: string, o: PrestoHostOptions = {}): Host {
  const h = w.addHost(name);
  h.mountRoot('ramfs', null);
  h.registerFs(ext3_fs_type);
  h.registerFs(intermezzo_fs_type);
  const cache = o.cache ?? 'ext3';
  if (cache === 'ext3') h.addDisk('hda', o.dev ?? newExt3Disk(o.blocks));
  const p = h.process('init');
  const must = (what: string, r: number): void => {
    if (isErr(r)) throw new Error(`${name}: ${what}: ${r}`);
  };
  must('mkdir /dev', h.run(p, sys_mkdir(p, '/dev', 0o755)));
  must('mknod', h.run(p, sys_mknod(p, '/dev/intermezzo', S_IFCHR | 0o600, (MISC_MAJOR << 8) | INTERMEZZO_MINOR)));
  must('mkdir /izo', h.run(p, sys_mkdir(p, '/izo', 0o755)));
  must('mount', h.run(p, sys_mount(p, cache === 'ext3' ? '/dev/hda' : null, '/izo', 'intermezzo', 0, prestoOptions(o))));
  return h;
}

/** A process of `h` whose root is the fileset (/izo): scripts see the fileset as /. */
export function filesetProcess(h: Host, comm: string, uid = 0, gid = 0): Process {
  const p = h.process(comm);
  const r = h.run(p, sys_chroot(p, '/izo'));
  if (isErr(r)) throw new Error(`chroot: ${r}`);
  h.run(p, sys_chdir(p, '/'));
  p.cred = makeCred(uid, gid, [gid]);
  return p;
}
