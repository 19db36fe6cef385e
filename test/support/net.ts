/**
 * net.ts: worlds of hosts on a network, and processes that run socket code in them, for tests.
 *
 * `netWorld({seed, hosts, link})` builds a World whose hosts have ramfs roots; `spawn(host, name,
 * body)` starts `body(p)` as a process's task and returns a handle whose `value` is the body's
 * result once it has returned (undefined before); `world.runUntilQuiescent()` or `runFor` drive
 * everything. `bytes(n, salt)` makes a deterministic pattern; `listenOn`, `dial`, `acceptOne` and
 * `readAll` are the usual steps of a server and a client.
 */
import { World } from '../../sim/host.ts';
import type { Host } from '../../sim/host.ts';
import type { LinkSpec } from '../../sim/network.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import type { Task } from '../../kernel/sched.ts';
import { isErr, errnoName, type Errno } from '../../kernel/errno.ts';
import {
  sys_accept, sys_bind, sys_close, sys_connect, sys_listen, sys_recv, sys_socket,
} from '../../kernel/syscalls.ts';
import { AF_INET, SOCK_STREAM } from '../../kernel/socket.ts';

export interface NetWorld {
  readonly world: World;
  readonly hosts: ReadonlyMap<string, Host>;
  host(name: string): Host;
}

export function netWorld(o: { seed?: number; hosts: readonly string[]; link?: LinkSpec; keep?: boolean }): NetWorld {
  const world = new World({
    seed: o.seed ?? 1, trace: { keep: o.keep ?? true }, ...(o.link !== undefined ? { network: o.link } : {}),
  });
  for (const h of o.hosts) world.addHost(h).mountRoot('ramfs', null);
  return {
    world, hosts: world.hosts,
    host(name) {
      const h = world.hosts.get(name);
      if (h === undefined) throw new Error(`no host ${name}`);
      return h;
    },
  };
}

export interface Spawned<T> {
  readonly task: Task;
  readonly p: Process;
  /** The body's result, once it has returned. */
  readonly value: T | undefined;
  readonly done: boolean;
  /** When the body returned (µs), or -1. */
  readonly at: number;
}

export function spawn<T>(host: Host, name: string, body: (p: Process) => Sys<T>): Spawned<T> {
  const p = host.process(name);
  const state = { value: undefined as T | undefined, done: false, at: -1 };
  const task = host.kernel.spawn(p, (function* () {
    state.value = yield* body(p);
    state.done = true;
    state.at = host.kernel.now();
    return 0;
  })());
  return {
    task, p,
    get value() { return state.value; },
    get done() { return state.done; },
    get at() { return state.at; },
  };
}

/** A deterministic byte pattern. */
export function bytes(n: number, salt = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = (salt * 2654435761) >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

/** Unwrap a result, or fail naming the errno. */
export function ok<T>(v: T | Errno, what: string): T {
  if (isErr(v)) throw new Error(`${what}: ${errnoName(v)}`);
  return v;
}

export function name(v: unknown): string {
  return isErr(v) ? errnoName(v) : String(v);
}

/** A listening socket on `port`: returns its fd. */
export function* listenOn(p: Process, port: number, backlog = 16): Sys<number> {
  const fd = ok(yield* sys_socket(p, AF_INET, SOCK_STREAM), 'socket');
  ok(yield* sys_bind(p, fd, { host: '*', port }), 'bind');
  ok(yield* sys_listen(p, fd, backlog), 'listen');
  return fd;
}

/** connect to host:port: the fd, or the connect's errno. */
export function* dial(p: Process, host: string, port: number): Sys<number | Errno> {
  const fd = ok(yield* sys_socket(p, AF_INET, SOCK_STREAM), 'socket');
  const r = yield* sys_connect(p, fd, { host, port });
  if (isErr(r)) {
    yield* sys_close(p, fd);
    return r;
  }
  return fd;
}

/** Read until end of stream or error: the bytes, and how it ended (0 or the errno). */
export function* readAll(p: Process, fd: number, chunk = 65536): Sys<{ data: Uint8Array; end: number | Errno }> {
  const parts: Uint8Array[] = [];
  let total = 0;
  const buf = new Uint8Array(chunk);
  for (;;) {
    const n = yield* sys_recv(p, fd, buf);
    if (isErr(n) || n === 0) {
      const data = new Uint8Array(total);
      let off = 0;
      for (const x of parts) {
        data.set(x, off);
        off += x.length;
      }
      return { data, end: n };
    }
    parts.push(buf.slice(0, n));
    total += n;
  }
}

/** Accept one connection: its fd. */
export function* acceptOne(p: Process, lfd: number): Sys<number | Errno> {
  const r = yield* sys_accept(p, lfd);
  return isErr(r) ? r : r.fd;
}
