/**
 * scripts.ts: random command-language scripts (fast-check arbitraries) for differential tests:
 * the same script on two file systems must give the same status lines and the same final tree.
 * Names come from a small set so that collisions, ENOENT, EEXIST and ENOTEMPTY happen often.
 */
import fc from 'fast-check';

const NAMES = ['a', 'b', 'c', 'd/e', 'd/f', 'g/h/i'] as const;
const DIRS = ['d', 'g', 'g/h', 'x'] as const;

const path = fc.oneof(fc.constantFrom(...NAMES), fc.constantFrom(...DIRS)).map((p) => `/${p}`);
const dir = fc.constantFrom(...DIRS).map((p) => `/${p}`);
const fifo = fc.constantFrom('/p', '/d/p');
const text = fc.string({ minLength: 0, maxLength: 40, unit: fc.constantFrom('a', 'b', 'z', ' ', '\u00e9', 'Q') });
const q = (s: string): string => `'${s}'`;

export const commandLine: fc.Arbitrary<string> = fc.oneof(
  fc.tuple(path, text).map(([p, t]) => `write ${p} ${q(t)}`),
  fc.tuple(path, text).map(([p, t]) => `append ${p} ${q(t)}`),
  fc.tuple(path, fc.integer({ min: 0, max: 70_000 }), fc.integer({ min: 1, max: 9 })).map(([p, n, s]) => `writeb ${p} ${n} ${s}`),
  fc.tuple(path, fc.integer({ min: 0, max: 300_000 }), text).map(([p, o, t]) => `pwrite ${p} ${o} ${q(t)}`),
  dir.map((p) => `mkdir ${p}`),
  path.map((p) => `mkdir ${p}`),
  path.map((p) => `rm ${p}`),
  dir.map((p) => `rmdir ${p}`),
  fc.tuple(path, path).map(([a, b]) => `mv ${a} ${b}`),
  fc.tuple(path, path).map(([a, b]) => `ln ${a} ${b}`),
  fc.tuple(fc.constantFrom('a', '/d', '../a', '/nowhere'), path).map(([t, p]) => `symlink ${t} ${p}`),
  // FIFOs live only where nothing opens them: opening one blocks on Linux (and is ENXIO here).
  fifo.map((p) => `mkfifo ${p}`),
  fifo.map((p) => `stat ${p}`),
  fifo.map((p) => `rm ${p}`),
  fc.tuple(fc.constantFrom('600', '644'), fifo).map(([m, p]) => `chmod ${m} ${p}`),
  fc.tuple(fc.constantFrom('644', '600', '755', '000', '4755', '2775', '1777'), path).map(([m, p]) => `chmod ${m} ${p}`),
  fc.tuple(fc.constantFrom('0:0', '1000:1000', '1000:0', '5:5'), path).map(([o, p]) => `chown ${o} ${p}`),
  fc.tuple(path, fc.integer({ min: 0, max: 100_000 })).map(([p, n]) => `truncate ${p} ${n}`),
  path.map((p) => `cat ${p}`),
  path.map((p) => `stat ${p}`),
  dir.map((p) => `ls ${p}`),
  path.map((p) => `fsync ${p}`),
  fc.constant('sync'),
  fc.constantFrom('as 0:0', 'as 1000:1000', 'as 1001:1000'),
);

export const script: fc.Arbitrary<string> = fc.array(commandLine, { minLength: 1, maxLength: 40 }).map((ls) => ls.join('\n'));
