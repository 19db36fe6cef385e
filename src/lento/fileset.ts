/**
 * fileset.ts: lento's handle on its fileset: the presto ioctls it issues and the logs it reads,
 * all through system calls on its own kernel.
 *
 * Layer: user space (lento). Interface: `Fset.open(p, mount, name)` opens the fileset's root
 * directory (every presto ioctl is issued on it); then `kmlSize`, `rcvd(uuid)` (a peer's last_rcvd
 * record and slot), `base()` (the logical offset of the kml file's byte 0, in the all-zero-uuid
 * record), `reint(uuid, bytes, offset, flags)` (REINTKML: replay one record), `setKmlSize`,
 * `cut(offset)`, `revokePermit`, `setPid`, `markFset`, `markDentry`, `setFileId`, `sync` (commit
 * what was applied before acknowledging it), and `readKml(from, budget)`: the whole records of the
 * KML from a logical offset, read with pread from the kml file (the original lento read the kml
 * file itself too), skipping the zero padding at chunk ends.
 * Invariants: readKml returns only whole records, in order, each with its logical offset; it never
 * reads past the end presto reported, so a record being written is never half-read.
 */
import { isErr, type Errno } from '../../kernel/errno.ts';
import { O_DIRECTORY, O_RDONLY } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_close, sys_fsync, sys_ioctl, sys_open, sys_pread } from '../../kernel/syscalls.ts';
import {
  IZO_IOC_GET_KML_SIZE, IZO_IOC_GET_RCVD, IZO_IOC_MARK, IZO_IOC_REINTKML, IZO_IOC_REVOKE_PERMIT, IZO_IOC_SET_FILEID,
  IZO_IOC_SET_KMLSIZE, IZO_IOC_SET_PID, MARK_DENTRY, MARK_FSET, type IzoIoctlData, type ReintResult,
} from '../../fs/intermezzo/intermezzo_idl.ts';
import {
  isDamage, kml_decode, KML_CHUNK_SIZE, type KmlDamage, type KmlRecord, type RcvdRecord,
} from '../../fs/intermezzo/kml.ts';

export const ZERO_UUID = new Uint8Array(16);

/** One record of a KML as lento reads it. */
export interface LogRecord {
  readonly logical: number;
  readonly bytes: Uint8Array;
  readonly rec: KmlRecord;
}

export interface KmlEnd {
  /** Logical offset just past the last record. */
  readonly offset: number;
  readonly recno: number;
}

export class Fset {
  private constructor(
    readonly p: Process,
    readonly mount: string,
    readonly name: string,
    /** The fileset root directory, opened O_DIRECTORY: where ioctls go. */
    readonly dirFd: number,
    /** The kml file, opened read-only. */
    readonly kmlFd: number,
  ) {}

  static *open(p: Process, mount: string, name: string): Sys<Fset | Errno> {
    const dirFd = yield* sys_open(p, mount, O_RDONLY | O_DIRECTORY);
    if (isErr(dirFd)) return dirFd;
    const kmlFd = yield* sys_open(p, `${mount}/.intermezzo/${name}/kml`, O_RDONLY);
    if (isErr(kmlFd)) {
      yield* sys_close(p, dirFd);
      return kmlFd;
    }
    return new Fset(p, mount, name, dirFd, kmlFd);
  }

  *close(): Sys<void> {
    yield* sys_close(this.p, this.kmlFd);
    yield* sys_close(this.p, this.dirFd);
  }

  /** A path inside the mount for a fileset path ("/a/b" -> "/izo/a/b"). */
  path(rel: string): string {
    return rel === '/' ? this.mount : `${this.mount}${rel}`;
  }

  /** This fileset's own files under /.intermezzo/<fset>/ (lento's state lives there too). */
  izoPath(leaf: string): string {
    return `${this.mount}/.intermezzo/${this.name}/${leaf}`;
  }

  /** Issue a presto ioctl for this fileset; its outputs land in `data` (as copy_to_user would). */
  private *ioctl(p: Process, cmd: number, data: IzoIoctlData): Sys<number | Errno> {
    data.fset = this.name;
    return yield* sys_ioctl(p, this.dirFd, cmd, data);
  }

  *kmlEnd(p: Process = this.p): Sys<KmlEnd | Errno> {
    const data: IzoIoctlData = {};
    const r = yield* this.ioctl(p, IZO_IOC_GET_KML_SIZE, data);
    if (isErr(r)) return r;
    return { offset: data.kml_size ?? 0, recno: data.recno ?? 0 };
  }

  *rcvd(uuid: Uint8Array, p: Process = this.p): Sys<{ rec: RcvdRecord | null; slot: number } | Errno> {
    const data: IzoIoctlData = { uuid };
    const r = yield* this.ioctl(p, IZO_IOC_GET_RCVD, data);
    if (isErr(r)) return r;
    return { rec: data.rcvd ?? null, slot: data.slot ?? -1 };
  }

  /** The logical offset of the kml file's first byte. */
  *base(p: Process = this.p): Sys<number | Errno> {
    const z = yield* this.rcvd(ZERO_UUID, p);
    return isErr(z) ? z : (z.rec?.local_offset ?? 0);
  }

  /** REINTKML: replay one whole record from peer `uuid`; its outcome (or the ioctl's errno). */
  *reint(p: Process, uuid: Uint8Array, bytes: Uint8Array, offset: number, flags: number): Sys<ReintResult | Errno> {
    const data: IzoIoctlData = { uuid, record: bytes, offset, flags };
    const r = yield* this.ioctl(p, IZO_IOC_REINTKML, data);
    if (data.reint !== undefined) return data.reint;
    return isErr(r) ? r : { kind: 'bad_record', reason: 'REINTKML reported nothing' };
  }

  *setKmlSize(p: Process, limit: number): Sys<number | Errno> {
    return yield* this.ioctl(p, IZO_IOC_SET_KMLSIZE, { kml_size: limit });
  }

  /** Cut the KML's head up to logical offset `upto` (whole chunks; every peer has read past it). */
  *cut(p: Process, upto: number): Sys<number | Errno> {
    return yield* this.ioctl(p, IZO_IOC_SET_KMLSIZE, { offset: upto });
  }

  *revokePermit(p: Process): Sys<number | Errno> {
    return yield* this.ioctl(p, IZO_IOC_REVOKE_PERMIT, {});
  }

  /** Register `pid` as lento (its calls are lento's own: no permit, not logged). */
  *setPid(p: Process, pid: number): Sys<number | Errno> {
    return yield* this.ioctl(p, IZO_IOC_SET_PID, { pid });
  }

  /** Fileset flags: `(flags & and) | or`; the resulting flags. */
  *markFset(p: Process, or: number, and = 0xffffffff): Sys<number | Errno> {
    const data: IzoIoctlData = { mark_what: MARK_FSET, or_flag: or, and_flag: and };
    const r = yield* this.ioctl(p, IZO_IOC_MARK, data);
    return isErr(r) ? r : (data.flags ?? 0);
  }

  *markDentry(p: Process, path: string, or: number, and = 0xffffffff): Sys<number | Errno> {
    const data: IzoIoctlData = { mark_what: MARK_DENTRY, path, or_flag: or, and_flag: and };
    const r = yield* this.ioctl(p, IZO_IOC_MARK, data);
    return isErr(r) ? r : (data.flags ?? 0);
  }

  *setFileId(p: Process, path: string, ino: number, generation: number): Sys<number | Errno> {
    return yield* this.ioctl(p, IZO_IOC_SET_FILEID, { path, ino, generation });
  }

  /** Make everything applied so far durable (ext3 commits its journal): before acknowledging it. */
  *sync(p: Process): Sys<0 | Errno> {
    return yield* sys_fsync(p, this.dirFd);
  }

  /**
   * The whole records from logical offset `from` up to `end` (as kmlEnd reported it), reading at
   * most to the end of `from`'s 64 KiB chunk (records never cross one): the records, and where the
   * next read starts. Damage in the log is reported, never guessed past.
   */
  *readKml(
    p: Process,
    from: number,
    end: number,
    base: number,
  ): Sys<{ records: LogRecord[]; next: number } | KmlDamage | Errno> {
    const phys = from - base;
    if (phys < 0) return { offset: from, reason: `offset ${from} was cut off the log (it starts at ${base})` };
    const chunkEnd = (Math.floor(phys / KML_CHUNK_SIZE) + 1) * KML_CHUNK_SIZE;
    const stop = Math.min(end - base, chunkEnd);
    if (stop <= phys) return { records: [], next: from };
    const buf = new Uint8Array(stop - phys);
    const n = yield* sys_pread(p, this.kmlFd, buf, phys);
    if (isErr(n)) return n;
    return scanWindow(buf.subarray(0, n), from, stop - phys === n && stop === chunkEnd);
  }
}

/** The records in a window of the log starting at logical `from`; `chunkDone`: the window ends a chunk. */
function scanWindow(
  buf: Uint8Array,
  from: number,
  chunkDone: boolean,
): { records: LogRecord[]; next: number } | KmlDamage {
  const records: LogRecord[] = [];
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let at = 0;
  while (at + 4 <= buf.length) {
    if (view.getUint32(at, true) === 0) {
      at += 4; // padding before a chunk boundary
      continue;
    }
    const d = kml_decode(buf, at);
    if (isDamage(d)) return { offset: from + d.offset, reason: d.reason };
    records.push({ logical: from + at, bytes: buf.slice(at, at + d.len), rec: d.rec });
    at += d.len;
  }
  return { records, next: chunkDone ? from + buf.length : from + at };
}
