/**
 * permit.ts: the fileset write permit (Linux fs/intermezzo/dir.c's presto_get_permit and
 * presto_put_permit, and vfs.c's presto_permit_downcall).
 *
 * Layer: fs (presto). Interface: `presto_get_permit(fset, p)` before any modifying operation:
 * if the fileset holds the permit its use count goes up; otherwise the first caller sends a
 * synchronous PERMIT upcall while later callers wait (PERMIT_WAITING); lento's answer 0 grants it,
 * EROFS refuses it; when lento is absent (ENODEV) or reports disconnection (ENOTCONN, or the upcall
 * times out: EINTR), the fileset takes the permit itself if STEAL_PERMIT is set ("disconnected
 * operation, stealing permit": from then on conflicts are possible), else the operation gets EROFS.
 * (The original tested the wrong sign of that error; this does what it meant.)
 * `presto_put_permit` drops the count; the permit stays cached. `presto_revoke_permit` waits until
 * the count drains to zero, tells lento with REVOKE_PERMIT, and clears HASPERMIT.
 * Lento's own calls and files under .intermezzo need no permit (the caller checks).
 * Invariants: permitCount > 0 only while HASPERMIT is set; at most one PERMIT upcall in flight.
 */
import { assert } from '../../kernel/assert.ts';
import { EINTR, ENODEV, ENOTCONN, EROFS, isErr, type Errno } from '../../kernel/errno.ts';
import type { Process } from '../../kernel/process.ts';
import {
  EMPTY_BODY, izo_upc_upcall, IZO_UPC_PERMIT, IZO_UPC_REVOKE_PERMIT, type Psdev, type UpcallChannel,
} from './psdev.ts';
import { sleepOn, wakeUp, WaitQueue, type Sys } from '../../kernel/sched.ts';

declare module '../../kernel/trace.ts' {
  interface TraceEventMap {
    'presto.permit': { fset: string; how: 'cached' | 'granted' | 'stolen' | 'refused' | 'revoked'; pid: number; count: number };
  }
}

// Fileset flags (FSET_*), with intermezzo_idl.h's values.
export const FSET_CLIENT_RO = 0x1;
export const FSET_LENTO_RO = 0x2;
export const FSET_HASPERMIT = 0x4;
export const FSET_INSYNC = 0x8;
export const FSET_PERMIT_WAITING = 0x10;
export const FSET_STEAL_PERMIT = 0x20;
export const FSET_JCLOSE_ON_WRITE = 0x40;
export const FSET_DATA_ON_DEMAND = 0x80;

/** What the permit logic needs of a fileset (the full fileset lives in fileset.ts). */
export interface PermitHolder {
  readonly name: string;
  flags: number;
  permitCount: number;
  readonly permitWait: WaitQueue;
  readonly psdev: Psdev;
  readonly channel: UpcallChannel;
}

export function newPermitWait(name: string): WaitQueue {
  return new WaitQueue(`permit ${name}`);
}

function trace(f: PermitHolder, how: 'cached' | 'granted' | 'stolen' | 'refused' | 'revoked', p: Process | null): void {
  f.psdev.kernel.tracer.emit('presto.permit', { fset: f.name, how, pid: p?.pid ?? 0, count: f.permitCount });
}

/** Is this lento itself (it never needs a permit)? */
export function islento(f: PermitHolder, p: Process): boolean {
  return f.channel.lentoPids.has(p.pid);
}

export function* presto_get_permit(f: PermitHolder, p: Process): Sys<0 | Errno> {
  for (;;) {
    if ((f.flags & FSET_HASPERMIT) !== 0) {
      f.permitCount++;
      trace(f, 'cached', p);
      return 0;
    }
    if ((f.flags & FSET_PERMIT_WAITING) !== 0) {
      yield* sleepOn(f.permitWait, 'presto.permit_wait');
      continue;
    }
    f.flags |= FSET_PERMIT_WAITING;
    const rc = yield* izo_upc_upcall(f.psdev, f.channel, IZO_UPC_PERMIT, { ...EMPTY_BODY, pid: p.pid, uid: p.cred.uid, fset: f.name }, { async: false });
    f.flags &= ~FSET_PERMIT_WAITING;
    wakeUp(f.permitWait);
    if (rc === 0) return grant(f, p, 'granted');
    const disconnected = rc === ENODEV || rc === ENOTCONN || rc === EINTR;
    if (disconnected && (f.flags & FSET_STEAL_PERMIT) !== 0) return grant(f, p, 'stolen');
    trace(f, 'refused', p);
    return isErr(rc) && rc !== EROFS && !disconnected ? rc : EROFS;
  }
}

function grant(f: PermitHolder, p: Process, how: 'granted' | 'stolen'): 0 {
  f.flags |= FSET_HASPERMIT;
  f.permitCount++;
  trace(f, how, p);
  return 0;
}

export function presto_put_permit(f: PermitHolder): void {
  assert(f.permitCount > 0 && (f.flags & FSET_HASPERMIT) !== 0, () => `put of the ${f.name} permit that is not held`);
  f.permitCount--;
  if (f.permitCount === 0) wakeUp(f.permitWait);
}

/** Give the permit back: wait for its users to finish, tell lento, clear HASPERMIT. */
export function* presto_revoke_permit(f: PermitHolder, p: Process): Sys<0 | Errno> {
  if ((f.flags & FSET_HASPERMIT) === 0) return 0;
  while (f.permitCount > 0) yield* sleepOn(f.permitWait, 'presto.permit_drain');
  const rc = yield* izo_upc_upcall(f.psdev, f.channel, IZO_UPC_REVOKE_PERMIT, { ...EMPTY_BODY, pid: p.pid, fset: f.name }, { async: false });
  f.flags &= ~FSET_HASPERMIT;
  trace(f, 'revoked', p);
  wakeUp(f.permitWait);
  return isErr(rc) && rc !== ENODEV ? rc : 0;
}
