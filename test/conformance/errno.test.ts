/**
 * The errno table: each case (errno-cases.json) is a short sequence of system calls and the errno
 * Linux returns for the last one (or what it reports: the mode bits a write leaves, say).
 * `linux-answers.json` records what the real kernel answered (linux_oracle.py, as root:
 * `python3 test/conformance/linux_oracle.py
 * test/conformance/errno-cases.json > test/conformance/linux-answers.json`); every expectation must
 * equal it, and every target must give it. CONFORMANCE_LIVE=1 re-asks the kernel.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { linuxExpectation, runCase, type ErrnoCase } from './steps.ts';
import { TARGETS } from './targets.ts';

const DIR = import.meta.dirname;
const cases = JSON.parse(readFileSync(join(DIR, 'errno-cases.json'), 'utf8')) as ErrnoCase[];
const linux = JSON.parse(readFileSync(join(DIR, 'linux-answers.json'), 'utf8')) as { kernel: string; answers: Record<string, string> };

describe('errno table', () => {
  it('has at least 60 cases, each with a unique name', () => {
    expect(cases.length).toBeGreaterThanOrEqual(60);
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length);
  });

  it(`every expectation is what Linux ${linux.kernel} answered, or a recorded deviation`, () => {
    const wrong = cases.filter((c) => linux.answers[c.name] !== linuxExpectation(c))
      .map((c) => `${c.name}: expect ${linuxExpectation(c)}, Linux ${linux.answers[c.name]}`);
    expect(wrong).toEqual([]);
    for (const c of cases.filter((x) => x.deviation !== undefined)) expect(c.deviation?.linux).not.toBe(c.expect);
  });

  it.runIf(process.env.CONFORMANCE_LIVE === '1')('the recorded answers are still the kernel\'s (live)', () => {
    const live = JSON.parse(execFileSync('python3', [join(DIR, 'linux_oracle.py'), join(DIR, 'errno-cases.json')]).toString()) as typeof linux;
    expect(live.answers).toEqual(linux.answers);
  });

  for (const t of TARGETS) {
    describe(t.name, () => {
      for (const c of cases) {
        it(`${c.name} -> ${c.expect}`, () => {
          expect(runCase(t.boot(), c)).toBe(c.expect);
        });
      }
    });
  }
});
