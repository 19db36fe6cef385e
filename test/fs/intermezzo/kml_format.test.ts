/**
 * The KML record format byte for byte (fs/intermezzo/kml.ts against docs/kml-format.md). Layer:
 * fs (presto), the format only. Interface under test: kml_encode, kml_decode, kml_scan. Checked:
 * (a) a record assembled by hand from the documented layout, written out below as hex, decodes to
 * the expected fields and encodes back to the same bytes; (b) the worked example in
 * docs/kml-format.md (read out of the file, so the page and the code cannot drift) is exactly what
 * kml_encode writes for that record and what a real workload (a presto root over ext3, seed 1)
 * writes; (c) properties: decode(encode(r)) equals r for random records of every opcode, and a
 * corrupted length, version or suffix length is damage, never a throw. Counterpart: the original's
 * kml_unpack.c reading journal.c's records.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { World } from '../../../sim/host.ts';
import { isDamage, kml_decode, kml_encode, kml_scan, size_round, type KmlRecord } from '../../../fs/intermezzo/kml.ts';
import { anyRecord, isLml, OPS, recordOf } from '../../support/kml_arb.ts';
import { hostSys } from '../../support/boot.ts';
import { prestoHost, readWhole } from '../../support/presto.ts';

const DOC = join(import.meta.dirname, '../../../docs/kml-format.md');

/** Bytes from hex written with spaces, newlines and `#` comments. */
function unhex(s: string): Uint8Array {
  const digits = s.split('\n').map((l) => l.replace(/#.*$/, '')).join('').replace(/\s+/g, '');
  expect(digits).toMatch(/^([0-9a-f]{2})*$/);
  return Uint8Array.from(digits.match(/../g) ?? [], (h) => parseInt(h, 16));
}

/**
 * The worked example of docs/kml-format.md: the hex block after the marker comment. Each line is
 * `OFFSET  BYTES  # field`; the offsets must count the bytes before them.
 */
function docExample(): Uint8Array {
  const doc = readFileSync(DOC, 'utf8');
  const start = doc.indexOf('<!-- kml-format-example');
  expect(start).toBeGreaterThan(0);
  const block = /```hex\n([\s\S]*?)```/.exec(doc.slice(start));
  expect(block).not.toBeNull();
  const bytes: number[] = [];
  for (const line of (block?.[1] ?? '').split('\n').filter((l) => l.trim() !== '')) {
    const m = /^(\d+)\s+((?:[0-9a-f]{2} ?)+)\s*#/.exec(line);
    expect(m, line).not.toBeNull();
    expect(Number(m?.[1]), `offset of: ${line}`).toBe(bytes.length);
    bytes.push(...unhex(m?.[2] ?? ''));
  }
  return Uint8Array.from(bytes);
}

const T0 = 1_009_843_200;
const V0 = { mtime_sec: T0, mtime_nsec: 0, ctime_sec: T0, ctime_nsec: 0, size: 1024 };

/** The record of the worked example: root (pid 3) makes /d 0755 on a fresh presto root. */
const EXAMPLE: KmlRecord = {
  pid: 3, auid: 0, fsuid: 0, fsgid: 0, groups: [0], recno: 1, time: T0,
  body: { op: 'MKDIR', old_parent: V0, new_parent: V0, new_object: V0, mode: 0o40755, uid: 0, gid: 0, path: '/d' },
};

// An UNLINK assembled by hand, field by field from docs/kml-format.md: user 500 (fsgid 100, groups
// 100 and 10), pid 1234, removes /home/u/notes.txt (a 70000-byte file, mode 0100640).
const HAND_UNLINK = `
  b8000000 02000100 d2040000 f4010000   # len 184, version, pid 1234, auid 500
  f4010000 64000000 03000000 02000000   # fsuid 500, fsgid 100, opcode 3 UNLINK, ngroups 2
  64000000 0a000000                     # groups 100, 10
  64fc303c 88130000 64fc303c 88130000   # old_parent: mtime 1009843300.5000, ctime the same
  0010000000000000                      #   size 4096 (u64)
  c8fc303c 80b2e60e c8fc303c 80b2e60e   # new_parent: mtime 1009843400.250000000, ctime the same
  0010000000000000                      #   size 4096
  32fc303c 00000000 3cfc303c 07000000   # old_object: mtime 1009843250.0, ctime 1009843260.7
  7011010000000000                      #   size 70000 = 0x11170
  a0810000 00000000                     # rollback: mode 0100640, rdev 0
  f401000000000000 6400000000000000     #   uid 500 (u64), gid 100 (u64)
  07000000 09000000 00000000            # len(path) 7, len(name) 9, len(old_target) 0
  2f686f6d 652f7500                     # "/home/u" + 1 zero byte
  6e6f7465 732e7478 74000000            # "notes.txt" + 3 zero bytes; old_target: no bytes
  00000000 2a000000 c8fc303c b8000000   # suffix: prevrec 0, recno 42, time 1009843400, len 184
`;

describe('KML format: bytes by hand', () => {
  it('an UNLINK assembled from the documented layout decodes to its fields, and encodes back', () => {
    const bytes = unhex(HAND_UNLINK);
    expect(bytes.length).toBe(184);
    const d = kml_decode(bytes, 0);
    if (isDamage(d)) throw new Error(`damage at ${d.offset}: ${d.reason}`);
    const want: KmlRecord = {
      pid: 1234, auid: 500, fsuid: 500, fsgid: 100, groups: [100, 10], recno: 42, time: 1_009_843_400,
      body: {
        op: 'UNLINK',
        old_parent: {
          mtime_sec: 1_009_843_300, mtime_nsec: 5000, ctime_sec: 1_009_843_300, ctime_nsec: 5000, size: 4096,
        },
        new_parent: {
          mtime_sec: 1_009_843_400, mtime_nsec: 250_000_000,
          ctime_sec: 1_009_843_400, ctime_nsec: 250_000_000, size: 4096,
        },
        old_object: { mtime_sec: 1_009_843_250, mtime_nsec: 0, ctime_sec: 1_009_843_260, ctime_nsec: 7, size: 70_000 },
        rollback: { mode: 0o100640, rdev: 0, uid: 500, gid: 100 },
        path: '/home/u', name: 'notes.txt', old_target: '',
      },
    };
    expect(d).toEqual({ rec: want, len: 184 });
    expect(kml_encode(want)).toEqual(bytes);
  });
});

describe('KML format: the worked example of docs/kml-format.md', () => {
  it('is what kml_encode writes for its record, and decodes back to it', () => {
    const doc = docExample();
    expect(doc.length).toBe(144);
    expect(Buffer.from(kml_encode(EXAMPLE)).toString('hex')).toBe(Buffer.from(doc).toString('hex'));
    expect(kml_decode(doc, 0)).toEqual({ rec: EXAMPLE, len: 144 });
  });

  it('is what a real workload writes: mkdir /d as root on a presto root over ext3, seed 1', () => {
    const h = prestoHost(new World({ seed: 1 }), 'a');
    const p = h.process('sh');
    expect(p.pid).toBe(3);
    expect(hostSys(h, p).sys_mkdir('/d', 0o755)).toBe(0);
    const kml = h.run(p, readWhole(p, '/.intermezzo/f/kml'));
    expect(Buffer.from(kml).toString('hex')).toBe(Buffer.from(docExample()).toString('hex'));
    expect(kml_scan(kml)).toEqual({ records: [{ offset: 0, len: 144, rec: EXAMPLE }], damage: null });
  });
});

// ---------------------------------------------------------------------------------------------
// Properties.

describe('KML format: properties', () => {
  it('decode(encode(r)) equals r for random records of every opcode', () => {
    for (const op of OPS) {
      fc.assert(fc.property(recordOf(op), (r) => {
        const bytes = kml_encode(r);
        expect(kml_decode(bytes, 0, isLml(r))).toEqual({ rec: r, len: bytes.length });
      }), { numRuns: 60 });
    }
  });

  it('a log of records scans back to the same records, skipping the zero words between them', () => {
    fc.assert(fc.property(fc.array(anyRecord().filter((r) => !isLml(r)), { maxLength: 8 }),
      fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 8, maxLength: 8 }), (recs, gaps) => {
        const parts: Uint8Array[] = [];
        const want: Array<{ offset: number; len: number; rec: KmlRecord }> = [];
        let at = 0;
        recs.forEach((r, i) => {
          const pad = new Uint8Array(4 * (gaps[i] ?? 0));
          const bytes = kml_encode(r);
          parts.push(pad, bytes);
          want.push({ offset: at + pad.length, len: bytes.length, rec: r });
          at += pad.length + bytes.length;
        });
        expect(kml_scan(Buffer.concat(parts))).toEqual({ records: want, damage: null });
      }), { numRuns: 100 });
  });

  // Tame records (every word below 2^31) and corruptions that keep every word below 2^31: a string
  // length of 2^31 or more makes kml_decode loop over billions of bytes (the size_round bug below).
  const flip = (at: number): fc.Arbitrary<number> => fc.integer({ min: 1, max: at % 4 === 3 ? 127 : 255 });
  // Byte positions: the prefix's len (0-3), version (4-7), opcode (24-27); the suffix (len-16 .. len-1).
  const corruption = anyRecord(true).chain((r) => {
    const n = kml_encode(r).length;
    const suffix = Array.from({ length: 16 }, (_, i) => n - 16 + i);
    const at = fc.constantFrom(0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, ...suffix);
    return fc.tuple(fc.constant(r), at).chain(([rec, i]) => fc.tuple(fc.constant(rec), fc.constant(i), flip(i)));
  });

  it('a corrupted byte of len, version, opcode or suffix never throws; len, version, suffix len are damage', () => {
    fc.assert(fc.property(corruption, ([r, at, x]) => {
      const bytes = kml_encode(r);
      const n = bytes.length;
      bytes[at] = (bytes[at] as number) ^ x;
      const d = kml_decode(bytes, 0, isLml(r));
      const scanned = kml_scan(bytes, isLml(r));
      if (at < 8 || at >= n - 4) {
        expect(isDamage(d), `byte ${at}`).toBe(true);
        expect(scanned.damage).not.toBeNull();
      } else if (at >= 24 && at < 28) {
        // No checksum: an opcode may turn into another whose layout lines up (CREATE <-> MKDIR),
        // but never back into the same record.
        if (!isDamage(d)) expect(d.rec).not.toEqual(r);
      } else if (at >= n - 16 && at < n - 12) {
        // prevrec is written 0 and not checked on reading (as the original).
        expect(d).toEqual({ rec: r, len: n });
      } else {
        // recno and time are values: the record reads back with that value changed.
        expect(isDamage(d)).toBe(false);
      }
    }), { numRuns: 2000 });
  });

  it('any single corrupted byte anywhere in a record is damage or a record, never a throw', () => {
    fc.assert(fc.property(anyRecord(false).chain((r) => fc.integer({ min: 0, max: kml_encode(r).length - 1 })
      .chain((i) => fc.tuple(fc.constant(r), fc.constant(i), flip(i)))), ([r, at, x]) => {
      const bytes = kml_encode(r);
      bytes[at] = (bytes[at] as number) ^ x;
      expect(() => kml_decode(bytes, 0, isLml(r))).not.toThrow();
      expect(() => kml_scan(bytes, isLml(r))).not.toThrow();
    }), { numRuns: 2000 });
  });

  // Found by these tests: size_round once used 32-bit bitwise arithmetic, so a corrupt string
  // length of 2^31 or more rounded negative and the decoder looped over ~2^32 bytes.
  it('size_round is right for lengths of 2^31 and more', () => {
    expect(size_round(0x80000001)).toBe(0x80000004);
    expect(size_round(0xfffffffc)).toBe(0xfffffffc);
  });

  it('a string length of 2^32-4 is damage, at once', () => {
    const v = { mtime_sec: 0, mtime_nsec: 0, ctime_sec: 0, ctime_nsec: 0, size: 0 };
    const bytes = kml_encode({
      pid: 1, auid: 0, fsuid: 0, fsgid: 0, groups: [], recno: 1, time: 0,
      body: { op: 'LINK', old_parent: v, new_parent: v, new_object: v, source: '', path: '' },
    });
    new DataView(bytes.buffer).setUint32(104, 0xfffffffc, true);
    expect(kml_scan(bytes)).toEqual({
      records: [],
      damage: { offset: 104, reason: "string 'source' of 4294967292 bytes is longer than its 128-byte record" },
    });
  });

  // Found by these tests: the group words were read before checking they fit in the record.
  it('a corrupted ngroups at the end of a log is damage, not a RangeError', () => {
    const v = { mtime_sec: 0, mtime_nsec: 0, ctime_sec: 0, ctime_nsec: 0, size: 0 };
    const bytes = kml_encode({
      pid: 1, auid: 0, fsuid: 0, fsgid: 0, groups: [], recno: 1, time: 0,
      body: { op: 'LINK', old_parent: v, new_parent: v, new_object: v, source: '', path: '' },
    });
    bytes[28] = 32;
    const reason = '32 groups do not fit a 128-byte record';
    expect(kml_scan(bytes)).toEqual({ records: [], damage: { offset: 28, reason } });
  });
});
