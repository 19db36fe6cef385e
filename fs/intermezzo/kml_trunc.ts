/**
 * kml_trunc.ts: cutting the head off a fileset's KML once every peer has read past it (Linux
 * fs/intermezzo/journal.c: presto_kml_truncate, presto_copy_kml_tail, presto_finish_kml_truncate).
 *
 * Layer: fs (presto). Interface: `presto_kml_truncate(fset, p)`, called after each logged change,
 * sends the asynchronous KML_TRUNC upcall (once, until a cut happens) when the kml file has grown
 * past `kml_truncate_size`; user space, which knows what every peer has acknowledged, answers with
 * the SET_KMLSIZE ioctl carrying that logical offset, and `presto_kml_cut(fset, upto, p)` cuts.
 * The cut is a whole number of 64 KiB chunks (records never cross a chunk, so every record after
 * the cut keeps its place in its chunk and its logical offset): in one transaction the tail is
 * copied to the start of the file, the file is truncated to the tail, and the logical offset of
 * byte 0 (the all-zero-uuid last_rcvd record) grows by the cut. (The original copied the tail to
 * a new file and renamed it over the kml; one file rewritten in one transaction is equivalent.)
 * Invariants: logical offsets and record numbers handed out before a cut stay valid after it; a
 * crash leaves either the old log and offset or the new ones.
 */
import { isErr, type Errno } from '../../kernel/errno.ts';
import { ATTR_SIZE } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import { EMPTY_BODY, izo_upc_upcall, IZO_UPC_KML_TRUNC } from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import type { Fileset } from './intermezzo_fs.ts';
import { log_read_all, presto_write_kml_logical_offset } from './journal.ts';
import { noblock, presto_in_trans } from './journal_ops.ts';
import { KML_CHUNK_SIZE } from './kml.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'presto.kml_trunc': { fset: string; cut: number; logical_off: number; kept: number };
  }
}

/** Ask user space to cut the head when the KML has outgrown its limit. */
export function* presto_kml_truncate(fset: Fileset, p: Process): Sys<0 | Errno> {
  const limit = fset.kml_truncate_size;
  if (limit === 0 || fset.kml.offset <= limit || fset.truncating || fset.channel.openCount === 0) return 0;
  fset.truncating = true;
  const body = {
    ...EMPTY_BODY,
    pid: p.pid,
    fset: fset.name,
    offset: fset.kml_logical_off,
    length: fset.kml.offset,
    lastRecno: fset.kml.recno,
  };
  const r = yield* izo_upc_upcall(fset.psdev, fset.channel, IZO_UPC_KML_TRUNC, body, { async: true });
  return isErr(r) ? r : 0;
}

/** Cut the KML's head up to logical offset `upto` (rounded down to a chunk), in one transaction. */
export function* presto_kml_cut(fset: Fileset, upto: number, p: Process): Sys<0 | Errno> {
  const fd = fset.kml;
  const physical = Math.min(upto - fset.kml_logical_off, fd.offset);
  const cut = Math.floor(physical / KML_CHUNK_SIZE) * KML_CHUNK_SIZE;
  if (cut <= 0) {
    // Nothing every peer has read yet fills a chunk: the answer ends this round; the next append
    // past the limit asks again (otherwise one early answer would silence KML_TRUNC for good).
    fset.truncating = false;
    return 0;
  }
  const buf = yield* log_read_all(fd.file, p);
  if (isErr(buf)) return buf;
  const end = fd.offset;
  const tail = buf.slice(cut, end);
  const write = fd.file.f_op.write;
  const setattr = fset.cache.filter.c2c_iops(fd.file.f_inode).setattr;
  if (write === undefined || setattr === undefined) return 0;
  // Copying the tail to the start fills the holes chunk boundaries left there: reserve for them.
  const space = { writes: () => [{ fd, pos: 0, len: tail.length }], reserve: true };
  let raced = false;
  const r = yield* presto_in_trans(fset, 'kml_trunc', function* () {
    // Records appended while this waited for its transaction are not in the tail read above:
    // cutting now would drop them (zeros where they were, read as padding). Give up this round.
    if (fd.offset !== end) {
      raced = true;
      return 0;
    }
    if (tail.length > 0) {
      const w = noblock(write(fd.file, tail, 0, p), 'kml tail copy');
      if (isErr(w)) return w;
    }
    const t = noblock(setattr(fd.file.f_dentry, { ia_valid: ATTR_SIZE, ia_size: tail.length }, p), 'kml cut');
    if (isErr(t)) return t;
    fset.kml_logical_off += cut;
    const z = yield* presto_write_kml_logical_offset(fset, p);
    if (isErr(z)) {
      fset.kml_logical_off -= cut;
      return z;
    }
    // In the same step as the copy: the next append goes after the tail, where it now ends.
    fd.offset -= cut;
    fset.lento_off = Math.max(0, fset.lento_off - cut);
    return 0;
  }, space);
  fset.truncating = false;
  if (isErr(r)) return r;
  if (raced) return 0; // the next append past the limit asks again
  fset.cache.sb.s_kernel.tracer.emit('presto.kml_trunc', {
    fset: fset.name,
    cut,
    logical_off: fset.kml_logical_off,
    kept: tail.length,
  });
  return 0;
}
