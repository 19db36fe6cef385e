/**
 * server.ts: lento as a fileset's server: accept clients, authenticate them, and keep one
 * replication session per client.
 *
 * Layer: user space (lento). Interface: `server(t, lento)` is the listening thread: a TCP socket
 * on the configured port; each accepted connection gets a thread that runs the handshake (a
 * client unknown to the server, or without the secret, is refused and nothing it sent is used),
 * the REPSTATUS exchange, and then a PeerLink until the session ends. A client that reconnects
 * while its old session still looks alive replaces it (the old one was dead anyway: the client
 * only opens a new one after giving the old one up). The server replays clients' records with
 * REINT_RELOG, so its KML carries every change and its shippers forward them to every client.
 * Invariants: at most one live session per client; a session's end releases the permit it held.
 */
import { EINTR, errnoName, isErr } from '../../kernel/errno.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { AF_INET, SO_REUSEADDR, SOCK_STREAM, SOL_SOCKET } from '../../kernel/socket.ts';
import {
  sys_accept, sys_bind, sys_close, sys_listen, sys_setsockopt, sys_socket,
} from '../../kernel/syscalls.ts';
import { say } from './events.ts';
import { serverHandshake } from './handshake.ts';
import type { Lento } from './lento.ts';
import { establish } from './client.ts';

export function* server(t: Process, l: Lento): Sys<number> {
  const fd = yield* sys_socket(t, AF_INET, SOCK_STREAM);
  if (isErr(fd)) return 1;
  yield* sys_setsockopt(t, fd, SOL_SOCKET, SO_REUSEADDR, 1);
  const b = yield* sys_bind(t, fd, { host: '*', port: l.conf.port });
  const lis = isErr(b) ? b : yield* sys_listen(t, fd, 16);
  if (isErr(lis)) {
    say(t, 'lento.stop', { node: l.conf.node, reason: `cannot listen on port ${l.conf.port}: ${errnoName(lis)}` });
    yield* sys_close(t, fd);
    return 1;
  }
  while (!l.stopping) {
    const a = yield* sys_accept(t, fd);
    if (a === EINTR) l.interrupted(t);
    if (isErr(a)) continue;
    l.thread(t, 'lento-session', (w) => session(w, l, a.fd));
  }
  yield* sys_close(t, fd);
  return 0;
}

function* session(t: Process, l: Lento, fd: number): Sys<number> {
  const hs = yield* serverHandshake(t, fd, l.conf, yield* l.random(t));
  if (!hs.ok) {
    say(t, 'lento.refused', { peer: '?', reason: hs.reason });
    yield* sys_close(t, fd);
    return 0;
  }
  const old = l.links.get(hs.peer);
  if (old !== undefined) yield* old.s.kill(t, 'the client connected again');
  yield* establish(t, l, fd, hs);
  return 0;
}
