/**
 * corrupt.ts: damaging raw images on purpose, for the bad-input tests (test/src/cli/bad_input and
 * corruption_fuzz). `imageRegions(img)` finds an ext2/ext3 image's metadata regions from its own
 * superblock and group descriptors (read with fs/ext3/ext3_fs.ts's decoders, nothing mounted):
 * superblock, group descriptors, block and inode bitmaps, inode tables, directory blocks (the root
 * and /.intermezzo/<fset>/ when there is one), the journal's first blocks, and the KML of the first
 * fileset. `damage(img, range, random)` overwrites random bytes in a range (a few bytes, or a whole
 * 4 KiB stretch) and says what it did, so a failing case can be replayed.
 * The layout readers assume an undamaged image (they are run on fresh ones).
 */
import {
  decodeDirBlock, decodeGroupDesc, decodeInode, decodeSuperblock, EXT2_ROOT_INO, EXT3_JOURNAL_INO, GROUP_DESC_SIZE,
  type RawInode, type Superblock,
} from '../../fs/ext3/ext3_fs.ts';
import type { Prng } from '../../sim/prng.ts';

export type Region = 'superblock' | 'descriptors' | 'block-bitmap' | 'inode-bitmap' | 'inode-table' | 'directory' | 'journal' | 'kml';

/** Byte ranges [start, end) of each region found in an image. */
export type Regions = Partial<Record<Region, Array<readonly [number, number]>>>;

interface Layout {
  readonly img: Uint8Array;
  readonly sb: Superblock;
  readonly bs: number;
}

function layoutOf(img: Uint8Array): Layout {
  const sb = decodeSuperblock(img.subarray(1024, 2048));
  return { img, sb, bs: 1024 << sb.logBlockSize };
}

function block(l: Layout, b: number): Uint8Array {
  return l.img.subarray(b * l.bs, (b + 1) * l.bs);
}

function inodeOf(l: Layout, ino: number): RawInode {
  const g = Math.floor((ino - 1) / l.sb.inodesPerGroup);
  const idx = (ino - 1) % l.sb.inodesPerGroup;
  const gdt = block(l, l.sb.firstDataBlock + 1 + Math.floor((g * GROUP_DESC_SIZE) / l.bs));
  const d = decodeGroupDesc(gdt, (g * GROUP_DESC_SIZE) % l.bs);
  const byte = d.inodeTable * l.bs + idx * l.sb.inodeSize;
  return decodeInode(l.img, byte);
}

/** The inode `name` names in directory inode `dir` (direct blocks only: the tests' small trees). */
function lookup(l: Layout, dir: number, name: string): number | null {
  for (const b of inodeOf(l, dir).block.slice(0, 12)) {
    if (b === 0) continue;
    const ents = decodeDirBlock(block(l, b));
    if (typeof ents === 'string') return null;
    const e = ents.find((x) => x.inode !== 0 && x.name === name);
    if (e !== undefined) return e.inode;
  }
  return null;
}

function directBlocks(l: Layout, ino: number, max = 12): Array<readonly [number, number]> {
  return inodeOf(l, ino).block.slice(0, Math.min(12, max)).filter((b) => b !== 0).map((b) => [b * l.bs, (b + 1) * l.bs] as const);
}

export function imageRegions(img: Uint8Array): Regions {
  const l = layoutOf(img);
  const { sb, bs } = l;
  const groups = Math.ceil((sb.blocksCount - sb.firstDataBlock) / sb.blocksPerGroup);
  const gdtStart = (sb.firstDataBlock + 1) * bs;
  const descs = Array.from({ length: groups }, (_, g) => decodeGroupDesc(img, gdtStart + g * GROUP_DESC_SIZE));
  const tableBytes = sb.inodesPerGroup * sb.inodeSize;
  const r: Regions = {
    superblock: [[1024, 2048]],
    descriptors: [[gdtStart, gdtStart + Math.max(GROUP_DESC_SIZE * groups, 1)]],
    'block-bitmap': descs.map((d) => [d.blockBitmap * bs, (d.blockBitmap + 1) * bs] as const),
    'inode-bitmap': descs.map((d) => [d.inodeBitmap * bs, (d.inodeBitmap + 1) * bs] as const),
    // The used part of the first group's table (the first blocks hold every inode a test makes).
    'inode-table': descs.slice(0, 1).map((d) => [d.inodeTable * bs, d.inodeTable * bs + Math.min(tableBytes, 4 * bs)] as const),
    directory: directBlocks(l, EXT2_ROOT_INO),
  };
  if (inodeOf(l, EXT3_JOURNAL_INO).block[0] !== 0) r.journal = directBlocks(l, EXT3_JOURNAL_INO, 4);
  const izo = lookup(l, EXT2_ROOT_INO, '.intermezzo');
  if (izo !== null) {
    const dirs = [...directBlocks(l, izo)];
    const fsetName = (() => {
      const b = inodeOf(l, izo).block[0] as number;
      const ents = decodeDirBlock(block(l, b));
      return typeof ents === 'string' ? undefined : ents.find((e) => e.inode !== 0 && e.name !== '.' && e.name !== '..')?.name;
    })();
    const fset = fsetName === undefined ? null : lookup(l, izo, fsetName);
    if (fset !== null) {
      dirs.push(...directBlocks(l, fset));
      const kml = lookup(l, fset, 'kml');
      if (kml !== null && inodeOf(l, kml).size > 0) {
        const size = inodeOf(l, kml).size;
        r.kml = directBlocks(l, kml).map(([s, e]) => [s, Math.min(e, s + size)] as const);
      }
    }
    r.directory = [...(r.directory ?? []), ...dirs];
  }
  return r;
}

export interface Damage {
  readonly region: Region;
  /** Byte offsets written, and the values written there. */
  readonly at: readonly number[];
  readonly values: readonly number[];
}

/** Overwrite random bytes of `region` in `img` (in place): 1 to 8 scattered bytes, or a random stretch of up to 4 KiB. */
export function damage(img: Uint8Array, regions: Regions, region: Region, random: Prng): Damage | null {
  const ranges = regions[region];
  if (ranges === undefined || ranges.length === 0) return null;
  const [start, end] = random.pick(ranges);
  const at: number[] = [];
  if (random.chance(1, 3)) {
    const len = Math.min(end - start, 1 + random.below(4096));
    const from = start + random.below(end - start - len + 1);
    for (let i = from; i < from + len; i++) at.push(i);
  } else {
    const n = 1 + random.below(8);
    for (let i = 0; i < n; i++) at.push(start + random.below(end - start));
  }
  const values = at.map(() => random.below(256));
  at.forEach((off, i) => {
    img[off] = values[i] as number;
  });
  return { region, at, values };
}

/** The byte offset of inode `ino`'s record in an undamaged image. */
export function inodeOffset(img: Uint8Array, ino: number): number {
  const l = layoutOf(img);
  const g = Math.floor((ino - 1) / l.sb.inodesPerGroup);
  return groupDesc(img, g).inodeTable * l.bs + ((ino - 1) % l.sb.inodesPerGroup) * l.sb.inodeSize;
}

/** The byte offset of group `g`'s descriptor. */
export function groupDescOffset(img: Uint8Array, g: number): number {
  const l = layoutOf(img);
  return (l.sb.firstDataBlock + 1) * l.bs + g * GROUP_DESC_SIZE;
}

export function groupDesc(img: Uint8Array, g: number): ReturnType<typeof decodeGroupDesc> {
  return decodeGroupDesc(img, groupDescOffset(img, g));
}

/** Set a little-endian u32 or u16 at `off`. */
export function poke32(img: Uint8Array, off: number, v: number): void {
  new DataView(img.buffer, img.byteOffset).setUint32(off, v >>> 0, true);
}

export function poke16(img: Uint8Array, off: number, v: number): void {
  new DataView(img.buffer, img.byteOffset).setUint16(off, v & 0xffff, true);
}

/** The byte range of the first fileset's KML in the image (its direct blocks), or null. */
export function kmlRange(img: Uint8Array): readonly [number, number] | null {
  return imageRegions(img).kml?.[0] ?? null;
}
