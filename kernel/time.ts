/**
 * time.ts: the clocks a program may read (Linux kernel/time.c and posix-timers: clock_gettime).
 *
 * Layer: kernel. Interface: `sys_clock_gettime(p, CLOCK_MONOTONIC)` is the world's tick count in
 * microseconds (what timeouts are measured against); `sys_clock_gettime(p, CLOCK_REALTIME)` is
 * the host's real-time clock in microseconds since the Unix epoch: EPOCH_BASE_SEC (2002-01-01) plus
 * the tick count plus the host's clock skew, the same clock file times are stamped with.
 * Invariant: CLOCK_MONOTONIC never goes backwards; both are integers.
 */
import { EINVAL, type Errno } from './errno.ts';
import type { Process } from './process.ts';
import { EPOCH_BASE_SEC, TICKS_PER_SEC } from './types.ts';

export const CLOCK_REALTIME = 0;
export const CLOCK_MONOTONIC = 1;

export function sys_clock_gettime(p: Process, clock: number): number | Errno {
  if (clock === CLOCK_MONOTONIC) return p.kernel.now();
  if (clock === CLOCK_REALTIME) return EPOCH_BASE_SEC * TICKS_PER_SEC + p.kernel.realtime();
  return EINVAL;
}
