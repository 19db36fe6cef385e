/**
 * kml_arb.ts: fast-check arbitraries for KML records of every opcode (fs/intermezzo/kml.ts), built
 * from its LAYOUTS table. `tame` records keep every 32-bit word of their encoding below 2^31 (values
 * and string bytes): a corruption test uses them to keep a flipped bit from making a word huge on
 * purpose, the untamed ones to make sure huge words are handled too.
 */
import fc from 'fast-check';
import { LAYOUTS, type KmlBody, type KmlOp, type KmlRecord } from '../../fs/intermezzo/kml.ts';

export const OPS = Object.keys(LAYOUTS) as KmlOp[];

export const isLml = (r: KmlRecord): boolean => r.body.op === 'LML_CLOSE';

function kinds(tame: boolean) {
  const u32 = fc.integer({ min: 0, max: tame ? 0x7fffffff : 0xffffffff });
  const u64 = tame ? fc.integer({ min: 0, max: 0x7fffffff }) : fc.maxSafeNat();
  const ver = fc.record({ mtime_sec: u32, mtime_nsec: u32, ctime_sec: u32, ctime_nsec: u32, size: u64 });
  const rb = fc.record({ mode: u32, rdev: u32, uid: u64, gid: u64 });
  const str = fc.array(fc.integer({ min: 0, max: tame ? 127 : 255 }), { maxLength: 200 })
    .map((a) => String.fromCharCode(...a));
  return { u32, u64, ver, rb, str } as const;
}

/** A record of `op`; an LML close may be cancelled (opcode NOOP), which only the LML holds. */
export function recordOf(op: KmlOp, tame = false): fc.Arbitrary<KmlRecord> {
  const k = kinds(tame);
  const fields: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, kind] of LAYOUTS[op].fields) fields[name] = k[kind];
  const body = fc.record(fields).map((f) => ({ op, ...f }) as unknown as KmlBody);
  const cancelled = op === 'LML_CLOSE'
    ? fc.constantFrom<Array<{ cancelled?: true }>>({}, { cancelled: true })
    : fc.constant({});
  return fc.record({
    pid: k.u32, auid: k.u32, fsuid: k.u32, fsgid: k.u32,
    groups: fc.array(k.u32, { maxLength: 32 }),
    recno: k.u32, time: k.u32, body, c: cancelled,
  }).map(({ c, ...r }) => ({ ...r, ...c }));
}

export function anyRecord(tame = false): fc.Arbitrary<KmlRecord> {
  return fc.constantFrom(...OPS).chain((op) => recordOf(op, tame));
}
