/**
 * state.ts: what lento keeps on disk, in files of its own under `/.intermezzo/<fset>/` (beside
 * presto's kml, lml and last_rcvd), so that a restarted lento resumes where it was.
 *
 * Layer: user space (lento). Interface: `LentoState.load(t, fset)` reads them; `ack` notes in
 * memory how far a peer has acknowledged our log, and `savePeers` rewrites `lento.peers` with each
 * peer's name, uuid and acknowledged place (which bounds KML truncation: a peer that has not
 * reconnected since a restart still holds its place). lento saves it before it cuts the KML and when
 * it stops, not at every acknowledgement: a file behind memory only makes a restarted lento cut less;
 * `fileids` (`lento.fileids`: for files of an on-demand replica whose data is not here yet, the
 * server's inode and generation, restored with SET_FILEID after a remount so a later open fetches
 * the exact version); `park` appends a conflicting record to `lento.parked` and makes it durable
 * before lento moves past it (nothing is lost); `audit` appends to `lento.audit` every version a
 * conflict policy discarded on this node (who, when, which policy, the bytes), durably, before the
 * replay that discards it (`izo conflicts IMAGE` lists it). Files are JSON text, one object per line, so
 * `debugfs cat` shows them. A whole-file update writes `NAME.tmp`, then renames it over `NAME`
 * (atomic in ext3); losing the newest update in a crash only makes lento more cautious (it cuts
 * less of the KML, or fetches a file by name), never wrong.
 * Invariants: a record is parked, and a discarded version audited, durably before the replay
 * that skips or overwrites it; what a
 * damaged state file says is ignored (with a trace), never trusted.
 */
import { isErr, type Errno } from '../../kernel/errno.ts';
import { O_APPEND, O_CREAT, O_RDONLY, O_TRUNC, O_WRONLY } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_close, sys_fsync, sys_open, sys_read, sys_rename, sys_write } from '../../kernel/syscalls.ts';
import type { Fset } from './fileset.ts';

export interface PeerRecordJson {
  readonly name: string;
  readonly uuid: string;
  /** The last of our records the peer acknowledged (applied and durable there), and its offset. */
  readonly acked_recno: number;
  readonly acked_offset: number;
}

export interface FileIdJson {
  /** The local file: its path in the fileset and inode number when the record was replayed. */
  readonly path: string;
  readonly ino: number;
  readonly mtime: number;
  readonly size: number;
  /** Where its data is: the server's inode and generation. */
  readonly remote_ino: number;
  readonly remote_generation: number;
}

export interface ParkedJson {
  readonly from: string;
  readonly recno: number;
  readonly offset: number;
  readonly cls: string;
  readonly path: string;
  readonly reason: string;
  /** The record itself, hex. */
  readonly record: string;
}

/** One version as the audit log keeps it. */
export interface AuditVersionJson {
  readonly node: string;
  readonly side: string;
  /** mtime as `SEC.NSEC` on the clock of the node that made it; size in bytes. */
  readonly mtime: string;
  readonly size: number;
  /** The bytes, hex; null when they are not on this node (`where` says which node keeps them). */
  readonly bytes: string | null;
  readonly where: string;
}

/** What a conflict policy did on this node: the version it discarded, and the one it kept. */
export interface AuditJson {
  readonly node: string;
  /** This node's real-time clock when it decided, µs. */
  readonly when: number;
  readonly policy: string;
  readonly cls: string;
  readonly op: string;
  readonly path: string;
  /** The record that conflicted: its sender and number there. */
  readonly from: string;
  readonly recno: number;
  readonly kept: AuditVersionJson | null;
  readonly discarded: AuditVersionJson;
  /** Where the discarded version lives on as a file (keep-both), or ''. */
  readonly copy: string;
}

function* readText(t: Process, path: string): Sys<string | Errno> {
  const fd = yield* sys_open(t, path, O_RDONLY);
  if (isErr(fd)) return fd;
  const parts: string[] = [];
  const buf = new Uint8Array(16384);
  for (;;) {
    const n = yield* sys_read(t, fd, buf);
    if (isErr(n) || n === 0) break;
    parts.push(Buffer.from(buf.subarray(0, n)).toString('latin1'));
  }
  yield* sys_close(t, fd);
  return parts.join('');
}

function* writeAll(t: Process, fd: number, text: string): Sys<0 | Errno> {
  const bytes = Uint8Array.from(Buffer.from(text, 'latin1'));
  let at = 0;
  while (at < bytes.length) {
    const n = yield* sys_write(t, fd, bytes.subarray(at));
    if (isErr(n)) return n;
    at += n;
  }
  return 0;
}

/** Lines that parse as JSON objects; the others are dropped (damage is never trusted). */
function parseLines<T>(text: string): T[] {
  const out: T[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null) out.push(v as T);
    } catch {
      // a torn last line after a crash: ignored
    }
  }
  return out;
}

export class LentoState {
  peers: PeerRecordJson[] = [];
  fileids: FileIdJson[] = [];
  parked: ParkedJson[] = [];
  /** Acknowledgements noted in memory and not yet in `lento.peers`. */
  private peersDirty = false;

  private constructor(private readonly fset: Fset) {}

  static *load(t: Process, fset: Fset): Sys<LentoState> {
    const s = new LentoState(fset);
    const read = function* (leaf: string): Sys<string> {
      const text = yield* readText(t, fset.izoPath(leaf));
      return isErr(text) ? '' : text;
    };
    s.peers = parseLines<PeerRecordJson>(yield* read('lento.peers'));
    s.fileids = parseLines<FileIdJson>(yield* read('lento.fileids'));
    s.parked = parseLines<ParkedJson>(yield* read('lento.parked'));
    return s;
  }

  /** Rewrite one state file whole (temporary file, then rename). */
  private *rewrite(t: Process, leaf: string, lines: readonly object[]): Sys<0 | Errno> {
    const tmp = this.fset.izoPath(`${leaf}.tmp`);
    const fd = yield* sys_open(t, tmp, O_WRONLY | O_CREAT | O_TRUNC, 0o600);
    if (isErr(fd)) return fd;
    const w = yield* writeAll(t, fd, lines.map((l) => JSON.stringify(l) + '\n').join(''));
    yield* sys_close(t, fd);
    if (isErr(w)) return w;
    return yield* sys_rename(t, tmp, this.fset.izoPath(leaf));
  }

  /** Note that `name` acknowledged our log up to `recno` at `offset` (only ever forward). */
  ack(name: string, uuid: string, recno: number, offset: number): void {
    const old = this.peers.find((x) => x.uuid === uuid);
    if (old !== undefined && old.acked_recno >= recno) return;
    const rec = { name, uuid, acked_recno: recno, acked_offset: offset };
    this.peers = [...this.peers.filter((x) => x.uuid !== uuid), rec];
    this.peersDirty = true;
  }

  /** Write the acknowledgements noted since the last save to `lento.peers`. */
  *savePeers(t: Process): Sys<0 | Errno> {
    if (!this.peersDirty) return 0;
    const r = yield* this.rewrite(t, 'lento.peers', this.peers);
    if (!isErr(r)) this.peersDirty = false;
    return r;
  }

  ackedBy(uuid: string): PeerRecordJson | undefined {
    return this.peers.find((x) => x.uuid === uuid);
  }

  *setFileId(t: Process, id: FileIdJson): Sys<0 | Errno> {
    this.fileids = [...this.fileids.filter((x) => x.path !== id.path), id];
    return yield* this.rewrite(t, 'lento.fileids', this.fileids);
  }

  *dropFileId(t: Process, path: string): Sys<0 | Errno> {
    if (!this.fileids.some((x) => x.path === path)) return 0;
    this.fileids = this.fileids.filter((x) => x.path !== path);
    return yield* this.rewrite(t, 'lento.fileids', this.fileids);
  }

  /** Keep a conflicting record, durably, before lento moves past it. */
  *park(t: Process, rec: ParkedJson): Sys<0 | Errno> {
    const r = yield* this.appendLine(t, 'lento.parked', rec);
    if (r === 0) this.parked.push(rec);
    return r;
  }

  /** Forget the parked records of `path` (repaired), rewriting the file whole. */
  *unpark(t: Process, path: string): Sys<0 | Errno> {
    if (!this.parked.some((x) => x.path === path)) return 0;
    this.parked = this.parked.filter((x) => x.path !== path);
    return yield* this.rewrite(t, 'lento.parked', this.parked);
  }

  /** Keep a version a policy discards, durably, before it is discarded. */
  *audit(t: Process, entry: AuditJson): Sys<0 | Errno> {
    return yield* this.appendLine(t, 'lento.audit', entry);
  }

  private *appendLine(t: Process, leaf: string, line: object): Sys<0 | Errno> {
    const fd = yield* sys_open(t, this.fset.izoPath(leaf), O_WRONLY | O_CREAT | O_APPEND, 0o600);
    if (isErr(fd)) return fd;
    const w = yield* writeAll(t, fd, JSON.stringify(line) + '\n');
    const s = isErr(w) ? w : yield* sys_fsync(t, fd);
    yield* sys_close(t, fd);
    return isErr(s) ? s : 0;
  }
}

