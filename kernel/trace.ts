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
  /** One pending block at a power failure: `version` 0 kept the durable content, k the k-th pending write. */
  'blkdev.crash_block': { dev: string; blk: number; choices: number; version: number; tornMask: number | null };
  'blkdev.crash': { dev: string; pending: number; torn: number };
}

export type TraceKind = keyof TraceEventMap;

export interface Tracer {
  emit<K extends TraceKind>(kind: K, data: TraceEventMap[K]): void;
}

/** A tracer that drops everything, for code run outside a simulated world. */
export const nullTracer: Tracer = { emit() {} };
