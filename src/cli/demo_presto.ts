/**
 * demo_presto.ts: part 6 of `npm start`: InterMezzo at work. A workload runs on a fileset of an
 * InterMezzo mount (presto over ext3) on host `server`; the demo lists each journal transaction
 * that committed and the KML records written inside it (same transaction as the change they
 * describe); then a second replica, `client`, replays those records one by one (REINTKML), its
 * stand-in user space fetching file data from the server by inode (BACKFETCH); the two trees are
 * compared, times included, and both disks are checked by fsck.
 *
 * Layer: user-space entry point (builds a simulated world). Everything printed comes from trace
 * events, the KML bytes and tree snapshots.
 */
import { isErr } from '../../kernel/errno.ts';
import { S_IFCHR } from '../../kernel/fs.ts';
import type { Process } from '../../kernel/process.ts';
import { INTERMEZZO_MINOR, MISC_MAJOR } from '../../fs/intermezzo/psdev.ts';
import { sys_chdir, sys_chroot, sys_mkdir, sys_mknod, sys_mount } from '../../kernel/syscalls.ts';
import { EPOCH_BASE_SEC, TICKS_PER_SEC } from '../../kernel/types.ts';
import { fsck } from '../../fs/ext3/fsck.ts';
import { mkfs } from '../../fs/ext3/mkfs.ts';
import { ext3_fs_type } from '../../fs/ext3/super.ts';
import { intermezzo_fs_type } from '../../fs/intermezzo/super.ts';
import type { Host, World } from '../../sim/host.ts';
import type { TraceRecord } from '../../sim/trace.ts';
import type { TraceEventMap } from '../../kernel/trace.ts';
import { inodeSource, lento_serve, peerKml, replay_records, type ServeStats } from '../replicate.ts';
import { parseScript, runScript } from '../sh.ts';
import { diffTrees, snapshotTree } from '../tree.ts';

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

/** A replica: ramfs root with /dev/intermezzo; an ext3 disk mounted through presto at /izo. */
function replica(w: World, name: string): Host | string {
  const h = w.addHost(name);
  h.mountRoot('ramfs', null);
  h.registerFs(ext3_fs_type);
  h.registerFs(intermezzo_fs_type);
  const dev = h.addDisk('hda', { blockSize: 1024, blocks: 8192 });
  const uuid = new Uint8Array(16);
  w.rng.stream(`mkfs/${name}`).fill(uuid);
  const geo = mkfs(dev, { blockSize: 1024, uuid, time: EPOCH_BASE_SEC, journalBlocks: 1024 });
  if (typeof geo === 'string') return geo;
  const p = h.process('init');
  const steps = [
    h.run(p, sys_mkdir(p, '/dev', 0o755)),
    h.run(p, sys_mknod(p, '/dev/intermezzo', S_IFCHR | 0o600, (MISC_MAJOR << 8) | INTERMEZZO_MINOR)),
    h.run(p, sys_mkdir(p, '/izo', 0o755)),
    h.run(p, sys_mount(p, '/dev/hda', '/izo', 'intermezzo', 0, 'cache_type=ext3,fileset=demo')),
  ];
  const bad = steps.find((r) => isErr(r));
  return bad === undefined ? h : `setting up ${name} failed: ${bad}`;
}

/** A process whose root is the fileset's root (/izo), so paths read as the KML records them. */
function inFileset(h: Host, comm: string): Process {
  const p = h.process(comm);
  h.run(p, sys_chroot(p, '/izo'));
  h.run(p, sys_chdir(p, '/'));
  return p;
}

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
  let out = section('6. InterMezzo: a fileset, its KML, and a replica made from the KML alone');
  const server = replica(w, 'server');
  const client = replica(w, 'client');
  if (typeof server === 'string') return `${out}  ${server}\n`;
  if (typeof client === 'string') return `${out}  ${client}\n`;
  const start = w.trace.records().length;
  const sh = inFileset(server, 'sh');
  for (const line of WORKLOAD) {
    const parsed = parseScript(line);
    if ('errors' in parsed) return `${out}  bad demo script line: ${line}\n`;
    const [r] = server.run(sh, runScript(sh, parsed.commands));
    out += `  server$ ${line.padEnd(52)} ${r?.status ?? ''}\n`;
    w.sched.runFor(2 * TICKS_PER_SEC);
  }
  w.sched.runFor(6 * TICKS_PER_SEC); // the last commit timer fires
  out += transactions(w.trace.records().slice(start), 'server');
  const reader = server.process('reader');
  const kml = server.run(reader, peerKml(reader, '/izo', 'demo'));
  if (isErr(kml)) return `${out}  reading the server's KML failed: ${kml}\n`;
  const lento = client.process('lento');
  const stats: ServeStats = { backfetches: 0, opens: 0, permits: 0, stop: false };
  client.kernel.spawn(lento, lento_serve(lento, '/dev/intermezzo', '/izo', inodeSource(reader, '/izo'), stats));
  const reint = client.process('reint');
  const uuid = new Uint8Array(16).fill(0x5e);
  const rep = client.run(reint, replay_records(reint, '/izo', uuid, kml.records));
  const applied = rep.outcomes.filter((o) => o.kind === 'applied').length;
  out += `  client: replayed ${kml.records.length} records with REINTKML: ${applied} applied, `;
  out += `${stats.backfetches} file bodies fetched from the server by inode (BACKFETCH)\n`;
  const again = client.run(reint, replay_records(reint, '/izo', uuid, kml.records));
  const dups = again.outcomes.filter((o) => o.kind === 'duplicate').length;
  out += `  client: the same records again: ${dups} reported as duplicates, nothing applied\n`;
  const opts = { times: true, skip: ['lost+found', '.intermezzo'] } as const;
  const pa = inFileset(server, 'inspect');
  const pb = inFileset(client, 'inspect');
  const ta = server.run(pa, snapshotTree(pa, '/', opts));
  const tb = client.run(pb, snapshotTree(pb, '/', opts));
  if (isErr(ta) || isErr(tb)) return `${out}  snapshot failed\n`;
  const diff = diffTrees(ta, tb);
  out += diff.length === 0
    ? '  trees: server and client identical (names, types, modes, owners, sizes, mtimes, ctimes, bytes)\n'
    : `  trees differ:\n${diff.map((d) => `    ${d}\n`).join('')}`;
  for (const h of [server, client]) {
    h.shutdown();
    const problems = fsck(h.disks.get('hda') as NonNullable<ReturnType<typeof h.disks.get>>);
    out += `  fsck ${h.name}: ${problems.length === 0 ? 'clean' : problems.map((x) => x.code).join(', ')}\n`;
  }
  return out;
}
