/**
 * Conflict detection in kml_reint: two replicas share a base (A's records replayed into B), then
 * both change the same thing while apart; replaying A's new records into B must report the right
 * class (NAME, UPDATE, DELETE, RENAME), apply nothing (B's tree and A's last_rcvd record on B are
 * as before), and leave the record replayable once resolved. Duplicates and gaps in the record
 * numbers are reported as such. Directories are certified by meaning: different names added or
 * removed in one directory on both sides are no conflict, and the directory's times merge the same
 * way in either order; a removal already done here is no conflict either; a replay re-logs exactly
 * one record per record (NOOP where it changed nothing), which a server forwarding its log relies on.
 */
import { describe, expect, it } from 'vitest';
import { isErr } from '../../../kernel/errno.ts';
import type { Process } from '../../../kernel/process.ts';
import { TICKS_PER_SEC } from '../../../kernel/types.ts';
import { World, type Host } from '../../../sim/host.ts';
import { kmlRecords, lastRcvd, replayRecords, serveUpcalls, type LogRecord } from '../../support/replay.ts';
import { parseScript, runScript } from '../../../src/sh.ts';
import { snapshotTree, type TreeNode } from '../../../src/tree.ts';
import { REINT_FORCE, REINT_MERGE, REINT_OVERRIDE, REINT_RELOG } from '../../../fs/intermezzo/kml_reint.ts';
import { kml_encode, kml_relog_slot } from '../../../fs/intermezzo/kml.ts';
import { filesetProcess, replicaHost } from '../../support/presto.ts';

const UUID_A = new Uint8Array(16).fill(0xa1);

class Pair {
  readonly w = new World({ seed: 3 });
  readonly a: Host;
  readonly b: Host;
  readonly pa: Process;
  readonly pb: Process;
  private readonly reader: Process;
  constructor() {
    this.a = replicaHost(this.w, 'a');
    this.b = replicaHost(this.w, 'b');
    this.pa = filesetProcess(this.a, 'sh');
    this.pb = filesetProcess(this.b, 'sh');
    this.reader = this.a.process('reader');
    serveUpcalls(this.b, '/izo', 'f', this.reader, { backfetches: 0, opens: 0 });
  }

  sh(h: Host, p: Process, text: string): void {
    const parsed = parseScript(text);
    if (!('commands' in parsed)) throw new Error(JSON.stringify(parsed.errors));
    const results = h.run(p, runScript(p, parsed.commands));
    for (const r of results) expect(r.status, String(r.line)).toBe('ok');
    this.w.sched.runFor(2 * TICKS_PER_SEC); // later changes get later times
  }

  recordsOfA(): LogRecord[] {
    const k = this.a.run(this.reader, kmlRecords(this.reader, '/izo', 'f'));
    if (isErr(k)) throw new Error(String(k));
    return k.records;
  }

  recordsOfB(): LogRecord[] {
    const r = this.b.process('reader');
    const k = this.b.run(r, kmlRecords(r, '/izo', 'f'));
    if (isErr(k)) throw new Error(String(k));
    return k.records;
  }

  replayA(records = this.recordsOfA(), flags = 0) {
    const r = this.b.process('reint');
    return this.b.run(r, replayRecords(r, '/izo', 'f', UUID_A, records, flags));
  }

  treeB(): TreeNode {
    const t = this.b.run(this.pb, snapshotTree(this.pb, '/', { times: true, skip: ['lost+found', '.intermezzo'] }));
    if (isErr(t)) throw new Error(String(t));
    return t;
  }

  rcvdB(): number {
    const r = this.b.process('q');
    const n = this.b.run(r, lastRcvd(r, '/izo', 'f', UUID_A));
    if (isErr(n)) throw new Error(String(n));
    return n;
  }
}

/** Base on both, then A and B each change; A's next record must conflict with class `cls`. */
function conflictCase(base: string, onA: string, onB: string, cls: string, op: string): void {
  const x = new Pair();
  x.sh(x.a, x.pa, base);
  const first = x.replayA();
  expect(first.outcomes.every((o) => o.kind === 'applied')).toBe(true);
  const baseCount = x.rcvdB();
  x.sh(x.a, x.pa, onA);
  x.sh(x.b, x.pb, onB);
  const before = x.treeB();
  const rep = x.replayA();
  const last = rep.outcomes.at(-1);
  expect(last?.kind).toBe('conflict');
  if (last?.kind !== 'conflict') return;
  expect(last.cls).toBe(cls);
  expect(x.recordsOfA()[last.recno - 1]?.rec.body.op).toBe(op);
  expect(x.treeB()).toEqual(before);
  expect(x.rcvdB()).toBe(baseCount);
}

describe('kml_reint conflict classes', () => {
  it('NAME: both create the same name', () => {
    conflictCase('mkdir /d', "write /d/x 'from a'", "write /d/x 'from b'", 'NAME', 'CREATE');
  });

  it('UPDATE: both change the same file', () => {
    conflictCase("write /f 'base'", "write /f 'a changed it'", "write /f 'b too'", 'UPDATE', 'CLOSE');
  });

  it('DELETE: A updates a file that B removed', () => {
    conflictCase("write /f 'base'", 'chmod 600 /f', 'rm /f', 'DELETE', 'SETATTR');
  });

  it('DELETE of a file updated here names the entry removed, not its directory, as the path in conflict', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "mkdir /d\nwrite /d/f 'base'");
    x.replayA();
    x.sh(x.a, x.pa, 'rm /d/f');
    x.sh(x.b, x.pb, "append /d/f ' b changed it'");
    const last = x.replayA().outcomes.at(-1);
    expect(last).toMatchObject({ kind: 'conflict', cls: 'DELETE', path: '/d/f' });
  });

  it('RENAME: both rename the same file to different names', () => {
    conflictCase("write /a 'base'", 'mv /a /b', 'mv /a /c', 'RENAME', 'RENAME');
  });

  it('a forced replay applies the conflicting record and advances last_rcvd', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "write /f 'base'");
    x.replayA();
    x.sh(x.a, x.pa, 'chmod 600 /f');
    x.sh(x.b, x.pb, 'chmod 644 /f');
    const recs = x.recordsOfA();
    const c = x.replayA(recs);
    expect(c.outcomes.at(-1)?.kind).toBe('applied'); // chmod keeps mtime and size: no conflict
    x.sh(x.a, x.pa, "append /f ' more'");
    x.sh(x.b, x.pb, "append /f ' other'");
    const u = x.replayA();
    expect(u.outcomes.at(-1)).toMatchObject({ kind: 'conflict', cls: 'UPDATE' });
    const all = x.recordsOfA();
    const forced = x.replayA(all, REINT_FORCE);
    expect(forced.outcomes.at(-1)?.kind).toBe('applied');
    expect(x.rcvdB()).toBe(all.length);
  });

  it('duplicates and gaps are reported and change nothing', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "mkdir /d\nwrite /d/x 'one'\nmkdir /e");
    const recs = x.recordsOfA();
    const gap = x.replayA([recs[1] as LogRecord]);
    expect(gap.outcomes).toEqual([{ kind: 'out_of_order', recno: 2, expected: 1 }]);
    expect(x.rcvdB()).toBe(0);
    x.replayA(recs);
    const before = x.treeB();
    const dup = x.replayA([recs[0] as LogRecord]);
    expect(dup.outcomes).toEqual([{ kind: 'duplicate', recno: 1, last: recs.length }]);
    expect(x.treeB()).toEqual(before);
  });

  it('a record naming a path inside /.intermezzo, or with "..", is refused as bad, and nothing happens', () => {
    const x = new Pair();
    const v = { mtime_sec: 0, mtime_nsec: 0, ctime_sec: 0, ctime_nsec: 0, size: 0 };
    const bad = (path: string): LogRecord => {
      const rec = {
        pid: 1, auid: 0, fsuid: 0, fsgid: 0, groups: [0], recno: 1, time: 0,
        body: { op: 'MKDIR' as const, old_parent: v, new_parent: v, new_object: v, mode: 0o40755, uid: 0, gid: 0, path },
      };
      const bytes = kml_encode(rec);
      return { rec, bytes, logical: 0 };
    };
    for (const path of ['/.intermezzo/f/evil', '/a/../../x', 'relative', '/a//b']) {
      const r = x.replayA([bad(path)]);
      expect(r.outcomes[0]?.kind, path).toBe('bad_record');
    }
    expect(x.rcvdB()).toBe(0);
    expect(Object.keys(x.treeB().children ?? {})).toEqual([]);
  });
});

describe('kml_reint: directories certified by meaning, removals already done, one record re-logged per record', () => {
  it('both sides add different names to one directory: no conflict; its times are the later of the two', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, 'mkdir /d');
    x.replayA();
    x.sh(x.b, x.pb, "write /d/fromb 'b'");
    x.sh(x.a, x.pa, "write /d/froma 'a'\nrm /d/froma\nmkdir /d/e");
    const rep = x.replayA(x.recordsOfA().slice(1));
    expect(rep.outcomes.map((o) => o.kind)).toEqual(['applied', 'applied', 'applied', 'applied']);
    const d = x.treeB().children?.d;
    expect(Object.keys(d?.children ?? {}).sort()).toEqual(['e', 'fromb']);
    // A changed /d last (its clock is the later one here): B's /d takes A's times, as A's /d has them.
    const ta = x.a.run(x.pa, snapshotTree(x.pa, '/d', { times: true }));
    if (isErr(ta)) throw new Error(String(ta));
    expect([d?.mtime, d?.ctime]).toEqual([ta.mtime, ta.ctime]);
  });

  it('...and when this side changed the directory later, it keeps its own (later) times', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, 'mkdir /d');
    x.replayA();
    x.sh(x.a, x.pa, 'mkdir /d/e');
    x.sh(x.b, x.pb, 'mkdir /d/f');
    const mine = x.treeB().children?.d;
    const rep = x.replayA(x.recordsOfA().slice(1));
    expect(rep.outcomes.map((o) => o.kind)).toEqual(['applied']);
    const d = x.treeB().children?.d;
    expect(Object.keys(d?.children ?? {})).toEqual(['e', 'f']);
    expect([d?.mtime, d?.ctime]).toEqual([mine?.mtime, mine?.ctime]);
  });

  it('a directory that is not empty here cannot be removed: NOTEMPTY, nothing applied', () => {
    conflictCase('mkdir /d', 'rmdir /d', "write /d/x 'b wrote here'", 'NOTEMPTY', 'RMDIR');
  });

  it('a name removed on both sides: applied as already done, re-logged as itself (a third replica merges too)', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "write /f 'base'");
    x.replayA();
    x.sh(x.a, x.pa, 'rm /f');
    x.sh(x.b, x.pb, 'rm /f');
    const before = x.recordsOfB().length;
    const recs = x.recordsOfA();
    const rep = x.replayA(recs, REINT_RELOG);
    expect(rep.outcomes.at(-1)).toMatchObject({ kind: 'applied', recno: recs.length });
    expect(x.rcvdB()).toBe(recs.length);
    expect(x.recordsOfB().slice(before).map((r) => r.rec.body.op)).toEqual(['UNLINK']);
  });

  it('re-logging gives one record per replayed record: a truncation logs no second CLOSE', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "write /f 'some bytes'\ntruncate /f 4\nwrite /g 'x'\nrm /g");
    const recs = x.recordsOfA();
    const rep = x.replayA(recs, REINT_RELOG);
    expect(rep.outcomes.map((o) => o.kind)).toEqual(recs.map(() => 'applied'));
    const mine = x.recordsOfB();
    expect(mine.map((r) => r.rec.body.op)).toEqual(recs.map((r) => r.rec.body.op));
    // Each outcome names the record it produced here: record k of A became record k of B.
    expect(rep.outcomes.map((o) => (o.kind === 'applied' ? o.local_recno : -1))).toEqual(mine.map((r) => r.rec.recno));
    // Each re-logged record names where it came from: A's last_rcvd slot on B (slot 0 is the zero uuid's).
    expect(mine.map((r) => kml_relog_slot(r.rec))).toEqual(recs.map(() => 1));
    // A's own records are local changes there.
    expect(recs.map((r) => kml_relog_slot(r.rec))).toEqual(recs.map(() => null));
  });

  it('a NOOP record only advances last_rcvd', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, 'mkdir /d');
    const [mk] = x.recordsOfA();
    if (mk === undefined) throw new Error('no record');
    const rec = { ...mk.rec, recno: 1, body: { op: 'NOOP' as const } };
    const bytes = kml_encode(rec);
    const before = x.treeB();
    const rep = x.replayA([{ rec, bytes, logical: 0 }]);
    expect(rep.outcomes).toEqual([{ kind: 'applied', recno: 1, local_recno: 0 }]);
    expect(x.rcvdB()).toBe(1);
    expect(x.treeB()).toEqual(before);
  });
});

describe('kml_reint: what a resolution policy asks for (close of a removed file, merge, override)', () => {
  it('a CLOSE of a file removed here is a DELETE conflict, not a silent pass', () => {
    conflictCase("write /f 'base'", "append /f ' more from a'", 'rm /f', 'DELETE', 'CLOSE');
  });

  it('REINT_MERGE: a CREATE onto a regular file here merges the names, re-logs the record, advances last_rcvd', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, 'mkdir /d');
    x.replayA();
    x.sh(x.a, x.pa, "write /d/x 'from a'");
    x.sh(x.b, x.pb, "write /d/x 'from b'");
    const before = x.recordsOfB().length;
    const recs = x.recordsOfA();
    const create = recs.slice(0, 2); // MKDIR, CREATE
    const rep = x.replayA(create, REINT_MERGE | REINT_RELOG);
    expect(rep.outcomes.at(-1)).toMatchObject({ kind: 'applied', recno: 2 });
    expect(x.rcvdB()).toBe(2);
    expect(x.recordsOfB().slice(before).map((r) => r.rec.body.op)).toEqual(['CREATE']);
    expect(x.treeB().children?.d?.children?.x?.content).toBe('from b'); // the contents are the CLOSE's concern
    const close = x.replayA(recs, REINT_MERGE);
    expect(close.outcomes.at(-1)).toMatchObject({ kind: 'conflict', cls: 'UPDATE' });
  });

  it('REINT_MERGE refuses objects of different types: the NAME conflict stands', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "write /x 'a file'");
    x.sh(x.b, x.pb, 'mkdir /x');
    const rep = x.replayA(x.recordsOfA(), REINT_MERGE);
    expect(rep.outcomes[0]).toMatchObject({ kind: 'conflict', cls: 'NAME' });
    expect(x.rcvdB()).toBe(0);
  });

  it('REINT_OVERRIDE: the re-logged CLOSE names the version it overwrote here, not the one the record saw', () => {
    const x = new Pair();
    x.sh(x.a, x.pa, "write /f 'base'");
    x.replayA();
    x.sh(x.a, x.pa, "append /f ' a'");
    x.sh(x.b, x.pb, "append /f ' b, longer'");
    const mine = x.recordsOfB();
    const local = mine.at(-1)?.rec.body;
    const before = mine.length;
    const recs = x.recordsOfA();
    const rep = x.replayA(recs, REINT_OVERRIDE | REINT_RELOG);
    expect(rep.outcomes.at(-1)?.kind).toBe('applied');
    const relog = x.recordsOfB().slice(before).map((r) => r.rec.body);
    expect(relog.map((b) => b.op)).toEqual(['CLOSE']);
    const theirs = recs.at(-1)?.rec.body;
    if (relog[0]?.op !== 'CLOSE' || local?.op !== 'CLOSE' || theirs?.op !== 'CLOSE') throw new Error('not a CLOSE');
    expect(relog[0].old_object).toEqual(local.new_object);
    expect(relog[0].old_object).not.toEqual(theirs.old_object);
    expect(relog[0].new_object.size).toBe(theirs.new_object.size);
  });
});
