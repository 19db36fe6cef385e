/**
 * session.ts: one authenticated connection between lento and a peer: framed messages out, a
 * reader thread in, heartbeats both ways, and death detected the way a real program detects it.
 *
 * Layer: user space (lento). Interface: `Session` wraps a connected socket whose handshake is
 * done (handshake.ts gives the keys); `send(t, type, body)` writes one frame whole (a mutex keeps
 * frames and their sequence numbers in order across threads; sys_send itself blocks while the
 * peer's window and our buffer are full, which is how a slow peer slows us down); `start(t,
 * onMessage)` runs the reader and heartbeat threads; `kill(t, reason)` ends the session: it shuts
 * the socket down (so every thread blocked on it wakes with an error) and wakes every waiter on
 * `changed`. The reader never sends (a reader blocked on a full socket could deadlock two peers);
 * it hands each message to `onMessage`, which must not block either. A peer is dead when nothing
 * at all arrives for `deadAfter` (SO_RCVTIMEO): both sides send a PING every `heartbeat`, so
 * silence means a partition, a crash or a pause, which a real lento could not tell apart either.
 * The socket is closed when the last of the session's threads is done with it (`retain`/`release`).
 * Invariants: frames leave in sequence-number order; after kill, nothing more is sent or handled.
 */
import { EAGAIN, EINTR, errnoName, isErr, type Errno } from '../../kernel/errno.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { SHUT_RDWR, SO_RCVTIMEO, SOL_SOCKET } from '../../kernel/socket.ts';
import { sys_close, sys_recv, sys_send, sys_setsockopt, sys_shutdown } from '../../kernel/syscalls.ts';
import { say } from './events.ts';
import { Mutex, Notifier, spawn } from './pthread.ts';
import {
  encodeFrame, FrameReader, MSG, MSG_NAMES, WireDamage, type Bodies, type Message, type MsgType,
} from './wire.ts';

/** Keys and counters a handshake leaves behind. */
export interface SessionKeys {
  readonly sendKey: Uint8Array;
  readonly sendSeq: number;
  /** The reader, with the receive key set and any bytes already read after the handshake. */
  readonly reader: FrameReader;
}

export class Session {
  dead = false;
  reason = '';
  /** Woken on every message, acknowledgement, death: waiters re-check what they wait for. */
  readonly changed = new Notifier();
  private readonly sendLock = new Mutex();
  private sendSeq: number;
  private users = 1;
  /** Frames and bytes sent, for the counters. */
  framesOut = 0;

  constructor(
    readonly fd: number,
    readonly peer: string,
    private readonly keys: SessionKeys,
    readonly heartbeat: number,
    readonly deadAfter: number,
  ) {
    this.sendSeq = keys.sendSeq;
  }

  /** Send one message, whole. EPIPE-like errors kill the session; the errno is returned. */
  *send<T extends MsgType>(t: Process, type: T, body: Bodies[T]): Sys<0 | Errno> {
    if (this.dead) return EAGAIN;
    const l = yield* this.sendLock.lock(t);
    if (isErr(l)) return l;
    if (this.dead) {
      this.sendLock.unlock(t);
      return EAGAIN;
    }
    const frame = encodeFrame(type, body, this.sendSeq, this.keys.sendKey);
    this.sendSeq = (this.sendSeq + 1) >>> 0;
    const n = yield* sys_send(t, this.fd, frame);
    this.sendLock.unlock(t);
    if (isErr(n)) {
      yield* this.kill(t, `sending ${MSG_NAMES[type]}: ${errnoName(n)}`);
      return n;
    }
    this.framesOut++;
    return 0;
  }

  /** One more thread uses the socket; `release` when done (the last one closes it). */
  retain(): void {
    this.users++;
  }

  *release(t: Process): Sys<void> {
    this.users--;
    if (this.users === 0) yield* sys_close(t, this.fd);
  }

  /** End the session (idempotent): shut the socket, wake everyone, say why. */
  *kill(t: Process, reason: string): Sys<void> {
    if (this.dead) return;
    this.dead = true;
    this.reason = reason;
    yield* sys_shutdown(t, this.fd, SHUT_RDWR);
    say(t, 'lento.session', { peer: this.peer, state: 'down', reason });
    this.changed.notifyAll(t);
  }

  /** Start the reader and heartbeat threads of `owner`'s process. */
  start(
    owner: Process,
    onMessage: (t: Process, m: Message) => void,
    onThread: (t: Process) => Sys<void>,
  ): void {
    this.retain();
    spawn(owner, `lento-rx ${this.peer}`, (t) => this.readerThread(t, onMessage, onThread));
    this.retain();
    spawn(owner, `lento-hb ${this.peer}`, (t) => this.heartbeatThread(t, onThread));
  }

  private *readerThread(
    t: Process,
    onMessage: (t: Process, m: Message) => void,
    onThread: (t: Process) => Sys<void>,
  ): Sys<number> {
    yield* onThread(t);
    yield* sys_setsockopt(t, this.fd, SOL_SOCKET, SO_RCVTIMEO, this.deadAfter);
    const buf = new Uint8Array(64 * 1024);
    const reader = this.keys.reader;
    while (!this.dead) {
      const damage = this.drain(t, reader, onMessage);
      if (damage !== null) {
        say(t, 'lento.refused', { peer: this.peer, reason: damage });
        yield* this.kill(t, `damage from the peer: ${damage}`);
        break;
      }
      const n = yield* sys_recv(t, this.fd, buf);
      if (this.dead) break;
      if (n === 0) yield* this.kill(t, 'the peer closed the connection');
      else if (n === EAGAIN) yield* this.kill(t, `nothing from the peer for ${this.deadAfter / 1e6} s`);
      else if (n === EINTR) yield* this.kill(t, 'lento is stopping');
      else if (isErr(n)) yield* this.kill(t, `receiving: ${errnoName(n)}`);
      else reader.push(buf.subarray(0, n));
    }
    yield* this.release(t);
    return 0;
  }

  /** Hand every whole frame to `onMessage`; what is wrong, if a frame is damaged. */
  private drain(t: Process, reader: FrameReader, onMessage: (t: Process, m: Message) => void): string | null {
    for (;;) {
      const m = reader.next();
      if (m === null) return null;
      if (m instanceof WireDamage) return m.reason;
      if (m.type !== MSG.PING) onMessage(t, m);
      this.changed.notifyAll(t);
    }
  }

  private *heartbeatThread(t: Process, onThread: (t: Process) => Sys<void>): Sys<number> {
    yield* onThread(t);
    while (!this.dead) {
      const r = yield* this.changed.waitUntil(t, () => this.dead, this.heartbeat);
      if (r === EINTR) yield* this.kill(t, 'lento is stopping');
      if (this.dead) break;
      yield* this.send(t, MSG.PING, {});
    }
    yield* this.release(t);
    return 0;
  }
}
