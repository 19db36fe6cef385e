/**
 * replay.ts: presto-level replay between two hosts of one world, without lento or a network: read
 * one host's KML, replay it into another's fileset with REINTKML, and answer the replay's upcalls
 * (BACKFETCH, OPEN: the peer's file read by inode and generation, as lento's fetch server would;
 * PERMIT: granted). A test double for the tests of presto's replay, conflict checks and data on
 * demand; the real thing is lento (src/lento/), tested in test/src/lento/. It reads and replays
 * through lento's own handle on a fileset (src/lento/fileset.ts), so the ioctls have one home.
 */
import { isErr, type Errno } from '../../kernel/errno.ts';
import { O_RDWR, O_TRUNC, O_WRONLY } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { sys_close, sys_open, sys_read, sys_write } from '../../kernel/syscalls.ts';
import {
  decodeUpcall, encodeReply, izo_fileid_decode, IZO_UPC_BACKFETCH, IZO_UPC_OPEN, presto_ilookup_name,
  type ReintResult,
} from '../../fs/intermezzo/intermezzo_idl.ts';
import { isDamage, type KmlDamage } from '../../fs/intermezzo/kml.ts';
import type { Host } from '../../sim/host.ts';
import { Fset, type LogRecord } from '../../src/lento/fileset.ts';
import { read_file } from '../../src/libc.ts';

export type { LogRecord };

/** Every record of fileset `fset`'s KML on the mount at `mount`, with its logical offset. */
export function* kmlRecords(p: Process, mount: string, fset: string): Sys<{ records: LogRecord[]; damage: KmlDamage | null } | Errno> {
  const f = yield* Fset.open(p, mount, fset);
  if (isErr(f)) return f;
  const end = yield* f.kmlEnd(p);
  const base = yield* f.base(p);
  if (isErr(end) || isErr(base)) {
    yield* f.close();
    return isErr(end) ? end : (base as Errno);
  }
  const records: LogRecord[] = [];
  let damage: KmlDamage | null = null;
  for (let from = base; from < end.offset;) {
    const got = yield* f.readKml(p, from, end.offset, base);
    if (isErr(got)) return got;
    if (isDamage(got)) {
      damage = got;
      break;
    }
    records.push(...got.records);
    if (got.next <= from) break;
    from = got.next;
  }
  yield* f.close();
  return { records, damage };
}

export interface ReplayReport {
  readonly outcomes: ReintResult[];
  /** The errno of a REINTKML that failed outright, if any. */
  readonly errno: Errno | null;
}

/** Replay `records` from peer `uuid` into fileset `fset` at `mount`, stopping at anything but applied/duplicate. */
export function* replayRecords(
  p: Process,
  mount: string,
  fset: string,
  uuid: Uint8Array,
  records: readonly LogRecord[],
  flags = 0,
): Sys<ReplayReport> {
  const f = yield* Fset.open(p, mount, fset);
  if (isErr(f)) return { outcomes: [], errno: f };
  const outcomes: ReintResult[] = [];
  let errno: Errno | null = null;
  for (const r of records) {
    const out = yield* f.reint(p, uuid, r.bytes, r.logical, flags);
    if (isErr(out)) {
      errno = out;
      break;
    }
    outcomes.push(out);
    if (out.kind === 'error') {
      errno = out.errno;
      break;
    }
    if (out.kind !== 'applied' && out.kind !== 'duplicate') break;
  }
  yield* f.close();
  return { outcomes, errno };
}

/** Peer `uuid`'s last applied record number in fileset `fset` at `mount` (0: none). */
export function* lastRcvd(p: Process, mount: string, fset: string, uuid: Uint8Array): Sys<number | Errno> {
  const f = yield* Fset.open(p, mount, fset);
  if (isErr(f)) return f;
  const r = yield* f.rcvd(uuid, p);
  yield* f.close();
  return isErr(r) ? r : (r.rec?.remote_recno ?? 0);
}

export interface Served {
  backfetches: number;
  opens: number;
}

/**
 * Answer the upcalls of `target`'s fileset (at `mount`) forever, as a process registered as lento:
 * BACKFETCH and OPEN fetch the file from `source`'s mount by the inode and generation the upcall
 * names (reading it as `sourceProc`), and fill the local file; anything else is answered 0.
 */
export function serveUpcalls(target: Host, mount: string, fset: string, sourceProc: Process, served: Served): void {
  const p = target.process('replay-lento');
  target.kernel.spawn(p, (function* (): Sys<number> {
    const f = yield* Fset.open(p, mount, fset);
    if (isErr(f)) return 1;
    yield* f.setPid(p, p.pid);
    const dev = yield* sys_open(p, '/dev/intermezzo', O_RDWR);
    if (isErr(dev)) return 1;
    const buf = new Uint8Array(1 << 17);
    for (;;) {
      const n = yield* sys_read(p, dev, buf);
      if (isErr(n)) return 1;
      const u = decodeUpcall(buf.slice(0, n));
      if (typeof u === 'string' || u.async) continue;
      let result = 0;
      if (u.opcode === IZO_UPC_BACKFETCH || u.opcode === IZO_UPC_OPEN) {
        const id = izo_fileid_decode(u.record);
        const data = yield* read_file(sourceProc, `${mount}/${presto_ilookup_name(id.ino, id.generation)}`);
        result = isErr(data) ? data : yield* fill(p, `${mount}${u.path}`, data);
        if (u.opcode === IZO_UPC_BACKFETCH) served.backfetches++;
        else served.opens++;
      }
      yield* sys_write(p, dev, encodeReply(u.opcode, u.unique, result));
    }
  })());
}

function* fill(p: Process, path: string, data: Uint8Array): Sys<number> {
  const fd = yield* sys_open(p, path, O_WRONLY | O_TRUNC);
  if (isErr(fd)) return fd;
  const w = data.length === 0 ? 0 : yield* sys_write(p, fd, data);
  yield* sys_close(p, fd);
  return isErr(w) ? w : 0;
}
