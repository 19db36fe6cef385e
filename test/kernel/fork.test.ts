/**
 * Threads and their exit, futexes, signals (kernel/fork.ts, futex.ts, signal.ts): what lento's
 * threads stand on. A thread shares the descriptor table (a file one opens, the other reads); a
 * forked child gets a copy (its close leaves the parent's file open); the last user of a table
 * closes every file in it. A futex wait sleeps only while the word holds the expected value, and
 * ends with a wake (0), a timeout (ETIMEDOUT) or a signal (EINTR); a signal cuts short only an
 * interruptible sleep, and stays pending until taken.
 */
import { describe, expect, it } from 'vitest';
import { EAGAIN, EINTR, EPERM, ESRCH, ETIMEDOUT, isErr } from '../../kernel/errno.ts';
import { O_CREAT, O_RDONLY, O_WRONLY } from '../../kernel/fs.ts';
import { CLONE_THREAD_FLAGS } from '../../kernel/fork.ts';
import type { Process } from '../../kernel/process.ts';
import { sleepFor, type Sys } from '../../kernel/sched.ts';
import { SIGTERM } from '../../kernel/signal.ts';
import {
  sys_clone, sys_close, sys_futex_wait, sys_futex_wake, sys_kill, sys_open, sys_read, sys_sigpending, sys_sigtake,
  sys_write,
} from '../../kernel/syscalls.ts';
import { World } from '../../sim/host.ts';

function host() {
  const w = new World({ seed: 5 });
  const h = w.addHost('a');
  h.mountRoot('ramfs', null);
  return { w, h, p: h.process('main') };
}

describe('threads (sys_clone)', () => {
  it('a thread shares the descriptor table; a forked child has a copy', () => {
    const { w, h, p } = host();
    const fd = h.run(p, sys_open(p, '/f', O_CREAT | O_WRONLY, 0o644));
    if (isErr(fd)) throw new Error(String(fd));
    const seen: Array<number | string> = [];
    h.run(p, (function* (): Sys<void> {
      sys_clone(p, 'thread', function* (t: Process) {
        seen.push(yield* sys_write(t, fd, new TextEncoder().encode('hi')));
        const r = yield* sys_open(t, '/f', O_RDONLY);
        seen.push(r); // the next free slot of the shared table
        return 0;
      }, CLONE_THREAD_FLAGS);
      sys_clone(p, 'child', function* (c: Process) {
        seen.push(yield* sys_close(c, fd)); // closes its copy only
        return 0;
      }, 0);
      yield* sleepFor(10, 'let them run');
    })());
    w.runUntilQuiescent();
    expect(seen).toEqual([2, fd + 1, 0]);
    // The parent still has fd, and the thread's open file is in the parent's table.
    const buf = new Uint8Array(8);
    expect(h.run(p, sys_read(p, fd + 1, buf))).toBe(2);
    expect(h.run(p, sys_write(p, fd, new Uint8Array(1)))).toBe(1);
  });

  it("the last user of a table closes its files when it exits; the others' exits do not", () => {
    const { w, h, p } = host();
    const fd = h.run(p, sys_open(p, '/g', O_CREAT | O_WRONLY, 0o644)) as number;
    const mine = p.files[fd];
    let childsFile: typeof mine = null;
    h.run(p, (function* (): Sys<void> {
      sys_clone(p, 'thread', function* () {
        return 0;
      }, CLONE_THREAD_FLAGS);
      sys_clone(p, 'child', function* (c) {
        const own = yield* sys_open(c, '/g', O_RDONLY);
        childsFile = c.files[own as number] ?? null;
        return 0;
      }, 0);
      yield* sleepFor(10, 'let them exit');
    })());
    w.runUntilQuiescent();
    // The thread shared the table and was not its last user: the parent's file is still open.
    expect(mine?.f_count).toBe(1);
    expect(h.run(p, sys_write(p, fd, new Uint8Array(1)))).toBe(1);
    // The child was its copy's last user: its own file was released at its exit.
    expect(childsFile).not.toBeNull();
    expect((childsFile as unknown as { f_count: number }).f_count).toBe(0);
  });
});

describe('futexes', () => {
  it('waits only while the word holds the value; wake, timeout and signal end the wait', () => {
    const { w, h, p } = host();
    const word = new Int32Array(1);
    const out: Array<number | string> = [];
    h.run(p, (function* (): Sys<void> {
      out.push(yield* sys_futex_wait(p, word, 0, 1)); // the word is 0: EAGAIN at once
      sys_clone(p, 'waker', function* (t) {
        yield* sleepFor(50, 'later');
        word[0] = 2;
        out.push(`woke ${sys_futex_wake(t, word, 0, 10)}`);
        return 0;
      }, CLONE_THREAD_FLAGS);
      out.push(yield* sys_futex_wait(p, word, 0, 0));
      out.push(yield* sys_futex_wait(p, word, 0, 2, 30));
    })());
    w.runUntilQuiescent();
    expect(out).toEqual([EAGAIN, 'woke 1', 0, ETIMEDOUT]);
  });

  it('a signal ends a futex wait with EINTR and stays pending until taken; kill checks pid and permission', () => {
    const { w, h, p } = host();
    const word = new Int32Array(1);
    const out: Array<number | boolean> = [];
    const sleeper = h.process('sleeper', 1000, 1000);
    const spawner = h.process('spawner', 1000, 1000);
    h.run(spawner, (function* (): Sys<void> {
      sys_clone(sleeper, 'waiter', function* (t) {
        out.push(yield* sys_futex_wait(t, word, 0, 0));
        out.push(sys_sigpending(t) === 1 << SIGTERM, sys_sigtake(t, SIGTERM), sys_sigtake(t, SIGTERM));
        return 0;
      }, CLONE_THREAD_FLAGS);
      yield* sleepFor(5, 'let it sleep');
    })());
    const other = h.process('other', 2000, 2000);
    expect(sys_kill(other, sleeper.pid, SIGTERM)).toBe(EPERM);
    expect(sys_kill(p, 99999, SIGTERM)).toBe(ESRCH);
    expect(sys_kill(p, sleeper.pid, SIGTERM)).toBe(0); // root; reaches the whole group
    w.runUntilQuiescent();
    expect(out).toEqual([EINTR, true, true, false]);
  });

  it('a signal sent while the task runs ends its next interruptible sleep at once (it is not missed)', () => {
    const { w, h, p } = host();
    const word = new Int32Array(1);
    const out: number[] = [];
    h.run(p, (function* (): Sys<void> {
      sys_clone(p, 'busy', function* (t) {
        sys_kill(t, t.pid, SIGTERM); // arrives while this thread runs, before it sleeps
        out.push(yield* sys_futex_wait(t, word, 0, 0));
        return 0;
      }, CLONE_THREAD_FLAGS);
      yield* sleepFor(5, 'let it run');
    })());
    w.runUntilQuiescent();
    expect(out).toEqual([EINTR]);
  });
});
