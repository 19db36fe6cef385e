/**
 * policy.ts: conflict resolution policies as pure rules: which policy governs a path, and which of
 * two concurrent versions of an object wins under it.
 *
 * Layer: user space (lento), pure functions only (no state, no calls). Interface: `POLICIES` and
 * `isPolicyName`; `policyFor(conf, path)` (the first `policy-path` pattern that matches, else the
 * fileset's policy; `*` matches within one path component, `**` across components);
 * `winner(policy, local, remote)` says whether the local or the remote version stands. Both
 * ends of a conflict evaluate it, each with its own view (the server replaying a client's record, the
 * client replaying the server's), and must agree: so a rule is a function of the two versions and
 * of the side (server or client) each stands on, never of which end evaluates it.
 * - server-wins: the version on the server's side; client-wins: the client's side;
 * - newest, keep-both: the later mtime (seconds, then nanoseconds, on the clock of the node that
 *   made it, which may be skewed: resolve.ts reports both), and on equal mtimes the server's side
 *   (a client does not learn which node made a version the server relays, so a node-name
 *   tie-break could not be evaluated the same at both ends).
 * `manual` never picks: the conflict is parked. Counterpart: none in InterMezzo (which shipped
 * with detection disabled); the rules follow ../shared/reference/conflicts.md.
 */

export const POLICIES = ['manual', 'server-wins', 'client-wins', 'newest', 'keep-both'] as const;
export type PolicyName = (typeof POLICIES)[number];

export function isPolicyName(s: string): s is PolicyName {
  return (POLICIES as readonly string[]).includes(s);
}

/** One version of an object in a conflict, as the node deciding sees it. */
export interface Version {
  /** The node it comes from (here: this node; remote: the peer that sent the record). */
  readonly node: string;
  /** Whether it stands on the server's side of the link (the server's state, or a record the server sent). */
  readonly side: 'server' | 'client';
  readonly mtimeSec: number;
  readonly mtimeNsec: number;
  readonly size: number;
}

/** A glob over fileset paths: `**` any run of characters, `*` any within one component, `?` one. */
export function globMatch(pattern: string, path: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] as string;
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else re += ch.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(re + '$').test(path);
}

export function policyFor(
  conf: { readonly policy: PolicyName; readonly policyPaths: ReadonlyArray<{ pattern: string; policy: PolicyName }> },
  path: string,
): PolicyName {
  return conf.policyPaths.find((x) => globMatch(x.pattern, path))?.policy ?? conf.policy;
}

/** Is `a` later than `b` by mtime (seconds, then nanoseconds)? */
function laterThan(a: Version, b: Version): boolean {
  return a.mtimeSec > b.mtimeSec || (a.mtimeSec === b.mtimeSec && a.mtimeNsec > b.mtimeNsec);
}

/** Which of the newest rule's versions wins: the later mtime, then the server's side. */
export function newest(local: Version, remote: Version): 'local' | 'remote' {
  if (laterThan(local, remote)) return 'local';
  if (laterThan(remote, local)) return 'remote';
  return local.side === 'server' ? 'local' : 'remote';
}

/** Which version stands under `policy` (manual excepted: it never decides). */
export function winner(policy: Exclude<PolicyName, 'manual'>, local: Version, remote: Version): 'local' | 'remote' {
  switch (policy) {
    case 'server-wins':
      return local.side === 'server' ? 'local' : 'remote';
    case 'client-wins':
      return local.side === 'client' ? 'local' : 'remote';
    case 'newest':
    case 'keep-both':
      return newest(local, remote);
  }
}

/** Conflict copies are named `NAME.conflict-NODE-FROM-RECNO`; a copy never gets a copy of its own. */
export function isConflictCopy(path: string): boolean {
  return /\.conflict-[a-z0-9-]+-\d+$/.test(path);
}

/**
 * The deterministic name of a loser's copy: made only by `node`, the node that holds the losing
 * version, when it replays record `recno` of peer `from`; stable across a crash and a retry.
 */
export function copyName(path: string, node: string, from: string, recno: number): string {
  return `${path}.conflict-${node}-${from}-${recno}`;
}
