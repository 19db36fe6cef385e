/**
 * cluster.ts: an InterMezzo world built from data: one server and its clients, each a host with
 * a disk, a kernel, an `intermezzo` mount of the fileset over ext3, and lento.
 *
 * Layer: simulation (wires hosts together; may import every layer). Interface:
 * `Cluster.build(spec)` makes the world: per node a fresh ext3 disk (mkfs), a boot procedure (a
 * ramfs root as an initrd would give: /dev/intermezzo, /dev/urandom, /etc/intermezzo/lento.conf
 * with the node's uuid, role and peers; `mount -t intermezzo -o cache_type=ext3,fileset=NAME
 * /dev/hda /izo`, which recovers the journal and completes pending closes after a crash; then
 * lento), and boots every node. `node(name)` gives a `Node`: `sh(lines, uid, gid)` runs
 * command-language lines in the fileset (paths from its root) as a process of that user;
 * `crash()`, `restart()`, `pause()`, `resume()` (sim/host.ts); `status()` asks presto, as an
 * operator would with ioctls, where the KML ends and how far each peer's log is applied;
 * `tree()` snapshots the fileset; `audit()` reads lento's audit log (the versions conflict policies
 * discarded there); `shutdown()` stops lento (SIGTERM) and unmounts cleanly. The spec's `policy`
 * and `policies` (path pattern overrides) become every node's lento.conf policy lines.
 * The cluster's own views (`caughtUp`, `quiet`) compare those positions across nodes: a test's
 * or a scenario's omniscience, never something a node learns.
 * Invariants: node names are unique and exactly one node is the server; a node's uuid and disk
 * depend on the seed and its name only.
 */
import { assert, panic } from '../kernel/assert.ts';
import { BlockDevice, type BlockSize } from '../kernel/blkdev.ts';
import { errnoName, isErr, type Errno } from '../kernel/errno.ts';
import { makeCred, O_APPEND, O_CREAT, O_DIRECTORY, O_RDONLY, O_TRUNC, O_WRONLY, S_IFCHR } from '../kernel/fs.ts';
import { mem_register, MEM_MAJOR, NULL_MINOR, URANDOM_MINOR } from '../kernel/mem.ts';
import type { Process } from '../kernel/process.ts';
import type { Sys } from '../kernel/sched.ts';
import { SIGTERM } from '../kernel/signal.ts';
import {
  sys_chdir, sys_chroot, sys_close, sys_ioctl, sys_kill, sys_mkdir, sys_mknod, sys_mount, sys_open, sys_sync,
  sys_umount, sys_write,
} from '../kernel/syscalls.ts';
import { do_exit } from '../kernel/fork.ts';
import { mkfs } from '../fs/ext3/mkfs.ts';
import { ext2_fs_type, ext3_fs_type } from '../fs/ext3/super.ts';
import {
  INTERMEZZO_MINOR, IZO_IOC_GET_KML_SIZE, IZO_IOC_GET_RCVD, MISC_MAJOR, type IzoIoctlData,
} from '../fs/intermezzo/intermezzo_idl.ts';
import { intermezzo_fs_type } from '../fs/intermezzo/super.ts';
import { DEFAULTS, formatConfig, LENTO_PORT, type LentoConfig, type Mode, type PeerConf } from '../src/lento/config.ts';
import { CONFIG_PATH, lento_main } from '../src/lento/lento.ts';
import { isPolicyName, POLICIES, type PolicyName } from '../src/lento/policy.ts';
import { parseScript, runScript, type CommandResult } from '../src/sh.ts';
import { snapshotTree, type TreeNode } from '../src/tree.ts';
import { read_file } from '../src/libc.ts';
import type { AuditJson } from '../src/lento/state.ts';
import { World, type Host } from './host.ts';
import type { LinkSpec } from './network.ts';
import type { TraceOptions, TraceRecord } from './trace.ts';

export const MOUNT = '/izo';

export interface NodeSpec {
  readonly name: string;
  readonly role: 'server' | 'client';
  readonly mode?: Mode;
  /** Disk size in bytes (default 16 MiB). */
  readonly disk?: number;
  readonly blockSize?: BlockSize;
  readonly data?: 'ordered' | 'journal' | 'writeback';
  /** The host's real-time clock offset, µs (either sign). */
  readonly clockSkew?: number;
  /** This node's secret for the fileset (default: the fileset's). */
  readonly secret?: string;
}

export interface ClusterSpec {
  readonly seed: number;
  readonly fileset: string;
  readonly secret?: string;
  readonly nodes: readonly NodeSpec[];
  readonly network?: LinkSpec;
  readonly links?: ReadonlyArray<{ readonly between: readonly [string, string]; readonly spec: Partial<LinkSpec> }>;
  /** lento's timing and KML limit. */
  readonly lento?: Partial<Pick<LentoConfig, 'heartbeat' | 'deadAfter' | 'kmlLimit'>>;
  readonly trace?: TraceOptions;
  /** Keep every disk's I/O log (for crash enumeration; costs memory). */
  readonly ioLog?: boolean;
  /** The fileset's conflict policy (src/lento/policy.ts; default manual), the same on every node. */
  readonly policy?: string;
  /** Overrides by path pattern (`*` within a component, `**` across), first match wins. */
  readonly policies?: ReadonlyArray<{ readonly path: string; readonly policy: string }>;
}

/** The conflict policies a spec may name ('manual' is the default). */
/** The policy names a scenario may give (src/lento/policy.ts). */
export const POLICY_NAMES: readonly string[] = POLICIES;

export const DEFAULT_SECRET = 'intermezzo';
export const DEFAULT_DISK = 16 * 1024 * 1024;

/** What presto says of a node's logs: where its KML ends, how far it applied each peer's. */
export interface NodeStatus {
  readonly kmlRecno: number;
  readonly kmlOffset: number;
  /** Per peer name: the last of its records applied here (0 if none). */
  readonly applied: Readonly<Record<string, number>>;
}

const TREE = { times: true, skip: ['lost+found', '.intermezzo'] } as const;

function uuidFor(w: World, name: string): Uint8Array {
  const u = new Uint8Array(16);
  w.rng.stream(`uuid/${name}`).fill(u);
  return u;
}

export class Node {
  private lentoPid = 0;

  constructor(
    readonly cluster: Cluster,
    readonly spec: NodeSpec,
    readonly host: Host,
    readonly uuid: Uint8Array,
  ) {}

  get name(): string {
    return this.spec.name;
  }

  /** The disk as it is now (a crash leaves a new device: what survived). */
  get disk(): BlockDevice {
    return this.host.disks.get('hda') as BlockDevice;
  }

  crash(): void {
    this.host.crash('crash');
  }

  restart(): void {
    this.host.restart();
  }

  pause(): void {
    this.host.pause();
  }

  resume(): void {
    this.host.resume();
  }

  /** The lento.conf this node boots with. */
  config(): LentoConfig {
    const c = this.cluster;
    const server = c.server;
    const peers: PeerConf[] = this.spec.role === 'server'
      ? c.clients.map((n) => ({ name: n.name, uuid: n.uuid, secret: c.spec.secret ?? DEFAULT_SECRET }))
      : [];
    return {
      node: this.name, uuid: this.uuid, role: this.spec.role, fileset: c.spec.fileset, mount: MOUNT,
      mode: this.spec.mode ?? 'replicate', server: server.name, port: LENTO_PORT,
      secret: this.spec.secret ?? c.spec.secret ?? DEFAULT_SECRET, peers,
      kmlLimit: c.spec.lento?.kmlLimit ?? DEFAULTS.kmlLimit, heartbeat: c.spec.lento?.heartbeat ?? DEFAULTS.heartbeat,
      deadAfter: c.spec.lento?.deadAfter ?? DEFAULTS.deadAfter,
      policy: (c.spec.policy ?? 'manual') as PolicyName,
      policyPaths: (c.spec.policies ?? []).map((x) => ({ pattern: x.path, policy: x.policy as PolicyName })),
    };
  }

  /** Boot: ramfs root with device nodes and config, the fileset mounted at /izo, lento started. */
  *boot(init: Process): Sys<0 | Errno> {
    const must = function* (r: Sys<0 | Errno | number>): Sys<0 | Errno> {
      const v = yield* r;
      return isErr(v) ? v : 0;
    };
    for (const dir of ['/dev', '/etc', '/etc/intermezzo', MOUNT]) {
      const r = yield* must(sys_mkdir(init, dir, 0o755));
      if (isErr(r)) return r;
    }
    const nodes: Array<[string, number]> = [
      ['/dev/intermezzo', (MISC_MAJOR << 8) | INTERMEZZO_MINOR], ['/dev/urandom', (MEM_MAJOR << 8) | URANDOM_MINOR],
      ['/dev/null', (MEM_MAJOR << 8) | NULL_MINOR],
    ];
    for (const [path, dev] of nodes) {
      const r = yield* must(sys_mknod(init, path, S_IFCHR | 0o600, dev));
      if (isErr(r)) return r;
    }
    const w = yield* writeFile(init, CONFIG_PATH, formatConfig(this.config()));
    if (isErr(w)) return w;
    const mode = this.spec.data === undefined ? '' : `,data=${this.spec.data}`;
    const data = `cache_type=ext3,fileset=${this.cluster.spec.fileset}${mode}`;
    const m = yield* sys_mount(init, '/dev/hda', MOUNT, 'intermezzo', 0, data);
    if (isErr(m)) return m;
    const lento = this.host.process('lento');
    this.lentoPid = lento.pid;
    this.host.kernel.spawn(lento, lento_main(lento));
    return 0;
  }

  /** Run command-language lines in the fileset as uid:gid; every command's result (a parse error panics). */
  sh(text: string, uid = 0, gid = 0): CommandResult[] {
    const parsed = parseScript(text, this.name);
    if ('errors' in parsed) {
      const why = parsed.errors.map((e) => `${e.line}:${e.column}: ${e.message}`).join('; ');
      return panic(`${this.name}: bad script: ${why}`);
    }
    const p = this.filesetProcess('sh', uid, gid);
    return this.runOnce(p, runScript(p, parsed.commands));
  }

  /** Run `body` as `p`, then end `p` (its files, root and cwd released: nothing pins the mount). */
  private runOnce<T>(p: Process, body: Sys<T>): T {
    return this.host.run(p, (function* () {
      const r = yield* body;
      yield* do_exit(p);
      return r;
    })());
  }

  /** A process of this node whose root is the fileset, with these ids. */
  filesetProcess(comm: string, uid = 0, gid = 0): Process {
    const p = this.host.process(comm);
    const r = this.host.run(p, sys_chroot(p, MOUNT));
    assert(!isErr(r), () => `${this.name}: chroot ${MOUNT}: ${errnoName(r as Errno)}`);
    this.host.run(p, sys_chdir(p, '/'));
    p.cred = makeCred(uid, gid, [gid]);
    return p;
  }

  /** The fileset's tree (names, types, modes, owners, sizes, times, bytes). */
  tree(): TreeNode | Errno {
    const p = this.filesetProcess('snapshot');
    return this.runOnce(p, snapshotTree(p, '/', TREE));
  }

  /**
   * lento's audit log on this node (every version a conflict policy discarded here), as an operator
   * would read /.intermezzo/<fset>/lento.audit; lines that do not parse are left out.
   */
  audit(): AuditJson[] {
    const p = this.filesetProcess('audit');
    const bytes = this.runOnce(p, read_file(p, `/.intermezzo/${this.cluster.spec.fileset}/lento.audit`));
    if (isErr(bytes)) return [];
    const out: AuditJson[] = [];
    for (const line of Buffer.from(bytes).toString('latin1').split('\n')) {
      if (line.trim() === '') continue;
      try {
        out.push(JSON.parse(line) as AuditJson);
      } catch {
        // a torn last line after a crash
      }
    }
    return out;
  }

  /**
   * Ask this node's lento to repair a parked conflict at `path`, keeping the local or the remote
   * version, as an operator would: a request line in /.intermezzo/<fset>/lento.repair, carried out
   * at lento's next heartbeat (src/lento/repair.ts; the outcome is the `lento.repair` trace event).
   */
  requestRepair(path: string, keep: 'local' | 'remote'): 0 | Errno {
    const p = this.filesetProcess('repair');
    const file = `/.intermezzo/${this.cluster.spec.fileset}/lento.repair`;
    return this.runOnce(p, writeFile(p, file, `${JSON.stringify({ path, keep })}\n`, 'append'));
  }

  /** Where this node's KML ends and how far it has applied each peer's (presto's answers). */
  status(): NodeStatus | Errno {
    const p = this.host.process('izo-status');
    return this.runOnce(p, this.statusSys(p));
  }

  private *statusSys(p: Process): Sys<NodeStatus | Errno> {
    const fd = yield* sys_open(p, MOUNT, O_RDONLY | O_DIRECTORY);
    if (isErr(fd)) return fd;
    const size: IzoIoctlData = {};
    const r = yield* sys_ioctl(p, fd, IZO_IOC_GET_KML_SIZE, size);
    const applied: Record<string, number> = {};
    for (const peer of this.cluster.nodes.values()) {
      if (peer === this) continue;
      const q: IzoIoctlData = { uuid: peer.uuid };
      const g = yield* sys_ioctl(p, fd, IZO_IOC_GET_RCVD, q);
      applied[peer.name] = isErr(g) ? 0 : (q.rcvd?.remote_recno ?? 0);
    }
    yield* sys_close(p, fd);
    if (isErr(r)) return r;
    return { kmlRecno: size.recno ?? 0, kmlOffset: size.kml_size ?? 0, applied };
  }

  /** Stop lento (SIGTERM) and wait for it, then sync and unmount the fileset (it must come off). */
  shutdown(): void {
    if (!this.host.up) return;
    if (this.host.state === 'paused') this.host.resume();
    const p = this.host.process('shutdown');
    const lento = this.host.kernel.procs.get(this.lentoPid);
    if (lento !== undefined) {
      sys_kill(p, this.lentoPid, SIGTERM);
      const task = lento.task;
      if (task !== null) this.host.run(p, task.wait());
    }
    this.host.run(p, sys_sync(p));
    const r = this.runOnce(p, sys_umount(p, MOUNT));
    assert(!isErr(r), () => `${this.name}: unmounting the fileset failed: ${errnoName(r as Errno)}`);
  }
}

function* writeFile(p: Process, path: string, text: string, how: 'replace' | 'append' = 'replace'): Sys<0 | Errno> {
  const fd = yield* sys_open(p, path, O_WRONLY | O_CREAT | (how === 'append' ? O_APPEND : O_TRUNC), 0o600);
  if (isErr(fd)) return fd;
  const w = yield* sys_write(p, fd, Uint8Array.from(Buffer.from(text, 'latin1')));
  yield* sys_close(p, fd);
  return isErr(w) ? w : 0;
}

/** Why a cluster spec cannot be built, or null. */
export function checkSpec(spec: ClusterSpec): string | null {
  const names = new Set<string>();
  for (const n of spec.nodes) {
    if (!/^[a-z0-9][a-z0-9-]*$/.test(n.name)) return `node name '${n.name}' is not [a-z0-9-]+`;
    if (names.has(n.name)) return `node ${n.name} declared twice`;
    names.add(n.name);
  }
  const servers = spec.nodes.filter((n) => n.role === 'server').length;
  if (servers !== 1) return `a fileset has exactly one server (${servers} declared)`;
  if (spec.nodes.length < 2) return 'a cluster needs at least one client';
  for (const p of [spec.policy ?? 'manual', ...(spec.policies ?? []).map((x) => x.policy)]) {
    if (!isPolicyName(p)) return `unknown conflict policy '${p}' (known: ${POLICIES.join(', ')})`;
  }
  for (const x of spec.policies ?? []) {
    if (!x.path.startsWith('/') || /\s/.test(x.path)) return `policy path pattern '${x.path}' is not an absolute path`;
  }
  return null;
}

export class Cluster {
  readonly world: World;
  readonly nodes = new Map<string, Node>();
  /** Per client: whether its lento last said its session with the server is up (from the trace). */
  private readonly sessions = new Map<string, boolean>();

  private constructor(readonly spec: ClusterSpec) {
    const user = spec.trace?.onEvent;
    const onEvent = (r: TraceRecord): void => {
      if (r.ev === 'lento.session' && r.host !== this.serverName) {
        this.sessions.set(r.host, (r.data as { state: string }).state === 'up');
      }
      if (r.ev === 'host.state' && (r.data as { state: string }).state === 'crashed') this.sessions.set(r.host, false);
      user?.(r);
    };
    this.world = new World({ seed: spec.seed, trace: { ...spec.trace, onEvent },
      ...(spec.network === undefined ? {} : { network: spec.network }) });
  }

  static build(spec: ClusterSpec): Cluster {
    const bad = checkSpec(spec);
    assert(bad === null, () => `cluster: ${bad ?? ''}`);
    const c = new Cluster(spec);
    for (const n of spec.nodes) c.addNode(n);
    for (const l of spec.links ?? []) c.world.network.setLinks(l.between[0], l.between[1], l.spec);
    for (const node of c.nodes.values()) node.host.start();
    return c;
  }

  private addNode(n: NodeSpec): void {
    const w = this.world;
    const h = w.addHost(n.name, { clockSkew: n.clockSkew ?? 0 });
    const bs = n.blockSize ?? 4096;
    const dev = new BlockDevice({
      name: `${n.name}:hda`, blockSize: bs, blocks: Math.floor((n.disk ?? DEFAULT_DISK) / bs),
      random: w.rng.stream(`storage/${n.name}/hda`), tracer: w.trace.tracerFor(n.name), log: this.spec.ioLog === true,
    });
    // ext3 needs a journal: 1,024 blocks, what mke2fs gives a file system this small (and JBD's least).
    const journalBlocks = 1024;
    assert(dev.blocks >= 2 * journalBlocks, () => `${n.name}: a disk of ${dev.blocks} blocks cannot hold its journal`);
    const geo = mkfs(dev, { blockSize: bs, uuid: uuidFor(w, `fs/${n.name}`), time: 1_009_843_200, journalBlocks });
    assert(typeof geo !== 'string', () => `mkfs for ${n.name}: ${String(geo)}`);
    const node = new Node(this, n, h, uuidFor(w, n.name));
    h.addDisk('hda', dev);
    for (const t of [ext3_fs_type, ext2_fs_type, intermezzo_fs_type]) h.registerFs(t);
    h.boot = (k) => assert(mem_register(k) === 0, 'mem major taken');
    h.init = (p) => node.boot(p);
    this.nodes.set(n.name, node);
  }

  node(name: string): Node {
    const n = this.nodes.get(name);
    assert(n !== undefined, () => `no node ${name}`);
    return n;
  }

  get server(): Node {
    return [...this.nodes.values()].find((n) => n.spec.role === 'server') as Node;
  }

  /** The server's name (from the spec: valid before any node exists). */
  get serverName(): string {
    return this.spec.nodes.find((n) => n.role === 'server')?.name ?? '';
  }

  get clients(): Node[] {
    return [...this.nodes.values()].filter((n) => n.spec.role === 'client');
  }

  /**
   * (A paused host can be asked nothing: it counts as down here.)
   * Every live client has applied every record of the server's KML, and the server every record of
   * each client's: nothing is left to ship anywhere (the trees should then be equal).
   */
  caughtUp(): boolean {
    const s = this.server;
    if (s.host.state !== 'up') return false;
    const ss = s.status();
    if (isErr(ss)) return false;
    for (const c of this.clients) {
      if (c.host.state !== 'up') return false;
      const cs = c.status();
      if (isErr(cs)) return false;
      if ((cs.applied[s.name] ?? 0) !== ss.kmlRecno || (ss.applied[c.name] ?? 0) !== cs.kmlRecno) return false;
    }
    return true;
  }

  /** Every live node's fileset tree is the same (names, types, modes, owners, sizes, times, bytes). */
  treesEqual(): boolean {
    let first: string | null = null;
    for (const n of this.nodes.values()) {
      if (n.host.state !== 'up') return false;
      const t = n.tree();
      if (isErr(t)) return false;
      const j = JSON.stringify(t);
      if (first === null) first = j;
      else if (j !== first) return false;
    }
    return true;
  }

  /** Every pair that can talk has shipped all it has: caught up where a session is up. */
  quiet(): boolean {
    const s = this.server;
    if (s.host.state !== 'up') return true;
    const ss = s.status();
    if (isErr(ss)) return false;
    for (const c of this.clients) {
      if (c.host.state !== 'up' || this.sessions.get(c.name) !== true) continue;
      const cs = c.status();
      if (isErr(cs)) return false;
      if ((cs.applied[s.name] ?? 0) !== ss.kmlRecno || (ss.applied[c.name] ?? 0) !== cs.kmlRecno) return false;
    }
    return true;
  }

  /** Run until `done()` (checked every `step` µs) or `within` µs pass; whether it happened. */
  runUntil(done: () => boolean, within: number, step = 100_000): boolean {
    const deadline = this.world.sched.now() + within;
    for (;;) {
      if (done()) return true;
      if (this.world.sched.now() >= deadline) return false;
      this.world.runFor(Math.min(step, deadline - this.world.sched.now()));
    }
  }

  runUntilCaughtUp(within: number): boolean {
    return this.runUntil(() => this.caughtUp(), within);
  }

  /** Caught up everywhere, and every tree equal. */
  runUntilConverged(within: number): boolean {
    return this.runUntil(() => this.caughtUp() && this.treesEqual(), within);
  }

  runUntilQuiet(within: number): boolean {
    return this.runUntil(() => this.quiet(), within);
  }

  /** Shut every live node down cleanly (lento stopped, fileset unmounted). */
  shutdown(): void {
    for (const n of this.nodes.values()) n.shutdown();
  }
}
