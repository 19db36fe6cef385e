/**
 * file.ts: presto's file operations: open, write and release of regular files (Linux
 * fs/intermezzo/file.c).
 *
 * Layer: fs (presto). Interface: `presto_fops(kind, lower)` gives the overrides for files in a
 * fileset. open: in data-on-demand mode, a file whose data is not here yet (DATA clear, file not
 * whole, not lento, not O_TRUNC) sends the synchronous OPEN upcall and blocks until lento has
 * filled it; an open for writing remembers the opener's credentials and the version at open.
 * write: on the first write a pending-close record goes to the LML (its own transaction), then the
 * data goes to the cache file system (not in any presto transaction: ordered mode covers it); with
 * JCLOSE_ON_WRITE an interim CLOSE is logged every `file_maxio` bytes. release: the CLOSE record
 * goes to the KML and the LML record becomes a NOOP, in one transaction.
 * Data changes are only ever logged as CLOSE records; receivers fetch the bytes.
 * Invariants: an LML record exists for a file exactly while it has unlogged writes.
 */
import { ENAMETOOLONG, isErr, type Errno } from '../../kernel/errno.ts';
import type { InodeKind } from '../../kernel/filter.ts';
import { O_TRUNC, PATH_MAX, type File, type FileOperations, type Inode } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import { EMPTY_BODY, izo_fileid_encode, izo_upc_upcall, IZO_UPC_OPEN } from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import { presto_enter, presto_leave, presto_log_guard } from './dir.ts';
import {
  presto_d2d,
  presto_fset,
  presto_getversion,
  presto_path,
  PRESTO_ATTR,
  PRESTO_DATA,
  type Fileset,
} from './intermezzo_fs.ts';
import { credsOf, presto_truncate_lml, presto_write_lml_close } from './journal.ts';
import { kml_record_size, kml_size, ZERO_VERSION, type KmlCreds, type PrestoVersion } from './kml.ts';
import { FSET_DATA_ON_DEMAND, FSET_JCLOSE_ON_WRITE, islento } from './permit.ts';
import { presto_hold_close, presto_in_trans, presto_log_blocks, presto_release_close } from './journal_ops.ts';
import { presto_cancel_lml, presto_do_close } from './vfs.ts';

/** presto_file_data: what an open-for-write remembers until release. */
interface PrestoFileData {
  readonly creds: KmlCreds;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** The version a CLOSE record gives as old: at open, or at the last interim close. */
  old: PrestoVersion;
  /** The LML record standing for this file's unlogged writes (-1: none yet). */
  lml_offset: number;
  written: number;
  sinceClose: number;
  /** Blocks held for this file's CLOSE record from its first write to its release. */
  hold: number;
}

function fdata(file: File): PrestoFileData | null {
  return (file.private_data as PrestoFileData | null) ?? null;
}

function* fetch_on_open(fset: Fileset, file: File, p: Process): Sys<0 | Errno> {
  const d = file.f_dentry;
  const dd = presto_d2d(d);
  const inode = file.f_inode;
  if ((fset.flags & FSET_DATA_ON_DEMAND) === 0 || islento(fset, p) || (file.f_flags & O_TRUNC) !== 0) return 0;
  if ((dd.flags & PRESTO_DATA) !== 0 || fset.cache.jops.tr_all_data(inode)) return 0;
  const body = {
    ...EMPTY_BODY,
    pid: p.pid,
    uid: p.cred.uid,
    path: presto_path(d, fset.root),
    fset: fset.name,
    record: izo_fileid_encode({ ino: dd.remote_ino, generation: dd.remote_generation }),
  };
  const mtime = inode.i_mtime;
  const ctime = inode.i_ctime;
  const r = yield* izo_upc_upcall(fset.psdev, fset.channel, IZO_UPC_OPEN, body, { async: false });
  if (isErr(r)) return r;
  dd.flags |= PRESTO_ATTR | PRESTO_DATA;
  // The bytes fetched are the version already described here: filling the file changes no version.
  return yield* presto_in_trans(fset, 'setattr', function* () {
    inode.i_mtime = mtime;
    inode.i_ctime = ctime;
    const write = inode.i_sb.s_op.write_inode;
    return write === undefined ? 0 : yield* write(inode, false);
  });
}

export function presto_fops(kind: InodeKind, low: FileOperations): Partial<FileOperations> {
  if (kind !== 'file') return {};
  const write = low.write;
  return {
    *open(inode: Inode, file: File, p: Process): Sys<0 | Errno> {
      if ((file.f_mode & 2) !== 0) {
        const guard = presto_log_guard(file.f_dentry, p);
        if (guard !== 0) return guard;
      }
      const fset = presto_fset(file.f_dentry);
      if (fset !== null) {
        const f = yield* fetch_on_open(fset, file, p);
        if (isErr(f)) return f;
        if ((file.f_mode & 2) !== 0 && !islento(fset, p)) {
          // Its CLOSE will carry this path: a file the KML cannot name is not opened for writing.
          if (presto_path(file.f_dentry, fset.root).length >= PATH_MAX) return ENAMETOOLONG;
          const data: PrestoFileData = {
            creds: credsOf(p),
            mode: inode.i_mode,
            uid: inode.i_uid,
            gid: inode.i_gid,
            old: presto_getversion(inode),
            lml_offset: -1,
            written: 0,
            sinceClose: 0,
            hold: 0,
          };
          file.private_data = data;
        }
      }
      return low.open === undefined ? 0 : yield* low.open(inode, file, p);
    },
    *write(file: File, data: Uint8Array, pos: number, p: Process): Sys<number | Errno> {
      if (write === undefined) return 0 as number;
      const fset = presto_fset(file.f_dentry);
      const fd = fdata(file);
      // Nothing written, nothing to log (and no LML record left behind for an empty write).
      if (fset === null || fd === null || data.length === 0) return yield* write(file, data, pos, p);
      const e = yield* presto_enter(fset, p);
      if (isErr(e)) return e;
      const r = yield* presto_write(fset, fd, file, data, pos, p, write);
      presto_leave(fset, e);
      return r;
    },
    *release(inode: Inode, file: File, p: Process): Sys<0 | Errno> {
      const r = low.release === undefined ? 0 : yield* low.release(inode, file, p);
      const fset = presto_fset(file.f_dentry);
      const fd = fdata(file);
      file.private_data = null;
      if (fset === null || fd === null || fd.lml_offset < 0) return r;
      const e = yield* presto_enter(fset, p);
      if (isErr(e)) {
        // No permit: the LML record stays, and the next mount logs the close.
        presto_release_close(fset.cache, fd.hold);
        return e;
      }
      // The blocks held since the first write become the CLOSE's reservation. A write that failed
      // left nothing to log: its LML record is just cancelled.
      const c =
        fd.written > 0
          ? yield* presto_do_close(fset, file.f_dentry, fd, fd.old, fd.lml_offset, e.ctx, p, fd.hold)
          : yield* presto_cancel_lml(fset, fd.lml_offset, fd.hold, p);
      presto_leave(fset, e);
      // A close that could not be logged leaves its LML record: the next mount completes it.
      if (!isErr(c)) yield* presto_truncate_lml(fset, p);
      return isErr(c) ? c : r;
    },
  };
}

type Write = NonNullable<FileOperations['write']>;

function* presto_write(
  fset: Fileset,
  fd: PrestoFileData,
  file: File,
  data: Uint8Array,
  pos: number,
  p: Process,
  write: Write,
): Sys<number | Errno> {
  if (fd.lml_offset < 0) {
    const at = yield* presto_first_write(fset, fd, file, p);
    if (isErr(at)) return at;
  }
  const n = yield* write(file, data, pos, p);
  if (isErr(n)) return n;
  fd.written += n;
  fd.sinceClose += n;
  if ((fset.flags & FSET_JCLOSE_ON_WRITE) !== 0 && fd.sinceClose >= fset.file_maxio) {
    // A long-open file still propagates: log an interim CLOSE (the LML record stays). One the
    // disk has no room for is skipped: the close at release covers these bytes too.
    const c = yield* presto_do_close(fset, file.f_dentry, fd, fd.old, -1, { flags: 1 }, p);
    if (!isErr(c)) {
      fd.old = presto_getversion(file.f_inode);
      fd.sinceClose = 0;
    }
  }
  return n;
}

/**
 * Before a file's first write: hold the blocks its CLOSE will need, then write its pending-close
 * record to the LML (its own transaction). ENOSPC, with nothing written or held, if either cannot
 * be had.
 */
function* presto_first_write(fset: Fileset, fd: PrestoFileData, file: File, p: Process): Sys<0 | Errno> {
  const path = presto_path(file.f_dentry, fset.root);
  const hold = presto_log_blocks(kml_size('CLOSE', fd.creds.groups.length, [path]), fset.cache.sb.s_blocksize);
  const h = presto_hold_close(fset.cache, hold);
  if (isErr(h)) return h;
  const inode = file.f_inode;
  const rec = {
    ...fd.creds,
    recno: 0,
    time: 0,
    body: {
      op: 'LML_CLOSE' as const,
      new_object: presto_getversion(inode),
      ino: inode.i_ino,
      generation: inode.i_generation,
      remote_ino: 0,
      remote_generation: 0,
      remote_version: ZERO_VERSION,
      lml_offset: 0,
      path,
    },
  };
  const space = { writes: () => [{ fd: fset.lml, pos: fset.lml.offset, len: kml_record_size(rec) }] };
  const at = yield* presto_in_trans(fset, 'lml', () => presto_write_lml_close(fset, rec, p), space);
  if (isErr(at)) {
    presto_release_close(fset.cache, hold);
    return at;
  }
  fd.lml_offset = at;
  fd.hold = hold;
  return 0;
}
