/**
 * recovery.ts: reading the log and replaying it after a crash (Linux fs/jbd/recovery.c).
 *
 * Layer: fs (JBD). Interface: `journal_scan(io)` reads the log from the superblock's tail and
 * describes every transaction in it (what `izo journal` prints); `journal_recover(io)` makes the
 * three passes: SCAN finds the end of the log (the first transaction without a valid commit block:
 * a torn or unfinished last transaction is never replayed), REVOKE collects, per block, the newest
 * transaction that revoked it, REPLAY copies each logged block home unless a revoke at or after its
 * transaction forbids it, restoring escaped magic numbers. Then it flushes the device and only then
 * resets the journal (s_start = 0, s_sequence past every tid seen), so a crash during recovery
 * leaves a journal that recovers again to the same result.
 * `io` reads and writes journal-relative log blocks and file-system blocks; nothing here knows
 * where the journal lives (ext3 maps it through inode 8).
 */
import { EIO, isErr, type Errno } from '../../kernel/errno.ts';
import {
  decodeJournalSuperblock, decodeRevoke, decodeTags, patchJournalTail, JFS_COMMIT_BLOCK, JFS_DESCRIPTOR_BLOCK,
  JFS_FLAG_ESCAPE, JFS_KNOWN_INCOMPAT, JFS_MAGIC_NUMBER, JFS_REVOKE_BLOCK, readHeader, tidGeq, type JournalSuperblock,
} from './jbd.ts';

/**
 * TEST ONLY: a deliberately broken recovery, so that a crash harness can prove it notices one
 * (negative control). 'skip-revoke' ignores revoke records (stale metadata replayed over reused
 * blocks); 'first-transaction-only' replays only the oldest committed transaction. It reaches
 * recovery as an argument (ext3's test-only mount option `recovery_fault=`), never as shared state,
 * so one harness run can never break another world's recovery.
 */
export type RecoveryFault = 'none' | 'skip-revoke' | 'first-transaction-only';

export interface JournalIo {
  readonly blocksize: number;
  /** Read log block `n` (journal-relative; 0 is the journal superblock). */
  readLog(n: number, dst: Uint8Array): 0 | Errno;
  writeLog(n: number, src: Uint8Array): 0 | Errno;
  /** Write file-system block `blk` in place. */
  writeHome(blk: number, src: Uint8Array): 0 | Errno;
  /** Make every earlier write durable. */
  flush(): 0 | Errno;
}

export interface LoggedBlock {
  readonly logBlock: number;
  readonly fsBlock: number;
  readonly flags: number;
}

export interface LoggedTransaction {
  readonly tid: number;
  readonly firstBlock: number;
  readonly blocks: LoggedBlock[];
  readonly revokes: number[];
  /** Where its commit block is; null for the unfinished transaction at the end of the log. */
  commitBlock: number | null;
}

export interface JournalScan {
  readonly jsb: JournalSuperblock;
  /** s_start was 0: the journal was cleanly shut down and holds nothing to replay. */
  readonly clean: boolean;
  /** Committed transactions, oldest first. */
  readonly transactions: LoggedTransaction[];
  /** A transaction begun in the log but without a commit block (never replayed). */
  readonly unfinished: LoggedTransaction | null;
  /** The first tid not committed in the log. */
  readonly endTid: number;
  /** Why the scan stopped, for people. */
  readonly stopReason: string;
}

export interface RecoveryReport {
  readonly scan: JournalScan;
  readonly replayed: number;
  readonly revokedSkips: number;
  readonly newSequence: number;
}

/** Next log block after `n`, wrapping from the last block back to s_first. */
function nextLog(jsb: JournalSuperblock, n: number): number {
  const m = n + 1;
  return m >= jsb.maxlen ? jsb.first : m;
}

export function read_journal_superblock(io: JournalIo): JournalSuperblock | string {
  const b = new Uint8Array(io.blocksize);
  if (isErr(io.readLog(0, b))) return 'I/O error reading the journal superblock';
  const jsb = decodeJournalSuperblock(b);
  if (typeof jsb === 'string') return jsb;
  if (jsb.blocksize !== io.blocksize) return `journal block size ${jsb.blocksize} differs from the file system's ${io.blocksize}`;
  if ((jsb.featureIncompat & ~JFS_KNOWN_INCOMPAT) !== 0) {
    return `journal has incompatible features 0x${(jsb.featureIncompat & ~JFS_KNOWN_INCOMPAT).toString(16)} this model does not implement`;
  }
  if (jsb.first < 1 || jsb.first >= jsb.maxlen) return `journal s_first ${jsb.first} outside 1..${jsb.maxlen - 1}`;
  if (jsb.start !== 0 && (jsb.start < jsb.first || jsb.start >= jsb.maxlen)) return `journal s_start ${jsb.start} outside the log`;
  return jsb;
}

/** Read the log from the tail and describe it. Errors: a message (format) or EIO. */
export function journal_scan(io: JournalIo): JournalScan | string | Errno {
  const jsb = read_journal_superblock(io);
  if (typeof jsb === 'string') return jsb;
  const transactions: LoggedTransaction[] = [];
  if (jsb.start === 0) {
    return { jsb, clean: true, transactions, unfinished: null, endTid: jsb.sequence, stopReason: 'journal is clean (s_start = 0)' };
  }
  const b = new Uint8Array(io.blocksize);
  let tid = jsb.sequence;
  let pos = jsb.start;
  let cur: LoggedTransaction | null = null;
  let stopReason = '';
  // Never walk more than the whole log: a valid log cannot be longer.
  for (let visited = 0; ; visited++) {
    if (visited > jsb.maxlen) {
      stopReason = 'walked the whole log';
      break;
    }
    if (isErr(io.readLog(pos, b))) return EIO;
    const h = readHeader(b);
    if (h.magic !== JFS_MAGIC_NUMBER) {
      stopReason = `no magic number at log block ${pos}`;
      break;
    }
    if (h.sequence !== tid) {
      stopReason = `log block ${pos} has sequence ${h.sequence}, expected ${tid}`;
      break;
    }
    cur ??= { tid, firstBlock: pos, blocks: [], revokes: [], commitBlock: null };
    if (h.blocktype === JFS_DESCRIPTOR_BLOCK) {
      for (const tag of decodeTags(b)) {
        pos = nextLog(jsb, pos);
        cur.blocks.push({ logBlock: pos, fsBlock: tag.blocknr, flags: tag.flags });
      }
    } else if (h.blocktype === JFS_REVOKE_BLOCK) {
      const revoked = decodeRevoke(b);
      if (typeof revoked === 'string') {
        stopReason = `log block ${pos}: ${revoked}`;
        break;
      }
      cur.revokes.push(...revoked);
    } else if (h.blocktype === JFS_COMMIT_BLOCK) {
      cur.commitBlock = pos;
      transactions.push(cur);
      cur = null;
      tid = (tid + 1) >>> 0;
    } else {
      stopReason = `log block ${pos} has unknown type ${h.blocktype}`;
      break;
    }
    pos = nextLog(jsb, pos);
  }
  return { jsb, clean: false, transactions, unfinished: cur, endTid: tid, stopReason };
}

/** Replay the committed transactions and reset the journal. */
export function journal_recover(io: JournalIo, fault: RecoveryFault = 'none'): RecoveryReport | string | Errno {
  const scan = journal_scan(io);
  if (typeof scan === 'string' || isErr(scan)) return scan;
  if (scan.clean) return { scan, replayed: 0, revokedSkips: 0, newSequence: scan.jsb.sequence };
  // REVOKE pass: per block, the newest committed transaction that revoked it.
  const revoked = new Map<number, number>();
  for (const t of fault === 'skip-revoke' ? [] : scan.transactions) {
    for (const blk of t.revokes) {
      const prev = revoked.get(blk);
      if (prev === undefined || tidGeq(t.tid, prev)) revoked.set(blk, t.tid);
    }
  }
  // REPLAY pass.
  const b = new Uint8Array(io.blocksize);
  let replayed = 0;
  let revokedSkips = 0;
  for (const t of fault === 'first-transaction-only' ? scan.transactions.slice(0, 1) : scan.transactions) {
    for (const lb of t.blocks) {
      const r = revoked.get(lb.fsBlock);
      if (r !== undefined && tidGeq(r, t.tid)) {
        revokedSkips++;
        continue;
      }
      if (isErr(io.readLog(lb.logBlock, b))) return EIO;
      if ((lb.flags & JFS_FLAG_ESCAPE) !== 0) new DataView(b.buffer).setUint32(0, JFS_MAGIC_NUMBER);
      if (isErr(io.writeHome(lb.fsBlock, b))) return EIO;
      replayed++;
    }
  }
  // Everything replayed must be durable before the log that holds it is forgotten.
  if (isErr(io.flush())) return EIO;
  const newSequence = (scan.endTid + 1) >>> 0;
  const sb = new Uint8Array(io.blocksize);
  if (isErr(io.readLog(0, sb))) return EIO;
  patchJournalTail(sb, newSequence, 0);
  if (isErr(io.writeLog(0, sb))) return EIO;
  if (isErr(io.flush())) return EIO;
  return { scan, replayed, revokedSkips, newSequence };
}
