/**
 * journal_tools.ts: `izo journal IMAGE` (what the ext3 journal holds) and `izo recover IMAGE`
 * (replay it as a mount would, then clear the file system's needs_recovery flag).
 *
 * The journal's blocks are found through inode 8's block map (read with the ext2 code), and read
 * and written through JBD's recovery module, exactly as at mount. Exit status: 0 success; 2 bad
 * usage; 8 the image has no journal or cannot be read.
 */
import { BlockDevice } from '../../kernel/blkdev.ts';
import { isErr } from '../../kernel/errno.ts';
import { Inode } from '../../kernel/fs.ts';
import { runSync } from '../../kernel/sched.ts';
import { COMPAT_HAS_JOURNAL, decodeSuperblock, EXT3_JOURNAL_INO, INCOMPAT_RECOVER } from '../../fs/ext3/ext3_fs.ts';
import { superblockLocation, SUPERBLOCK_SIZE } from '../../fs/ext3/geometry.ts';
import { ext3_bmap, ext3_read_inode } from '../../fs/ext3/inode.ts';
import { ext3_valid_super } from '../../fs/ext3/super.ts';
import { mountOrFail, prestoHost } from './presto_image.ts';
import { journal_recover, journal_scan } from '../../fs/jbd/recovery.ts';
import { journalIo } from '../../fs/jbd/journal.ts';
import { JFS_FLAG_ESCAPE } from '../../fs/jbd/jbd.ts';
import { ImageError, loadImage, saveImage } from '../image.ts';
import { imageBlockSize } from './image_tools.ts';
import { parseCommand, UsageError, type Subcommand } from './command.ts';

function superblockBytes(dev: BlockDevice): { buf: Uint8Array; blk: number; off: number } {
  const at = superblockLocation(dev.blockSize);
  const buf = new Uint8Array(dev.blockSize);
  dev.read(at.block, buf);
  return { buf, blk: at.block, off: at.offset };
}

/** Journal block n -> device block, from inode 8's map (read through a throwaway read-only mount). */
function journalMap(path: string, dev: BlockDevice): number[] {
  const sb = ext3_valid_super(dev);
  if (typeof sb === 'string') throw new ImageError(`${path}: ${sb}`);
  if ((sb.featureCompat & COMPAT_HAS_JOURNAL) === 0 || sb.journalInum !== EXT3_JOURNAL_INO) {
    throw new ImageError(`${path}: has no journal (an ext2 image)`);
  }
  // Mount a copy read-only, ignoring the recovery flag, just to map inode 8.
  const copy = BlockDevice.fromBlocks({ name: 'map', blockSize: dev.blockSize, blocks: dev.blocks }, dev.writtenBlocks());
  const cb = superblockBytes(copy);
  const v = new DataView(cb.buf.buffer, cb.off);
  v.setUint32(0x60, v.getUint32(0x60, true) & ~INCOMPAT_RECOVER, true);
  copy.write(cb.blk, cb.buf);
  const h = prestoHost(copy);
  mountOrFail(h, 'ext3', 'ro', path);
  const inode = new Inode(h.kernel.rootMnt.mnt_sb, EXT3_JOURNAL_INO);
  if (isErr(runSync(ext3_read_inode(inode)))) throw new ImageError(`${path}: cannot read the journal inode`);
  const map: number[] = [];
  for (let n = 0; n * dev.blockSize < inode.i_size; n++) {
    const b = ext3_bmap(inode, n);
    if (isErr(b) || b === 0) throw new ImageError(`${path}: journal block ${n} is not mapped`);
    if (b < sb.firstDataBlock || b >= sb.blocksCount) throw new ImageError(`${path}: journal block ${n} maps to block ${b}, outside the file system`);
    map.push(b);
  }
  return map;
}

function open(args: string[], name: string): { path: string; dev: BlockDevice; map: number[] } {
  const [path, ...rest] = parseCommand({}, args).positionals;
  if (path === undefined || rest.length > 0) throw new UsageError(`${name} takes exactly one IMAGE`);
  const dev = loadImage(path, imageBlockSize(path), 'image');
  return { path, dev, map: journalMap(path, dev) };
}

export const JOURNAL_COMMANDS: Subcommand[] = [
  {
    name: 'journal',
    usage: 'izo journal IMAGE',
    options: {},
    summary: "print the ext3 journal: its superblock, whether it needs recovery, every transaction in the log",
    run(args) {
      const { path, dev, map } = open(args, 'journal');
      const scan = journal_scan(journalIo({ dev, map }, dev.blockSize));
      if (typeof scan === 'string' || isErr(scan)) {
        throw new ImageError(`${path}: ${typeof scan === 'string' ? scan : 'I/O error'}`);
      }
      const { buf, off } = superblockBytes(dev);
      const needs = (decodeSuperblock(buf.subarray(off, off + SUPERBLOCK_SIZE)).featureIncompat & INCOMPAT_RECOVER) !== 0;
      const j = scan.jsb;
      let out = `journal: ${j.maxlen} blocks of ${j.blocksize}, first log block ${j.first}, sequence ${j.sequence}, start ${j.start}\n`;
      const hex = (n: number): string => `0x${n.toString(16)}`;
      out += `features: compat ${hex(j.featureCompat)} incompat ${hex(j.featureIncompat)} ro ${hex(j.featureRoCompat)}\n`;
      out += `needs recovery: ${needs ? 'yes' : 'no'} (file system flag); log ${scan.clean ? 'clean (s_start = 0)' : 'holds transactions'}\n`;
      for (const t of scan.transactions) {
        out += `transaction ${t.tid}: log blocks from ${t.firstBlock}, commit at ${t.commitBlock}\n`;
        for (const b of t.blocks) out += `  block ${b.fsBlock} logged at ${b.logBlock}${(b.flags & JFS_FLAG_ESCAPE) !== 0 ? ' (escaped)' : ''}\n`;
        if (t.revokes.length > 0) out += `  revokes ${t.revokes.join(', ')}\n`;
      }
      const u = scan.unfinished;
      if (u !== null) out += `transaction ${u.tid}: unfinished (no commit block; not replayed), ${u.blocks.length} blocks\n`;
      if (!scan.clean) out += `end of log: ${scan.stopReason}\n`;
      process.stdout.write(out);
      return 0;
    },
  },
  {
    name: 'recover',
    usage: 'izo recover IMAGE',
    options: {},
    summary: 'replay the ext3 journal into the image, as a mount would, and clear needs_recovery',
    run(args) {
      const { path, dev, map } = open(args, 'recover');
      const r = journal_recover(journalIo({ dev, map }, dev.blockSize));
      if (typeof r === 'string' || isErr(r)) {
        throw new ImageError(`${path}: ${typeof r === 'string' ? r : 'I/O error during recovery'}`);
      }
      const { buf, blk, off } = superblockBytes(dev);
      const v = new DataView(buf.buffer, off);
      v.setUint32(0x60, v.getUint32(0x60, true) & ~INCOMPAT_RECOVER, true);
      dev.write(blk, buf);
      dev.flush();
      saveImage(path, dev);
      const tids = r.scan.transactions.map((t) => t.tid);
      const what = `replayed ${r.replayed} blocks of transactions ${tids.join(', ') || 'none'}; ${r.revokedSkips} revoked`;
      process.stdout.write(`${path}: ${r.scan.clean ? 'journal was clean' : what}\n`);
      return 0;
    },
  },
];
