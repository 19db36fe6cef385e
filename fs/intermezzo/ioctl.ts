/**
 * ioctl.ts: presto's ioctls, issued by lento and the izo tools on a directory inside an InterMezzo
 * mount (Linux fs/intermezzo/dir.c's presto_ioctl, and intermezzo_psdev.h's IZO_IOC_* numbers).
 *
 * Layer: fs (presto). Interface: `presto_ioctl_fops(kind)` adds the ioctl entry to directories;
 * the command numbers are the original's `_IOW('p', nr, void *)` values; the argument is an
 * `IzoIoctlData` object (the model's stand-in for the original's packed `izo_ioctl_data`): the
 * caller fills the inputs a command reads and the command fills the outputs (as copy_to_user did).
 * The fileset is the one named by `fset`, else the one the directory belongs to. Only root (or
 * the cache's `ioctl_uid`, the original's configurable owner) may issue them: EPERM otherwise; an
 * unknown command is ENOTTY; a missing fileset ENOENT.
 * Commands: REINTKML replays one record (kml_reint.ts) and reports its outcome in `reint`;
 * GET_RCVD reads a peer's last_rcvd record; GET_KML_SIZE the KML's logical end and last recno;
 * MARK changes or reads dentry, fileset or cache flags (`(flags & and) | or`); SET_FSET makes the
 * directory the root of a new fileset (or sets an existing one's flags); CLEAR_FSET closes one;
 * CONNECT, GO_FETCH_KML, REPSTATUS and GET_FILEID pass a request to lento as upcalls;
 * REVOKE_PERMIT gives the permit back; SET_KMLSIZE sets the size past which the KML is truncated;
 * SET_FILEID records a file's remote inode and generation; ADJUST_LML cancels an LML record and
 * trims the log; SET_PID registers a lento process (or removes one); SET_CHANNEL moves the cache to
 * another psdev channel.
 */
import { EINVAL, ENOENT, ENOTTY, EPERM, isErr, type Errno } from '../../kernel/errno.ts';
import type { InodeKind } from '../../kernel/filter.ts';
import type { File, FileOperations, Inode } from '../../kernel/fs.ts';
import { LOOKUP_FOLLOW, path_lookup } from '../../kernel/namei.ts';
import type { Process } from '../../kernel/process.ts';
import {
  EMPTY_BODY,
  IZO_UPC_CONNECT,
  IZO_UPC_GET_FILEID,
  IZO_UPC_GO_FETCH_KML,
  IZO_UPC_REPSTATUS,
  izo_upc_upcall,
  MAX_CHANNELS,
  type UpcallBody,
} from './psdev.ts';
import type { Sys } from '../../kernel/sched.ts';
import { izo_cleanup_fileset, izo_make_fileset } from './fileset.ts';
import {
  MARK_CACHE,
  MARK_DENTRY,
  MARK_FSET,
  MARK_GETFL,
  presto_d2d,
  presto_fset,
  presto_get_cache,
  presto_path,
  type Fileset,
  type PrestoCache,
} from './intermezzo_fs.ts';
import { izo_rcvd_get, izo_rcvd_slot, presto_clear_lml_close, presto_truncate_lml, ZERO_UUID } from './journal.ts';
import { presto_in_trans } from './journal_ops.ts';
import { kml_reint, presto_fset_process, type ReintResult } from './kml_reint.ts';
import type { RcvdRecord } from './kml.ts';
import { presto_kml_cut } from './kml_trunc.ts';
import { presto_revoke_permit } from './permit.ts';

const IOW = (nr: number): number => (0x40047000 | nr) >>> 0;

export const IZO_IOC_REINTKML = IOW(0x51);
export const IZO_IOC_GET_RCVD = IOW(0x52);
export const IZO_IOC_GET_KML_SIZE = IOW(0x54);
export const IZO_IOC_CONNECT = IOW(0x56);
export const IZO_IOC_GO_FETCH_KML = IOW(0x57);
export const IZO_IOC_MARK = IOW(0x58);
export const IZO_IOC_CLEAR_FSET = IOW(0x59);
export const IZO_IOC_SET_FSET = IOW(0x61);
export const IZO_IOC_REVOKE_PERMIT = IOW(0x62);
export const IZO_IOC_SET_KMLSIZE = IOW(0x63);
export const IZO_IOC_SET_PID = IOW(0x68);
export const IZO_IOC_SET_CHANNEL = IOW(0x69);
export const IZO_IOC_GET_FILEID = IOW(0x71);
export const IZO_IOC_ADJUST_LML = IOW(0x72);
export const IZO_IOC_SET_FILEID = IOW(0x73);
export const IZO_IOC_REPSTATUS = IOW(0x74);

/** izo_ioctl_data: inputs (set by the caller) and outputs (set by the command). */
export interface IzoIoctlData {
  fset?: string;
  /** A path inside the fileset, from its root (MARK of a dentry, GET/SET_FILEID). */
  path?: string;
  uuid?: Uint8Array;
  /** REINTKML: one whole record; its logical offset in the peer's KML; REINT_* flags. */
  record?: Uint8Array;
  offset?: number;
  flags?: number;
  /** MARK: what to mark and how; the resulting flags come back in `flags`. */
  mark_what?: number;
  and_flag?: number;
  or_flag?: number;
  /** SET_KMLSIZE; GET_KML_SIZE returns the logical end in `kml_size` and the last recno in `recno`. */
  kml_size?: number;
  recno?: number;
  ino?: number;
  generation?: number;
  pid?: number;
  channel?: number;
  /** CONNECT: the peer's address, as lento understands it. */
  address?: string;
  /** Outputs. */
  reint?: ReintResult;
  rcvd?: RcvdRecord | null;
  /** GET_RCVD: the peer's last_rcvd slot (where its record is, or will go): what KML_RELOG_PID names. */
  slot?: number;
  result?: number;
}

export function presto_ioctl_fops(kind: InodeKind): Partial<FileOperations> {
  return kind === 'dir' ? { ioctl: presto_ioctl } : {};
}

function* presto_ioctl(_inode: Inode, file: File, cmd: number, arg: unknown, p: Process): Sys<number | Errno> {
  const cache = presto_get_cache(file.f_dentry.d_sb);
  if (cache === null) return ENOTTY;
  if (p.cred.euid !== 0 && p.cred.euid !== cache.ioctl_uid) return EPERM;
  const data = (typeof arg === 'object' && arg !== null ? arg : {}) as IzoIoctlData;
  const fsetOf = (): Fileset | null =>
    data.fset !== undefined ? (cache.filesets.get(data.fset) ?? null) : presto_fset(file.f_dentry);
  switch (cmd) {
    case IZO_IOC_SET_PID:
      return set_pid(cache, data, p);
    case IZO_IOC_SET_CHANNEL:
      return set_channel(cache, data);
    case IZO_IOC_MARK:
      return yield* mark(cache, fsetOf(), file, data);
    case IZO_IOC_SET_FSET:
      return yield* set_fset(cache, file, data);
    default: {
      const fset = fsetOf();
      if (fset === null) return cmdKnown(cmd) ? ENOENT : ENOTTY;
      return yield* fileset_ioctl(fset, cmd, data, p);
    }
  }
}

const FSET_CMDS: ReadonlySet<number> = new Set([
  IZO_IOC_REINTKML,
  IZO_IOC_GET_RCVD,
  IZO_IOC_GET_KML_SIZE,
  IZO_IOC_CONNECT,
  IZO_IOC_GO_FETCH_KML,
  IZO_IOC_CLEAR_FSET,
  IZO_IOC_REVOKE_PERMIT,
  IZO_IOC_SET_KMLSIZE,
  IZO_IOC_GET_FILEID,
  IZO_IOC_ADJUST_LML,
  IZO_IOC_SET_FILEID,
  IZO_IOC_REPSTATUS,
]);

function cmdKnown(cmd: number): boolean {
  return FSET_CMDS.has(cmd);
}

function* fileset_ioctl(fset: Fileset, cmd: number, data: IzoIoctlData, p: Process): Sys<number | Errno> {
  switch (cmd) {
    case IZO_IOC_REINTKML:
      return yield* reintkml(fset, data, p);
    case IZO_IOC_GET_RCVD: {
      const uuid = data.uuid ?? ZERO_UUID;
      const r = yield* izo_rcvd_get(fset, uuid, p);
      if (isErr(r)) return r;
      data.rcvd = r;
      const slot = yield* izo_rcvd_slot(fset, uuid, p);
      if (isErr(slot)) return slot;
      data.slot = slot;
      return 0;
    }
    case IZO_IOC_GET_KML_SIZE:
      data.kml_size = fset.kml.offset + fset.kml_logical_off;
      data.recno = fset.kml.recno;
      return 0;
    case IZO_IOC_CLEAR_FSET:
      yield* izo_cleanup_fileset(fset, fset.cache.kproc);
      return 0;
    case IZO_IOC_REVOKE_PERMIT:
      return yield* presto_revoke_permit(fset, p);
    case IZO_IOC_SET_KMLSIZE:
      // The size limit, and (with `offset`) how far every peer has read: cut the head up to there.
      if (data.kml_size !== undefined) fset.kml_truncate_size = data.kml_size;
      return data.offset === undefined ? 0 : yield* presto_kml_cut(fset, data.offset, p);
    case IZO_IOC_SET_FILEID:
      return yield* set_fileid(fset, data);
    case IZO_IOC_ADJUST_LML:
      return yield* adjust_lml(fset, data, p);
    default:
      return yield* upcall_ioctl(fset, cmd, data, p);
  }
}

/** CONNECT, GO_FETCH_KML, GET_FILEID, REPSTATUS: hand the request to lento. */
function* upcall_ioctl(fset: Fileset, cmd: number, data: IzoIoctlData, p: Process): Sys<number | Errno> {
  const base: UpcallBody = {
    ...EMPTY_BODY,
    pid: p.pid,
    uid: p.cred.uid,
    fset: fset.name,
    path: data.path ?? data.address ?? '',
    uuid: data.uuid ?? ZERO_UUID,
    offset: data.offset ?? 0,
    firstRecno: data.recno ?? 0,
  };
  const [opcode, async] =
    cmd === IZO_IOC_CONNECT
      ? [IZO_UPC_CONNECT, false]
      : cmd === IZO_IOC_GO_FETCH_KML
        ? [IZO_UPC_GO_FETCH_KML, true]
        : cmd === IZO_IOC_GET_FILEID
          ? [IZO_UPC_GET_FILEID, false]
          : cmd === IZO_IOC_REPSTATUS
            ? [IZO_UPC_REPSTATUS, false]
            : [0, false];
  if (opcode === 0) return ENOTTY;
  const r = yield* izo_upc_upcall(fset.psdev, fset.channel, opcode, base, { async });
  if (isErr(r)) return r;
  data.result = r;
  return 0;
}

function* reintkml(fset: Fileset, data: IzoIoctlData, p: Process): Sys<number | Errno> {
  if (data.record === undefined || data.uuid === undefined || data.uuid.length !== 16) return EINVAL;
  const r = yield* kml_reint(
    fset,
    { uuid: data.uuid, record: data.record, offset: data.offset ?? 0, flags: data.flags ?? 0 },
    p,
  );
  data.reint = r;
  if (r.kind === 'error') return r.errno;
  return r.kind === 'bad_record' ? EINVAL : 0;
}

function set_pid(cache: PrestoCache, data: IzoIoctlData, p: Process): number | Errno {
  const pid = data.pid ?? p.pid;
  if ((data.flags ?? 0) === 0) cache.channel.lentoPids.add(pid);
  else cache.channel.lentoPids.delete(pid);
  return 0;
}

function set_channel(cache: PrestoCache, data: IzoIoctlData): number | Errno {
  const c = data.channel;
  if (c === undefined || !Number.isInteger(c) || c < 0 || c >= MAX_CHANNELS) return EINVAL;
  cache.channel = cache.psdev.channel(c);
  return 0;
}

function* mark(cache: PrestoCache, fset: Fileset | null, file: File, data: IzoIoctlData): Sys<number | Errno> {
  const and = data.and_flag ?? 0xffffffff;
  const or = data.or_flag ?? 0;
  const apply = (f: number): number => ((f & and) | or) >>> 0;
  switch (data.mark_what) {
    case MARK_DENTRY:
    case MARK_GETFL: {
      let d = file.f_dentry;
      if (data.path !== undefined) {
        if (fset === null) return ENOENT;
        const rp = presto_fset_process(fset, 0, 'presto', cache.kproc.cred);
        if (rp === null) return ENOENT;
        const found = yield* path_lookup(rp, data.path, 0);
        if (isErr(found)) return found;
        d = found.dentry;
      }
      const dd = presto_d2d(d);
      if (data.mark_what === MARK_DENTRY) dd.flags = apply(dd.flags);
      data.flags = dd.flags;
      return 0;
    }
    case MARK_FSET:
      if (fset === null) return ENOENT;
      fset.flags = apply(fset.flags);
      data.flags = fset.flags;
      return 0;
    case MARK_CACHE:
      cache.flags = apply(cache.flags);
      data.flags = cache.flags;
      return 0;
    default:
      return EINVAL;
  }
}

function* set_fset(cache: PrestoCache, file: File, data: IzoIoctlData): Sys<number | Errno> {
  const name = data.fset;
  if (name === undefined) return EINVAL;
  const old = cache.filesets.get(name);
  if (old !== undefined) {
    old.flags = data.flags ?? old.flags;
    return 0;
  }
  const root = presto_path(file.f_dentry, cache.sb.s_root ?? file.f_dentry);
  const f = yield* izo_make_fileset(cache, name, root, data.flags ?? cache.fsetFlags);
  return isErr(f) ? f : 0;
}

function* set_fileid(fset: Fileset, data: IzoIoctlData): Sys<number | Errno> {
  const rp = presto_fset_process(fset, 0, 'presto', fset.cache.kproc.cred);
  if (data.path === undefined || rp === null) return EINVAL;
  const found = yield* path_lookup(rp, data.path, LOOKUP_FOLLOW);
  if (isErr(found)) return found;
  const dd = presto_d2d(found.dentry);
  dd.remote_ino = data.ino ?? 0;
  dd.remote_generation = data.generation ?? 0;
  return 0;
}

/** Cancel the LML record at `offset` (a backfetch finished) and trim cancelled records off the end. */
function* adjust_lml(fset: Fileset, data: IzoIoctlData, p: Process): Sys<number | Errno> {
  const at = data.offset;
  if (at !== undefined) {
    if (at < 0 || at % 4 !== 0 || at >= fset.lml.offset) return EINVAL;
    const c = yield* presto_in_trans(fset, 'lml', () => presto_clear_lml_close(fset, at, p));
    if (isErr(c)) return c;
  }
  return yield* presto_truncate_lml(fset, p);
}
