/**
 * trace.ts: the trace recorder: stamps events, keeps JSON Lines, hashes the whole run.
 *
 * Layer: simulation. Interface: `new TraceRecorder(clock, {keep})`; `tracerFor(host)` gives the
 * `Tracer` a host's kernel emits into; `lines()` the JSON Lines text (when kept); `hash()` a 64-bit
 * hex digest of every event so far (its time, host, kind and typed fields). A line is
 * `{"t":TICK,"host":"NAME","ev":"KIND",...data}` with data keys in the order the emitting code
 * wrote them, which is fixed by the code, so the same run gives the same bytes. The determinism
 * test compares hashes of two runs of one seed.
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

/**
 * Two FNV-1a lanes with different offset bases: 64 bits of digest, fast, no BigInt. Values are fed
 * as typed fields (a tag, then the value's own bits or characters), not as JSON text: building a
 * line per event only to hash it was the simulator's largest single cost when nobody kept the
 * trace. Keys go in the order the emitting code wrote them, as in the JSON line, and a field whose
 * value is undefined is skipped, as JSON.stringify skips it.
 */
class Digest {
  private a = 0x811c9dc5;
  private b = 0x050c5d1f;

  private word(c: number): void {
    this.a = Math.imul(this.a ^ c, 0x01000193);
    this.b = Math.imul(this.b ^ c, 0x01000193) ^ (this.b >>> 15);
  }

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

  /** A string, with its length first so that neighbouring strings cannot run together. */
  private text(s: string): void {
    this.word(s.length);
    this.update(s);
  }

  private num(n: number): void {
    if (Number.isSafeInteger(n)) {
      this.word(1);
      this.word(n | 0);
      this.word(Math.floor(n / 0x1_0000_0000) | 0);
    } else {
      this.word(2);
      this.text(String(n));
    }
  }

  value(v: Json | undefined): void {
    if (v === null) this.word(3);
    else if (typeof v === 'number') this.num(v);
    else if (typeof v === 'string') { this.word(4); this.text(v); }
    else if (typeof v === 'boolean') this.word(v ? 5 : 6);
    else if (Array.isArray(v)) {
      this.word(7);
      this.word(v.length);
      for (const x of v as readonly Json[]) this.value(x);
    } else if (typeof v === 'object') this.fields(v as { readonly [k: string]: Json });
  }

  private fields(o: { readonly [k: string]: Json | undefined }): void {
    this.word(8);
    for (const k in o) {
      const x = o[k];
      if (x === undefined) continue;
      this.text(k);
      this.value(x);
    }
    this.word(9);
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
    this.digest.value(r.t);
    this.digest.value(host);
    this.digest.value(ev);
    this.digest.value(data as Json);
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
