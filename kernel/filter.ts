/**
 * filter.ts: stacking a filter file system on a lower one by copying and overriding its tables.
 *
 * Layer: kernel VFS. Counterpart: InterMezzo's fs/intermezzo/filter.c. Interface: a `FilterSpec`
 * names the entries a filter overrides, per table kind; `FilterFs` builds, for each lower table it
 * meets, the table users see (`c2u`: a copy of the lower table with the overrides) and remembers
 * the original (`c2c`: the cache file system's own table), so an override can call down to it.
 * `filter_fs_type(name, lower, spec)` makes a mountable type: it mounts the lower type on the same
 * super block, then points the super block, the root and every inode met later at c2u tables.
 * Every inode-producing entry (lookup, create, mkdir, mknod, symlink, read_inode) is wrapped once
 * more so the new inode is filtered too; that is why a filter never sees a lower table leak out.
 * Invariants: filtering is idempotent; c2c(c2u(t)) === t; an override receives the lower entry.
 */
import { assert } from './assert.ts';
import { isErr, type Errno } from './errno.ts';
import {
  S_ISDIR, S_ISLNK, S_ISREG, type Dentry, type DentryOperations, type FileOperations, type FileSystemType, type Inode,
  type InodeOperations, type SuperBlock, type SuperOperations,
} from './fs.ts';
import type { BlockDevice } from './blkdev.ts';
import type { Sys } from './sched.ts';

export type InodeKind = 'dir' | 'file' | 'symlink' | 'special';

export function inode_kind(mode: number): InodeKind {
  if (S_ISDIR(mode)) return 'dir';
  if (S_ISREG(mode)) return 'file';
  if (S_ISLNK(mode)) return 'symlink';
  return 'special';
}

/** What a filter overrides. Each function gets the lower (c2c) table and returns the overrides. */
export interface FilterSpec {
  readonly name: string;
  sops?(lower: SuperOperations, f: FilterFs): Partial<SuperOperations>;
  iops?(kind: InodeKind, lower: InodeOperations, f: FilterFs): Partial<InodeOperations>;
  fops?(kind: InodeKind, lower: FileOperations, f: FilterFs): Partial<FileOperations>;
  /** The dentry operations users see, given the lower ones (null: none). */
  dops?(lower: DentryOperations | null, f: FilterFs): DentryOperations | null;
}

export class FilterFs {
  private readonly c2uIops = new Map<InodeOperations, InodeOperations>();
  private readonly c2uFops = new Map<FileOperations, FileOperations>();
  private readonly c2uSops = new Map<SuperOperations, SuperOperations>();
  private readonly c2cOf = new Map<object, object>();
  private readonly dopsCache = new Map<DentryOperations | null, DentryOperations | null>();

  constructor(readonly spec: FilterSpec) {}

  /** Is `t` one of this filter's c2u tables? */
  isFiltered(t: object): boolean {
    return this.c2cOf.has(t);
  }

  /** The lower table behind a c2u table (or `t` itself if it is not filtered). */
  c2c<T extends object>(t: T): T {
    return (this.c2cOf.get(t) as T | undefined) ?? t;
  }

  c2c_iops(inode: Inode): InodeOperations {
    return this.c2c(inode.i_op);
  }

  c2c_fops(inode: Inode): FileOperations {
    return this.c2c(inode.i_fop);
  }

  c2c_sops(sb: SuperBlock): SuperOperations {
    return this.c2c(sb.s_op);
  }

  filter_super(sb: SuperBlock): void {
    if (!this.isFiltered(sb.s_op)) {
      const lower = sb.s_op;
      let t = this.c2uSops.get(lower);
      if (t === undefined) {
        t = this.wrapSops(lower);
        this.c2uSops.set(lower, t);
        this.c2cOf.set(t, lower);
      }
      sb.s_op = t;
    }
    const root = sb.s_root;
    assert(root !== null && root.d_inode !== null, 'filter_super before the lower file system made its root');
    this.filter_inode(root.d_inode);
    this.filter_dentry(root);
  }

  /** Point an inode of the lower file system at this filter's tables (idempotent). */
  filter_inode(inode: Inode): void {
    const kind = inode_kind(inode.i_mode);
    if (!this.isFiltered(inode.i_op)) inode.i_op = this.iopsFor(kind, inode.i_op);
    if (!this.isFiltered(inode.i_fop)) inode.i_fop = this.fopsFor(kind, inode.i_fop);
  }

  filter_dentry(d: Dentry): void {
    const make = this.spec.dops;
    if (make === undefined || this.isFiltered(d.d_op ?? NO_DOPS)) return;
    const lower = d.d_op;
    let t = this.dopsCache.get(lower);
    if (t === undefined) {
      t = make(lower, this);
      this.dopsCache.set(lower, t);
      if (t !== null) this.c2cOf.set(t, lower ?? NO_DOPS);
    }
    d.d_op = t;
  }

  private iopsFor(kind: InodeKind, lower: InodeOperations): InodeOperations {
    let t = this.c2uIops.get(lower);
    if (t === undefined) {
      const overridden = { ...lower, ...(this.spec.iops?.(kind, lower, this) ?? {}) };
      t = this.refilterIops(overridden);
      this.c2uIops.set(lower, t);
      this.c2cOf.set(t, lower);
    }
    return t;
  }

  private fopsFor(kind: InodeKind, lower: FileOperations): FileOperations {
    let t = this.c2uFops.get(lower);
    if (t === undefined) {
      t = { ...lower, ...(this.spec.fops?.(kind, lower, this) ?? {}) };
      this.c2uFops.set(lower, t);
      this.c2cOf.set(t, lower);
    }
    return t;
  }

  private wrapSops(lower: SuperOperations): SuperOperations {
    const t: SuperOperations = { ...lower, ...(this.spec.sops?.(lower, this) ?? {}) };
    const read = t.read_inode;
    if (read !== undefined) {
      const self = this;
      t.read_inode = function* (inode: Inode): Sys<0 | Errno> {
        const r = yield* read(inode);
        if (!isErr(r)) self.filter_inode(inode);
        return r;
      };
    }
    return t;
  }

  /** Wrap the entries that produce inodes so whatever they produce is filtered as well. */
  private refilterIops(t: InodeOperations): InodeOperations {
    const out: InodeOperations = { ...t };
    const self = this;
    const after = (d: Dentry): void => {
      if (d.d_inode !== null) self.filter_inode(d.d_inode);
      self.filter_dentry(d);
    };
    const { lookup, create, mkdir, mknod, symlink, link } = t;
    if (lookup !== undefined) out.lookup = function* (dir, d) { return done(yield* lookup(dir, d), d, after); };
    if (create !== undefined) out.create = function* (dir, d, mode, p) { return done(yield* create(dir, d, mode, p), d, after); };
    if (mkdir !== undefined) out.mkdir = function* (dir, d, mode, p) { return done(yield* mkdir(dir, d, mode, p), d, after); };
    if (mknod !== undefined) out.mknod = function* (dir, d, m, rdev, p) { return done(yield* mknod(dir, d, m, rdev, p), d, after); };
    if (symlink !== undefined) out.symlink = function* (dir, d, tg, p) { return done(yield* symlink(dir, d, tg, p), d, after); };
    if (link !== undefined) out.link = function* (old, dir, d, p) { return done(yield* link(old, dir, d, p), d, after); };
    return out;
  }
}

const NO_DOPS: DentryOperations = {};

function done(r: 0 | Errno, d: Dentry, after: (d: Dentry) => void): 0 | Errno {
  if (!isErr(r)) after(d);
  return r;
}

/** A mountable filter type: mounts `lower` on the same super block, then filters it. */
export function filter_fs_type(name: string, lower: FileSystemType, spec: FilterSpec): FileSystemType & { filter: FilterFs } {
  const filter = new FilterFs(spec);
  return {
    name,
    requiresDev: lower.requiresDev,
    filter,
    *read_super(sb: SuperBlock, dev: BlockDevice | null, data: string): Sys<0 | Errno> {
      const r = yield* lower.read_super(sb, dev, data);
      if (isErr(r)) return r;
      filter.filter_super(sb);
      return 0;
    },
  };
}
