/**
 * trace.ts: the trace recorder: stamps events, keeps JSON Lines, hashes the whole run.
 *
 * Layer: simulation. Interface: `new TraceRecorder(clock, {keep})`; `tracerFor(host)` gives the
 * `Tracer` a host's kernel emits into; `lines()` the JSON Lines text (when kept); `hash()` a 64-bit
 * hex digest of every line so far. A line is `{"t":TICK,"host":"NAME","ev":"KIND",...data}` with
 * data keys in the order the emitting code wrote them, which is fixed by the code, so the same run
 * gives the same bytes. The determinism test compares hashes of two runs of one seed.
 */
import type { Clock } from '../kernel/timer.ts';
import type { Json, TraceEventMap, TraceKind, Tracer } from '../kernel/trace.ts';

export interface TraceRecord {
  readonly t: number;
  readonly host: string;
  readonly ev: TraceKind;
  readonly data: TraceEventMap[TraceKind];
}

export interface TraceOptions {
  /** Keep the events in memory (for output); the hash is always kept. */
  readonly keep?: boolean;
  /** Called with each event as it is recorded (for live output). */
  readonly onEvent?: (r: TraceRecord) => void;
}

/** Two FNV-1a lanes with different offset bases: 64 bits of digest, fast, no BigInt. */
class Digest {
  private a = 0x811c9dc5;
  private b = 0x050c5d1f;
  update(s: string): void {
    let a = this.a;
    let b = this.b;
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
    }
    this.a = a;
    this.b = b;
  }
  hex(): string {
    return (this.a >>> 0).toString(16).padStart(8, '0') + (this.b >>> 0).toString(16).padStart(8, '0');
  }
}

/** One event as its JSON line (without the newline). */
export function traceLine(r: TraceRecord): string {
  const head = `{"t":${r.t},"host":${JSON.stringify(r.host)},"ev":${JSON.stringify(r.ev)}`;
  const body = JSON.stringify(r.data as Json);
  return body === '{}' ? `${head}}` : `${head},${body.slice(1)}`;
}

/** Parse one JSON line back into a record (the inverse of traceLine). */
export function parseTraceLine(line: string): TraceRecord {
  const o = JSON.parse(line) as Record<string, Json>;
  const { t, host, ev, ...data } = o;
  if (typeof t !== 'number' || typeof host !== 'string' || typeof ev !== 'string') {
    throw new Error(`not a trace line: ${line.slice(0, 80)}`);
  }
  return { t, host, ev: ev as TraceKind, data: data as TraceEventMap[TraceKind] };
}

export class TraceRecorder {
  private readonly digest = new Digest();
  private readonly kept: TraceRecord[] = [];
  private readonly listeners: Array<(r: TraceRecord) => void> = [];
  count = 0;

  constructor(
    private readonly clock: Clock,
    private readonly options: TraceOptions = {},
  ) {}

  tracerFor(host: string): Tracer {
    return {
      emit: <K extends TraceKind>(kind: K, data: TraceEventMap[K]) => this.record(host, kind, data),
    };
  }

  record<K extends TraceKind>(host: string, ev: K, data: TraceEventMap[K]): void {
    const r: TraceRecord = { t: this.clock.now(), host, ev, data };
    this.digest.update(traceLine(r));
    this.digest.update('\n');
    this.count++;
    if (this.options.keep === true) this.kept.push(r);
    this.options.onEvent?.(r);
    for (const l of this.listeners) l(r);
  }

  /** Also call `fn` with every later event (a test's probe, a scenario's crash trigger). */
  listen(fn: (r: TraceRecord) => void): void {
    this.listeners.push(fn);
  }

  records(): readonly TraceRecord[] {
    return this.kept;
  }

  lines(): string {
    return this.kept.map((r) => traceLine(r) + '\n').join('');
  }

  hash(): string {
    return this.digest.hex();
  }
}
