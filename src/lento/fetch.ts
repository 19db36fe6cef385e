/**
 * fetch.ts: file data between peers: serving a peer's BACKFETCH, and fetching a file's bytes for
 * a replayed CLOSE (BACKFETCH upcall) or for a first open on an on-demand replica (OPEN upcall).
 *
 * Layer: user space (lento). Interface: `serveFetch(t, fset, link, req)` reads the file the
 * request names, by inode and generation (presto's `...ino:` names: the exact file, whatever it
 * is called now, ENOENT if it is gone) or, when the inode is unknown, by path, and sends it in
 * FETCH_DATA pieces of at most PIECE bytes; `fetchFile(t, link, id, path)` asks the peer for it
 * and gathers the pieces; `fillFile(t, fset, path, bytes)` writes them into the local file as
 * lento's own write (not logged, no permit). The bytes are gathered whole before anything is
 * written, so a fetch cut short by a broken connection leaves the local file as it was.
 * Invariants: a request is answered exactly once (a last piece, or an error); every piece of one
 * answer carries the request's id; pieces arrive in order (one TCP stream).
 */
import { EIO, ENOENT, errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { O_RDONLY, O_TRUNC, O_WRONLY } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_close, sys_fstat, sys_open, sys_read, sys_write } from '../../kernel/syscalls.ts';
import { presto_ilookup_name, type FileId } from '../../fs/intermezzo/intermezzo_idl.ts';
import type { Fset } from './fileset.ts';
import type { Session } from './session.ts';
import { MSG, type Backfetch, type FetchData } from './wire.ts';

/** Bytes per FETCH_DATA piece (well inside a frame). */
export const PIECE = 128 * 1024;

/** One fetch this side is waiting for. */
export interface Pending {
  readonly pieces: Uint8Array[];
  status: number | null;
  size: number;
}

/** The fetches of one session, by request id (filled by the session's reader). */
export class Fetches {
  private next = 1;
  readonly waiting = new Map<number, Pending>();

  start(): { id: number; pending: Pending } {
    const id = this.next++;
    const pending: Pending = { pieces: [], status: null, size: 0 };
    this.waiting.set(id, pending);
    return { id, pending };
  }

  /** A FETCH_DATA piece arrived: false if nobody asked for it (a protocol error). */
  piece(d: FetchData): boolean {
    const w = this.waiting.get(d.id);
    if (w === undefined) return false;
    if (d.bytes.length > 0) w.pieces.push(d.bytes);
    w.size = d.size;
    if (d.last || d.status !== 0) w.status = d.status;
    return true;
  }
}

/** The path that opens a file by inode and generation, under the mount. */
function byInode(fset: Fset, id: FileId): string {
  return `${fset.mount}/${presto_ilookup_name(id.ino, id.generation)}`;
}

/** A whole file's bytes, read as lento (not logged). */
export function* readAll(t: Process, path: string): Sys<Uint8Array | Errno> {
  const fd = yield* sys_open(t, path, O_RDONLY);
  if (isErr(fd)) return fd;
  const parts: Uint8Array[] = [];
  // One buffer, sized to the file (a byte more, to see its end in one read), no larger than a piece.
  const st = yield* sys_fstat(t, fd);
  const buf = new Uint8Array(isErr(st) ? PIECE : Math.min(PIECE, st.st_size + 1));
  for (;;) {
    const n = yield* sys_read(t, fd, buf);
    if (isErr(n)) {
      yield* sys_close(t, fd);
      return n;
    }
    if (n === 0) break;
    parts.push(buf.slice(0, n));
  }
  yield* sys_close(t, fd);
  return Buffer.concat(parts);
}

/** Answer a peer's BACKFETCH: the file's bytes in pieces, or its errno. The bytes served. */
export function* serveFetch(
  t: Process,
  fset: Fset,
  s: Session,
  req: Backfetch,
): Sys<{ bytes: number; status: Errno | 0 }> {
  const path = req.ino !== 0 ? byInode(fset, { ino: req.ino, generation: req.generation }) : fset.path(req.path);
  const data = yield* readAll(t, path);
  if (isErr(data)) {
    const none = new Uint8Array(0);
    yield* s.send(t, MSG.FETCH_DATA, { id: req.id, status: data, size: 0, offset: 0, bytes: none, last: true });
    return { bytes: 0, status: data };
  }
  let at = 0;
  do {
    const piece = data.subarray(at, at + PIECE);
    const last = at + piece.length >= data.length;
    const size = data.length;
    const r = yield* s.send(t, MSG.FETCH_DATA, { id: req.id, status: 0, size, offset: at, bytes: piece, last });
    if (isErr(r)) return { bytes: at, status: r };
    at += piece.length;
  } while (at < data.length);
  return { bytes: data.length, status: 0 };
}

/** Ask the peer of `s` for a file (by id, else by path) and gather it: the bytes or an errno. */
export function* fetchFile(
  t: Process,
  s: Session,
  fetches: Fetches,
  id: FileId,
  path: string,
): Sys<Uint8Array | Errno> {
  const { id: rid, pending } = fetches.start();
  const sent = yield* s.send(t, MSG.BACKFETCH, { id: rid, ino: id.ino, generation: id.generation, path });
  if (isErr(sent)) {
    fetches.waiting.delete(rid);
    return EIO;
  }
  yield* s.changed.waitUntil(t, () => pending.status !== null || s.dead);
  fetches.waiting.delete(rid);
  if (pending.status === null) return EIO; // the session died: the caller retries after reconnecting
  if (pending.status !== 0) return pending.status as Errno;
  return Buffer.concat(pending.pieces);
}

/** Write fetched bytes into the local file (lento's own write: not logged, no permit needed). */
export function* fillFile(t: Process, fset: Fset, path: string, bytes: Uint8Array): Sys<0 | Errno> {
  const fd = yield* sys_open(t, fset.path(path), O_WRONLY | O_TRUNC);
  if (isErr(fd)) return fd;
  let at = 0;
  let err: Errno | null = null;
  while (at < bytes.length) {
    const n = yield* sys_write(t, fd, bytes.subarray(at, at + PIECE));
    if (isErr(n)) {
      err = n;
      break;
    }
    at += n;
  }
  yield* sys_close(t, fd);
  return err ?? 0;
}

export function statusName(e: number): string {
  return e === 0 ? 'ok' : e === ENOENT ? 'ENOENT (gone)' : errnoName(e as Errno);
}
