/**
 * conflicts.ts: `izo conflicts IMAGE`: what conflict policies did on one node, read from its image:
 * the audit log (every version a policy discarded there: who, when, which policy, the bytes) and
 * the parked records (conflicts left for a person), for a person or a program (`--json`).
 *
 * Layer: user-space tool. Interface: the `CONFLICT_COMMANDS` subcommands; `conflictsReport(text)`
 * builds the report as plain data from the two files' text, `formatConflicts(report)` the human
 * text. The image is mounted plain and read-only (recovered in memory when its journal needs it),
 * as `izo kml` does; the files are lento's `/.intermezzo/<fset>/lento.audit` and `lento.parked`
 * (src/lento/state.ts), JSON lines; a line that does not parse is counted, never trusted.
 * `izo repair IMAGE` lists each parked update with both versions (the local file as the image
 * holds it, the peer's from the parked record); `--path P --keep local|remote` queues a repair
 * request in `/.intermezzo/<fset>/lento.repair` (the image is written), which lento carries out
 * when it next runs on that disk with the peer reachable (src/lento/repair.ts).
 * Exit status: 0; 1 nothing parked for --path; 2 bad usage; 8 an unusable image. Counterpart:
 * none in InterMezzo (invented); Coda's `cfs listlocal` and repair tool come closest.
 */
import { parseArgs } from 'node:util';
import { errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import { O_APPEND, O_CREAT, O_WRONLY } from '../../kernel/fs.ts';
import { sys_close, sys_lstat, sys_open, sys_write } from '../../kernel/syscalls.ts';
import { isDamage, kml_decode } from '../../fs/intermezzo/kml.ts';
import type { AuditJson, ParkedJson } from '../lento/state.ts';
import { read_file } from '../libc.ts';
import { ImageError, loadImage, saveImage } from '../image.ts';
import { UsageError, type Subcommand } from './command.ts';
import { imageBlockSize } from './image_tools.ts';
import { chooseFileset } from './kml_tools.ts';
import { IZO_DIR, listFilesets, mountOrFail, plainMount, prestoHost, type PlainMount } from './presto_image.ts';

export interface ConflictsReport {
  readonly fileset: string;
  readonly audit: readonly AuditJson[];
  readonly parked: readonly ParkedJson[];
  /** Lines of either file that did not parse (a torn last line after a crash). */
  readonly damaged: number;
}

function lines<T>(text: string): { items: T[]; damaged: number } {
  const items: T[] = [];
  let damaged = 0;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(line);
      if (typeof v === 'object' && v !== null) items.push(v as T);
      else damaged++;
    } catch {
      damaged++;
    }
  }
  return { items, damaged };
}

export function conflictsReport(fileset: string, auditText: string, parkedText: string): ConflictsReport {
  const a = lines<AuditJson>(auditText);
  const p = lines<ParkedJson>(parkedText);
  return { fileset, audit: a.items, parked: p.items, damaged: a.damaged + p.damaged };
}

function readText(m: PlainMount, path: string): string {
  const data = m.host.run(m.proc, read_file(m.proc, path));
  return isErr(data as number) || typeof data === 'number' ? '' : Buffer.from(data).toString('latin1');
}

function preview(hex: string | null): string {
  if (hex === null) return '(not on this node)';
  const text = Buffer.from(hex, 'hex').toString('latin1');
  const shown = JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}...` : text);
  return `${shown} (${hex.length / 2} bytes)`;
}

export function formatConflicts(r: ConflictsReport): string {
  const out: string[] = [`fileset ${r.fileset}: ${r.audit.length} discarded version(s), ${r.parked.length} parked`];
  for (const a of r.audit) {
    const d = a.discarded;
    out.push(`${a.path}: ${a.cls} (${a.op} ${a.recno} from ${a.from}), ${a.policy} on ${a.node} at ${a.when} us`);
    const k = a.kept;
    if (k !== null) out.push(`  kept:      ${k.node} (${k.side}) mtime ${k.mtime} size ${k.size}`);
    out.push(`  discarded: ${d.node} (${d.side}) mtime ${d.mtime} size ${d.size}: ${preview(d.bytes)}` +
      (d.bytes === null ? `, kept on ${d.where}` : ''));
    if (a.copy !== '') out.push(`  copy:      ${a.copy}`);
  }
  for (const p of r.parked) out.push(`parked ${p.path}: ${p.cls} (record ${p.recno} from ${p.from}): ${p.reason}`);
  if (r.damaged > 0) out.push(`${r.damaged} line(s) did not parse (ignored)`);
  return `${out.join('\n')}\n`;
}

export const CONFLICT_COMMANDS: Subcommand[] = [
  {
    name: 'conflicts',
    usage: 'izo conflicts IMAGE [--fileset NAME] [--json]',
    summary: "list what conflict policies discarded on this node (the audit log) and the parked conflicts",
    run(args) {
      const { values, positionals } = parseArgs({
        args, allowPositionals: true,
        options: { fileset: { type: 'string' }, json: { type: 'boolean', default: false } },
      });
      const [image, ...rest] = positionals;
      if (image === undefined || rest.length > 0) throw new UsageError('conflicts takes exactly one IMAGE');
      const m = plainMount(loadImage(image, imageBlockSize(image), 'image'), image);
      const fileset = chooseFileset(listFilesets(m), values.fileset, image);
      const dir = `${IZO_DIR}/${fileset}`;
      const rep = conflictsReport(fileset, readText(m, `${dir}/lento.audit`), readText(m, `${dir}/lento.parked`));
      process.stdout.write(values.json ? `${JSON.stringify(rep)}\n` : formatConflicts(rep));
      return 0;
    },
  },
  {
    name: 'repair',
    usage: 'izo repair IMAGE [--fileset NAME] [--path P --keep local|remote]',
    summary: 'list the parked update conflicts with both versions, or queue the repair of one for lento',
    run(args) {
      const { values, positionals } = parseArgs({
        args, allowPositionals: true,
        options: { fileset: { type: 'string' }, path: { type: 'string' }, keep: { type: 'string' } },
      });
      const [image, ...rest] = positionals;
      if (image === undefined || rest.length > 0) throw new UsageError('repair takes exactly one IMAGE');
      const half = (values.path === undefined) !== (values.keep === undefined);
      if (half) throw new UsageError('--path and --keep go together');
      if (values.keep !== undefined && values.keep !== 'local' && values.keep !== 'remote') {
        throw new UsageError(`--keep is local or remote, not '${values.keep}'`);
      }
      const m = plainMount(loadImage(image, imageBlockSize(image), 'image'), image);
      const fileset = chooseFileset(listFilesets(m), values.fileset, image);
      const dir = `${IZO_DIR}/${fileset}`;
      const rep = conflictsReport(fileset, '', readText(m, `${dir}/lento.parked`));
      const updates = rep.parked.filter((p) => p.cls === 'UPDATE');
      if (values.path === undefined) {
        process.stdout.write(formatRepairList(m, updates));
        return 0;
      }
      if (!updates.some((p) => p.path === values.path)) {
        process.stderr.write(`izo repair: ${image}: no parked update conflict at ${values.path}\n`);
        return 1;
      }
      queueRepair(image, `${dir}/lento.repair`, JSON.stringify({ path: values.path, keep: values.keep }));
      const keep = values.keep ?? '';
      process.stdout.write(`queued: ${values.path} keeps the ${keep} version (lento repairs it when it runs)\n`);
      return 0;
    },
  },
];

/** Each parked update: the local file as the image holds it, and the peer's version in the record. */
function formatRepairList(m: PlainMount, parked: readonly ParkedJson[]): string {
  if (parked.length === 0) return 'no parked update conflicts\n';
  const out: string[] = [];
  for (const p of parked) {
    const st = m.host.run(m.proc, sys_lstat(m.proc, p.path));
    const d = kml_decode(Uint8Array.from(Buffer.from(p.record, 'hex')), 0);
    const b = isDamage(d) ? null : d.rec.body;
    const theirs = b?.op === 'CLOSE' ? `mtime ${b.new_object.mtime_sec} size ${b.new_object.size}`
      : b?.op === 'SETATTR' ? `mtime ${b.mtime} size ${b.size}` : '(not a file update)';
    const mine = isErr(st) ? `(${errnoName(st)})` : `mtime ${st.st_mtime.sec} size ${st.st_size}`;
    const op = b?.op ?? 'damaged';
    out.push(`${p.path}: record ${p.recno} from ${p.from} (${op})`, `  local:  ${mine}`, `  remote: ${theirs}`);
  }
  return `${out.join('\n')}\n`;
}

/** Append a request line to the image's repair file (a plain read-write mount; the image is saved). */
function queueRepair(image: string, file: string, line: string): void {
  const dev = loadImage(image, imageBlockSize(image), 'image');
  const host = prestoHost(dev);
  mountOrFail(host, 'ext3', '', image);
  const p = host.process('izo');
  const r = host.run(p, (function* () {
    const fd = yield* sys_open(p, file, O_WRONLY | O_CREAT | O_APPEND, 0o600);
    if (isErr(fd)) return fd;
    const w = yield* sys_write(p, fd, Uint8Array.from(Buffer.from(`${line}\n`, 'latin1')));
    yield* sys_close(p, fd);
    return isErr(w) ? w : 0;
  })());
  if (isErr(r)) throw new ImageError(`${image}: writing ${file}: ${errnoName(r as Errno)}`);
  host.shutdown();
  saveImage(image, dev);
}

