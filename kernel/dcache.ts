/**
 * dcache.ts: the dentry cache: names bound to inodes, and the reference rules around them.
 *
 * Layer: kernel VFS (Linux fs/dcache.c). Interface: `d_alloc` makes a child dentry and hashes it
 * under its parent; `d_add`/`d_instantiate` bind it to an inode (taking over one inode reference);
 * `d_delete` after unlink/rmdir makes it negative, or unhashes it when something still pins it;
 * `d_move` after rename; `dget`/`dput` pin and unpin; `is_subdir` and `d_path` walk upwards.
 * Model: dentries are never evicted (a simulated host touches few names), so the cache is exact.
 * Invariants: a positive dentry holds one i_count on its inode; an unhashed dentry is in no
 * parent's d_subdirs; a pinned unhashed dentry keeps its inode until its last dput.
 */
import { assert } from './assert.ts';
import { DCACHE_UNHASHED, Dentry, type Inode, type SuperBlock } from './fs.ts';
import { iput } from './inode.ts';
import type { Sys } from './sched.ts';

/**
 * The inode of a dentry the caller knows is positive (it looked the name up and found it, or
 * holds it open): a negative one here is a broken invariant of the model, not an error.
 */
export function d_inode_of(d: Dentry): Inode {
  const inode = d.d_inode;
  if (inode === null) assert(false, () => `dentry '${d.d_name}' is negative where it must be positive`);
  return inode;
}

export function d_alloc(parent: Dentry, name: string): Dentry {
  assert(!parent.d_subdirs.has(name), () => `d_alloc: '${name}' already hashed`);
  const d = new Dentry(name, parent, parent.d_sb);
  parent.d_subdirs.set(name, d);
  return d;
}

/** A root dentry for a super block (its own parent). */
export function d_alloc_root(inode: Inode): Dentry {
  const d = new Dentry('/', null, inode.i_sb);
  d.d_inode = inode;
  return d;
}

/** The cached child named `name`, if any (positive or negative). */
export function d_lookup(parent: Dentry, name: string): Dentry | undefined {
  return parent.d_subdirs.get(name);
}

/** Bind a (negative) dentry to `inode`, taking over the caller's inode reference. */
export function d_instantiate(dentry: Dentry, inode: Inode | null): void {
  assert(dentry.d_inode === null, () => `d_instantiate of positive dentry '${dentry.d_name}'`);
  assert(inode === null || inode.i_sb === dentry.d_sb, 'd_instantiate across super blocks');
  dentry.d_inode = inode;
}

export const d_add = d_instantiate;

export function dget(d: Dentry): Dentry {
  d.d_count++;
  return d;
}

export function* dput(d: Dentry): Sys<void> {
  assert(d.d_count > 0, () => `dput of unpinned dentry '${d.d_name}'`);
  d.d_count--;
  if (d.d_count === 0 && d.unhashed) yield* release_inode(d);
}

/** After a successful unlink or rmdir. */
export function* d_delete(d: Dentry): Sys<void> {
  if (d.d_count === 0) {
    yield* release_inode(d);
    return;
  }
  yield* d_drop(d);
}

/** Remove from the parent's hash; the dentry lives on while pinned. */
export function* d_drop(d: Dentry): Sys<void> {
  if (d.unhashed) return;
  const parent = d.d_parent;
  if (parent !== null && parent.d_subdirs.get(d.d_name) === d) parent.d_subdirs.delete(d.d_name);
  d.d_flags |= DCACHE_UNHASHED;
  if (d.d_count === 0) yield* release_inode(d);
}

/** Forget a cached name so the next walk asks the file system again (d_revalidate said no). */
export function* d_invalidate(d: Dentry): Sys<void> {
  yield* d_drop(d);
}

/** After a rename of `dentry` onto `target`: dentry takes target's name and place. */
export function* d_move(dentry: Dentry, target: Dentry): Sys<void> {
  assert(dentry !== target, 'd_move onto itself');
  const oldParent = dentry.d_parent;
  if (oldParent !== null && oldParent.d_subdirs.get(dentry.d_name) === dentry) oldParent.d_subdirs.delete(dentry.d_name);
  const newParent = target.d_parent;
  assert(newParent !== null, 'd_move onto a root');
  yield* d_drop(target);
  dentry.d_name = target.d_name;
  dentry.d_parent = newParent;
  assert(!newParent.d_subdirs.has(dentry.d_name), 'd_move: name still hashed');
  newParent.d_subdirs.set(dentry.d_name, dentry);
}

/** Is `d` equal to `ancestor` or below it (within one super block's tree)? */
export function is_subdir(d: Dentry, ancestor: Dentry): boolean {
  for (let cur: Dentry | null = d; cur !== null; cur = cur.d_parent) if (cur === ancestor) return true;
  return false;
}

function* release_inode(d: Dentry): Sys<void> {
  const inode = d.d_inode;
  if (inode === null) return;
  d.d_op?.d_release?.(d);
  d.d_inode = null;
  yield* iput(inode);
}

/** Every positive dentry of a super block (for umount checks and tests). */
export function* d_walk(root: Dentry): Generator<Dentry> {
  const stack = [root];
  for (let d = stack.pop(); d !== undefined; d = stack.pop()) {
    yield d;
    for (const c of d.d_subdirs.values()) stack.push(c);
  }
}

export function sb_root(sb: SuperBlock): Dentry {
  assert(sb.s_root !== null, 'super block without a root');
  return sb.s_root;
}
