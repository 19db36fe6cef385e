/**
 * fork.ts: new processes and threads, and their end (Linux kernel/fork.c's do_fork and sys_clone,
 * kernel/exit.c's do_exit).
 *
 * Layer: kernel. Interface: `sys_clone(p, comm, body, flags)` starts `body(child)` as a new task
 * and returns the child's pid. With CLONE_FILES the child shares the parent's descriptor table;
 * with CLONE_FS its root, cwd and umask are the parent's at the time (a copy: the model has no
 * shared fs_struct, and lento's threads never chdir); with CLONE_THREAD it joins the parent's
 * thread group (same tgid: a signal to the group reaches every thread). Memory is always shared, as
 * with CLONE_VM: a body is a closure over the parent's JavaScript state, which is how lento's
 * threads share their tables (they synchronise with futexes, kernel/futex.ts). Without
 * CLONE_FILES the child gets a copy of the table: every open file gains a reference. When a task's
 * body returns, `do_exit` drops its references: the last user of a descriptor table closes every
 * file in it, and root and cwd are released.
 * Invariants: a descriptor table is closed exactly once, by its last user; a child's files are the
 * parent's files (the same File objects), never copies of them.
 */
import { dput } from './dcache.ts';
import { fput } from './open.ts';
import type { Process } from './process.ts';
import type { Sys } from './sched.ts';

export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_THREAD = 0x10000;
/** What a thread of lento's is: everything shared. */
export const CLONE_THREAD_FLAGS = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_THREAD;

/** Start `body` as a new task of a child of `p` named `comm`; its pid. */
export function sys_clone(p: Process, comm: string, body: (child: Process) => Sys<number>, flags: number): number {
  const k = p.kernel;
  const child = k.new_process(comm, p.cred, p, {
    files: (flags & CLONE_FILES) !== 0 ? p.fdtable.share() : p.fdtable.copy(),
    tgid: (flags & CLONE_THREAD) !== 0 ? p.tgid : null,
  });
  k.spawn(child, (function* () {
    const status = yield* body(child);
    yield* do_exit(child);
    return status;
  })());
  return child.pid;
}

/** A process ends: drop its descriptor table (the last user closes every file), root and cwd. */
export function* do_exit(p: Process): Sys<void> {
  const table = p.fdtable;
  if (table.release()) {
    for (let fd = 0; fd < p.files.length; fd++) {
      const f = p.files[fd] ?? null;
      if (f === null) continue;
      p.files[fd] = null;
      yield* fput(f, p);
    }
  }
  yield* dput(p.root.dentry);
  yield* dput(p.pwd.dentry);
  p.kernel.procs.delete(p.pid);
}
