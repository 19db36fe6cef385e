/**
 * syslog.ts: how user space reports what it did (Linux's syslog(3) writing to /dev/log, here as
 * typed trace events through the kernel's tracer).
 *
 * Layer: kernel. Interface: `sys_trace(p, kind, data)` records the event `kind` (declared in
 * TraceEventMap by the program's own module, as kernel layers declare theirs) on the caller's host,
 * stamped with the time; it is how lento's protocol steps reach `--explain`, the counters and the
 * viewer without lento touching anything but system calls. Never blocks, never fails.
 * Invariant: the data is plain JSON (the tracer's rule), copied by the recorder when kept.
 */
import type { Process } from './process.ts';
import type { TraceEventMap, TraceKind } from './trace.ts';

export function sys_trace<K extends TraceKind>(p: Process, kind: K, data: TraceEventMap[K]): 0 {
  p.kernel.tracer.emit(kind, data);
  return 0;
}
