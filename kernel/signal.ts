/**
 * signal.ts: sending signals and noticing them (Linux kernel/signal.c: sys_kill, signal_pending).
 *
 * Layer: kernel. Interface: `sys_kill(p, pid, sig)` delivers `sig` to the thread group `pid`
 * belongs to: every thread gets it pending, and each one in an interruptible sleep (a socket call,
 * a futex wait, a read of /dev/intermezzo) wakes, so that call returns EINTR; `sys_sigpending(p)`
 * says which signals are pending for the caller, `sys_sigtake(p, sig)` takes one (there are no
 * signal handlers in the model: a program polls for the signals it cares about, which is all lento
 * needs to stop cleanly on SIGTERM). Permission as Linux: root, or the same real or effective uid.
 * Invariants: a signal is pending until taken; only interruptible sleeps are cut short.
 */
import { EINVAL, EPERM, ESRCH, type Errno } from './errno.ts';
import type { Process } from './process.ts';

export const SIGHUP = 1;
export const SIGINT = 2;
export const SIGKILL = 9;
export const SIGTERM = 15;

export function sys_kill(p: Process, pid: number, sig: number): 0 | Errno {
  if (!Number.isInteger(sig) || sig < 1 || sig > 31) return EINVAL;
  const target = p.kernel.procs.get(pid);
  if (target === undefined) return ESRCH;
  const c = p.cred;
  if (c.euid !== 0 && c.euid !== target.cred.uid && c.uid !== target.cred.uid) return EPERM;
  for (const t of p.kernel.procs.values()) {
    if (t.tgid !== target.tgid) continue;
    t.sigpending |= 1 << sig;
    t.task?.interrupt();
  }
  return 0;
}

/** The caller's pending signals, one bit per signal number. */
export function sys_sigpending(p: Process): number {
  return p.sigpending;
}

/** Take pending signal `sig` (true if it was pending). */
export function sys_sigtake(p: Process, sig: number): boolean {
  const bit = 1 << sig;
  const was = (p.sigpending & bit) !== 0;
  p.sigpending &= ~bit;
  return was;
}
