/**
 * replicate.ts: the smallest user space that replicates a fileset through the KML alone: read a
 * peer's kml file, replay its records one by one into a local fileset with the REINTKML ioctl, and
 * answer the upcalls the replay raises (BACKFETCH: fetch the file's bytes from the peer by inode
 * number and generation; PERMIT: grant; OPEN: fetch like BACKFETCH).
 *
 * Layer: user space (a stand-in for lento's reintegration and backfetch paths, used by tests and
 * the demonstration; the full lento, with the network, comes later). Interface:
 * `peerKml(p, mountDir, fset)` reads a fileset's KML records through the mount;
 * `inodeSource(p, dir)` reads a peer's file by inode through presto's `...ino:` names;
 * `lento_serve(p, dev, fsetRoot, source)` answers upcalls on /dev/intermezzo until told to stop;
 * `replay_records(p, dir, uuid, records, flags)` replays records and reports each outcome.
 * It talks to its kernel only through system calls, ioctls and the psdev channel.
 * Invariants: records are replayed in recno order; an outcome other than applied or duplicate
 * stops the replay (the caller decides what a conflict means).
 */
import { isErr, ENOENT, type Errno } from '../kernel/errno.ts';
import { O_CREAT, O_DIRECTORY, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from '../kernel/fs.ts';
import type { Process } from '../kernel/process.ts';
import {
  decodeUpcall, encodeReply, izo_fileid_decode, IZO_UPC_BACKFETCH, IZO_UPC_OPEN, IZO_UPC_PERMIT, type Upcall,
} from '../fs/intermezzo/psdev.ts';
import type { Sys } from '../kernel/sched.ts';
import { sys_close, sys_ioctl, sys_open, sys_read, sys_write } from '../kernel/syscalls.ts';
import { presto_ilookup_name } from '../fs/intermezzo/dir.ts';
import { IZO_IOC_GET_RCVD, IZO_IOC_REINTKML, IZO_IOC_SET_PID, type IzoIoctlData } from '../fs/intermezzo/ioctl.ts';
import { kml_scan, type KmlDamage, type ScannedRecord } from '../fs/intermezzo/kml.ts';
import type { ReintResult } from '../fs/intermezzo/kml_reint.ts';

/** One record of a peer's log, with its bytes and logical offset. */
export interface PeerRecord extends ScannedRecord {
  readonly bytes: Uint8Array;
  readonly logical: number;
}

export function* readFile(p: Process, path: string): Sys<Uint8Array | Errno> {
  const fd = yield* sys_open(p, path, O_RDONLY);
  if (isErr(fd)) return fd;
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const buf = new Uint8Array(65536);
    const n = yield* sys_read(p, fd, buf);
    if (isErr(n)) {
      yield* sys_close(p, fd);
      return n;
    }
    if (n === 0) break;
    parts.push(buf.subarray(0, n));
    total += n;
  }
  yield* sys_close(p, fd);
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

function join(dir: string, rel: string): string {
  const d = dir.endsWith('/') ? dir.slice(0, -1) : dir;
  return `${d}${rel.startsWith('/') ? rel : `/${rel}`}`;
}

/** The records of fileset `fset`'s KML on the mount at `mountDir`, with their logical offsets. */
export function* peerKml(
  p: Process,
  mountDir: string,
  fset: string,
): Sys<{ records: PeerRecord[]; damage: KmlDamage | null } | Errno> {
  const bytes = yield* readFile(p, join(mountDir, `.intermezzo/${fset}/kml`));
  if (isErr(bytes)) return bytes;
  // The logical offset of the file's byte 0 lives in the all-zero-uuid last_rcvd record.
  const zero = yield* last_rcvd(p, mountDir, new Uint8Array(16), fset);
  if (isErr(zero)) return zero;
  const base = zero?.local_offset ?? 0;
  const scan = kml_scan(bytes);
  const records = scan.records.map((r) => ({
    ...r,
    bytes: bytes.slice(r.offset, r.offset + r.len),
    logical: base + r.offset,
  }));
  return { records, damage: scan.damage };
}

/** Where BACKFETCH gets a file's bytes: the peer's file of that inode and generation, now. */
export interface BackfetchSource {
  fetch(ino: number, generation: number): Sys<Uint8Array | Errno>;
}

/** A peer reachable directly (same simulated world): its process reads by inode under `dir`. */
export function inodeSource(peer: Process, dir: string): BackfetchSource {
  return {
    fetch: (ino, generation) => readFile(peer, join(dir, presto_ilookup_name(ino, generation))),
  };
}

export interface ServeStats {
  backfetches: number;
  opens: number;
  permits: number;
  stop: boolean;
}

/** Fetch the peer's bytes into the local file (lento's own write: not logged, no permit). */
function* fill(p: Process, path: string, source: BackfetchSource, u: Upcall): Sys<number> {
  const id = izo_fileid_decode(u.record);
  const data = yield* source.fetch(id.ino, id.generation);
  if (isErr(data)) return data === ENOENT ? ENOENT : data;
  const fd = yield* sys_open(p, path, O_WRONLY | O_TRUNC | O_CREAT, 0o600);
  if (isErr(fd)) return fd;
  const w = data.length === 0 ? 0 : yield* sys_write(p, fd, data);
  yield* sys_close(p, fd);
  return isErr(w) ? w : 0;
}

/**
 * Register `p` as lento (SET_PID on `fsetRoot`), open `dev` and answer upcalls until
 * `stats.stop` is set and a request arrives (or forever: a sleeping reader costs nothing).
 */
export function* lento_serve(
  p: Process,
  dev: string,
  fsetRoot: string,
  source: BackfetchSource,
  stats: ServeStats,
): Sys<number> {
  const dfd = yield* sys_open(p, fsetRoot, O_RDONLY | O_DIRECTORY);
  if (isErr(dfd)) return 1;
  const set: IzoIoctlData = { pid: p.pid };
  yield* sys_ioctl(p, dfd, IZO_IOC_SET_PID, set);
  yield* sys_close(p, dfd);
  const fd = yield* sys_open(p, dev, O_RDWR);
  if (isErr(fd)) return 1;
  const buf = new Uint8Array(1 << 17);
  while (!stats.stop) {
    const n = yield* sys_read(p, fd, buf);
    if (isErr(n)) break;
    const u = decodeUpcall(buf.slice(0, n));
    if (typeof u === 'string') break;
    if (u.async) continue;
    let result = 0;
    if (u.opcode === IZO_UPC_BACKFETCH || u.opcode === IZO_UPC_OPEN) {
      result = yield* fill(p, join(fsetRoot, u.path), source, u);
      if (u.opcode === IZO_UPC_BACKFETCH) stats.backfetches++;
      else stats.opens++;
    } else if (u.opcode === IZO_UPC_PERMIT) {
      stats.permits++;
    }
    yield* sys_write(p, fd, encodeReply(u.opcode, u.unique, result));
  }
  yield* sys_close(p, fd);
  return 0;
}

export interface ReplayReport {
  readonly outcomes: ReintResult[];
  /** The errno of a REINTKML that failed outright, if any. */
  readonly errno: Errno | null;
}

/** Replay `records` from peer `uuid` into the fileset of directory `dir`, stopping at trouble. */
export function* replay_records(
  p: Process,
  dir: string,
  uuid: Uint8Array,
  records: readonly PeerRecord[],
  flags = 0,
): Sys<ReplayReport> {
  const fd = yield* sys_open(p, dir, O_RDONLY | O_DIRECTORY);
  if (isErr(fd)) return { outcomes: [], errno: fd };
  const outcomes: ReintResult[] = [];
  let errno: Errno | null = null;
  for (const r of records) {
    const data: IzoIoctlData = { uuid, record: r.bytes, offset: r.logical, flags };
    const rc = yield* sys_ioctl(p, fd, IZO_IOC_REINTKML, data);
    if (data.reint !== undefined) outcomes.push(data.reint);
    if (isErr(rc)) {
      errno = rc;
      break;
    }
    const kind = data.reint?.kind;
    if (kind !== 'applied' && kind !== 'duplicate') break;
  }
  yield* sys_close(p, fd);
  return { outcomes, errno };
}

/** Peer `uuid`'s last_rcvd record in the fileset of `dir` (or fileset `fset`). */
export function* last_rcvd(
  p: Process,
  dir: string,
  uuid: Uint8Array,
  fset?: string,
): Sys<IzoIoctlData['rcvd'] | Errno> {
  const fd = yield* sys_open(p, dir, O_RDONLY | O_DIRECTORY);
  if (isErr(fd)) return fd;
  const data: IzoIoctlData = { uuid, ...(fset === undefined ? {} : { fset }) };
  const rc = yield* sys_ioctl(p, fd, IZO_IOC_GET_RCVD, data);
  yield* sys_close(p, fd);
  return isErr(rc) ? rc : (data.rcvd ?? null);
}
