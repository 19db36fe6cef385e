/**
 * process.ts: what the VFS knows of a process: credentials, fs context and open files.
 *
 * Layer: kernel. Interface: a Process is the VFS-visible part of Linux's task_struct: `cred`
 * (uid/gid/fsuid/fsgid/groups), the fs_struct (`root`, `pwd`, `umask`) and the files_struct (the fd
 * table, lowest free fd first, limited to `maxFiles`). Every syscall takes the calling Process as
 * its first argument (Linux's implicit `current`). Execution is separate: a Process may be driven
 * synchronously (runSync, for tools and tests) or by a scheduled Task (kernel/sched.ts).
 * Invariants: root and pwd are pinned (d_count) while held; an fd slot holds one File reference.
 */
import type { Cred, File, Path } from './fs.ts';
import { NR_OPEN_DEFAULT } from './fs.ts';
import type { Kernel } from './kernel.ts';
import type { Task } from './sched.ts';

export class Process {
  umask = 0o022;
  readonly files: Array<File | null> = [];
  /** fds promised to opens that are still in progress (they may block). */
  readonly reserved = new Set<number>();
  maxFiles = NR_OPEN_DEFAULT;
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
  ) {}

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
