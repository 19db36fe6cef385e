/**
 * permit.ts: the fileset write permit across nodes: the server arbitrates (one holder at a time,
 * revoked from the holder when another node asks, and only moved once the holder's records are
 * reintegrated), clients ask for it on their presto's behalf, and a node cut off from the server
 * lets presto steal it (disconnected operation).
 *
 * Layer: user space (lento). Interface: `Permits.onUpcall(t)` answers presto's PERMIT upcall
 * (0: granted; ENOTCONN: no server now, so presto steals the permit if the fileset allows it);
 * `onMessage` files PERMIT, PERMIT_GRANT, REVOKE_PERMIT and PERMIT_RELEASED messages; `sessionDown`
 * forgets a peer whose session ended (a holder that vanished holds nothing any more); on a server,
 * `arbiter` is the thread that owns the permit's state:
 *   holder null, a request from N: grant (PERMIT_GRANT{catch-up: the server's last record}, and N
 *     applies the server's KML that far before its presto gets the permit);
 *   holder H, a request from N: REVOKE_PERMIT to H; H's lento gives its presto's permit back
 *     (REVOKE_PERMIT ioctl: waits for local users to finish), makes sure every record it made is
 *     shipped, and answers PERMIT_RELEASED{its last record}; once the server has applied that far,
 *     the permit moves. The server itself is a holder like the others ("server").
 * The original never finished this ("once we start handling multiple clients"); it is ours.
 * Invariants: at most one holder known to the server; a grant to N only after the previous holder
 * released (or was lost); a client's presto gets the permit only after catching up.
 */
import { EINTR, ENOTCONN, ETIMEDOUT, isErr } from '../../kernel/errno.ts';
import type { Process } from '../../kernel/process.ts';
import type { Sys } from '../../kernel/sched.ts';
import { say } from './events.ts';
import type { Lento } from './lento.ts';
import type { PeerLink } from './peer.ts';
import { Notifier, now } from './pthread.ts';
import { MSG, type Message, type Permit, type PermitGrant, type PermitReleased, type RevokePermit } from './wire.ts';

export const SERVER = 'server';
/** How long a client waits for the server's grant before letting presto steal (presto's own limit is 30 s). */
export const GRANT_WAIT = 25_000_000;
/**
 * How long the permit waits for records in flight to be applied before it moves anyway. presto
 * asks for the permit from inside a directory operation, holding the directory's i_sem (as the
 * original did), so a replay that needs the same directory cannot finish until the permit is given:
 * waiting for it without a bound would deadlock until presto's 30 s timeout made the writer steal.
 * After this long the writer goes first and the replay follows, judged by presto's conflict checks
 * (different names in one directory converge; the same name is a NAME conflict, parked).
 */
export const CATCHUP_WAIT = 2_000_000;

type Event =
  | { readonly kind: 'request'; readonly who: string; readonly id: number; readonly local?: LocalWait }
  | { readonly kind: 'released'; readonly who: string; readonly kml: number }
  | { readonly kind: 'down'; readonly who: string };

interface LocalWait {
  granted: boolean;
}

export class Permits {
  /** Server: who holds the permit (SERVER for this node), the queue, a revocation in progress. */
  holder: string | null = null;
  private queue: Array<Extract<Event, { kind: 'request' }>> = [];
  private revoking: { from: string; releasedAt: number | null; when: number } | null = null;
  private readonly events: Event[] = [];
  readonly wake = new Notifier();
  /** Client: grants received, by request id. */
  private readonly grants = new Map<number, number>();
  private nextId = 1;

  constructor(private readonly lento: Lento) {}

  /** presto asks for the permit: the value of the reply. */
  *onUpcall(t: Process): Sys<number> {
    return this.lento.conf.role === 'server' ? yield* this.localRequest(t) : yield* this.clientRequest(t);
  }

  private *localRequest(t: Process): Sys<number> {
    const local: LocalWait = { granted: false };
    this.post(t, { kind: 'request', who: SERVER, id: 0, local });
    const r = yield* this.lento.wait(t, this.wake, () => local.granted || this.lento.stopping);
    return r === EINTR || !local.granted ? ENOTCONN : 0;
  }

  private *clientRequest(t: Process): Sys<number> {
    const link = this.lento.serverLink();
    if (link === null) return ENOTCONN;
    const id = this.nextId++;
    say(t, 'lento.permit', { what: 'request', holder: '', peer: link.name });
    const sent = yield* link.s.send(t, MSG.PERMIT, { id });
    if (isErr(sent)) return ENOTCONN;
    const r = yield* this.lento.wait(t, link.s.changed, () => this.grants.has(id) || link.s.dead, GRANT_WAIT);
    const catchup = this.grants.get(id);
    this.grants.delete(id);
    if (r === ETIMEDOUT || catchup === undefined) return ENOTCONN;
    // Write on top of everything the server had when it granted: apply its log that far first.
    const c = yield* this.lento.wait(t, link.s.changed, () => link.applied.recno >= catchup || link.s.dead,
      CATCHUP_WAIT);
    if (c === EINTR || link.s.dead) return ENOTCONN;
    say(t, 'lento.permit', { what: 'granted', holder: this.lento.conf.node, peer: link.name });
    return 0;
  }

  /** The reader hands over a permit message (never blocks: the work happens in other threads). */
  onMessage(t: Process, link: PeerLink, m: Message): void {
    switch (m.type) {
      case MSG.PERMIT:
        this.post(t, { kind: 'request', who: link.name, id: (m.body as Permit).id });
        return;
      case MSG.PERMIT_RELEASED:
        this.post(t, { kind: 'released', who: link.name, kml: (m.body as PermitReleased).kml_recno });
        return;
      case MSG.PERMIT_GRANT: {
        const g = m.body as PermitGrant;
        this.grants.set(g.id, g.catchup_recno);
        return;
      }
      case MSG.REVOKE_PERMIT: {
        const id = (m.body as RevokePermit).id;
        this.lento.thread(t, 'lento-revoke', (w) => this.release(w, link, id));
        return;
      }
      default:
    }
  }

  sessionDown(t: Process, link: PeerLink): void {
    if (this.lento.conf.role === 'server') this.post(t, { kind: 'down', who: link.name });
  }

  private post(t: Process, e: Event): void {
    this.events.push(e);
    this.wake.notifyAll(t);
  }

  /** Client: the server revokes our permit. Give presto's back, ship what we made, say how far. */
  private *release(t: Process, link: PeerLink, id: number): Sys<number> {
    const l = this.lento;
    yield* l.fset.revokePermit(t);
    const end = yield* l.fset.kmlEnd(t);
    const last = isErr(end) ? 0 : end.recno;
    yield* l.wait(t, link.s.changed, () => link.shippedRecno >= last || link.s.dead);
    if (link.s.dead) return 0;
    say(t, 'lento.permit', { what: 'released', holder: l.conf.node, peer: link.name });
    yield* link.s.send(t, MSG.PERMIT_RELEASED, { id, kml_recno: last });
    return 0;
  }

  // ---- the server's arbiter thread --------------------------------------------------------

  *arbiter(t: Process): Sys<number> {
    const l = this.lento;
    while (!l.stopping) {
      const tick = this.revoking === null ? l.conf.heartbeat : CATCHUP_WAIT / 4;
      yield* l.wait(t, this.wake, () => this.events.length > 0 || l.stopping || this.releaseDone(t), tick);
      for (let e = this.events.shift(); e !== undefined; e = this.events.shift()) this.absorb(t, e);
      yield* this.step(t);
    }
    return 0;
  }

  private absorb(t: Process, e: Event): void {
    if (e.kind === 'request') this.queue.push(e);
    else if (e.kind === 'released') {
      if (this.revoking?.from === e.who) {
        this.revoking.releasedAt = e.kml;
        this.revoking.when = now(t);
      }
    } else {
      if (this.holder === e.who) {
        this.holder = null;
        say(t, 'lento.permit', { what: 'lost', holder: e.who, peer: e.who });
      }
      this.queue = this.queue.filter((q) => q.who !== e.who);
      if (this.revoking?.from === e.who) this.revoking = null;
    }
  }

  /** The holder released and the server has applied its records that far (or CATCHUP_WAIT passed). */
  private releaseDone(t: Process): boolean {
    const r = this.revoking;
    if (r === null || r.releasedAt === null) return false;
    const link = this.lento.links.get(r.from);
    return link === undefined || link.applied.recno >= r.releasedAt || now(t) >= r.when + CATCHUP_WAIT;
  }

  private *step(t: Process): Sys<void> {
    const l = this.lento;
    for (;;) {
      if (this.revoking !== null) {
        if (!this.releaseDone(t)) return;
        say(t, 'lento.permit', { what: 'released', holder: this.revoking.from, peer: this.revoking.from });
        this.holder = null;
        this.revoking = null;
      }
      const next = this.queue[0];
      if (next === undefined) return;
      if (this.holder === null || this.holder === next.who) {
        yield* this.grant(t, next);
        continue;
      }
      if (this.holder === SERVER) {
        yield* l.fset.revokePermit(t); // presto waits for local writers to finish
        say(t, 'lento.permit', { what: 'revoked', holder: SERVER, peer: next.who });
        this.holder = null;
        continue;
      }
      const link = l.links.get(this.holder);
      if (link === undefined || link.s.dead) {
        this.holder = null;
        continue;
      }
      this.revoking = { from: this.holder, releasedAt: null, when: now(t) };
      say(t, 'lento.permit', { what: 'revoke', holder: this.holder, peer: next.who });
      yield* link.s.send(t, MSG.REVOKE_PERMIT, { id: 0 });
      return;
    }
  }

  private *grant(t: Process, req: Extract<Event, { kind: 'request' }>): Sys<void> {
    const l = this.lento;
    this.queue.shift();
    if (req.local !== undefined) {
      this.holder = SERVER;
      req.local.granted = true;
      say(t, 'lento.permit', { what: 'granted', holder: SERVER, peer: SERVER });
      this.wake.notifyAll(t);
      return;
    }
    const link = l.links.get(req.who);
    if (link === undefined || link.s.dead) return;
    const end = yield* l.fset.kmlEnd(t);
    const catchup = isErr(end) ? 0 : end.recno;
    this.holder = req.who;
    say(t, 'lento.permit', { what: 'grant', holder: req.who, peer: req.who });
    yield* link.s.send(t, MSG.PERMIT_GRANT, { id: req.id, catchup_recno: catchup });
  }
}
