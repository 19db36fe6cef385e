/**
 * config.ts: what lento is told at start: who this host is, its role, its fileset and its peers
 * (the original's /etc/intermezzo/sysid, serverdb and fsetdb, written by `inconfig`).
 *
 * Layer: user space (lento). Interface: `formatConfig(c)` gives the text of
 * /etc/intermezzo/lento.conf (the simulator writes it when a host boots, as an installer would);
 * `parseConfig(text)` reads it back, or says what is wrong and on which line. The file is lines of
 * `key value...`: `node NAME UUIDHEX`, `role server|client`, `fileset NAME`, `mount DIR`,
 * `mode replicate|on-demand`, `server HOST PORT` (a client's server), `listen PORT` (a server's),
 * `secret TEXT` (a client's secret for the fileset), `peer NAME UUIDHEX SECRET` (a server's
 * clients, one line each), `kml-limit BYTES` (when to cut the KML's head), `heartbeat US` and
 * `dead-after US` (silence after which a peer counts as gone), `policy NAME` (how conflicts are
 * resolved, resolve.ts; default manual) and `policy-path PATTERN NAME` (an override for the paths
 * a glob matches, first match wins). Unknown keys and unknown policies are errors.
 * Invariants: a parsed config has a name, a 16-byte uuid, a role and a fileset; a client has a
 * server; uuids of peers are distinct.
 */

import { isPolicyName, type PolicyName } from './policy.ts';

export type Role = 'server' | 'client';
export type Mode = 'replicate' | 'on-demand';

export interface PeerConf {
  readonly name: string;
  readonly uuid: Uint8Array;
  readonly secret: string;
}

export interface LentoConfig {
  readonly node: string;
  readonly uuid: Uint8Array;
  readonly role: Role;
  readonly fileset: string;
  /** Where the fileset is mounted (its root). */
  readonly mount: string;
  readonly mode: Mode;
  /** A client's server, and the port lento listens on (server) or connects to (client). */
  readonly server: string;
  readonly port: number;
  /** A client's secret for the fileset. */
  readonly secret: string;
  /** A server's clients. */
  readonly peers: readonly PeerConf[];
  readonly kmlLimit: number;
  readonly heartbeat: number;
  readonly deadAfter: number;
  /** How this node resolves the conflicts it finds, and overrides by path pattern (first match wins). */
  readonly policy: PolicyName;
  readonly policyPaths: ReadonlyArray<{ readonly pattern: string; readonly policy: PolicyName }>;
}

export const LENTO_PORT = 7777;
export const DEFAULTS = { kmlLimit: 256 * 1024, heartbeat: 1_000_000, deadAfter: 5_000_000 } as const;

export function uuidHex(u: Uint8Array): string {
  return [...u].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function parseUuid(s: string): Uint8Array | null {
  if (!/^[0-9a-f]{32}$/.test(s)) return null;
  const u = new Uint8Array(16);
  for (let i = 0; i < 16; i++) u[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return u;
}

const token = (s: string): boolean => s.length > 0 && !/\s/.test(s);

export function formatConfig(c: LentoConfig): string {
  const lines = [
    `node ${c.node} ${uuidHex(c.uuid)}`,
    `role ${c.role}`,
    `fileset ${c.fileset}`,
    `mount ${c.mount}`,
    `mode ${c.mode}`,
    c.role === 'client' ? `server ${c.server} ${c.port}` : `listen ${c.port}`,
    ...(c.role === 'client' ? [`secret ${c.secret}`] : []),
    ...c.peers.map((p) => `peer ${p.name} ${uuidHex(p.uuid)} ${p.secret}`),
    `kml-limit ${c.kmlLimit}`,
    `heartbeat ${c.heartbeat}`,
    `dead-after ${c.deadAfter}`,
    `policy ${c.policy}`,
    ...c.policyPaths.map((x) => `policy-path ${x.pattern} ${x.policy}`),
  ];
  for (const l of lines) if (l.split(' ').some((w) => !token(w))) throw new Error(`lento.conf: bad value in '${l}'`);
  return lines.join('\n') + '\n';
}

type Draft = { -readonly [K in keyof LentoConfig]?: LentoConfig[K] } & {
  peers: PeerConf[];
  policyPaths: Array<{ pattern: string; policy: PolicyName }>;
};

function num(s: string | undefined): number | null {
  return s !== undefined && /^[0-9]+$/.test(s) && Number.isSafeInteger(Number(s)) ? Number(s) : null;
}

/** One line into the draft; what is wrong, or null. */
function parseLine(d: Draft, words: string[]): string | null {
  const [key, a, b, c] = words;
  const argc = words.length - 1;
  const need = (n: number): string | null => (argc === n ? null : `${key} takes ${n} value(s), got ${argc}`);
  switch (key) {
    case 'node': {
      const u = parseUuid(b ?? '');
      if (need(2) !== null || u === null) return 'node takes a name and a 32-digit hex uuid';
      d.node = a as string;
      d.uuid = u;
      return null;
    }
    case 'role':
      if (a !== 'server' && a !== 'client') return `role is server or client, not '${a ?? ''}'`;
      d.role = a;
      return need(1);
    case 'mode':
      if (a !== 'replicate' && a !== 'on-demand') return `mode is replicate or on-demand, not '${a ?? ''}'`;
      d.mode = a;
      return need(1);
    case 'fileset':
    case 'mount':
    case 'secret':
      d[key === 'fileset' ? 'fileset' : key === 'mount' ? 'mount' : 'secret'] = a ?? '';
      return need(1);
    case 'server':
    case 'listen': {
      const port = num(key === 'server' ? b : a);
      if (port === null || port < 1 || port > 65535) return `${key}: a port 1..65535`;
      if (key === 'server') d.server = a ?? '';
      d.port = port;
      return need(key === 'server' ? 2 : 1);
    }
    case 'peer': {
      const u = parseUuid(b ?? '');
      if (need(3) !== null || u === null) return 'peer takes a name, a 32-digit hex uuid and a secret';
      d.peers.push({ name: a as string, uuid: u, secret: c as string });
      return null;
    }
    case 'kml-limit':
    case 'heartbeat':
    case 'dead-after': {
      const n = num(a);
      if (n === null || n < 1) return `${key}: a positive integer`;
      d[key === 'kml-limit' ? 'kmlLimit' : key === 'heartbeat' ? 'heartbeat' : 'deadAfter'] = n;
      return need(1);
    }
    case 'policy':
      if (!isPolicyName(a ?? '')) return `policy: unknown policy '${a ?? ''}'`;
      d.policy = a as PolicyName;
      return need(1);
    case 'policy-path':
      if (need(2) !== null || !isPolicyName(b ?? '')) return 'policy-path takes a path pattern and a known policy';
      d.policyPaths.push({ pattern: a as string, policy: b as PolicyName });
      return null;
    default:
      return `unknown key '${key ?? ''}'`;
  }
}

/** The config in `text`, or every problem as `line N: what`. */
export function parseConfig(text: string): LentoConfig | string[] {
  const d: Draft = { peers: [], policyPaths: [] };
  const errors: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const e = parseLine(d, line.split(/\s+/));
    if (e !== null) errors.push(`line ${i + 1}: ${e}`);
  });
  for (const k of ['node', 'role', 'fileset', 'mount'] as const) if (d[k] === undefined) errors.push(`no ${k} line`);
  if (d.role === 'client' && d.server === undefined) errors.push('a client needs a server line');
  const uuids = new Set(d.peers.map((p) => uuidHex(p.uuid)));
  if (uuids.size !== d.peers.length) errors.push('two peers share a uuid');
  if (errors.length > 0) return errors;
  return {
    node: d.node as string, uuid: d.uuid as Uint8Array, role: d.role as Role, fileset: d.fileset as string,
    mount: d.mount as string, mode: d.mode ?? 'replicate', server: d.server ?? '', port: d.port ?? LENTO_PORT,
    secret: d.secret ?? '', peers: d.peers, kmlLimit: d.kmlLimit ?? DEFAULTS.kmlLimit,
    heartbeat: d.heartbeat ?? DEFAULTS.heartbeat, deadAfter: d.deadAfter ?? DEFAULTS.deadAfter,
    policy: d.policy ?? 'manual', policyPaths: d.policyPaths,
  };
}
