/**
 * countfilter.ts: a small filter file system for tests: it counts every call it sees, and can be
 * switched to refuse modifications with EROFS (as presto does for a read-only fileset). It shows
 * the filter mechanism of kernel/filter.ts: overrides call down to the lower (c2c) entries.
 */
import { EROFS, type Errno } from '../../kernel/errno.ts';
import type { FileOperations, FileSystemType, InodeOperations } from '../../kernel/fs.ts';
import { filter_fs_type, type FilterFs } from '../../kernel/filter.ts';
import type { Sys } from '../../kernel/sched.ts';

export interface CountState {
  readonly calls: Map<string, number>;
  refuseWrites: boolean;
}

const MODIFYING_IOPS = ['create', 'link', 'unlink', 'symlink', 'mkdir', 'rmdir', 'mknod', 'rename', 'setattr'] as const;

type AnyGen = (...args: unknown[]) => Sys<unknown>;

function counted(state: CountState, name: string, lower: AnyGen, modifies: boolean): AnyGen {
  return function* (...args: unknown[]): Sys<unknown> {
    state.calls.set(name, (state.calls.get(name) ?? 0) + 1);
    if (modifies && state.refuseWrites) return EROFS as Errno;
    return yield* lower(...args);
  };
}

export function makeCountFilter(lower: FileSystemType, name = `count-${lower.name}`): {
  type: FileSystemType & { filter: FilterFs };
  state: CountState;
} {
  const state: CountState = { calls: new Map(), refuseWrites: false };
  const type = filter_fs_type(name, lower, {
    name,
    iops(kind, low) {
      const out: Record<string, AnyGen> = {};
      for (const [op, fn] of Object.entries(low)) {
        if (typeof fn !== 'function') continue;
        const modifies = (MODIFYING_IOPS as readonly string[]).includes(op);
        out[op] = counted(state, `${kind}.${op}`, fn as AnyGen, modifies);
      }
      return out as Partial<InodeOperations>;
    },
    fops(kind, low) {
      const out: Record<string, AnyGen> = {};
      for (const [op, fn] of Object.entries(low)) {
        if (typeof fn !== 'function') continue;
        out[op] = counted(state, `${kind}.f_${op}`, fn as AnyGen, op === 'write');
      }
      return out as Partial<FileOperations>;
    },
  });
  return { type, state };
}
