/**
 * boot.ts: a kernel for tests: a scheduler, a root file system, and processes to make syscalls.
 *
 * `bootKernel({rootfs})` registers the file systems the project has, mounts the root and returns
 * the kernel, its scheduler and a root process. `sys(p)` wraps the syscalls of kernel/syscalls.ts
 * so tests call them synchronously (runSync: a test that would block panics, loudly).
 */
import type { Cred } from '../../kernel/fs.ts';
import { makeCred } from '../../kernel/fs.ts';
import { Kernel } from '../../kernel/kernel.ts';
import type { Process } from '../../kernel/process.ts';
import { runSync, type Sys } from '../../kernel/sched.ts';
import * as syscalls from '../../kernel/syscalls.ts';
import { ramfs_fs_type } from '../../fs/ramfs/inode.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import type { FileSystemType } from '../../kernel/fs.ts';
import { isErr } from '../../kernel/errno.ts';

export interface Booted {
  readonly k: Kernel;
  readonly sched: Scheduler;
  readonly root: Process;
  /** A new process with these ids (umask 022, cwd /). */
  user(uid: number, gid: number, groups?: readonly number[]): Process;
}

export interface BootOptions {
  readonly rootfs?: string;
  readonly extraTypes?: readonly FileSystemType[];
  readonly mountData?: string;
}

export function bootKernel(o: BootOptions = {}): Booted {
  const sched = new Scheduler();
  const k = new Kernel({ hostname: 'test', timers: sched });
  k.register_filesystem(ramfs_fs_type);
  for (const t of o.extraTypes ?? []) k.register_filesystem(t);
  const err = runSync(k.mount_root(o.rootfs ?? 'ramfs', null, o.mountData ?? ''));
  if (isErr(err)) throw new Error(`mount_root failed: ${err}`);
  const root = k.new_process('root', makeCred(0, 0, [0]));
  return { k, sched, root, user: (uid, gid, groups = []) => k.new_process(`u${uid}`, makeCred(uid, gid, groups) as Cred) };
}

type Syscalls = typeof syscalls;
type SyncOf<F> = F extends (p: Process, ...args: infer A) => Sys<infer R> ? (...args: A) => R : F extends (p: Process, ...args: infer A) => infer R ? (...args: A) => R : never;
export type SyncSys = { [K in keyof Syscalls]: SyncOf<Syscalls[K]> };

/** The syscalls of process `p`, run synchronously. */
export function sys(p: Process): SyncSys {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(syscalls)) {
    out[name] = (...args: unknown[]) => {
      const r = (fn as (p: Process, ...a: unknown[]) => unknown)(p, ...args);
      return isGenerator(r) ? runSync(r as Sys<unknown>) : r;
    };
  }
  return out as SyncSys;
}

function isGenerator(x: unknown): boolean {
  return typeof x === 'object' && x !== null && typeof (x as { next?: unknown }).next === 'function';
}

export const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
export const dec = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The syscalls of process `p` on a simulated host, each run as a task while the world advances. */
export function hostSys(h: { run<T>(p: Process, body: Sys<T>): T }, p: Process): SyncSys {
  const out: Record<string, unknown> = {};
  for (const [name, fn] of Object.entries(syscalls)) {
    out[name] = (...args: unknown[]) => {
      const r = (fn as (p: Process, ...a: unknown[]) => unknown)(p, ...args);
      return isGenerator(r) ? h.run(p, r as Sys<unknown>) : r;
    };
  }
  return out as SyncSys;
}
