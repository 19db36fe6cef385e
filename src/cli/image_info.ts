/**
 * image_info.ts: `izo image-info IMAGE [--block-size N]`: what a raw image holds, seen as a block
 * device: its size, the block size it is read with, the number of blocks and how many of them are
 * not all zero (the blocks an import stores; the rest read as zeros).
 *
 * Layer: user-space tool (reads a real file through src/image.ts). Exit status: 0; 2 bad usage
 * (a block size other than 1024, 2048 or 4096); 8 an image that cannot be read (missing, or a size
 * that is not a multiple of the block size), the message naming the file.
 */
import { isBlockSize } from '../../kernel/blkdev.ts';
import { loadImage } from '../image.ts';
import { parseCommand, UsageError, type OptionTable, type Subcommand } from './command.ts';

const INFO_OPTIONS: OptionTable = {
  'block-size': {
    type: 'string', arg: '1024|2048|4096', default: '1024',
    help: 'the block size to read the image with',
  },
};

export const IMAGE_INFO: Subcommand = {
  name: 'image-info',
  usage: 'izo image-info IMAGE [--block-size 1024|2048|4096]',
  summary: 'size, block size, blocks and not-all-zero blocks of a raw image',
  options: INFO_OPTIONS,
  run(args) {
    const a = parseCommand(INFO_OPTIONS, args);
    const values = { 'block-size': a.str('block-size') };
    const [path, ...rest] = a.positionals;
    if (path === undefined) throw new UsageError('image-info needs an IMAGE');
    if (rest.length > 0) throw new UsageError(`image-info takes one IMAGE, got also '${rest.join(' ')}'`);
    const bs = Number(values['block-size']);
    if (!isBlockSize(bs)) {
      throw new UsageError(`--block-size must be 1024, 2048 or 4096, got '${values['block-size']}'`);
    }
    const dev = loadImage(path, bs);
    let nonZero = 0;
    for (const _ of dev.writtenBlocks()) nonZero++;
    process.stdout.write(`${path}: ${dev.sizeBytes} bytes, block size ${bs}, ${dev.blocks} blocks, `
      + `${nonZero} not all zero\n`);
    return 0;
  },
};
