/**
 * super.ts: mounting, unmounting and syncing file systems (Linux fs/super.c, fs/namespace.c).
 *
 * Layer: kernel VFS. Interface: sys_mount (root only) builds a super block through the file system
 * type's read_super and grafts it on a directory; sys_umount detaches it when nothing inside is in
 * use (EBUSY otherwise: open files, a process's cwd or root, a mount below); sys_sync asks every
 * mounted file system to write everything out. Mount flags: MS_RDONLY, MS_NOATIME.
 */
import { d_inode_of, d_walk, dput } from './dcache.ts';
import { EBUSY, EINVAL, ENOTDIR, EPERM, isErr, type Errno } from './errno.ts';
import { capable, S_ISDIR, type VfsMount } from './fs.ts';
import { LOOKUP_FOLLOW, path_lookup } from './namei.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';

export function* sys_mount(p: Process, source: string | null, target: string, fstype: string, flags = 0, data = ''): Sys<0 | Errno> {
  if (!capable(p.cred)) return EPERM;
  const at = yield* path_lookup(p, target, LOOKUP_FOLLOW);
  if (isErr(at)) return at;
  if (!S_ISDIR((d_inode_of(at.dentry)).i_mode)) return ENOTDIR;
  const k = p.kernel;
  const sb = yield* k.read_super(fstype, source, data, flags);
  if (isErr(sb)) return sb;
  k.graft(sb, at, source ?? fstype, flags);
  return 0;
}

function mount_busy(p: Process, mnt: VfsMount): boolean {
  const k = p.kernel;
  if (k.mounts.some((m) => m !== mnt && m.mnt_parent === mnt)) return true;
  for (const proc of k.procs.values()) {
    if (proc.pwd.mnt === mnt || proc.root.mnt === mnt) return true;
    if (proc.files.some((f) => f !== null && f.f_vfsmnt === mnt)) return true;
  }
  return false;
}

export function* sys_umount(p: Process, target: string): Sys<0 | Errno> {
  if (!capable(p.cred)) return EPERM;
  const at = yield* path_lookup(p, target, LOOKUP_FOLLOW);
  if (isErr(at)) return at;
  const k = p.kernel;
  const mnt = at.mnt;
  if (at.dentry !== mnt.mnt_root) return EINVAL;
  if (mnt === k.rootMnt) return EBUSY;
  if (mount_busy(p, mnt)) return EBUSY;
  const sb = mnt.mnt_sb;
  yield* sync_sb(sb);
  yield* sb.s_op.put_super?.(sb) ?? nothing();
  k.mounts.splice(k.mounts.indexOf(mnt), 1);
  mnt.mnt_mountpoint.d_mounted--;
  yield* dput(mnt.mnt_mountpoint);
  yield* dput(mnt.mnt_root);
  return 0;
}

function* nothing(): Sys<void> {}

function* sync_sb(sb: VfsMount['mnt_sb']): Sys<0 | Errno> {
  if (sb.s_op.sync_fs !== undefined) return yield* sb.s_op.sync_fs(sb, true);
  if (sb.s_op.write_super !== undefined) yield* sb.s_op.write_super(sb);
  return 0;
}

export function* sys_sync(p: Process): Sys<0> {
  for (const mnt of p.kernel.mounts) yield* sync_sb(mnt.mnt_sb);
  return 0;
}

/** Number of in-core dentries below a mount's root (for tests and statistics). */
export function count_dentries(mnt: VfsMount): number {
  let n = 0;
  for (const _ of d_walk(mnt.mnt_root)) n++;
  return n;
}
