/**
 * handshake.ts: how two lentos prove to each other that they share the fileset's secret, and
 * agree on the keys that authenticate the rest of the session (ours to design: the original had
 * no protection at all, "trusted networks only").
 *
 * Layer: user space (lento). Interface: `clientHandshake(t, fd, me)` and `serverHandshake(t, fd,
 * me, peers)` run the four messages on a connected socket and give the session's keys and the
 * peer, or why it failed (`refused` when the other side said no, or when we did). The exchange:
 *   client -> HELLO {fileset, client uuid, node name, client nonce, mode}
 *   server -> CHALLENGE {server uuid, node name, server nonce}   (or REFUSE: unknown fileset, node)
 *   client -> PROVE {HMAC(secret, "client proof" + fileset, both uuids, both nonces)}
 *   server -> WELCOME {HMAC(secret, "server proof" + the same)}, the first frame under the
 *             server-to-client key (or REFUSE: "node X failed authentication (wrong secret)")
 * The client proves first, so a client without the secret is refused by the server, explicitly
 * and traced there; the client then checks the server's proof, so a server without it is refused
 * by the client. Both proofs cover both nonces and both uuids, so neither can be replayed into
 * another session; each direction then has its own key, derived from the secret and the nonces,
 * and every frame carries a MAC under it (wire.ts). Nonces come from /dev/urandom (a seeded stream
 * in the simulation).
 * Invariants: nothing of a session is used before both proofs are checked; a failed handshake
 * sends nothing more.
 */
import { EAGAIN, errnoName, isErr } from '../../kernel/errno.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { SO_RCVTIMEO, SOL_SOCKET } from '../../kernel/socket.ts';
import { sys_recv, sys_send, sys_setsockopt } from '../../kernel/syscalls.ts';
import { uuidHex, type LentoConfig, type PeerConf } from './config.ts';
import type { SessionKeys } from './session.ts';
import {
  encodeFrame, FrameReader, MSG, MSG_NAMES, proof, sameBytes, sessionKey, WireDamage, type Bodies, type HandshakeFacts,
  type Message, type MsgType,
} from './wire.ts';

export type Handshake =
  | { readonly ok: true; readonly keys: SessionKeys; readonly peer: string; readonly peerUuid: Uint8Array }
  | { readonly ok: false; readonly reason: string; readonly refused: boolean };

const fail = (reason: string, refused = false): Handshake => ({ ok: false, reason, refused });

/** Read until one whole message arrives (or the peer goes away, or sends damage). */
export function* readMessage(t: Process, fd: number, reader: FrameReader): Sys<Message | string> {
  const buf = new Uint8Array(4096);
  for (;;) {
    const m = reader.next();
    if (m instanceof WireDamage) return m.reason;
    if (m !== null) return m;
    const n = yield* sys_recv(t, fd, buf);
    if (n === 0) return 'the peer closed the connection';
    if (n === EAGAIN) return 'no answer in time';
    if (isErr(n)) return errnoName(n);
    reader.push(buf.subarray(0, n));
  }
}

function* sendPlain<T extends MsgType>(
  t: Process,
  fd: number,
  type: T,
  body: Bodies[T],
  seq: number,
): Sys<string | null> {
  const n = yield* sys_send(t, fd, encodeFrame(type, body, seq, null));
  return isErr(n) ? errnoName(n) : null;
}

function expect<T extends MsgType>(m: Message | string, type: T): Bodies[T] | string {
  if (typeof m === 'string') return m;
  if (m.type === MSG.REFUSE) return `refused: ${(m.body as Bodies[5]).reason}`;
  if (m.type !== type) return `expected ${MSG_NAMES[type]}, got ${MSG_NAMES[m.type]}`;
  return m.body as Bodies[T];
}

export function* clientHandshake(t: Process, fd: number, me: LentoConfig, nonce: Uint8Array): Sys<Handshake> {
  yield* sys_setsockopt(t, fd, SOL_SOCKET, SO_RCVTIMEO, me.deadAfter);
  const hello = { fset: me.fileset, uuid: me.uuid, node: me.node, nonce, mode: me.mode === 'on-demand' ? 1 : 0 };
  const e1 = yield* sendPlain(t, fd, MSG.HELLO, hello, 0);
  if (e1 !== null) return fail(e1);
  const reader = new FrameReader();
  const ch = expect(yield* readMessage(t, fd, reader), MSG.CHALLENGE);
  if (typeof ch === 'string') return fail(ch, ch.startsWith('refused'));
  const facts: HandshakeFacts = {
    fset: me.fileset, clientUuid: me.uuid, serverUuid: ch.uuid, clientNonce: nonce, serverNonce: ch.nonce,
  };
  const e2 = yield* sendPlain(t, fd, MSG.PROVE, { proof: proof(me.secret, 'client', facts) }, 1);
  if (e2 !== null) return fail(e2);
  reader.key = sessionKey(me.secret, 'server->client', facts);
  const w = expect(yield* readMessage(t, fd, reader), MSG.WELCOME);
  if (typeof w === 'string') return fail(w, w.startsWith('refused'));
  if (!sameBytes(w.proof, proof(me.secret, 'server', facts))) {
    return fail(`server ${ch.node} does not prove it knows the fileset's secret`, true);
  }
  const keys = { sendKey: sessionKey(me.secret, 'client->server', facts), sendSeq: 2, reader };
  return { ok: true, keys, peer: ch.node, peerUuid: ch.uuid };
}

function* refuse(t: Process, fd: number, reason: string, seq: number): Sys<Handshake> {
  yield* sendPlain(t, fd, MSG.REFUSE, { reason }, seq);
  return fail(reason, true);
}

export function* serverHandshake(
  t: Process,
  fd: number,
  me: LentoConfig,
  nonce: Uint8Array,
): Sys<Handshake & { readonly conf?: PeerConf }> {
  yield* sys_setsockopt(t, fd, SOL_SOCKET, SO_RCVTIMEO, me.deadAfter);
  const reader = new FrameReader();
  const hello = expect(yield* readMessage(t, fd, reader), MSG.HELLO);
  if (typeof hello === 'string') return fail(hello);
  if (hello.fset !== me.fileset) return yield* refuse(t, fd, `no fileset '${hello.fset}' here`, 0);
  const peer = me.peers.find((x) => uuidHex(x.uuid) === uuidHex(hello.uuid));
  if (peer === undefined) return yield* refuse(t, fd, `node ${hello.node} (${uuidHex(hello.uuid)}) is not a client`, 0);
  const facts: HandshakeFacts = {
    fset: me.fileset, clientUuid: hello.uuid, serverUuid: me.uuid, clientNonce: hello.nonce, serverNonce: nonce,
  };
  const e1 = yield* sendPlain(t, fd, MSG.CHALLENGE, { uuid: me.uuid, node: me.node, nonce }, 0);
  if (e1 !== null) return fail(e1);
  const prove = expect(yield* readMessage(t, fd, reader), MSG.PROVE);
  if (typeof prove === 'string') return fail(`node ${peer.name}: ${prove}`);
  if (!sameBytes(prove.proof, proof(peer.secret, 'client', facts))) {
    return yield* refuse(t, fd, `node ${peer.name} failed authentication (wrong secret)`, 1);
  }
  const sendKey = sessionKey(peer.secret, 'server->client', facts);
  const welcome = encodeFrame(MSG.WELCOME, { proof: proof(peer.secret, 'server', facts) }, 1, sendKey);
  const n = yield* sys_send(t, fd, welcome);
  if (isErr(n)) return fail(errnoName(n));
  reader.key = sessionKey(peer.secret, 'client->server', facts);
  return { ok: true, keys: { sendKey, sendSeq: 2, reader }, peer: peer.name, peerUuid: peer.uuid, conf: peer };
}
