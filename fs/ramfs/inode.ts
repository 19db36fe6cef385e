/**
 * inode.ts: ramfs, the file system that lives only in memory (Linux fs/ramfs/inode.c and tmpfs).
 *
 * Layer: fs. Interface: `ramfs_fs_type`, registered with a kernel and mounted without a device;
 * every VFS table implemented. InterMezzo ran over tmpfs as well as ext3; presto treats it as a
 * cache file system whose journal operations are dummies.
 * Model: a regular file's data is a sparse map of 4 KiB pages (Linux's page cache is all ramfs has),
 * so a file with a hole at a terabyte costs one page; a directory's entries are a name -> inode map
 * in the directory inode's private data, kept in insertion order (readdir's order: ".", "..", then
 * entries oldest first, f_pos counting entries). The icache may forget an inode (its count at zero);
 * the directory maps keep it, and lookup puts it back (iref).
 * Invariants: i_nlink equals the names (and, for directories, the "." and ".." links) that refer to
 * an inode; i_blocks is 8 per allocated page; i_size of a directory is 0.
 */
import { assert } from '../../kernel/assert.ts';
import { d_alloc_root, d_inode_of, d_instantiate } from '../../kernel/dcache.ts';
import { ENOTEMPTY, type Errno } from '../../kernel/errno.ts';
import {
  ATTR_SIZE, DT_DIR, modeToDtype, S_IFDIR, S_IFLNK, S_IFMT, S_ISDIR, S_ISREG, type Dentry, type FileOperations,
  type FileSystemType, type Inode, type InodeOperations, type Iattr, type StatFs, type SuperBlock, type SuperOperations,
  type File, type FillDir,
} from '../../kernel/fs.ts';
import { current_fs_time, inode_init_owner, inode_setattr, iref, new_inode } from '../../kernel/inode.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';

export const RAMFS_MAGIC = 0x858458f6;
export const PAGE_SIZE = 4096;

interface RamSb {
  nextIno: number;
  nextGeneration: number;
}
interface RamDir {
  readonly kind: 'dir';
  readonly entries: Map<string, Inode>;
  parent: Inode;
}
interface RamFile {
  readonly kind: 'file';
  readonly pages: Map<number, Uint8Array>;
}
interface RamLink {
  readonly kind: 'symlink';
  readonly target: string;
}
interface RamSpecial {
  readonly kind: 'special';
}
type RamInode = RamDir | RamFile | RamLink | RamSpecial;

function info(inode: Inode): RamInode {
  assert(inode.i_private !== null, () => `ramfs inode ${inode.i_ino} without private data`);
  return inode.i_private as RamInode;
}
function dirOf(inode: Inode): RamDir {
  const i = info(inode);
  assert(i.kind === 'dir', () => `ramfs inode ${inode.i_ino} is not a directory`);
  return i;
}
function fileOf(inode: Inode): RamFile {
  const i = info(inode);
  assert(i.kind === 'file', () => `ramfs inode ${inode.i_ino} is not a regular file`);
  return i;
}

function touch(inode: Inode, mtime: boolean): void {
  const now = current_fs_time(inode.i_sb);
  inode.i_ctime = now;
  if (mtime) inode.i_mtime = now;
}

/** A new inode of type `mode`, owned by the caller, not yet linked anywhere. */
function ramfs_get_inode(sb: SuperBlock, dir: Inode | null, mode: number, rdev: number, p: Process | null, data: RamInode): Inode {
  const s = sb.s_fs_info as RamSb;
  const inode = new_inode(sb, s.nextIno++);
  if (p === null) {
    inode.i_mode = mode;
  } else {
    inode_init_owner(inode, dir, mode, p.cred);
  }
  inode.i_rdev = rdev;
  inode.i_generation = s.nextGeneration++;
  const now = current_fs_time(sb);
  inode.i_atime = now;
  inode.i_mtime = now;
  inode.i_ctime = now;
  inode.i_private = data;
  inode.i_nlink = 1;
  const type = mode & S_IFMT;
  if (type === S_IFDIR) {
    inode.i_op = ramfs_dir_inode_operations;
    inode.i_fop = ramfs_dir_operations;
  } else if (type === S_IFLNK) {
    inode.i_op = ramfs_symlink_inode_operations;
  } else if (S_ISREG(mode)) {
    inode.i_op = ramfs_file_inode_operations;
    inode.i_fop = ramfs_file_operations;
  } else {
    inode.i_op = ramfs_special_inode_operations;
  }
  return inode;
}

function link_into(dir: Inode, dentry: Dentry, inode: Inode): void {
  const d = dirOf(dir);
  assert(!d.entries.has(dentry.d_name), () => `ramfs: '${dentry.d_name}' already in directory ${dir.i_ino}`);
  d.entries.set(dentry.d_name, inode);
  touch(dir, true);
  d_instantiate(dentry, inode);
}

function* ramfs_lookup(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const inode = dirOf(dir).entries.get(dentry.d_name);
  d_instantiate(dentry, inode === undefined ? null : iref(inode));
  return 0;
}

function* ramfs_mknod(dir: Inode, dentry: Dentry, mode: number, rdev: number, p: Process): Sys<0 | Errno> {
  const data: RamInode = S_ISREG(mode) ? { kind: 'file', pages: new Map() } : { kind: 'special' };
  link_into(dir, dentry, ramfs_get_inode(dir.i_sb, dir, mode, rdev, p, data));
  return 0;
}

function* ramfs_create(dir: Inode, dentry: Dentry, mode: number, p: Process): Sys<0 | Errno> {
  return yield* ramfs_mknod(dir, dentry, mode, 0, p);
}

function* ramfs_mkdir(dir: Inode, dentry: Dentry, mode: number, p: Process): Sys<0 | Errno> {
  const inode = ramfs_get_inode(dir.i_sb, dir, S_IFDIR | mode, 0, p, { kind: 'dir', entries: new Map(), parent: dir });
  inode.i_nlink = 2;
  dir.i_nlink++;
  link_into(dir, dentry, inode);
  return 0;
}

function* ramfs_symlink(dir: Inode, dentry: Dentry, target: string, p: Process): Sys<0 | Errno> {
  const inode = ramfs_get_inode(dir.i_sb, dir, S_IFLNK | 0o777, 0, p, { kind: 'symlink', target });
  inode.i_size = target.length;
  link_into(dir, dentry, inode);
  return 0;
}

function* ramfs_link(old: Dentry, dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const inode = d_inode_of(old);
  inode.i_nlink++;
  touch(inode, false);
  link_into(dir, dentry, iref(inode));
  return 0;
}

function unlink_from(dir: Inode, dentry: Dentry): Inode {
  const inode = d_inode_of(dentry);
  const d = dirOf(dir);
  assert(d.entries.get(dentry.d_name) === inode, () => `ramfs: '${dentry.d_name}' is not in directory ${dir.i_ino}`);
  d.entries.delete(dentry.d_name);
  touch(dir, true);
  touch(inode, false);
  return inode;
}

function* ramfs_unlink(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  unlink_from(dir, dentry).i_nlink--;
  return 0;
}

function* ramfs_rmdir(dir: Inode, dentry: Dentry): Sys<0 | Errno> {
  const victim = d_inode_of(dentry);
  if (dirOf(victim).entries.size > 0) return ENOTEMPTY;
  unlink_from(dir, dentry);
  victim.i_nlink = 0;
  dir.i_nlink--;
  return 0;
}

function* ramfs_rename(old_dir: Inode, old: Dentry, new_dir: Inode, target: Dentry): Sys<0 | Errno> {
  const inode = d_inode_of(old);
  const victim = target.d_inode;
  const isdir = S_ISDIR(inode.i_mode);
  if (victim !== null) {
    if (S_ISDIR(victim.i_mode)) {
      if (dirOf(victim).entries.size > 0) return ENOTEMPTY;
      victim.i_nlink = 0;
      new_dir.i_nlink--;
    } else {
      victim.i_nlink--;
    }
    dirOf(new_dir).entries.delete(target.d_name);
    touch(victim, false);
  }
  dirOf(old_dir).entries.delete(old.d_name);
  dirOf(new_dir).entries.set(target.d_name, inode);
  if (isdir && old_dir !== new_dir) {
    old_dir.i_nlink--;
    new_dir.i_nlink++;
    dirOf(inode).parent = new_dir;
  }
  touch(old_dir, true);
  touch(new_dir, true);
  touch(inode, false);
  return 0;
}

function* ramfs_readlink(dentry: Dentry): Sys<string | Errno> {
  const i = info(d_inode_of(dentry));
  assert(i.kind === 'symlink', 'readlink of a non-symlink');
  return i.target;
}

function* ramfs_setattr(dentry: Dentry, attr: Iattr, p: Process): Sys<0 | Errno> {
  const inode = d_inode_of(dentry);
  if ((attr.ia_valid & ATTR_SIZE) !== 0 && attr.ia_size !== undefined && S_ISREG(inode.i_mode)) {
    truncate_pages(inode, attr.ia_size);
  }
  inode_setattr(inode, attr, p.cred);
  return 0;
}

/** Drop pages wholly past `size` and zero the tail of the last partial page. */
function truncate_pages(inode: Inode, size: number): void {
  const pages = fileOf(inode).pages;
  const keep = Math.ceil(size / PAGE_SIZE);
  for (const idx of [...pages.keys()]) if (idx >= keep) pages.delete(idx);
  const tail = size % PAGE_SIZE;
  if (tail !== 0) pages.get(keep - 1)?.fill(0, tail);
  inode.i_blocks = pages.size * (PAGE_SIZE / 512);
}

// ---- files ----

function* ramfs_file_read(file: File, buf: Uint8Array, pos: number): Sys<number | Errno> {
  const inode = file.f_inode;
  const end = Math.min(inode.i_size, pos + buf.length);
  if (pos >= end) return 0;
  const pages = fileOf(inode).pages;
  for (let off = pos; off < end;) {
    const idx = Math.floor(off / PAGE_SIZE);
    const within = off - idx * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - within, end - off);
    const page = pages.get(idx);
    const dst = buf.subarray(off - pos, off - pos + n);
    if (page === undefined) dst.fill(0);
    else dst.set(page.subarray(within, within + n));
    off += n;
  }
  return end - pos;
}

function* ramfs_file_write(file: File, data: Uint8Array, pos: number): Sys<number | Errno> {
  const inode = file.f_inode;
  const pages = fileOf(inode).pages;
  const end = pos + data.length;
  for (let off = pos; off < end;) {
    const idx = Math.floor(off / PAGE_SIZE);
    const within = off - idx * PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - within, end - off);
    let page = pages.get(idx);
    if (page === undefined) {
      page = new Uint8Array(PAGE_SIZE);
      pages.set(idx, page);
    }
    page.set(data.subarray(off - pos, off - pos + n), within);
    off += n;
  }
  if (end > inode.i_size) inode.i_size = end;
  inode.i_blocks = pages.size * (PAGE_SIZE / 512);
  touch(inode, true);
  return data.length;
}

function* ramfs_fsync(): Sys<0 | Errno> {
  return 0;
}

// ---- directories ----

function* ramfs_readdir(file: File, filldir: FillDir): Sys<0 | Errno> {
  const dir = file.f_inode;
  const d = dirOf(dir);
  if (file.f_pos === 0) {
    if (!filldir('.', dir.i_ino, DT_DIR)) return 0;
    file.f_pos = 1;
  }
  if (file.f_pos === 1) {
    if (!filldir('..', d.parent.i_ino, DT_DIR)) return 0;
    file.f_pos = 2;
  }
  let i = 2;
  for (const [name, inode] of d.entries) {
    if (i++ < file.f_pos) continue;
    if (!filldir(name, inode.i_ino, modeToDtype(inode.i_mode))) return 0;
    file.f_pos = i;
  }
  return 0;
}

// ---- super block ----

function* ramfs_statfs(sb: SuperBlock): Sys<StatFs | Errno> {
  const s = sb.s_fs_info as RamSb;
  return { f_type: RAMFS_MAGIC, f_bsize: PAGE_SIZE, f_blocks: 0, f_bfree: 0, f_bavail: 0, f_files: s.nextIno - 1, f_ffree: 0, f_namelen: 255 };
}

function* ramfs_delete_inode(inode: Inode): Sys<void> {
  // The inode was only ever in memory: forgetting its data frees it.
  inode.i_private = null;
  inode.i_size = 0;
}

export const ramfs_dir_inode_operations: InodeOperations = {
  create: ramfs_create,
  lookup: ramfs_lookup,
  link: ramfs_link,
  unlink: ramfs_unlink,
  symlink: ramfs_symlink,
  mkdir: ramfs_mkdir,
  rmdir: ramfs_rmdir,
  mknod: ramfs_mknod,
  rename: ramfs_rename,
  setattr: ramfs_setattr,
};
export const ramfs_file_inode_operations: InodeOperations = { setattr: ramfs_setattr };
export const ramfs_symlink_inode_operations: InodeOperations = { readlink: ramfs_readlink, setattr: ramfs_setattr };
export const ramfs_special_inode_operations: InodeOperations = { setattr: ramfs_setattr };
export const ramfs_file_operations: FileOperations = { read: ramfs_file_read, write: ramfs_file_write, fsync: ramfs_fsync };
export const ramfs_dir_operations: FileOperations = { readdir: ramfs_readdir, fsync: ramfs_fsync };
export const ramfs_super_operations: SuperOperations = { statfs: ramfs_statfs, delete_inode: ramfs_delete_inode };

function* ramfs_read_super(sb: SuperBlock): Sys<0 | Errno> {
  sb.s_magic = RAMFS_MAGIC;
  sb.s_blocksize = PAGE_SIZE;
  sb.s_time_gran = 1;
  sb.s_op = ramfs_super_operations;
  sb.s_fs_info = { nextIno: 1, nextGeneration: 1 } satisfies RamSb;
  const root = ramfs_get_inode(sb, null, S_IFDIR | 0o755, 0, null, { kind: 'dir', entries: new Map(), parent: null as unknown as Inode });
  (root.i_private as RamDir).parent = root;
  root.i_nlink = 2;
  sb.s_root = d_alloc_root(root);
  return 0;
}

export const ramfs_fs_type: FileSystemType = {
  name: 'ramfs',
  requiresDev: false,
  read_super: ramfs_read_super,
};
