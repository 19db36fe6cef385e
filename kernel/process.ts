/**
 * process.ts: what the VFS knows of a process: credentials, fs context and open files.
 *
 * Layer: kernel. Interface: a Process is the VFS-visible part of Linux's task_struct: `cred`
 * (uid/gid/fsuid/fsgid/groups), the fs_struct (`root`, `pwd`, `umask`) and the files_struct (the fd
 * table, lowest free fd first, limited to `maxFiles`). Every syscall takes the calling Process as
 * its first argument (Linux's implicit `current`). Execution is separate: a Process may be driven
 * synchronously (runSync, for tools and tests) or by a scheduled Task (kernel/sched.ts). Threads
 * (kernel/fork.ts) share one `FdTable`; `tgid` names the thread group a signal goes to; `sigpending`
 * holds the signals delivered and not yet taken (kernel/signal.ts).
 * Invariants: root and pwd are pinned (d_count) while held; an fd slot holds one File reference.
 */
import type { Cred, File, Path } from './fs.ts';
import { NR_OPEN_DEFAULT } from './fs.ts';
import type { Kernel } from './kernel.ts';
import type { Task } from './sched.ts';

/** A descriptor table (files_struct), shared by the threads that use it. */
export class FdTable {
  readonly files: Array<File | null> = [];
  /** fds promised to opens that are still in progress (they may block). */
  readonly reserved = new Set<number>();
  /** Processes using this table (each thread of a group that shares it). */
  users = 1;

  /** Another user shares this table (CLONE_FILES). */
  share(): FdTable {
    this.users++;
    return this;
  }

  /** A copy for a child that does not share (fork): every open file gains a reference. */
  copy(): FdTable {
    const t = new FdTable();
    for (const f of this.files) {
      if (f !== null) f.f_count++;
      t.files.push(f);
    }
    return t;
  }

  /** A user is done with the table; true when it was the last, who must close the files. */
  release(): boolean {
    this.users--;
    return this.users === 0;
  }
}

export class Process {
  umask = 0o022;
  readonly fdtable: FdTable;
  maxFiles = NR_OPEN_DEFAULT;
  /** The thread group (the pid of its first thread), which signals are sent to. */
  readonly tgid: number;
  /** Signals delivered and not yet taken, one bit per signal number. */
  sigpending = 0;
  task: Task | null = null;
  /**
   * A file system's context for the call this process is making (Linux's current->journal_info):
   * presto's replay context while kml_reint replays a record through the VFS. Null otherwise.
   */
  fs_context: unknown = null;
  constructor(
    readonly kernel: Kernel,
    readonly pid: number,
    public comm: string,
    public cred: Cred,
    public root: Path,
    public pwd: Path,
    shared: { readonly fdtable?: FdTable; readonly tgid?: number } = {},
  ) {
    this.fdtable = shared.fdtable ?? new FdTable();
    this.tgid = shared.tgid ?? pid;
  }

  get files(): Array<File | null> {
    return this.fdtable.files;
  }

  get reserved(): Set<number> {
    return this.fdtable.reserved;
  }

  /** The lowest free fd, or -1 when the table is full. */
  lowestFreeFd(): number {
    for (let i = 0; i < this.maxFiles; i++) {
      if ((this.files[i] ?? null) === null && !this.reserved.has(i)) return i;
    }
    return -1;
  }

  fget(fd: number): File | null {
    if (!Number.isSafeInteger(fd) || fd < 0) return null;
    return this.files[fd] ?? null;
  }
}
