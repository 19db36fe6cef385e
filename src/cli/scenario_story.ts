/**
 * scenario_story.ts: what `izo run` tells about a run, made from its trace events: the short
 * timeline (steps and notable events), the narration of `--explain` for a learner of the protocol,
 * and the per-node summary table.
 *
 * Layer: user-space output (izo run). Interface: `new Story(mode, scenario)`; `event(record)` is
 * given every trace event as it happens (the trace's onEvent), `close()` stops listening (what the
 * run does after its results are taken is not told); `render(times)` gives the lines, with each
 * step placed at its time; `table(scenario, result)` the summary. Everything comes from trace
 * events (docs/lento-protocol.md says what each means), never from looking inside a node, so what
 * is told is what the nodes said. Consecutive events of one kind between the same nodes are told
 * as one line (records 3-9, not seven lines). Invented (no InterMezzo counterpart).
 */
import type { Scenario, ScenarioResult, Step } from '../../sim/scenario.ts';
import type { TraceRecord } from '../../sim/trace.ts';
import { showBytes, showDuration, showTime } from './units.ts';

export type StoryMode = 'timeline' | 'explain';

interface Entry {
  readonly t: number;
  /** Events told as one line share a key; `merge` folds the next such event in. */
  readonly key: string;
  text: string;
  merge?: (r: TraceRecord) => string;
}

type D = Record<string, unknown>;

const recs = (a: number, b: number): string => (a === b ? `record ${a}` : `records ${a}-${b}`);

/** The directed links a fault event leaves cut (kept from net.* events, to say what waits). */
class CutLinks {
  private readonly cut = new Set<string>();

  event(r: TraceRecord): void {
    const d = r.data as D;
    if (r.ev === 'net.partition') {
      const groups = d.groups as string[][];
      for (const g of groups) {
        for (const h of groups) if (g !== h) for (const a of g) for (const b of h) this.cut.add(`${a}->${b}`);
      }
    } else if (r.ev === 'net.cut') {
      this.cut.add(`${String(d.from)}->${String(d.to)}`);
    } else if (r.ev === 'net.isolate') {
      this.cut.add(`${String(d.host)}->*`);
    } else if (r.ev === 'net.heal') {
      if (d.scope === 'all') this.cut.clear();
      for (const l of d.links as string[]) this.cut.delete(l);
      for (const h of d.hosts as string[]) this.cut.delete(`${h}->*`);
    }
  }

  isCut(a: string, b: string): boolean {
    return this.cut.has(`${a}->${b}`) || this.cut.has(`${b}->${a}`) || this.cut.has(`${a}->*`)
      || this.cut.has(`${b}->*`);
  }
}

export class Story {
  private readonly entries: Entry[] = [];
  private readonly links = new CutLinks();
  private readonly sessionUp = new Map<string, boolean>();
  private readonly everUp = new Set<string>();
  private open = true;
  private readonly server: string;

  constructor(readonly mode: StoryMode, readonly scenario: Scenario) {
    this.server = scenario.nodes.find((n) => n.role === 'server')?.name ?? '';
  }

  close(): void {
    this.open = false;
  }

  event(r: TraceRecord): void {
    if (!this.open) return;
    if (r.ev.startsWith('net.')) this.links.event(r);
    const text = this.describe(r);
    if (text === null) return;
    const key = this.keyOf(r);
    const recent = this.entries.slice(-4).reverse().find((e) => e.key === key && e.merge !== undefined);
    if (key !== '' && recent?.merge !== undefined) {
      recent.text = recent.merge(r);
      return;
    }
    this.entries.push({ t: r.t, key, text, ...this.merger(r) });
  }

  private keyOf(r: TraceRecord): string {
    const d = r.data as D;
    switch (r.ev) {
      case 'lento.apply': return `apply ${r.host} ${String(d.from)}`;
      case 'lento.ship': return `ship ${r.host} ${String(d.to)} ${d.noops === d.records ? 'noop' : ''}`;
      case 'lento.ack': return `ack ${r.host} ${String(d.from)}`;
      case 'lento.fetch': return `fetch ${r.host} ${String(d.why)}`;
      case 'lento.connect': return `connect ${r.host}`;
      case 'presto.kml': return `kml ${r.host} ${String(d.relog)}`;
      default: return '';
    }
  }

  /** How a line of consecutive events grows: records first-last, counts summed. */
  private merger(first: TraceRecord): Pick<Entry, 'merge'> {
    const d0 = first.data as D;
    const acc = { n: 1, first: Number(d0.first ?? d0.recno ?? 0), last: Number(d0.last ?? d0.recno ?? 0),
      applied: Number(d0.applied ?? 0), bytes: Number(d0.bytes ?? 0), ops: [String(d0.op ?? '')],
      paths: [String(d0.path ?? '')], conflicts: Number(d0.conflicts ?? 0) };
    if (this.keyOf(first) === '') return {};
    return {
      merge: (r) => {
        const d = r.data as D;
        acc.n++;
        acc.last = Number(d.last ?? d.recno ?? acc.last);
        acc.applied += Number(d.applied ?? 0);
        acc.bytes += Number(d.bytes ?? 0);
        acc.conflicts += Number(d.conflicts ?? 0);
        acc.ops.push(String(d.op ?? ''));
        acc.paths.push(String(d.path ?? ''));
        return this.describeMerged(first, r, acc);
      },
    };
  }

  private describeMerged(first: TraceRecord, r: TraceRecord, a: {
    n: number; first: number; last: number; applied: number; bytes: number; ops: string[]; paths: string[];
    conflicts: number;
  }): string {
    const d = r.data as D;
    switch (r.ev) {
      case 'lento.apply': return this.applyText(r.host, String(d.from), a.first, a.last, a.applied, a.conflicts);
      case 'lento.ship': return this.shipText(r.host, String(d.to), a.first, a.last,
        (first.data as D).noops === (first.data as D).records, a.bytes);
      case 'lento.ack': return ackText(r.host, String(d.from), a.last);
      case 'lento.fetch': return this.fetchText(r.host, String(d.from), String(d.why), a.paths, a.bytes);
      case 'lento.connect':
        return `${r.host} cannot reach ${String(d.peer)} (${a.n} tries, last: ${String(d.error)}); it keeps trying`;
      case 'presto.kml': return this.kmlText(r.host, a.first, a.last, a.ops, a.paths, d.relog === true);
      default: return '';
    }
  }

  private explain(): boolean {
    return this.mode === 'explain';
  }

  /** The line an event starts, or null when this mode does not tell it. */
  private describe(r: TraceRecord): string | null {
    const d = r.data as D;
    const ex = this.explain();
    switch (r.ev) {
      case 'host.state': return this.hostText(r.host, d);
      case 'lento.session': return this.sessionText(r.host, d);
      case 'lento.refused': return `${r.host} refuses ${String(d.peer)}: ${String(d.reason)}` +
        (ex ? ' (a refused peer\'s records are never applied)' : '');
      case 'lento.conflict': return this.conflictText(r.host, d);
      case 'lento.apply': return r.host === this.server || ex
        ? this.applyText(r.host, String(d.from), Number(d.first), Number(d.last), Number(d.applied),
          Number(d.conflicts)) : null;
      case 'lento.fetch': return d.status !== 'ok'
        ? `${r.host}: fetching ${String(d.path)} from ${String(d.from)} failed (${String(d.status)})`
        : d.why === 'open' || ex || r.host === this.server ? this.fetchText(r.host, String(d.from), String(d.why),
          [String(d.path)], Number(d.bytes)) : null;
      case 'lento.truncate': return `${r.host} cuts the head of its KML up to logical offset ${String(d.upto)}` +
        ` (past its limit of ${showBytes(Number(d.limit))}; every peer had acknowledged it)`;
      default: return ex ? this.explainOnly(r) : null;
    }
  }

  private explainOnly(r: TraceRecord): string | null {
    const d = r.data as D;
    switch (r.ev) {
      case 'presto.kml': return this.kmlText(r.host, Number(d.recno), Number(d.recno), [String(d.op)],
        [String(d.path)], d.relog === true);
      case 'lento.ship': return this.shipText(r.host, String(d.to), Number(d.first), Number(d.last),
        d.noops === d.records, Number(d.bytes));
      case 'lento.ack': return ackText(r.host, String(d.from), Number(d.recno));
      case 'lento.repstatus': return r.host === this.server && Number(d.kml) <= Number(d.peer_applied) ? null
        : this.repstatusText(r.host, d);
      case 'lento.connect': return d.error === null ? null
        : `${r.host} cannot reach ${String(d.peer)} (${String(d.error)}); it keeps trying`;
      case 'presto.permit': return d.how === 'stolen'
        ? `${r.host} cannot ask the server for the write permit, so presto takes it locally: disconnected ` +
          'operation (from now on a conflict is possible)'
        : null;
      case 'lento.start': return r.t === 0 ? null : `lento starts on ${r.host} (${String(d.role)}, ${String(d.mode)})`;
      default: return null;
    }
  }

  private hostText(host: string, d: D): string {
    const ex = this.explain();
    switch (d.state) {
      case 'crashed': return `${host} CRASHES (${String(d.why)})` +
        (ex ? ': every write its disk had not made durable is gone; its peers notice only when it falls silent' : '');
      case 'up': return Number(d.incarnation) === 1 ? ''
        : `${host} boots again` + (ex
          ? ': ext3 replays its journal, presto finds its KML and last_rcvd as they were committed, lento restarts'
            : '');
      case 'paused': return `${host} is paused (frozen: it sends nothing, what is sent to it waits)`;
      default: return `${host} resumes`;
    }
  }

  private sessionText(host: string, d: D): string | null {
    if (host === this.server) return null;
    const up = d.state === 'up';
    const was = this.sessionUp.get(host);
    this.sessionUp.set(host, up);
    if (was === up) return null;
    if (up) {
      const again = this.everUp.has(host);
      this.everUp.add(host);
      if (!again) return this.explain()
        ? `${host} connects to ${String(d.peer)}: authenticated (HMAC of the shared secret)` : null;
      return `${host} reconnects to ${String(d.peer)}` + (this.explain()
        ? ': the two compare logs and ship what the other lacks' : '');
    }
    return `${host} loses its session with ${String(d.peer)} (${String(d.reason)})` +
      (this.explain() ? '; it keeps working on its own copy and logging every change' : '');
  }

  private conflictText(host: string, d: D): string {
    const rec = `${String(d.from)}'s record ${String(d.recno)} (${String(d.op)} ${String(d.path)})`;
    const head = `CONFLICT on ${host}: ${rec} is a` +
      ` ${String(d.cls)} conflict: ${String(d.reason)}`;
    if (!this.explain()) return `${head}; ${String(d.action)}`;
    return `${head}. Presto refused to replay it over a change made here meanwhile; the policy ` +
      `(${this.scenario.policy ?? 'manual'}) ${String(d.action)}: the record is kept in lento.parked and a NOOP ` +
      'takes its place, so the stream goes on and nothing is lost';
  }

  private applyText(host: string, from: string, first: number, last: number, applied: number,
    conflicts: number): string {
    const re = host === this.server ? 'reintegration: ' : '';
    const base = `${re}${host} replays ${from}'s ${recs(first, last)} (${applied} applied` +
      `${conflicts > 0 ? `, ${conflicts} conflicts` : ''})`;
    if (!this.explain()) return base;
    return `${base}; its last_rcvd for ${from} now says ${last}: a later session resumes after record ${last}`;
  }

  private shipText(host: string, to: string, first: number, last: number, noops: boolean, bytes: number): string {
    const what = noops ? `sends ${to} its own ${recs(first, last)} back as NOOPs (${to} only advances its last_rcvd)`
      : `sends ${recs(first, last)} to ${to} (${showBytes(bytes)} bytes)`;
    const cut = this.links.isCut(host, to)
      ? `; the link is cut: they wait behind the partition (TCP resends them when it heals)` : '';
    return `${host} ${what}${cut}`;
  }

  private fetchText(host: string, from: string, why: string, paths: string[], bytes: number): string {
    const files = paths.length === 1 ? paths[0] ?? '' : `${paths.length} files`;
    if (why === 'open') {
      return `${host} opens ${files} for the first time: on demand, fetched from ${from} (${showBytes(bytes)} bytes)`;
    }
    return `${host} fetches the data of ${files} from ${from} (${showBytes(bytes)} bytes; ` +
      'a CLOSE record carries no data: BACKFETCH)';
  }

  private kmlText(host: string, first: number, last: number, ops: string[], paths: string[], relog: boolean): string {
    const shown = ops.slice(0, 4).map((o, i) => `${o} ${paths[i] ?? ''}`.trim()).join(', ') + (ops.length > 4
      ? ', ...' : '');
    if (relog) return `${host} re-logs them as its own ${recs(first, last)}, for the other clients`;
    const cut = host !== this.server && this.links.isCut(host, this.server)
      ? ` (cut off from ${this.server}: they wait in ${host}'s KML)` : '';
    return `${host} logs ${recs(first, last)} in its KML: ${shown}${cut}`;
  }

  private repstatusText(host: string, d: D): string {
    const peer = String(d.peer);
    const toSend = Number(d.kml) - Number(d.peer_applied);
    const verdict = toSend > 0 ? `${toSend} to send` : 'nothing to send';
    return `${host} and ${peer} compare logs (REPSTATUS): ${peer} has applied ${host}'s records up to ` +
      `${String(d.peer_applied)} (its last_rcvd), ${host}'s KML ends at ${String(d.kml)}: ${verdict}`;
  }

  /** The lines: each step at its time, then the events (in the order they happened). */
  render(times: readonly number[]): string[] {
    const steps = this.scenario.steps.map((s, i) => ({ t: times[i] ?? 0, text: `step ${i + 1}: ${describeStep(s)}`,
      step: true }));
    const all = [...steps, ...this.entries.filter((e) => e.text !== '').map((e) => ({ t: e.t, text: e.text,
      step: false }))];
    all.sort((a, b) => a.t - b.t || Number(b.step) - Number(a.step));
    return all.map((e) => `${showTime(e.t).padStart(9)}  ${e.step ? '' : '  '}${e.text}`);
  }
}

function ackText(host: string, from: string, recno: number): string {
  return `${from} acknowledges ${host}'s records up to ${recno}: applied and durable there (KML_ACK)`;
}

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : (['th', 'st', 'nd', 'rd'][n % 10] ?? 'th');
  return `${n}${suffix}`;
}

export function describeStep(s: Step): string {
  if ('run' in s) {
    const lines = s.run.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    const first = (lines[0] ?? '').replace(/\s+#.*$/, '');
    const more = lines.length > 1 ? ` (+${lines.length - 1} more)` : '';
    const as = s.as === undefined ? '' : ` as ${s.as[0]}:${s.as[1]}`;
    return `${s.on}${as}: ${first}${more}${s.error === undefined ? '' : ` (expect ${s.error})`}`;
  }
  if ('partition' in s) return `partition ${s.partition.map((g) => `[${g.join(', ')}]`).join(' | ')}`;
  if ('cut' in s) return `cut ${s.cut.from} -> ${s.cut.to} (one way)`;
  if ('isolate' in s) return `isolate ${s.isolate}`;
  if ('heal' in s) return `heal ${s.heal === 'all' ? 'all' : s.heal.join(', ')}`;
  if ('jam' in s) return `jam ${s.jam.join(' <-> ')}`;
  if ('release' in s) return `release ${s.release.join(' <-> ')}`;
  if ('reset' in s) return `reset the connections ${s.reset.join(' <-> ')}`;
  if ('latency' in s) {
    const v = s.latency.value;
    const value = typeof v === 'number' ? showDuration(v) : `${showDuration(v.min)}..${showDuration(v.max)}`;
    return `latency ${s.latency.between.join(' <-> ')} ${value}`;
  }
  if ('bandwidth' in s) {
    const value = s.bandwidth.value === null ? 'none' : `${showBytes(s.bandwidth.value)}/s`;
    return `bandwidth ${s.bandwidth.between.join(' <-> ')} ${value}`;
  }
  if ('crash' in s) {
    const when = s.when === undefined ? '' : ` at its ${ordinal(s.when.nth ?? 1)} ${s.when.event} event` +
      `${s.when.peer === undefined ? '' : ` with ${s.when.peer}`}`;
    const restart = s.restartAfter === undefined ? '' : `, restart ${showDuration(s.restartAfter)} later`;
    return `crash ${s.crash}${when}${restart}`;
  }
  if ('restart' in s) return `restart ${s.restart}`;
  if ('pause' in s) return `pause ${s.pause}`;
  if ('resume' in s) return `resume ${s.resume}`;
  if ('repair' in s) return `repair ${s.repair.path} on ${s.repair.on}, keeping the ${s.repair.keep} version`;
  return `wait until ${s.wait} (at most ${showDuration(s.within)})`;
}

/** The per-node summary: records made, shipped, applied, files fetched, conflicts, the KML. */
export function table(s: Scenario, r: ScenarioResult): string[] {
  const head = ['node', 'role', 'made', 'shipped', 'applied', 'fetched', 'conflicts', 'KML'];
  const rows = s.nodes.map((n) => {
    const nr = r.nodes[n.name];
    const c = nr?.counters;
    const role = n.role === 'server' ? 'server' : (n.mode ?? 'replicate');
    const kml = nr?.status === null || nr?.status === undefined ? (nr?.up === false ? 'down' : '-')
      : `${nr.status.kmlRecno} rec, ${showBytes(nr.status.kmlOffset)}`;
    return [n.name, role, `${c?.made ?? 0}`, `${c?.shipped ?? 0}`, `${c?.applied ?? 0}`,
      `${c?.fetches ?? 0} (${showBytes(c?.fetchedBytes ?? 0)})`, `${c?.conflicts ?? 0}`, kml];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((x, i) => (i < 2 ? x.padEnd(widths[i] ?? 0)
    : x.padStart(widths[i] ?? 0)))
    .join('  ').trimEnd();
  return [line(head), ...rows.map(line)];
}
