/**
 * events.ts: lento's trace events: what it tells the world about each protocol step, through the
 * sys_trace system call (the stand-in for syslog). They are the source of every counter and of the
 * narration users read (`--explain`, the viewer), so each names its peer, its records and why.
 *
 * Layer: user space (lento). Interface: the TraceEventMap entries below, and `say(p, kind, data)`.
 * Invariant: event data is plain JSON; record numbers are the sender's, offsets logical.
 */
import type { Process } from '../../kernel/process.ts';
import { sys_trace } from '../../kernel/syscalls.ts';
import type { TraceEventMap, TraceKind } from '../../kernel/trace.ts';

export interface VersionJson {
  readonly mtime: string;
  readonly size: number;
}

export interface ConflictVersionJson {
  readonly node: string;
  readonly side: string;
  readonly mtime: string;
  readonly size: number;
}

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    /** lento started on this host with this role. */
    'lento.start': { node: string; role: string; fileset: string; mode: string };
    'lento.stop': { node: string; reason: string };
    /** A client tries to reach its server; `error` when it failed (an errno name). */
    'lento.connect': { peer: string; attempt: number; error: string | null };
    /** A session with a peer came up (after authentication and REPSTATUS) or went down, and why. */
    'lento.session': { peer: string; state: 'up' | 'down'; reason: string };
    /** A peer was refused: a wrong secret, an unknown node, or damage in what it sent. */
    'lento.refused': { peer: string; reason: string };
    /** REPSTATUS: how far each side has applied the other's log, and where each log ends. */
    'lento.repstatus': {
      peer: string; peer_applied: number; peer_kml: number; applied: number; kml: number;
    };
    /** Records sent to a peer (noops: the peer's own records, sent back as NOOPs). */
    'lento.ship': { to: string; first: number; last: number; records: number; noops: number; bytes: number };
    /** A peer acknowledged our records up to `recno` (applied and durable there). */
    'lento.ack': { from: string; recno: number };
    /** Records of a peer replayed here (one chunk), and their outcomes. */
    'lento.apply': {
      from: string; first: number; last: number; applied: number; duplicates: number; conflicts: number;
    };
    /**
     * A record that conflicts here, what the policy did with it (resolve.ts), and both versions
     * where known (node, side, mtime on that node's clock, size); `copy`: the loser's copy, or ''.
     */
    'lento.conflict': {
      from: string; recno: number; cls: string; op: string; path: string; reason: string; action: string;
      policy: string; local: ConflictVersionJson | null; remote: ConflictVersionJson | null; copy: string;
    };
    /** A conflict that was none: both sides hold the same bytes (`kept`: whose times stand). */
    'lento.identical': { from: string; recno: number; path: string; kept: 'local' | 'remote' };
    /** File data fetched from a peer (a replayed CLOSE's backfetch, or an on-demand open). */
    'lento.fetch': { from: string; why: 'backfetch' | 'open'; path: string; bytes: number; status: string };
    /** File data served to a peer. */
    'lento.serve': { to: string; path: string; bytes: number; status: string };
    /** The fileset write permit: asked for, granted, revoked, released, or taken while disconnected. */
    'lento.permit': { what: string; holder: string; peer: string };
    /** The KML's head cut: every peer had applied past `upto`. */
    'lento.truncate': { upto: number; limit: number };
  }
}

/** Tell the world what lento did (through the kernel: sys_trace). */
export function say<K extends TraceKind>(p: Process, kind: K, data: TraceEventMap[K]): void {
  sys_trace(p, kind, data);
}
