/**
 * image.ts: raw disk images on the real file system, for the tools (src/cli) and tests.
 *
 * Layer: user space, and one of the few places allowed real file I/O (with src/cli and
 * src/main.ts; the tidy test enforces it). Interface: `saveImage(path, dev)` writes the device's
 * newest content (pending writes included) as a raw image, sparse: only written, non-zero blocks
 * are written, at their offsets, and the length is set with ftruncate, so a 1 GiB device with
 * 1 MiB written costs about 1 MiB of writes; `loadImage(path, blockSize)` reads one back in
 * chunks of 256 blocks without storing all-zero blocks, as a device whose content is all durable.
 * This is the format e2fsck, debugfs and dumpe2fs read (Linux's `dd conv=sparse`, `e2image -r`).
 * Invariant: loading a saved device gives the same content, block for block.
 * Errors are ImageErrors naming the file and what is wrong (missing, unwritable, not a regular
 * file, a size that is not a positive multiple of the block size).
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';
import { BlockDevice, isBlockSize, isZero, type BlockSize } from '../kernel/blkdev.ts';

export class ImageError extends Error {
  override readonly name = 'ImageError';
}

/** Write `dev`'s newest content to `path` (replacing it): written blocks only, the rest holes. */
export function saveImage(path: string, dev: BlockDevice): void {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (e) {
    throw new ImageError(`${path}: cannot write image: ${(e as Error).message}`);
  }
  try {
    for (const [blk, data] of dev.writtenBlocks()) {
      if (!isZero(data)) writeSync(fd, data, 0, data.length, blk * dev.blockSize); // zeros: a hole
    }
    ftruncateSync(fd, dev.sizeBytes);
  } catch (e) {
    throw new ImageError(`${path}: writing the image failed: ${(e as Error).message}`);
  } finally {
    closeSync(fd);
  }
}

/** A device holding the image at `path`, read with `blockSize`; `name` names the device. */
export function loadImage(path: string, blockSize: number, name = path): BlockDevice {
  if (!isBlockSize(blockSize)) throw new ImageError(`${path}: block size must be 1024, 2048 or 4096, not ${blockSize}`);
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new ImageError(`${path}: cannot open image: ${(e as Error).message}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new ImageError(`${path}: not a regular file (an image is a file)`);
    const size = st.size;
    if (size === 0 || size % blockSize !== 0) {
      throw new ImageError(`${path}: size ${size} is not a positive multiple of the block size ${blockSize}`);
    }
    const blocks = size / blockSize;
    const chunk = new Uint8Array(blockSize * 256);
    const parts: Array<[number, Uint8Array]> = [];
    for (let first = 0; first < blocks; first += 256) {
      const n = Math.min(256, blocks - first);
      const got = readSync(fd, chunk, 0, n * blockSize, first * blockSize);
      if (got !== n * blockSize) throw new ImageError(`${path}: short read at block ${first}`);
      for (let i = 0; i < n; i++) {
        const b = chunk.subarray(i * blockSize, (i + 1) * blockSize);
        if (!isZero(b)) parts.push([first + i, b.slice()]);
      }
    }
    return BlockDevice.fromBlocks({ name, blockSize: blockSize as BlockSize, blocks }, parts);
  } finally {
    closeSync(fd);
  }
}
