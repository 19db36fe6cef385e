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
 * Exit status: 0; 2 bad usage; 8 an unusable image. Counterpart: none in InterMezzo (invented);
 * Coda's `cfs listlocal` and repair tool's listing come closest.
 */
import { parseArgs } from 'node:util';
import { isErr } from '../../kernel/errno.ts';
import type { AuditJson, ParkedJson } from '../lento/state.ts';
import { read_file } from '../libc.ts';
import { loadImage } from '../image.ts';
import { UsageError, type Subcommand } from './command.ts';
import { imageBlockSize } from './image_tools.ts';
import { chooseFileset } from './kml_tools.ts';
import { IZO_DIR, listFilesets, plainMount, type PlainMount } from './presto_image.ts';

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
];
