/**
 * monitors.ts: properties of the I/O trace itself, checked once per recorded workload.
 *
 * Layer: user space harness (src/crash/). Interface: `monitorLog(log, journalMap, mode)` walks the
 * device's I/O log as the file system issued it (a flush counts as done even if a lying device
 * skipped it: these monitors judge the file system's protocol, the crash states judge the device)
 * and returns violations of:
 * - 'monitor-inplace': a block logged in transaction t is written home before t's commit block is
 *   durable (a crash would leave uncommitted metadata in place);
 * - 'monitor-commit': a commit block is written while log blocks are still pending (the commit
 *   could survive without what it vouches for);
 * - 'monitor-ordered': in ordered and journal modes, a commit block is written while data written
 *   home earlier is still pending;
 * - 'monitor-tail': the journal superblock (the tail) is written while home writes are pending.
 * Counterpart: dm-log-writes replay checks, done here on the log without replay.
 */
import type { IoLogEntry } from '../../kernel/blkdev.ts';
import {
  decodeTags, JFS_COMMIT_BLOCK, JFS_DESCRIPTOR_BLOCK, JFS_MAGIC_NUMBER, readHeader,
} from '../../fs/jbd/jbd.ts';
import type { DataMode } from './record.ts';

export interface MonitorViolation {
  readonly property: 'monitor-inplace' | 'monitor-commit' | 'monitor-ordered' | 'monitor-tail';
  /** Log index of the offending write. */
  readonly io: number;
  readonly message: string;
}

export function monitorLog(
  log: readonly IoLogEntry[], journalMap: ReadonlyMap<number, number>, mode: DataMode,
): MonitorViolation[] {
  const out: MonitorViolation[] = [];
  const pendingLog = new Set<number>();
  const pendingHome = new Set<number>();
  /** Home block -> tid whose log holds a copy not yet durably committed. */
  const uncommitted = new Map<number, number>();
  const commitsInFlight: number[] = [];
  const settle = (tid: number): void => {
    for (const [blk, t] of uncommitted) if (((tid - t) | 0) >= 0) uncommitted.delete(blk);
  };
  const flag = (property: MonitorViolation['property'], io: number, message: string): void => {
    out.push({ property, io, message });
  };
  log.forEach((e, io) => {
    if (e.op === 'flush') {
      pendingLog.clear();
      pendingHome.clear();
      for (const t of commitsInFlight) settle(t);
      commitsInFlight.length = 0;
      return;
    }
    const jblock = journalMap.get(e.blk);
    if (jblock === undefined) {
      const t = uncommitted.get(e.blk);
      if (t !== undefined) {
        flag('monitor-inplace', io, `block ${e.blk} written home before transaction ${t} is durable`);
      }
      if (!e.fua) pendingHome.add(e.blk);
      return;
    }
    const h = readHeader(e.data);
    const isJournal = h.magic === JFS_MAGIC_NUMBER;
    if (jblock === 0) {
      if (pendingHome.size > 0) {
        flag('monitor-tail', io, `journal tail written with ${pendingHome.size} home writes pending`);
      }
    } else if (isJournal && h.blocktype === JFS_COMMIT_BLOCK) {
      const others = [...pendingLog].filter((b) => b !== e.blk);
      if (others.length > 0) {
        flag('monitor-commit', io, `commit of ${h.sequence} written with ${others.length} log blocks pending`);
      }
      if (mode !== 'writeback' && pendingHome.size > 0) {
        flag('monitor-ordered', io, `commit of ${h.sequence} written with ${pendingHome.size} data blocks pending`);
      }
      if (e.fua) settle(h.sequence);
      else commitsInFlight.push(h.sequence);
    } else if (isJournal && h.blocktype === JFS_DESCRIPTOR_BLOCK) {
      for (const tag of decodeTags(e.data)) uncommitted.set(tag.blocknr, h.sequence);
    }
    if (!e.fua) pendingLog.add(e.blk);
  });
  return out;
}
