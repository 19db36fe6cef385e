/**
 * A file system operation that blocks at a named point (as presto's PERMIT upcall will) while the
 * rest of the simulated world keeps running, then resumes when "user space" replies.
 */
import { describe, expect, it } from 'vitest';
import { bootKernel } from '../support/boot.ts';
import { filter_fs_type } from '../../kernel/filter.ts';
import { ramfs_fs_type } from '../../fs/ramfs/inode.ts';
import { runSync, sleepOn, wakeUp, WaitQueue, type Sys } from '../../kernel/sched.ts';
import { sys_mkdir, sys_open, sys_close, sys_stat } from '../../kernel/syscalls.ts';
import { O_CREAT, O_WRONLY } from '../../kernel/fs.ts';
import { isErr, EINTR, ENOENT } from '../../kernel/errno.ts';
import type { Errno } from '../../kernel/errno.ts';

function bootBlocking(timeout: number | null = null) {
  const upcall = new WaitQueue('upcall');
  const replies: string[] = [];
  const type = filter_fs_type('upcallfs', ramfs_fs_type, {
    name: 'upcallfs',
    iops(kind, lower) {
      if (kind !== 'dir' || lower.create === undefined) return {};
      const create = lower.create;
      return {
        *create(dir, dentry, mode, p): Sys<0 | Errno> {
          // Ask "user space" and wait for the answer, like presto's synchronous upcalls.
          const why = yield* sleepOn(upcall, 'test.upcall', timeout);
          if (why !== 'woken') return EINTR;
          replies.push(dentry.d_name);
          return yield* create(dir, dentry, mode, p);
        },
      };
    },
  });
  const b = bootKernel({ rootfs: 'upcallfs', extraTypes: [type] });
  return { ...b, upcall, replies };
}

describe('blocking inside a file system operation', () => {
  it('parks the caller at a named point; others run; the reply resumes it', () => {
    const { k, sched, root, upcall, replies } = bootBlocking();
    const log: string[] = [];
    // mkdir in "/" would (rightly) wait for "/"'s i_sem, held by the blocked create: work elsewhere.
    expect(runSync(sys_mkdir(root, '/sub', 0o755))).toBe(0);
    const writer = k.new_process('writer', root.cred);
    const reader = k.new_process('reader', root.cred);
    const lento = k.new_process('lento', root.cred);
    const tw = k.spawn(writer, (function* () {
      const fd = yield* sys_open(writer, '/f', O_CREAT | O_WRONLY, 0o644);
      log.push(`writer open -> ${fd}`);
      return isErr(fd) ? 1 : 0;
    })());
    k.spawn(reader, (function* () {
      const r = yield* sys_mkdir(reader, '/sub/other', 0o755);
      log.push(`reader mkdir -> ${r}`);
      return 0;
    })());
    sched.runUntilQuiescent();
    expect(tw.state).toBe('sleeping');
    expect(tw.sleeping?.point).toBe('test.upcall');
    expect(log).toEqual(['reader mkdir -> 0']);
    k.spawn(lento, (function* () {
      log.push('lento replies');
      wakeUp(upcall);
      return 0;
    })());
    sched.runUntilQuiescent();
    expect(log).toEqual(['reader mkdir -> 0', 'lento replies', 'writer open -> 0']);
    expect(replies).toEqual(['f']);
    expect(tw.exitStatus).toBe(0);
  });

  it('serializes a second create in the same directory behind i_sem', () => {
    const { k, sched, root, upcall } = bootBlocking();
    const order: string[] = [];
    for (const name of ['a', 'b']) {
      const p = k.new_process(name, root.cred);
      k.spawn(p, (function* () {
        const fd = yield* sys_open(p, `/${name}`, O_CREAT | O_WRONLY, 0o644);
        order.push(name);
        if (!isErr(fd)) yield* sys_close(p, fd);
        return 0;
      })());
    }
    sched.runUntilQuiescent();
    // Only one sleeps in the upcall; the other waits for the directory's i_sem.
    expect(upcall.sleepers.length).toBe(1);
    wakeUp(upcall);
    sched.runUntilQuiescent();
    expect(order).toEqual(['a']);
    wakeUp(upcall);
    sched.runUntilQuiescent();
    expect(order).toEqual(['a', 'b']);
  });

  it('times out deterministically after the sleep\'s timeout', () => {
    const { k, sched, root } = bootBlocking(30_000_000);
    const p = k.new_process('w', root.cred);
    let result: number | undefined;
    const t = k.spawn(p, (function* () {
      result = yield* sys_open(p, '/f', O_CREAT | O_WRONLY, 0o644);
      return 0;
    })());
    sched.runFor(29_999_999);
    expect(t.state).toBe('sleeping');
    expect(result).toBeUndefined();
    sched.runUntilQuiescent();
    expect(result).toBe(EINTR);
    expect(sched.now()).toBe(30_000_000);
    expect(t.state).toBe('exited');
    expect(runSync(sys_stat(root, '/f'))).toBe(ENOENT);
  });
});
