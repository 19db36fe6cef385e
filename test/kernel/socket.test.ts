/**
 * The socket system calls, call by call: results and Linux's errno for each case, options and
 * their defaults, sockets as file descriptors, and packets from the wire that are not TCP.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  EACCES, EADDRINUSE, EADDRNOTAVAIL, EAFNOSUPPORT, EAGAIN, EBADF, ECONNREFUSED, ECONNRESET, EDOM, EHOSTUNREACH,
  EINPROGRESS, EINTR, EINVAL, EISCONN, EMFILE, ENETUNREACH, ENOPROTOOPT, ENOTCONN, ENOTSOCK, EPIPE,
  EPROTONOSUPPORT, ESOCKTNOSUPPORT, ETIMEDOUT, isErr,
} from '../../kernel/errno.ts';
import { O_CREAT, O_RDWR, S_IFSOCK, S_IFMT } from '../../kernel/fs.ts';
import { runSync, sleepFor, type Sys } from '../../kernel/sched.ts';
import {
  AF_INET, IPPROTO_TCP, MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL, SO_ERROR, SO_KEEPALIVE, SO_RCVBUF, SO_RCVTIMEO,
  SO_REUSEADDR, SO_SNDBUF, SO_SNDTIMEO, SO_TYPE, SOCK_STREAM, SOL_SOCKET, TCP_KEEPCNT, TCP_KEEPIDLE, TCP_KEEPINTVL,
  TCP_NODELAY, TCP_SYNCNT, SHUT_RD, SHUT_WR,
} from '../../kernel/socket.ts';
import {
  sys_accept, sys_bind, sys_close, sys_connect, sys_fstat, sys_getpeername, sys_getsockname, sys_getsockopt,
  sys_listen, sys_open, sys_read, sys_recv, sys_send, sys_setsockopt, sys_shutdown, sys_socket, sys_tcp_info,
  sys_write,
} from '../../kernel/syscalls.ts';
import type { Process } from '../../kernel/process.ts';
import { TH_ACK, TH_FIN, TH_RST, TH_SYN, type Packet } from '../../kernel/netdevice.ts';
import { tcp_sockets, tcp_stack } from '../../kernel/tcp_ipv4.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { bootKernel } from '../support/boot.ts';
import { acceptOne, bytes, dial, listenOn, netWorld, ok, spawn, type NetWorld } from '../support/net.ts';

function sockOf(p: Process): number {
  return ok(runSync(sys_socket(p, AF_INET, SOCK_STREAM)), 'socket');
}

function run<T>(n: NetWorld, host: string, body: (p: Process) => Sys<T>): T {
  const h = n.host(host);
  const p = h.process('t');
  return h.run(p, body(p));
}

describe('socket()', () => {
  it('gives the lowest free fd, a file of type S_IFSOCK; other families, types and protocols are refused', () => {
    const { root } = bootKernel();
    expect(sockOf(root)).toBe(0);
    const st = ok(runSync(sys_fstat(root, 0)), 'fstat');
    expect(st.st_mode & S_IFMT).toBe(S_IFSOCK);
    expect(runSync(sys_socket(root, 1, SOCK_STREAM))).toBe(EAFNOSUPPORT);
    expect(runSync(sys_socket(root, AF_INET, 2))).toBe(ESOCKTNOSUPPORT);
    expect(runSync(sys_socket(root, AF_INET, SOCK_STREAM, 17))).toBe(EPROTONOSUPPORT);
    expect(runSync(sys_socket(root, AF_INET, SOCK_STREAM, IPPROTO_TCP))).toBe(1);
    root.maxFiles = 2;
    expect(runSync(sys_socket(root, AF_INET, SOCK_STREAM))).toBe(EMFILE);
  });

  it('every call refuses a closed fd (EBADF) and a file that is not a socket (ENOTSOCK)', () => {
    const { root } = bootKernel();
    const file = ok(runSync(sys_open(root, '/f', O_CREAT | O_RDWR, 0o644)), 'open');
    const a = { host: '*', port: 1 };
    const calls = (fd: number) => [
      sys_bind(root, fd, a), sys_listen(root, fd, 1), sys_accept(root, fd), sys_connect(root, fd, a),
      sys_send(root, fd, bytes(1)), sys_recv(root, fd, new Uint8Array(1)), sys_shutdown(root, fd, SHUT_WR),
      sys_setsockopt(root, fd, SOL_SOCKET, SO_KEEPALIVE, 1), sys_getsockopt(root, fd, SOL_SOCKET, SO_KEEPALIVE),
      sys_getsockname(root, fd), sys_getpeername(root, fd), sys_tcp_info(root, fd),
    ];
    for (const c of calls(file)) expect(runSync(c as Sys<unknown>)).toBe(ENOTSOCK);
    for (const c of calls(9)) expect(runSync(c as Sys<unknown>)).toBe(EBADF);
  });

  it('read and write on a socket fd are recv and send', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const srv = spawn(n.host('a'), 'srv', function* (p) {
      const c = ok(yield* acceptOne(p, yield* listenOn(p, 80)), 'accept');
      const buf = new Uint8Array(10);
      const got = ok(yield* sys_read(p, c, buf), 'read');
      return Buffer.from(buf.subarray(0, got)).toString();
    });
    spawn(n.host('b'), 'cli', function* (p) {
      const fd = ok(yield* dial(p, 'a', 80), 'connect');
      return yield* sys_write(p, fd, new TextEncoder().encode('hello'));
    });
    n.world.runUntilQuiescent();
    expect(srv.value).toBe('hello');
  });
});

describe('bind()', () => {
  it('binds * or the own name; refuses another host\'s (EADDRNOTAVAIL), a rebind and bad ports (EINVAL)', () => {
    const { root, k } = bootKernel();
    const s = sockOf(root);
    expect(runSync(sys_bind(root, s, { host: 'elsewhere', port: 2000 }))).toBe(EADDRNOTAVAIL);
    expect(runSync(sys_bind(root, s, { host: 'test', port: 70000 }))).toBe(EINVAL);
    expect(runSync(sys_bind(root, s, { host: k.hostname, port: 2000 }))).toBe(0);
    expect(runSync(sys_bind(root, s, { host: '*', port: 2001 }))).toBe(EINVAL);
    expect(runSync(sys_getsockname(root, s))).toEqual({ host: 'test', port: 2000 });
  });

  it('a port in use: EADDRINUSE, unless both set SO_REUSEADDR and the first is not listening', () => {
    const { root } = bootKernel();
    const [s1, s2, s3] = [sockOf(root), sockOf(root), sockOf(root)];
    expect(runSync(sys_bind(root, s1, { host: '*', port: 5000 }))).toBe(0);
    expect(runSync(sys_bind(root, s2, { host: '*', port: 5000 }))).toBe(EADDRINUSE);
    for (const s of [s1, s2, s3]) ok(runSync(sys_setsockopt(root, s, SOL_SOCKET, SO_REUSEADDR, 1)), 'reuse');
    expect(runSync(sys_bind(root, s2, { host: '*', port: 5000 }))).toBe(0);
    expect(runSync(sys_listen(root, s1, 5))).toBe(0);
    expect(runSync(sys_listen(root, s2, 5))).toBe(EADDRINUSE); // one listener per port
    expect(runSync(sys_bind(root, s3, { host: '*', port: 5000 }))).toBe(EADDRINUSE); // a listener is there
    ok(runSync(sys_close(root, s1)), 'close');
    ok(runSync(sys_close(root, s2)), 'close');
    expect(runSync(sys_bind(root, s3, { host: '*', port: 5000 }))).toBe(0); // closed: the port is free
  });

  it('ports below 1024 are root\'s (EACCES); port 0 picks the next ephemeral port from 32768', () => {
    const b = bootKernel();
    const u = b.user(1000, 1000);
    const s = sockOf(u);
    expect(runSync(sys_bind(u, s, { host: '*', port: 80 }))).toBe(EACCES);
    expect(runSync(sys_bind(u, s, { host: '*', port: 0 }))).toBe(0);
    expect(runSync(sys_getsockname(u, s))).toEqual({ host: '*', port: 32768 });
    const s2 = sockOf(u);
    ok(runSync(sys_listen(u, s2, 1)), 'listen autobinds');
    expect(runSync(sys_getsockname(u, s2))).toEqual({ host: '*', port: 32769 });
  });
});

describe('listen() and accept()', () => {
  it('accept on a socket that is not listening: EINVAL; accept gives the peer\'s address', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const srv = spawn(n.host('a'), 'srv', function* (p) {
      const s = sockOf(p);
      const bad = yield* sys_accept(p, s);
      const l = yield* listenOn(p, 80);
      const r = ok(yield* sys_accept(p, l), 'accept');
      return { bad, addr: r.addr, peer: yield* sys_getpeername(p, r.fd), me: yield* sys_getsockname(p, r.fd) };
    });
    spawn(n.host('b'), 'cli', (p) => dial(p, 'a', 80));
    n.world.runUntilQuiescent();
    expect(srv.value).toEqual({
      bad: EINVAL, addr: { host: 'b', port: 32768 }, peer: { host: 'b', port: 32768 }, me: { host: 'a', port: 80 },
    });
  });

  it('a full listen queue drops SYNs unanswered: the connect times out (ETIMEDOUT)', () => {
    const n = netWorld({ hosts: ['a', 'b', 'c'] });
    spawn(n.host('a'), 'srv', (p) => listenOn(p, 80, 0)); // backlog 0 holds one connection
    const first = spawn(n.host('b'), 'first', (p) => dial(p, 'a', 80));
    const second = spawn(n.host('c'), 'second', (p) => dial(p, 'a', 80));
    n.world.runUntilQuiescent();
    expect(isErr(first.value)).toBe(false);
    expect(second.value).toBe(ETIMEDOUT);
    expect(n.world.trace.records().filter((r) => r.ev === 'tcp.drop').length).toBe(6);
  });

  it('closing a listener resets the connections it had not handed out (ECONNRESET at the client)', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    spawn(n.host('a'), 'srv', function* (p) {
      const l = yield* listenOn(p, 80);
      yield* sleepFor(10_000, 'no accept');
      return yield* sys_close(p, l);
    });
    const cli = spawn(n.host('b'), 'cli', function* (p) {
      const fd = ok(yield* dial(p, 'a', 80), 'connect');
      return yield* sys_recv(p, fd, new Uint8Array(1));
    });
    n.world.runUntilQuiescent();
    expect(cli.value).toBe(ECONNRESET);
  });

  it('accept waits at most SO_RCVTIMEO (EAGAIN) and returns EINTR when interrupted', () => {
    const n = netWorld({ hosts: ['a'] });
    const t = spawn(n.host('a'), 'srv', function* (p) {
      const l = yield* listenOn(p, 80);
      ok(yield* sys_setsockopt(p, l, SOL_SOCKET, SO_RCVTIMEO, 250_000), 'rcvtimeo');
      const timed = yield* sys_accept(p, l);
      const at = p.kernel.now();
      ok(yield* sys_setsockopt(p, l, SOL_SOCKET, SO_RCVTIMEO, 0), 'rcvtimeo');
      const intr = yield* sys_accept(p, l);
      return { timed, at, intr };
    });
    n.world.sched.runFor(1_000_000);
    expect(t.task.sleeping?.point).toBe('tcp.accept');
    t.task.interrupt();
    n.world.runUntilQuiescent();
    expect(t.value).toEqual({ timed: EAGAIN, at: 250_000, intr: EINTR });
  });
});

describe('connect()', () => {
  it('no listener on a live host: ECONNREFUSED after one round trip', () => {
    const n = netWorld({ hosts: ['a', 'b'], link: { latency: 500, bandwidth: null } });
    const cli = spawn(n.host('b'), 'cli', (p) => dial(p, 'a', 81));
    n.world.runUntilQuiescent();
    expect(cli.value).toBe(ECONNREFUSED);
    expect(cli.at).toBe(1000);
  });

  it('a name no host has: EHOSTUNREACH; no network device: ENETUNREACH; port 0: ECONNREFUSED', () => {
    const n = netWorld({ hosts: ['a'] });
    expect(run(n, 'a', (p) => dial(p, 'nowhere', 80))).toBe(EHOSTUNREACH);
    expect(run(n, 'a', (p) => dial(p, 'a', 0))).toBe(ECONNREFUSED);
    const { root } = bootKernel();
    const s = sockOf(root);
    expect(runSync(sys_connect(root, s, { host: 'other', port: 80 }))).toBe(ENETUNREACH);
  });

  it('a host reaches its own name over loopback, with or without a network device', () => {
    const { k, sched, root } = bootKernel();
    const srv = k.new_process('srv', root.cred);
    let got = '';
    k.spawn(srv, (function* () {
      const c = ok(yield* acceptOne(srv, yield* listenOn(srv, 9)), 'accept');
      const buf = new Uint8Array(10);
      const len = ok(yield* sys_recv(srv, c, buf, MSG_WAITALL), 'recv');
      got = Buffer.from(buf.subarray(0, len)).toString();
      return 0;
    })());
    const cli = k.new_process('cli', root.cred);
    k.spawn(cli, (function* () {
      const fd = ok(yield* dial(cli, 'test', 9), 'connect');
      ok(yield* sys_send(cli, fd, new TextEncoder().encode('0123456789')), 'send');
      return 0;
    })());
    (sched as Scheduler).runUntilQuiescent();
    expect(got).toBe('0123456789');
    expect(tcp_stack(k).loopback.packets).toBeGreaterThan(3);
  });

  it('EISCONN when connected or listening; a failed connect may be retried on the same socket', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const r = run(n, 'b', function* (p) {
      const s = sockOf(p);
      const refused = yield* sys_connect(p, s, { host: 'a', port: 80 });
      const unconnected = { recv: yield* sys_recv(p, s, new Uint8Array(1)), send: yield* sys_send(p, s, bytes(1)) };
      const srv = n.host('a').process('srv');
      n.host('a').kernel.spawn(srv, listenOn(srv, 80));
      yield* sleepFor(10, 'listener starts');
      const second = yield* sys_connect(p, s, { host: 'a', port: 80 });
      const again = yield* sys_connect(p, s, { host: 'a', port: 80 });
      const l = ok(yield* listenOn(p, 90), 'listen');
      const onListener = yield* sys_connect(p, l, { host: 'a', port: 80 });
      return { refused, unconnected, second, again, onListener };
    });
    expect(r).toEqual({
      refused: ECONNREFUSED, unconnected: { recv: ENOTCONN, send: EPIPE }, second: 0, again: EISCONN,
      onListener: EISCONN,
    });
  });

  it('TCP_SYNCNT sets the SYN retries; SO_SNDTIMEO bounds the wait (EINPROGRESS), a later connect waits on', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    n.world.network.partition([['a'], ['b']]);
    const cli = spawn(n.host('b'), 'cli', function* (p) {
      const s = sockOf(p);
      ok(yield* sys_setsockopt(p, s, IPPROTO_TCP, TCP_SYNCNT, 2), 'syncnt');
      ok(yield* sys_setsockopt(p, s, SOL_SOCKET, SO_SNDTIMEO, 500_000), 'sndtimeo');
      const first = yield* sys_connect(p, s, { host: 'a', port: 80 });
      const firstAt = p.kernel.now();
      ok(yield* sys_setsockopt(p, s, SOL_SOCKET, SO_SNDTIMEO, 0), 'sndtimeo');
      const second = yield* sys_connect(p, s, { host: 'a', port: 80 });
      return { first, firstAt, second, at: p.kernel.now() };
    });
    n.world.runUntilQuiescent();
    expect(cli.value).toEqual({ first: EINPROGRESS, firstAt: 500_000, second: ETIMEDOUT, at: 7_000_000 });
  });
});

describe('send() and recv()', () => {
  type Side = (p: Process, fd: number) => Sys<unknown>;
  function pair(n: NetWorld, server: Side, client: Side) {
    const s = spawn(n.host('a'), 'srv', function* (p) {
      const c = ok(yield* acceptOne(p, yield* listenOn(p, 80)), 'accept');
      return yield* server(p, c);
    });
    const c = spawn(n.host('b'), 'cli', function* (p) {
      const fd = ok(yield* dial(p, 'a', 80), 'connect');
      return yield* client(p, fd);
    });
    return { s, c };
  }

  it('MSG_DONTWAIT: recv EAGAIN when nothing is queued; send queues what fits, then EAGAIN', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const { s, c } = pair(n, function* (p, fd) {
      return yield* sys_recv(p, fd, new Uint8Array(10), MSG_DONTWAIT);
    }, function* (p, fd) {
      const first = yield* sys_send(p, fd, bytes(100_000), MSG_DONTWAIT);
      const second = yield* sys_send(p, fd, bytes(100_000), MSG_DONTWAIT);
      return { first, second };
    });
    n.world.sched.runFor(100_000);
    expect(s.value).toBe(EAGAIN);
    expect(c.value).toEqual({ first: 65536, second: EAGAIN });
  });

  it('MSG_PEEK leaves the bytes queued; MSG_WAITALL waits for the whole buffer', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const { s } = pair(n, function* (p, fd) {
      const buf = new Uint8Array(6);
      const peek = yield* sys_recv(p, fd, buf, MSG_PEEK);
      const peeked = Buffer.from(buf.subarray(0, 3)).toString();
      const all = yield* sys_recv(p, fd, buf, MSG_WAITALL);
      return { peek, peeked, all, text: Buffer.from(buf).toString() };
    }, function* (p, fd) {
      ok(yield* sys_send(p, fd, new TextEncoder().encode('abc')), 'send');
      yield* sleepFor(50_000, 'pause');
      return yield* sys_send(p, fd, new TextEncoder().encode('def'));
    });
    n.world.runUntilQuiescent();
    expect(s.value).toEqual({ peek: 3, peeked: 'abc', all: 6, text: 'abcdef' });
  });

  it('SO_RCVTIMEO: EAGAIN after exactly the timeout; a signal: EINTR; nothing lost', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const { s } = pair(n, function* (p, fd) {
      ok(yield* sys_setsockopt(p, fd, SOL_SOCKET, SO_RCVTIMEO, 300_000), 'rcvtimeo');
      const start = p.kernel.now();
      const timed = yield* sys_recv(p, fd, new Uint8Array(10));
      const waited = p.kernel.now() - start;
      ok(yield* sys_setsockopt(p, fd, SOL_SOCKET, SO_RCVTIMEO, 0), 'rcvtimeo');
      const intr = yield* sys_recv(p, fd, new Uint8Array(10));
      const data = yield* sys_recv(p, fd, new Uint8Array(10));
      return { timed, waited, intr, data };
    }, function* (p, fd) {
      yield* sleepFor(2_000_000, 'later');
      return yield* sys_send(p, fd, bytes(4));
    });
    n.world.sched.runFor(1_000_000);
    expect(s.task.sleeping?.point).toBe('tcp.recv');
    s.task.interrupt();
    n.world.runUntilQuiescent();
    expect(s.value).toEqual({ timed: EAGAIN, waited: 300_000, intr: EINTR, data: 4 });
  });

  it('shutdown: EINVAL for a bad how, ENOTCONN unconnected; after SHUT_RD reads return 0', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const { c } = pair(n, function* (p, fd) {
      return yield* sys_send(p, fd, bytes(10));
    }, function* (p, fd) {
      const bad = yield* sys_shutdown(p, fd, 7);
      const loose = yield* sys_shutdown(p, sockOf(p), SHUT_WR);
      ok(yield* sys_shutdown(p, fd, SHUT_RD), 'shutdown');
      const r = yield* sys_recv(p, fd, new Uint8Array(10));
      const empty = yield* sys_send(p, fd, new Uint8Array(0));
      return { bad, loose, r, empty };
    });
    n.world.runUntilQuiescent();
    expect(c.value).toEqual({ bad: EINVAL, loose: ENOTCONN, r: 0, empty: 0 });
  });
});

describe('options', () => {
  it('defaults are Linux\'s (buffers 64 KiB); values round-trip, buffers are clamped, bad ones refused', () => {
    const { root } = bootKernel();
    const s = sockOf(root);
    const get = (level: number, opt: number) => runSync(sys_getsockopt(root, s, level, opt));
    const set = (level: number, opt: number, v: number) => runSync(sys_setsockopt(root, s, level, opt, v));
    expect([SO_SNDBUF, SO_RCVBUF, SO_KEEPALIVE, SO_REUSEADDR, SO_RCVTIMEO, SO_SNDTIMEO, SO_TYPE].map(
      (o) => get(SOL_SOCKET, o))).toEqual([65536, 65536, 0, 0, 0, 0, SOCK_STREAM]);
    expect([TCP_NODELAY, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT, TCP_SYNCNT].map(
      (o) => get(IPPROTO_TCP, o))).toEqual([0, 7200, 75, 9, 5]);
    expect(set(SOL_SOCKET, SO_SNDBUF, 1)).toBe(0);
    expect(get(SOL_SOCKET, SO_SNDBUF)).toBe(2048);
    expect(set(SOL_SOCKET, SO_RCVBUF, 1 << 30)).toBe(0);
    expect(get(SOL_SOCKET, SO_RCVBUF)).toBe(4 * 1024 * 1024);
    expect(set(IPPROTO_TCP, TCP_NODELAY, 1)).toBe(0);
    expect(get(IPPROTO_TCP, TCP_NODELAY)).toBe(1);
    expect(set(IPPROTO_TCP, TCP_KEEPIDLE, 0)).toBe(EINVAL);
    expect(set(IPPROTO_TCP, TCP_KEEPCNT, 128)).toBe(EINVAL);
    expect(set(IPPROTO_TCP, TCP_SYNCNT, 0)).toBe(EINVAL);
    expect(set(SOL_SOCKET, SO_RCVTIMEO, -1)).toBe(EDOM);
    expect(set(SOL_SOCKET, 99, 1)).toBe(ENOPROTOOPT);
    expect(set(17, 1, 1)).toBe(ENOPROTOOPT);
    expect(get(IPPROTO_TCP, 99)).toBe(ENOPROTOOPT);
    expect(set(SOL_SOCKET, SO_KEEPALIVE, 0.5)).toBe(EINVAL);
  });

  it('SO_ERROR reports the pending error once, as its positive number, and clears it', () => {
    const n = netWorld({ hosts: ['a', 'b'] });
    const r = run(n, 'b', function* (p) {
      const s = sockOf(p);
      ok(yield* sys_setsockopt(p, s, SOL_SOCKET, SO_SNDTIMEO, 1), 'sndtimeo');
      const c = yield* sys_connect(p, s, { host: 'a', port: 80 });
      yield* sleepFor(10_000, 'refused meanwhile');
      const err = yield* sys_getsockopt(p, s, SOL_SOCKET, SO_ERROR);
      return { c, err, again: yield* sys_getsockopt(p, s, SOL_SOCKET, SO_ERROR) };
    });
    expect(r).toEqual({ c: EINPROGRESS, err: 111, again: 0 });
  });

  it('a small SO_RCVBUF is the window the peer sees; tcp_info counts bytes and segments', () => {
    const n = netWorld({ hosts: ['a', 'b'], link: { latency: 100, bandwidth: null } });
    const srv = spawn(n.host('a'), 'srv', function* (p) {
      const l = yield* listenOn(p, 80);
      ok(yield* sys_setsockopt(p, l, SOL_SOCKET, SO_RCVBUF, 4096), 'rcvbuf'); // inherited by accepted sockets
      const c = ok(yield* acceptOne(p, l), 'accept');
      yield* sleepFor(100_000, 'not reading');
      const i = ok(yield* sys_tcp_info(p, c), 'info');
      const buf = new Uint8Array(10_000);
      let total = 0;
      while (total < 10_000) total += ok(yield* sys_recv(p, c, buf.subarray(total)), 'recv');
      return { i, after: ok(yield* sys_tcp_info(p, c), 'info') };
    });
    const cli = spawn(n.host('b'), 'cli', function* (p) {
      const fd = ok(yield* dial(p, 'a', 80), 'connect');
      ok(yield* sys_send(p, fd, bytes(10_000), MSG_DONTWAIT), 'send');
      yield* sleepFor(50_000, 'wait');
      return ok(yield* sys_tcp_info(p, fd), 'info');
    });
    n.world.runUntilQuiescent();
    expect(cli.value?.sndWnd).toBe(0);
    expect(cli.value?.bytesAcked).toBe(4096);
    expect(srv.value?.i.recvQueue).toBe(4096);
    expect(srv.value?.after.bytesReceived).toBe(10_000);
    expect(srv.value?.after.state).toBe('ESTABLISHED');
    expect(srv.value?.after.segmentsReceived).toBeGreaterThan(3);
    expect(tcp_sockets(n.host('a').kernel).map((s) => [s.state, s.local, s.peer])).toEqual([
      ['LISTEN', 'a:80', null], ['ESTABLISHED', 'a:80', 'b:32768'],
    ]);
  });
});

describe('packets from the wire', () => {
  const field = fc.oneof(
    fc.integer(), fc.double(), fc.string(), fc.constant(null), fc.constant(undefined), fc.boolean(),
    fc.uint8Array({ maxLength: 40 }), fc.constant(-1), fc.constant(2 ** 32), fc.constant(NaN),
  );

  it('junk of any shape is dropped and counted, never a panic; the connection lives on', () => {
    const n = netWorld({ hosts: ['a', 'b'], keep: false });
    const srv = spawn(n.host('a'), 'srv', function* (p) {
      const c = ok(yield* acceptOne(p, yield* listenOn(p, 80)), 'accept');
      return (yield* sys_recv(p, c, new Uint8Array(100), MSG_WAITALL));
    });
    let fuzzed = false;
    spawn(n.host('b'), 'cli', function* (p) {
      const fd = ok(yield* dial(p, 'a', 80), 'connect');
      while (!fuzzed) yield* sleepFor(1000, 'fuzzing');
      return yield* sys_send(p, fd, bytes(100));
    });
    n.world.sched.runFor(10_000);
    const k = n.host('a').kernel;
    const before = tcp_stack(k).stats.malformed;
    let sent = 0;
    fc.assert(fc.property(
      fc.record({
        src: field, sport: field, dst: fc.oneof(field, fc.constant('a')), dport: field, seq: field, ack: field,
        flags: field, window: field, payload: field,
      }, { requiredKeys: [] }),
      (junk) => {
        k.net_rx(junk as unknown as Packet);
        sent++;
      },
    ), { numRuns: 300 });
    expect(tcp_stack(k).stats.malformed - before).toBeGreaterThan(sent * 0.9);
    fuzzed = true;
    n.world.runUntilQuiescent();
    expect(srv.value).toBe(100);
  });

  it('well-formed segments with random fields never panic a kernel with live connections', () => {
    fc.assert(fc.property(fc.array(fc.record({
      sport: fc.constantFrom(32768, 32769, 1, 80), dport: fc.constantFrom(80, 32768, 1000),
      seq: fc.nat({ max: 0xffff_ffff }), ack: fc.nat({ max: 0xffff_ffff }),
      flags: fc.subarray([TH_SYN, TH_ACK, TH_FIN, TH_RST]).map((f) => f.reduce((x, y) => x | y, 0)),
      window: fc.nat({ max: 1 << 20 }), len: fc.nat({ max: 3000 }), at: fc.nat({ max: 2_000_000 }),
    }), { maxLength: 30 }), (pkts) => {
      const n = netWorld({ hosts: ['a', 'b'], keep: false });
      spawn(n.host('a'), 'srv', function* (p) {
        const l = yield* listenOn(p, 80);
        for (;;) {
          const c = yield* acceptOne(p, l);
          if (isErr(c)) return c;
          yield* sys_recv(p, c, new Uint8Array(100));
        }
      });
      spawn(n.host('b'), 'cli', function* (p) {
        const fd = yield* dial(p, 'a', 80);
        if (isErr(fd)) return fd;
        yield* sys_send(p, fd, bytes(50_000));
        return yield* sys_recv(p, fd, new Uint8Array(100));
      });
      for (const x of pkts) {
        n.world.sched.after(x.at, 'inject', () => n.host('a').kernel.net_rx({
          src: 'b', sport: x.sport, dst: 'a', dport: x.dport, seq: x.seq, ack: x.ack, flags: x.flags,
          window: x.window, payload: new Uint8Array(x.len),
        }));
      }
      n.world.sched.runFor(300_000_000);
      const st = tcp_stack(n.host('a').kernel).stats;
      expect(st.segmentsIn).toBeGreaterThanOrEqual(pkts.length);
    }), { numRuns: 40 });
  });
});
