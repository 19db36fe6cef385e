/**
 * fileset.ts: finding, creating and setting up filesets at mount (Linux fs/intermezzo/fileset.c
 * and the mount half of journal.c: presto_get_fileset, izo_setup_fileset, presto_complete_lml).
 *
 * Layer: fs (presto). Interface: `izo_make_fileset(cache, name, rootPath, flags)` creates
 * `/.intermezzo/<name>/` with `ROOT` (a relative symlink to the fileset's root), `kml`, `lml` and
 * `last_rcvd`, and sets it up; `izo_setup_filesets(cache)` sets up every fileset found there;
 * `izo_cleanup_fileset` closes one at unmount. Setting up opens the three logs as presto's own
 * files (the cache file system's operations, data-journaled), restores each log's recno and write
 * offset from its tail, reads the KML's logical offset from the all-zero-uuid last_rcvd record
 * (writing one if missing), marks the root dentry as the fileset's, and turns every pending close
 * left in the LML by a crash into a KML CLOSE record.
 * Invariants: a set-up fileset's root and directory dentries are pinned; its log files are open;
 * a damaged log tail refuses the fileset (EIO, with the damage traced) rather than guessing.
 */
import { d_inode_of, dget, dput } from '../../kernel/dcache.ts';
import { EEXIST, EINVAL, EIO, ENOENT, ENOSPC, isErr, type Errno } from '../../kernel/errno.ts';
import {
  File, FMODE_READ, FMODE_WRITE, O_DIRECTORY, O_RDONLY, O_RDWR, S_IFREG, S_ISDIR, S_ISREG, type Dentry,
} from '../../kernel/fs.ts';
import { iput } from '../../kernel/inode.ts';
import { LOOKUP_FOLLOW, path_lookup, sys_mkdir, sys_mknod, sys_symlink } from '../../kernel/namei.ts';
import { fput, sys_close, sys_open } from '../../kernel/open.ts';
import { sys_getdents } from '../../kernel/readdir.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { Fileset, IZO_DIR, presto_d2d, presto_getversion, type LogFd, type PrestoCache } from './intermezzo_fs.ts';
import {
  izo_init_log,
  izo_rcvd_append,
  izo_rcvd_get,
  log_read_all,
  presto_clear_lml_close,
  presto_log,
  presto_truncate_lml,
  presto_write_kml_logical_offset,
  ZERO_UUID,
} from './journal.ts';
import { kml_appends, noblock, presto_in_trans } from './journal_ops.ts';
import { isDamage, kml_record_size, kml_scan, type KmlBody, type KmlRecord } from './kml.ts';
import { newPermitWait } from './permit.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'presto.fileset': { fset: string; root: string; kml_recno: number; kml_offset: number; flags: number };
  }
}

const LOGS = ['kml', 'lml', 'last_rcvd'] as const;

/** A fileset name is one path component, not '.' or '..'. */
export function valid_fset_name(name: string): boolean {
  return name.length > 0 && name.length <= 64 && !name.includes('/') && name !== '.' && name !== '..';
}

/** `/.intermezzo/<name>/<leaf>` as presto's process sees it (the cache's root is its root). */
function izoPath(name: string, leaf = ''): string {
  return `/${IZO_DIR}/${name}${leaf === '' ? '' : `/${leaf}`}`;
}

function* lookup(kp: Process, path: string): Sys<Dentry | Errno> {
  const r = yield* path_lookup(kp, path, LOOKUP_FOLLOW);
  return isErr(r) ? r : r.dentry;
}

function okExists(r: 0 | Errno): 0 | Errno {
  return r === EEXIST ? 0 : r;
}

/** Create `/.intermezzo` if it is missing (it is never logged: presto_fset is null under it). */
export function* izo_make_izo_dir(cache: PrestoCache): Sys<0 | Errno> {
  const root = cache.sb.s_root?.d_inode ?? null;
  const times = root === null ? null : { mtime: root.i_mtime, ctime: root.i_ctime };
  const r = yield* sys_mkdir(cache.kproc, `/${IZO_DIR}`, 0o700);
  if (r === EEXIST) return 0;
  if (isErr(r) || root === null || times === null) return r;
  // presto's own directory is no change of the cache's root: its times stay what they were, so the
  // roots of replicas made from the same image agree (a replica's root is often a fileset's root,
  // and every replica makes /.intermezzo at its own time, on its own clock).
  root.i_mtime = times.mtime;
  root.i_ctime = times.ctime;
  const h = yield* cache.jops.tr_start(cache.sb, 2);
  if (isErr(h)) return h;
  const write = root.i_sb.s_op.write_inode;
  const w = write === undefined ? 0 : noblock(write(root, false), 'root times');
  const c = yield* cache.jops.tr_commit(h);
  return isErr(w) ? w : c;
}

/**
 * Create fileset `name` rooted at `rootPath` (an absolute path inside the cache, a directory) and
 * set it up. EEXIST if a fileset of that name exists.
 */
export function* izo_make_fileset(
  cache: PrestoCache,
  name: string,
  rootPath: string,
  flags: number,
): Sys<Fileset | Errno> {
  if (!valid_fset_name(name)) return EINVAL;
  if (cache.filesets.has(name)) return EEXIST;
  const kp = cache.kproc;
  const root = yield* lookup(kp, rootPath);
  if (isErr(root)) return root;
  if (!S_ISDIR((d_inode_of(root)).i_mode)) return EINVAL;
  const mk = yield* izo_make_izo_dir(cache);
  if (isErr(mk)) return mk;
  const d = okExists(yield* sys_mkdir(kp, izoPath(name), 0o700));
  if (isErr(d)) return d;
  // ROOT is relative ("../.." for the cache's root), so the image means the same wherever mounted.
  const target = `../..${rootPath === '/' ? '' : rootPath}`;
  const s = okExists(yield* sys_symlink(kp, target, izoPath(name, 'ROOT')));
  if (isErr(s)) return s;
  for (const log of LOGS) {
    const c = okExists(yield* sys_mknod(kp, izoPath(name, log), S_IFREG | 0o600, 0));
    if (isErr(c)) return c;
  }
  return yield* izo_setup_fileset(cache, name, flags);
}

/** Set up every fileset found under `/.intermezzo` (none if it does not exist). */
export function* izo_setup_filesets(cache: PrestoCache, flags: number): Sys<0 | Errno> {
  const kp = cache.kproc;
  const fd = yield* sys_open(kp, `/${IZO_DIR}`, O_RDONLY | O_DIRECTORY);
  if (fd === ENOENT) return 0;
  if (isErr(fd)) return fd;
  const names: string[] = [];
  for (;;) {
    const batch = yield* sys_getdents(kp, fd);
    if (isErr(batch) || batch.length === 0) break;
    for (const e of batch) if (e.d_name !== '.' && e.d_name !== '..') names.push(e.d_name);
  }
  yield* sys_close(kp, fd);
  names.sort();
  for (const name of names) {
    if (cache.filesets.has(name)) continue;
    const f = yield* izo_setup_fileset(cache, name, flags);
    if (isErr(f)) return f;
  }
  return 0;
}

/** The longest log presto reads whole at set-up (1 GiB); a longer one is taken as damage. */
const LOG_SIZE_MAX = 1 << 30;

function* open_log(cache: PrestoCache, name: string, log: (typeof LOGS)[number]): Sys<LogFd | Errno> {
  const d = yield* lookup(cache.kproc, izoPath(name, log));
  if (isErr(d)) return d;
  const inode = d_inode_of(d);
  if (!S_ISREG(inode.i_mode) || inode.i_size > LOG_SIZE_MAX) {
    // Damage on disk: a log that is no file, or longer than presto reads whole, refuses the fileset.
    const reason = !S_ISREG(inode.i_mode) ? 'not a regular file'
      : `${inode.i_size} bytes, past the ${LOG_SIZE_MAX} presto reads`;
    cache.sb.s_kernel.tracer.emit('presto.log_damage', { fset: name, log, offset: 0, reason });
    return EIO;
  }
  const j = yield* cache.jops.tr_journal_data(inode);
  if (isErr(j)) return j;
  cache.jops.tr_log_file(inode);
  const mnt = cache.mnt;
  if (mnt === null) return EINVAL;
  const fops = cache.filter.c2c_fops(inode);
  const file = new File(d, mnt, fops, O_RDWR, FMODE_READ | FMODE_WRITE, cache.kproc.cred, 0);
  dget(d);
  return { name: log, file, offset: inode.i_size, recno: 0 };
}

/** Open fileset `name`'s logs, restore where they end, and register it with the cache. */
export function* izo_setup_fileset(cache: PrestoCache, name: string, flags: number): Sys<Fileset | Errno> {
  const kp = cache.kproc;
  const root = yield* lookup(kp, izoPath(name, 'ROOT'));
  if (isErr(root)) return root;
  if (!S_ISDIR((d_inode_of(root)).i_mode)) return EINVAL;
  if (presto_d2d(root).fset !== null) return EEXIST; // two filesets cannot share a root
  const dir = yield* lookup(kp, izoPath(name));
  if (isErr(dir)) return dir;
  const fds: LogFd[] = [];
  for (const log of LOGS) {
    const fd = yield* open_log(cache, name, log);
    if (isErr(fd)) {
      for (const o of fds) yield* fput(o.file, kp);
      return fd;
    }
    fds.push(fd);
  }
  const [kml, lml, rcvd] = fds as [LogFd, LogFd, LogFd];
  const fset = new Fileset(name, cache, dget(root), dget(dir), kml, lml, rcvd, flags, newPermitWait(name));
  const r = yield* init_logs(fset, kp);
  if (isErr(r)) {
    yield* izo_cleanup_fileset(fset, kp);
    return r;
  }
  presto_d2d(root).fset = fset;
  cache.filesets.set(name, fset);
  const c = yield* presto_complete_lml(fset, kp);
  if (isErr(c)) return c;
  cache.sb.s_kernel.tracer.emit('presto.fileset', {
    fset: name,
    root: (yield* lookupTarget(kp, name)) ?? '?',
    kml_recno: kml.recno,
    kml_offset: kml.offset,
    flags,
  });
  return fset;
}

function* lookupTarget(kp: Process, name: string): Sys<string | null> {
  const d = yield* path_lookup(kp, izoPath(name, 'ROOT'), 0);
  if (isErr(d)) return null;
  const rl = d.dentry.d_inode?.i_op.readlink;
  const t = rl === undefined ? null : yield* rl(d.dentry);
  return t === null || isErr(t) ? null : t;
}

function* init_logs(fset: Fileset, kp: Process): Sys<0 | Errno> {
  for (const fd of [fset.kml, fset.lml]) {
    const r = yield* izo_init_log(fset, fd, kp);
    if (isErr(r)) return r;
    if (isDamage(r)) return EIO;
  }
  const zero = yield* izo_rcvd_get(fset, ZERO_UUID, kp);
  if (isErr(zero)) return zero;
  if (zero === null) {
    const space = { writes: () => [izo_rcvd_append(fset)], reserve: true };
    const w = yield* presto_in_trans(fset, 'rcvd', () => presto_write_kml_logical_offset(fset, kp), space);
    if (isErr(w)) return w;
  } else {
    fset.kml_logical_off = zero.local_offset;
  }
  fset.lento_off = fset.kml.offset;
  fset.lento_recno = fset.kml.recno;
  return 0;
}

/**
 * A crash between a write and its close left an LML record with no KML CLOSE: log the close now
 * (versions from the LML record and the file as it is), cancelling the LML record in the same
 * transaction; a file that is gone (or reused) just has its record cancelled. A close whose record
 * finds no space stays pending (`lml_deferred`, traced): the fileset still mounts, and the next
 * logged change tries again first.
 */
export function* presto_complete_lml(fset: Fileset, kp: Process): Sys<0 | Errno> {
  const buf = yield* log_read_all(fset.lml.file, kp);
  if (isErr(buf)) return buf;
  const scan = kml_scan(buf, true);
  if (scan.damage !== null) return EIO;
  fset.lml_deferred = false;
  for (const { offset, rec } of scan.records) {
    if (rec.cancelled === true || rec.body.op !== 'LML_CLOSE') continue;
    const body = yield* pending_close(fset, rec);
    const size = body === null ? [] : [kml_record_size({ ...rec, body })];
    const space = { writes: () => kml_appends(fset, size), reserve: true };
    const r = yield* presto_in_trans(fset, 'close', function* () {
      const c = yield* presto_clear_lml_close(fset, offset, kp);
      if (isErr(c) || body === null) return c;
      const l = yield* presto_log(fset, body, rec, kp, size[0]);
      return isErr(l) ? l : 0;
    }, space);
    const what = r === ENOSPC ? 'deferred' : 'complete';
    if (isErr(r) && r !== ENOSPC) return r;
    fset.cache.sb.s_kernel.tracer.emit('presto.lml', { fset: fset.name, offset, what, path: rec.body.path });
    if (r === ENOSPC) {
      fset.lml_deferred = true;
      return 0;
    }
  }
  return yield* presto_truncate_lml(fset, kp);
}

/** The CLOSE an LML record stands for, or null if its file is gone (or its inode reused). */
function* pending_close(fset: Fileset, rec: KmlRecord): Sys<KmlBody | null> {
  const b = rec.body;
  if (b.op !== 'LML_CLOSE') return null;
  const inode = yield* fset.cache.jops.tr_ilookup(fset.cache.sb, b.ino, b.generation);
  if (isErr(inode)) return null;
  const body: KmlBody = {
    op: 'CLOSE',
    open_mode: inode.i_mode,
    open_uid: rec.fsuid,
    open_gid: rec.fsgid,
    old_object: b.new_object,
    new_object: presto_getversion(inode),
    ino: b.ino,
    generation: b.generation,
    path: b.path,
  };
  yield* iput(inode);
  return body;
}

/** Close a fileset's logs and unpin it (unmount, or CLEAR_FSET). */
export function* izo_cleanup_fileset(fset: Fileset, kp: Process): Sys<void> {
  for (const fd of [fset.kml, fset.lml, fset.rcvd]) yield* fput(fd.file, kp);
  const dd = presto_d2d(fset.root);
  if (dd.fset === fset) dd.fset = null;
  fset.cache.filesets.delete(fset.name);
  yield* dput(fset.root);
  yield* dput(fset.dir);
}
