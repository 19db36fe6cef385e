/**
 * fs.ts: the VFS objects and operation tables (Linux's include/linux/fs.h and dcache.h).
 *
 * Layer: kernel VFS. Interface: the types every file system implements and every syscall walks:
 * SuperBlock, Inode, Dentry, VfsMount, File, and the tables SuperOperations, InodeOperations,
 * FileOperations, DentryOperations (plain objects of functions, so a filter file system copies a
 * table and overrides entries: kernel/filter.ts). Every table entry returns `Sys<T>` (a generator,
 * kernel/sched.ts), so any implementation may block (a presto upcall, a journal wait).
 * Field names follow Linux 2.4 (`i_mode`, `d_inode`, `f_pos`) so a reader of the original finds
 * their way. Strings (names, paths, link targets) are *byte strings*: every char code is 0..255 and
 * stands for one byte, exactly what the disk stores; user-space code converts text to and from them.
 * Invariants: a Dentry's d_inode is null (negative) or an inode of the same super block, except a
 * mountpoint, whose mounted root is found through the mount table; a hashed dentry is in its
 * parent's d_subdirs under its d_name.
 */
import type { BlockDevice } from './blkdev.ts';
import type { Errno } from './errno.ts';
import { panic } from './assert.ts';
import type { Sys } from './sched.ts';
import { Semaphore } from './semaphore.ts';
import type { Kernel } from './kernel.ts';
import type { Process } from './process.ts';
import type { Timespec } from './types.ts';

// ---- mode bits (include/linux/stat.h) ----
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;
export const S_ISUID = 0o4000;
export const S_ISGID = 0o2000;
export const S_ISVTX = 0o1000;
export const S_IALLUGO = 0o7777;
export const S_IXGRP = 0o010;

export const S_ISREG = (m: number): boolean => (m & S_IFMT) === S_IFREG;
export const S_ISDIR = (m: number): boolean => (m & S_IFMT) === S_IFDIR;
export const S_ISLNK = (m: number): boolean => (m & S_IFMT) === S_IFLNK;
export const S_ISCHR = (m: number): boolean => (m & S_IFMT) === S_IFCHR;
export const S_ISBLK = (m: number): boolean => (m & S_IFMT) === S_IFBLK;
export const S_ISFIFO = (m: number): boolean => (m & S_IFMT) === S_IFIFO;
export const S_ISSOCK = (m: number): boolean => (m & S_IFMT) === S_IFSOCK;

/** Directory entry types (d_type), as readdir and ext2's file_type byte use them. */
export const DT_UNKNOWN = 0;
export const DT_FIFO = 1;
export const DT_CHR = 2;
export const DT_DIR = 4;
export const DT_BLK = 6;
export const DT_REG = 8;
export const DT_LNK = 10;
export const DT_SOCK = 12;
export function modeToDtype(mode: number): number {
  return (mode & S_IFMT) >>> 12;
}

// ---- open flags (asm/fcntl.h, x86 values) ----
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;

export const FMODE_READ = 1;
export const FMODE_WRITE = 2;

// ---- permission masks ----
export const MAY_EXEC = 1;
export const MAY_WRITE = 2;
export const MAY_READ = 4;
export const F_OK = 0;
export const X_OK = 1;
export const W_OK = 2;
export const R_OK = 4;

export const SEEK_SET = 0;
export const SEEK_CUR = 1;
export const SEEK_END = 2;

// ---- setattr (struct iattr) ----
export const ATTR_MODE = 1;
export const ATTR_UID = 2;
export const ATTR_GID = 4;
export const ATTR_SIZE = 8;
export const ATTR_ATIME = 16;
export const ATTR_MTIME = 32;
export const ATTR_CTIME = 64;
export const ATTR_ATIME_SET = 128;
export const ATTR_MTIME_SET = 256;
export const ATTR_FORCE = 512;

export interface Iattr {
  ia_valid: number;
  ia_mode?: number;
  ia_uid?: number;
  ia_gid?: number;
  ia_size?: number;
  ia_atime?: Timespec;
  ia_mtime?: Timespec;
  ia_ctime?: Timespec;
}

// ---- limits (include/linux/limits.h) ----
export const NAME_MAX = 255;
export const PATH_MAX = 4096;
/** Symlinks followed in one path walk before ELOOP. */
export const MAX_LINK_COUNT = 40;
export const NR_OPEN_DEFAULT = 1024;
export const MS_RDONLY = 1;
export const MS_NOATIME = 1024;

// ---- credentials ----
export interface Cred {
  uid: number;
  gid: number;
  euid: number;
  egid: number;
  fsuid: number;
  fsgid: number;
  groups: readonly number[];
}

export function makeCred(uid: number, gid: number, groups: readonly number[] = []): Cred {
  return { uid, gid, euid: uid, egid: gid, fsuid: uid, fsgid: gid, groups: [...groups] };
}

export function in_group_p(cred: Cred, gid: number): boolean {
  return cred.fsgid === gid || cred.groups.includes(gid);
}

/** Root's override of discretionary access checks (CAP_DAC_OVERRIDE, CAP_FOWNER, CAP_CHOWN...). */
export function capable(cred: Cred): boolean {
  return cred.fsuid === 0;
}

// ---- results ----
export interface Stat {
  st_dev: number;
  st_ino: number;
  st_mode: number;
  st_nlink: number;
  st_uid: number;
  st_gid: number;
  st_rdev: number;
  st_size: number;
  st_blksize: number;
  st_blocks: number;
  st_atime: Timespec;
  st_mtime: Timespec;
  st_ctime: Timespec;
}

export interface StatFs {
  f_type: number;
  f_bsize: number;
  f_blocks: number;
  f_bfree: number;
  f_bavail: number;
  f_files: number;
  f_ffree: number;
  f_namelen: number;
}

export interface Dirent {
  readonly d_ino: number;
  readonly d_type: number;
  readonly d_name: string;
}

/** readdir's callback: false stops the walk (the caller's buffer is full). */
export type FillDir = (name: string, ino: number, d_type: number) => boolean;

// ---- operation tables ----
export interface SuperOperations {
  /** Fill a fresh in-core inode (i_ino set) from the disk. */
  read_inode?(inode: Inode): Sys<0 | Errno>;
  /** Write an in-core inode back (or into the running transaction). */
  write_inode?(inode: Inode, sync: boolean): Sys<0 | Errno>;
  /** Last reference gone and no links left: free the inode and its blocks. */
  delete_inode?(inode: Inode): Sys<void>;
  /** Last reference gone, links remain: drop fs-private in-core state. */
  clear_inode?(inode: Inode): Sys<void>;
  put_super?(sb: SuperBlock): Sys<void>;
  write_super?(sb: SuperBlock): Sys<void>;
  sync_fs?(sb: SuperBlock, wait: boolean): Sys<0 | Errno>;
  statfs(sb: SuperBlock): Sys<StatFs | Errno>;
  remount_fs?(sb: SuperBlock, flags: number, data: string): Sys<0 | Errno>;
}

export interface InodeOperations {
  create?(dir: Inode, dentry: Dentry, mode: number, p: Process): Sys<0 | Errno>;
  /** Find `dentry.d_name` in `dir` and d_add the dentry (with an inode, or negative). */
  lookup?(dir: Inode, dentry: Dentry): Sys<0 | Errno>;
  link?(old_dentry: Dentry, dir: Inode, dentry: Dentry, p: Process): Sys<0 | Errno>;
  unlink?(dir: Inode, dentry: Dentry, p: Process): Sys<0 | Errno>;
  symlink?(dir: Inode, dentry: Dentry, target: string, p: Process): Sys<0 | Errno>;
  mkdir?(dir: Inode, dentry: Dentry, mode: number, p: Process): Sys<0 | Errno>;
  rmdir?(dir: Inode, dentry: Dentry, p: Process): Sys<0 | Errno>;
  mknod?(dir: Inode, dentry: Dentry, mode: number, rdev: number, p: Process): Sys<0 | Errno>;
  rename?(old_dir: Inode, old_dentry: Dentry, new_dir: Inode, new_dentry: Dentry, p: Process): Sys<0 | Errno>;
  readlink?(dentry: Dentry): Sys<string | Errno>;
  /** Replaces the generic mode-bit check when present. */
  permission?(inode: Inode, mask: number, cred: Cred): Sys<0 | Errno>;
  /** Apply an already-validated change (chmod, chown, utimes, truncate). */
  setattr?(dentry: Dentry, attr: Iattr, p: Process): Sys<0 | Errno>;
}

/**
 * Every operation that acts for a process takes it as its last argument: Linux reads `current`;
 * here the caller is explicit, so a file system (or presto, which logs pid and credentials in
 * every KML record) knows whom it works for without a global.
 */
export interface FileOperations {
  llseek?(file: File, offset: number, whence: number, p: Process): Sys<number | Errno>;
  /** Read up to buf.length bytes at `pos`; returns the count (0 at end of file). */
  read?(file: File, buf: Uint8Array, pos: number, p: Process): Sys<number | Errno>;
  /** Write `data` at `pos`; returns the count written (short only when space ran out). */
  write?(file: File, data: Uint8Array, pos: number, p: Process): Sys<number | Errno>;
  /** Call filldir for entries from file.f_pos on, advancing f_pos past each one accepted. */
  readdir?(file: File, filldir: FillDir, p: Process): Sys<0 | Errno>;
  ioctl?(inode: Inode, file: File, cmd: number, arg: unknown, p: Process): Sys<number | Errno>;
  open?(inode: Inode, file: File, p: Process): Sys<0 | Errno>;
  flush?(file: File, p: Process): Sys<0 | Errno>;
  release?(inode: Inode, file: File, p: Process): Sys<0 | Errno>;
  fsync?(file: File, dentry: Dentry, datasync: boolean, p: Process): Sys<0 | Errno>;
}

export interface DentryOperations {
  /** Is this cached dentry still valid? false makes the VFS look the name up again. */
  d_revalidate?(dentry: Dentry, flags: number): Sys<boolean>;
  /** Called when a dentry loses its inode or is freed (filters drop private state here). */
  d_release?(dentry: Dentry): void;
}

export interface FileSystemType {
  readonly name: string;
  /** True if mounting needs a block device. */
  readonly requiresDev: boolean;
  /** For a type that stacks on another (presto): whether these mount options need a device. */
  requiresDevFor?(data: string): boolean;
  /** Build a super block for `dev` (or none) with mount options `data` (Linux read_super). */
  read_super(sb: SuperBlock, dev: BlockDevice | null, data: string): Sys<0 | Errno>;
}

// ---- objects ----

export class SuperBlock {
  s_root: Dentry | null = null;
  s_op: SuperOperations = { statfs: unsupportedStatfs };
  s_flags = 0;
  s_blocksize = 1024;
  s_maxbytes = Number.MAX_SAFE_INTEGER;
  s_magic = 0;
  /** Timestamp granularity in nanoseconds (1e9 for ext2/ext3's whole seconds). */
  s_time_gran = 1;
  /** The file system's private state (Linux's union u / s_fs_info). */
  s_fs_info: unknown = null;
  /** In-core inodes by number (the icache for this super block). */
  readonly s_inodes = new Map<number, Inode>();
  s_dirty = false;
  constructor(
    readonly s_type: FileSystemType,
    readonly s_dev: number,
    readonly s_bdev: BlockDevice | null,
    /** The kernel this super block is mounted in (its clock gives CURRENT_TIME). */
    readonly s_kernel: Kernel,
  ) {}
}

function* unsupportedStatfs(): Sys<StatFs | Errno> {
  return { f_type: 0, f_bsize: 0, f_blocks: 0, f_bfree: 0, f_bavail: 0, f_files: 0, f_ffree: 0, f_namelen: NAME_MAX };
}

export const I_DIRTY = 1;
export const I_FREEING = 2;
/** Read from disk but not a live inode (make_bad_inode): its last iput never deletes it. */
export const I_BAD = 4;

export class Inode {
  i_mode = 0;
  i_nlink = 0;
  i_uid = 0;
  i_gid = 0;
  i_rdev = 0;
  i_size = 0;
  i_atime: Timespec = { sec: 0, nsec: 0 };
  i_mtime: Timespec = { sec: 0, nsec: 0 };
  i_ctime: Timespec = { sec: 0, nsec: 0 };
  /** 512-byte units, as stat reports them. */
  i_blocks = 0;
  i_generation = 0;
  i_flags = 0;
  i_state = 0;
  /** In-core references: positive dentries and open files hold one each. */
  i_count = 0;
  i_op: InodeOperations = {};
  i_fop: FileOperations = {};
  /** The file system's private state for this inode (Linux's union u). */
  i_private: unknown = null;
  /** Directory removed (rmdir) while still referenced: no new entries may be created in it. */
  i_dead = false;
  /** i_sem: serializes namespace changes in a directory (and writes to a file). */
  i_sem: Semaphore;
  constructor(
    readonly i_sb: SuperBlock,
    readonly i_ino: number,
  ) {
    this.i_sem = new Semaphore(`i_sem`);
  }
}

export const DCACHE_UNHASHED = 1;

export class Dentry {
  d_inode: Inode | null = null;
  readonly d_subdirs = new Map<string, Dentry>();
  /** References that pin this dentry: open files, cwd/root, mounts. */
  d_count = 0;
  /** Number of file systems mounted on this dentry. */
  d_mounted = 0;
  d_flags = 0;
  d_op: DentryOperations | null = null;
  /** The file system's (or filter's) private data (presto keeps its cache flags here). */
  d_fsdata: unknown = null;
  constructor(
    public d_name: string,
    /** The parent; a root dentry is its own parent. */
    public d_parent: Dentry | null,
    readonly d_sb: SuperBlock,
  ) {}
  get isRoot(): boolean {
    return this.d_parent === null;
  }
  get unhashed(): boolean {
    return (this.d_flags & DCACHE_UNHASHED) !== 0;
  }
}

export class VfsMount {
  mnt_flags = 0;
  constructor(
    readonly mnt_sb: SuperBlock,
    readonly mnt_root: Dentry,
    /** Where it is mounted; for the root mount, its own root. */
    readonly mnt_mountpoint: Dentry,
    /** The mount it sits on; for the root mount, itself (set right after construction). */
    public mnt_parent: VfsMount | null,
    readonly mnt_devname: string,
  ) {}
}

export class File {
  f_pos = 0;
  f_count = 1;
  private_data: unknown = null;
  constructor(
    readonly f_dentry: Dentry,
    readonly f_vfsmnt: VfsMount,
    public f_op: FileOperations,
    public f_flags: number,
    readonly f_mode: number,
    /** The opener's credentials (Linux 2.6's f_cred) and pid. */
    readonly f_cred: Cred,
    readonly f_pid: number,
  ) {}
  get f_inode(): Inode {
    const i = this.f_dentry.d_inode;
    return i ?? panic('open file on a negative dentry');
  }
}

/** A (mount, dentry) pair: a position in the global name space. */
export interface Path {
  readonly mnt: VfsMount;
  readonly dentry: Dentry;
}
