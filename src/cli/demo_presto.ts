/**
 * demo_presto.ts: part 6 of the layer tour (`izo demo`): InterMezzo at work. A workload runs on the
 * fileset of host `server` (presto over ext3); the demo lists each journal transaction that
 * committed and the KML records written inside it (same transaction as the change they describe);
 * then lento on `client` receives those records over the simulated network, replays them one by
 * one (REINTKML) and fetches file data from the server by inode (BACKFETCH); the two trees are
 * compared, times included, and both disks are checked by fsck.
 *
 * Layer: user-space entry point (builds a simulated world). Everything printed comes from trace
 * events and tree snapshots.
 */
import { isErr } from '../../kernel/errno.ts';
import { TICKS_PER_SEC } from '../../kernel/types.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { Cluster } from '../../sim/cluster.ts';
import type { World } from '../../sim/host.ts';
import type { TraceRecord } from '../../sim/trace.ts';
import type { TraceEventMap } from '../../kernel/trace.ts';
import { diffTrees } from '../tree.ts';

const WORKLOAD = [
  'mkdir /src',
  'write /src/main.c "int main(void) { return 0; }"',
  'mkdir /doc',
  'write /doc/README "InterMezzo demo"',
  'ln /doc/README /README',
  'chmod 600 /src/main.c',
  'append /doc/README ", replicated through the KML"',
  'mv /src /code',
  'symlink code/main.c /main',
  'rm /README',
];

/** Each committed transaction of `host`, with the KML records written by its handles. */
function transactions(events: readonly TraceRecord[], host: string): string {
  let tid = 0;
  const records = new Map<number, string[]>();
  const handles = new Map<number, number>();
  let out = '';
  for (const r of events) {
    if (r.host !== host) continue;
    if (r.ev === 'jbd.start') {
      tid = (r.data as TraceEventData<'jbd.start'>).tid;
      handles.set(tid, (handles.get(tid) ?? 0) + 1);
    } else if (r.ev === 'presto.kml') {
      const d = r.data as TraceEventData<'presto.kml'>;
      const list = records.get(tid) ?? [];
      list.push(`#${d.recno} ${d.op} ${d.path} (${d.len} bytes at ${d.offset})`);
      records.set(tid, list);
    } else if (r.ev === 'jbd.commit' && (r.data as TraceEventData<'jbd.commit'>).phase === 'finished') {
      const d = r.data as TraceEventData<'jbd.commit'>;
      const recs = records.get(d.tid) ?? [];
      out += `  transaction ${d.tid}: ${handles.get(d.tid) ?? 0} handles, ${d.blocks} blocks logged`;
      out += recs.length === 0 ? ', no KML records\n' : `, KML records:\n${recs.map((x) => `      ${x}\n`).join('')}`;
    }
  }
  return out;
}

type TraceEventData<K extends keyof TraceEventMap> = TraceEventMap[K];

export function prestoPart(w: World, section: (title: string) => string): string {
  let out = section('6. InterMezzo: a fileset, its KML, and lento replicating it to a client');
  const c = Cluster.build({
    seed: w.options.seed, fileset: 'demo', trace: { keep: true },
    nodes: [
      { name: 'server', role: 'server', blockSize: 1024, disk: 8 << 20 },
      { name: 'client', role: 'client', blockSize: 1024, disk: 8 << 20 },
    ],
  });
  c.world.runFor(TICKS_PER_SEC);
  const start = c.world.trace.records().length;
  for (const line of WORKLOAD) {
    const [r] = c.node('server').sh(line);
    out += `  server$ ${line.padEnd(52)} ${r?.status ?? ''}\n`;
    c.world.runFor(2 * TICKS_PER_SEC);
  }
  const converged = c.runUntilConverged(60 * TICKS_PER_SEC);
  const events = c.world.trace.records().slice(start);
  out += transactions(events, 'server');
  out += lentoSummary(events);
  const ta = c.node('server').tree();
  const tb = c.node('client').tree();
  if (isErr(ta) || isErr(tb)) return `${out}  snapshot failed\n`;
  const diff = diffTrees(ta, tb);
  out += converged && diff.length === 0
    ? '  trees: server and client identical (names, types, modes, owners, sizes, mtimes, ctimes, bytes)\n'
    : `  trees differ:\n${diff.map((d) => `    ${d}\n`).join('')}`;
  c.shutdown();
  for (const n of c.nodes.values()) {
    const problems = fsck(n.disk);
    out += `  fsck ${n.name}: ${problems.length === 0 ? 'clean' : problems.map((x) => x.code).join(', ')}\n`;
  }
  return out;
}

/** What lento did on the client: records applied, file bodies fetched by inode. */
function lentoSummary(events: readonly TraceRecord[]): string {
  let applied = 0;
  let fetched = 0;
  for (const r of events) {
    if (r.host !== 'client') continue;
    if (r.ev === 'lento.apply') applied += (r.data as TraceEventData<'lento.apply'>).applied;
    if (r.ev === 'lento.fetch' && (r.data as TraceEventData<'lento.fetch'>).status === 'ok') fetched++;
  }
  return `  client (lento): ${applied} records received over TCP and replayed with REINTKML, ` +
    `${fetched} file bodies fetched from the server by inode (BACKFETCH)\n`;
}
