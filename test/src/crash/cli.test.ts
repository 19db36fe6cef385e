/**
 * `izo crashtest` through the real launcher (bin/izo.js): worker threads load TypeScript the way
 * the launcher does; exit status 0 without violations, 1 with (and a replayable reproducer),
 * 2 for bad usage; stdout is the same for any --jobs.
 */
import { describe, expect, it } from 'vitest';
import { launchIzo, type IzoResult } from '../../support/cli.ts';

const izo = (...args: string[]): IzoResult => launchIzo(args);

describe('izo crashtest', () => {
  it('exits 0 with no violation, printing the figures, the same on 1 and 2 threads', () => {
    const two = izo('crashtest', '--ops', '1', '--sample', '4', '--jobs', '2');
    expect(two.status, two.err).toBe(0);
    expect(two.out).toMatch(/workloads 4, crash states \d+, recovered images \d+/);
    expect(two.out).toContain('violations 0');
    expect(two.err).toMatch(/4\/4 workloads/);
    const one = izo('crashtest', '--ops', '1', '--sample', '4', '--jobs', '1');
    expect(one.out).toBe(two.out);
  });

  it('exits 1 on violations, each with a reproducer that replays', () => {
    const r = izo('crashtest', '--ops', '1', '--sample', '3', '--no-barrier', '--jobs', '1', '--quiet');
    expect(r.status).toBe(1);
    const token = /replay: izo crashtest --replay (\S+)/.exec(r.out)?.[1];
    expect(token).toBeDefined();
    const again = izo('crashtest', '--replay', token as string);
    expect(again.status, again.out).toBe(1);
    expect(again.out).toContain('crash state');
  });

  it('exits 2 on bad usage, naming the option', () => {
    for (const args of [['--ops', '4'], ['--mode', 'fast'], ['--replay', 'nonsense']]) {
      const r = izo('crashtest', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.err).toContain('usage: izo crashtest');
    }
  });
});
