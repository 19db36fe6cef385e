/**
 * trace.ts: typed trace events, the source of every output users see.
 *
 * Layer: kernel basics. Every layer declares its events by adding entries to `TraceEventMap` (a
 * TypeScript interface, so `fs/` and `src/` extend it with `declare module` without the kernel
 * importing them). An event is a kind plus plain serializable data; the recorder stamps it with
 * the tick and host and keeps a stable JSON Lines form and a hash (sim/trace.ts).
 * Invariant: event data holds only JSON values, so a trace can be written, read back and compared.
 */

export type Json = null | boolean | number | string | readonly Json[] | { readonly [k: string]: Json };

/** Kernel events. Other layers add theirs with `declare module '.../kernel/trace.ts'`. */
export interface TraceEventMap {
  'task.spawn': { pid: number; comm: string };
  'task.sleep': { pid: number; point: string; timeout: number | null };
  'task.wake': { pid: number; point: string; reason: string };
  'task.exit': { pid: number; status: number };
  'blkdev.write': { dev: string; blk: number; seq: number; fua: boolean };
  'blkdev.flush': { dev: string; seq: number; epoch: number };
  /** `blk` is null for a failed flush (nothing became durable). */
  'blkdev.fault': { dev: string; blk: number | null; op: 'read' | 'write' | 'flush' };
  /** A read or write of a block past the end of the device (EIO): Linux's "access beyond end of device". */
  'blkdev.beyond_end': { dev: string; blk: number; blocks: number; op: 'read' | 'write' };
  /** One pending block at a power failure: `version` 0 kept the durable content, k the k-th pending write. */
  'blkdev.crash_block': { dev: string; blk: number; choices: number; version: number; tornMask: number | null };
  'blkdev.crash': { dev: string; pending: number; torn: number };
  // TCP (kernel/tcp*.ts, docs/network.md). Sockets are named "host:port".
  'tcp.listen': { local: string; backlog: number };
  /** connect() sent its SYN. */
  'tcp.connect': { local: string; peer: string };
  /** The handshake completed at this end; `rtt` is the smoothed RTT in µs (0 before a sample). */
  'tcp.established': { local: string; peer: string; side: 'client' | 'server'; rtt: number };
  'tcp.accept': { local: string; peer: string };
  /** A retransmission timeout: `what` was sent again; `rto` is the next timeout, µs; `unacked`: bytes in flight. */
  'tcp.retransmit': { local: string; peer: string; what: string; attempt: number; rto: number; unacked: number };
  'tcp.probe': { local: string; peer: string; kind: 'window' | 'keepalive'; n: number };
  /** The connection gave up; `error` is what the user's next call gets (null: nobody is told). */
  'tcp.timeout': { local: string; peer: string; reason: string; error: string | null };
  'tcp.reset.sent': { local: string; peer: string; reason: string };
  'tcp.reset.received': { local: string; peer: string; state: string; error: string | null };
  'tcp.fin': { local: string; peer: string; dir: 'sent' | 'received' };
  /** The user closed the socket: bytes not yet acknowledged by the peer, bytes received and not read. */
  'tcp.close': { local: string; peer: string | null; state: string; queued: number; unread: number };
  /** The connection is over at this end (out of the tables), with its totals. */
  'tcp.done': {
    local: string; peer: string; from: string; reason: string; sent: number; received: number; retransmits: number;
  };
  /** A segment dropped on arrival: malformed, or a full listen queue. */
  'tcp.drop': { local: string | null; peer: string; reason: string };
}

export type TraceKind = keyof TraceEventMap;

export interface Tracer {
  emit<K extends TraceKind>(kind: K, data: TraceEventMap[K]): void;
}

/** A tracer that drops everything, for code run outside a simulated world. */
export const nullTracer: Tracer = { emit() {} };
