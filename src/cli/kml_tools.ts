/**
 * kml_tools.ts: `izo kml`: every record of a fileset's KML (or LML) and its last_rcvd records,
 * decoded from an image, for a person (one block of lines per record) or a program (`--json`).
 *
 * Layer: user-space tool. Interface: the `KML_COMMANDS` subcommands; `kmlReport(logs, opts)` builds
 * the report as plain data (the JSON document), `formatKml(report)` the human text. The image is
 * mounted plain (ext3, read-only; read-write in memory only if its journal needs recovery) and the
 * logs are read through the VFS; the image file is never written. The layout decoded is the one in
 * docs/kml-format.md (fs/intermezzo/kml.ts is its source of truth).
 * Exit status: 0 every record whole; 1 a log is damaged (the records before the damage are shown,
 * then the byte offset and the reason); 2 bad usage (an unknown fileset, or several and no
 * --fileset: the names are listed); 8 an unusable image (no filesets, unreadable logs).
 * Counterpart: the original's kml_unpack.c printers (kml_print_rec) and lento's KML dumps.
 */
import {
  isZeroUuid,
  kml_scan,
  LAYOUTS,
  rcvd_decode,
  RCVD_RECORD_SIZE,
  type KmlRecord,
  type PrestoVersion,
  type Rollback,
  type ScannedRecord,
} from '../../fs/intermezzo/kml.ts';
import { ImageError, loadImage } from '../image.ts';
import { parseCommand, UsageError, type OptionTable, type Subcommand } from './command.ts';
import { imageBlockSize } from './image_tools.ts';
import { listFilesets, plainMount, readFilesetLogs, type FilesetLogs } from './presto_image.ts';

export interface KmlReportOptions {
  readonly fileset: string;
  readonly log: 'kml' | 'lml';
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

export interface RcvdJson {
  readonly slot: number;
  readonly uuid: string;
  readonly remote_recno: number;
  readonly remote_offset: number;
  readonly local_recno: number;
  readonly local_offset: number;
  readonly last_ctime: number;
}

export interface RecordJson {
  readonly offset: number;
  /** The offset user space sees (offset plus the KML's logical base); null in the LML. */
  readonly logical_offset: number | null;
  readonly len: number;
  readonly recno: number;
  readonly time: number;
  readonly opcode: number;
  readonly op: string;
  readonly cancelled: boolean;
  readonly pid: number;
  readonly auid: number;
  readonly fsuid: number;
  readonly fsgid: number;
  readonly groups: readonly number[];
  /** The body's fields in the on-disk order (kml.ts LAYOUTS). */
  readonly body: { readonly [field: string]: Json };
}

export interface DamageJson {
  readonly offset: number;
  readonly logical_offset: number | null;
  readonly reason: string;
}

export interface KmlReport {
  readonly fileset: string;
  readonly log: 'kml' | 'lml';
  readonly size: number;
  /** The KML's logical offset (the all-zero-uuid last_rcvd record's local_offset); 0 for the LML. */
  readonly logical_base: number;
  readonly records: readonly RecordJson[];
  readonly damage: DamageJson | null;
  readonly last_rcvd: readonly RcvdJson[];
  readonly last_rcvd_damage: string | null;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
/** Log strings are bytes; shown as UTF-8 (invalid sequences become U+FFFD). */
const text = (s: string): string => Buffer.from(s, 'latin1').toString('utf8');

function versionJson(v: PrestoVersion): Json {
  const { mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, size } = v;
  return { mtime_sec, mtime_nsec, ctime_sec, ctime_nsec, size };
}

function rollbackJson(r: Rollback): Json {
  return { mode: r.mode, rdev: r.rdev, uid: r.uid, gid: r.gid };
}

function bodyJson(rec: KmlRecord): { [field: string]: Json } {
  const body = rec.body as unknown as Record<string, unknown>;
  const out: { [field: string]: Json } = {};
  for (const [name, kind] of LAYOUTS[rec.body.op].fields) {
    const v = body[name];
    if (kind === 'ver') out[name] = versionJson(v as PrestoVersion);
    else if (kind === 'rb') out[name] = rollbackJson(v as Rollback);
    else if (kind === 'str') out[name] = text(v as string);
    else out[name] = v as number;
  }
  return out;
}

function recordJson(s: ScannedRecord, base: number | null): RecordJson {
  const { rec } = s;
  const cancelled = rec.cancelled === true;
  return {
    offset: s.offset,
    logical_offset: base === null ? null : base + s.offset,
    len: s.len,
    recno: rec.recno,
    time: rec.time,
    opcode: cancelled ? 0 : LAYOUTS[rec.body.op].opcode,
    op: rec.body.op,
    cancelled,
    pid: rec.pid,
    auid: rec.auid,
    fsuid: rec.fsuid,
    fsgid: rec.fsgid,
    groups: [...rec.groups],
    body: bodyJson(rec),
  };
}

function rcvdJson(buf: Uint8Array): { recs: RcvdJson[]; damage: string | null } {
  const recs: RcvdJson[] = [];
  const whole = Math.floor(buf.length / RCVD_RECORD_SIZE);
  for (let slot = 0; slot < whole; slot++) {
    const r = rcvd_decode(buf, slot * RCVD_RECORD_SIZE);
    recs.push({
      slot,
      uuid: hex(r.uuid),
      remote_recno: r.remote_recno,
      remote_offset: r.remote_offset,
      local_recno: r.local_recno,
      local_offset: r.local_offset,
      last_ctime: r.last_ctime,
    });
  }
  const extra = buf.length % RCVD_RECORD_SIZE;
  const damage = extra === 0 ? null
    : `${extra} bytes at offset ${whole * RCVD_RECORD_SIZE} are not a whole ${RCVD_RECORD_SIZE}-byte record`;
  return { recs, damage };
}

/** The whole report for one fileset's logs, as plain data. */
export function kmlReport(logs: FilesetLogs, o: KmlReportOptions): KmlReport {
  const rcvd = rcvdJson(logs.last_rcvd);
  const zero = rcvd.recs.find((r) => isZeroUuid(Buffer.from(r.uuid, 'hex')));
  const logical_base = o.log === 'kml' ? (zero?.local_offset ?? 0) : 0;
  const base = o.log === 'kml' ? logical_base : null;
  const buf = o.log === 'kml' ? logs.kml : logs.lml;
  const scan = kml_scan(buf, o.log === 'lml');
  const damage = scan.damage === null ? null : {
    offset: scan.damage.offset,
    logical_offset: base === null ? null : base + scan.damage.offset,
    reason: scan.damage.reason,
  };
  return {
    fileset: o.fileset,
    log: o.log,
    size: buf.length,
    logical_base,
    records: scan.records.map((s) => recordJson(s, base)),
    damage,
    last_rcvd: rcvd.recs,
    last_rcvd_damage: rcvd.damage,
  };
}

// ---------------------------------------------------------------------------------------------
// The human format.

const octal = (n: number): string => `0${n.toString(8)}`;
const nsec = (n: number): string => String(n).padStart(9, '0');

function showVersion(v: { [k: string]: Json }): string {
  return `mtime ${v.mtime_sec as number}.${nsec(v.mtime_nsec as number)} `
    + `ctime ${v.ctime_sec as number}.${nsec(v.ctime_nsec as number)} size ${v.size as number}`;
}

function showField(name: string, v: Json): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') return /mode$/.test(name) ? octal(v) : String(v);
  const o = v as { [k: string]: Json };
  if ('mtime_sec' in o) return showVersion(o);
  return `mode ${octal(o.mode as number)} rdev ${o.rdev as number} uid ${o.uid as number} gid ${o.gid as number}`;
}

function showRecord(r: RecordJson): string {
  const where = r.logical_offset === null ? `offset ${r.offset}` : `offset ${r.offset} (logical ${r.logical_offset})`;
  const op = r.cancelled ? `${r.op} (cancelled: opcode NOOP)` : `${r.op} (opcode ${r.opcode})`;
  const lines = [
    `record ${r.recno}: ${op}, ${where}, ${r.len} bytes, time ${r.time}`,
    `  creds      pid ${r.pid} auid ${r.auid} fsuid ${r.fsuid} fsgid ${r.fsgid} groups [${r.groups.join(',')}]`,
  ];
  for (const [name, v] of Object.entries(r.body)) lines.push(`  ${name.padEnd(10)} ${showField(name, v)}`);
  return `${lines.join('\n')}\n`;
}

function showRcvd(r: RcvdJson): string {
  const who = isZeroUuid(Buffer.from(r.uuid, 'hex')) ? ' (this KML: logical offset in local_offset)' : '';
  return `  slot ${r.slot}: uuid ${r.uuid}${who}\n`
    + `    remote recno ${r.remote_recno} offset ${r.remote_offset}, `
    + `local recno ${r.local_recno} offset ${r.local_offset}, last_ctime ${r.last_ctime}\n`;
}

/** The report as text: a header, one block per record, the damage if any, then last_rcvd. */
export function formatKml(rep: KmlReport): string {
  const n = rep.records.length;
  const base = rep.log === 'kml' ? `, logical offset base ${rep.logical_base}` : '';
  let s = `fileset ${rep.fileset}: ${rep.log}, ${rep.size} bytes, ${n} record${n === 1 ? '' : 's'}${base}\n`;
  for (const r of rep.records) s += `\n${showRecord(r)}`;
  if (rep.damage !== null) {
    const d = rep.damage;
    const logical = d.logical_offset === null ? '' : ` (logical ${d.logical_offset})`;
    s += `\ndamage at byte offset ${d.offset}${logical}: ${d.reason}; records after it are not read\n`;
  }
  s += `\nlast_rcvd: ${rep.last_rcvd.length} record${rep.last_rcvd.length === 1 ? '' : 's'}\n`;
  for (const r of rep.last_rcvd) s += showRcvd(r);
  if (rep.last_rcvd_damage !== null) s += `last_rcvd damage: ${rep.last_rcvd_damage}\n`;
  return s;
}

/** The fileset to show: the one asked for, or the only one; a UsageError names the choices. */
export function chooseFileset(names: readonly string[], asked: string | undefined, image: string): string {
  if (names.length === 0) throw new ImageError(`${image}: no InterMezzo filesets (nothing under /.intermezzo)`);
  const list = names.join(', ');
  if (asked !== undefined) {
    if (!names.includes(asked)) throw new UsageError(`no fileset '${asked}' in ${image}; its filesets: ${list}`);
    return asked;
  }
  if (names.length > 1) {
    throw new UsageError(`${image} has ${names.length} filesets (${list}): choose one with --fileset`);
  }
  return names[0] as string;
}

const KML_OPTIONS: OptionTable = {
  fileset: { type: 'string', arg: 'NAME', help: 'the fileset (needed when the image has several)' },
  json: { type: 'boolean', help: 'one JSON document instead of text' },
  lml: { type: 'boolean', help: 'decode the LML instead of the KML' },
};

export const KML_COMMANDS: Subcommand[] = [
  {
    name: 'kml',
    usage: 'izo kml IMAGE [--fileset NAME] [--json] [--lml]',
    summary: 'decode a fileset\'s KML (or LML) and last_rcvd records, read-only (exit 1 if a log is damaged)',
    options: KML_OPTIONS,
    run(args) {
      const a = parseCommand(KML_OPTIONS, args);
      const values = { fileset: a.str('fileset'), json: a.flag('json'), lml: a.flag('lml') };
      const [image, ...rest] = a.positionals;
      if (image === undefined || rest.length > 0) throw new UsageError('kml takes exactly one IMAGE');
      const m = plainMount(loadImage(image, imageBlockSize(image), 'image'), image);
      if (m.recovered) process.stderr.write(`izo kml: ${image}: the journal was recovered in memory only\n`);
      const fileset = chooseFileset(listFilesets(m), values.fileset, image);
      const rep = kmlReport(readFilesetLogs(m, fileset, image), { fileset, log: values.lml ? 'lml' : 'kml' });
      process.stdout.write(values.json ? `${JSON.stringify(rep)}\n` : formatKml(rep));
      return rep.damage === null && rep.last_rcvd_damage === null ? 0 : 1;
    },
  },
];
