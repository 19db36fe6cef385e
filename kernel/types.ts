/**
 * types.ts: branded numbers shared by every layer.
 *
 * Layer: kernel basics. Interface: a brand per kind of number (block number, inode number, tick,
 * node id, fd, transaction id, KML record number, byte offset), each with an asserting constructor,
 * so an inode number cannot be passed where a block number is meant.
 * Invariant: every branded value is a non-negative safe integer (Tick and offsets included).
 */
import { assert } from './assert.ts';

declare const brand: unique symbol;
type Brand<T, B extends string> = T & { readonly [brand]: B };

/** Virtual time in microseconds since the simulated world began. */
export type Tick = Brand<number, 'Tick'>;
export type BlockNr = Brand<number, 'BlockNr'>;
export type Ino = Brand<number, 'Ino'>;
export type NodeId = Brand<number, 'NodeId'>;
export type Fd = Brand<number, 'Fd'>;
export type Tid = Brand<number, 'Tid'>;
export type Recno = Brand<number, 'Recno'>;

function natural(n: number, what: string): void {
  assert(Number.isSafeInteger(n) && n >= 0, () => `${what} must be a non-negative integer, got ${n}`);
}

export function tick(n: number): Tick {
  natural(n, 'tick');
  return n as Tick;
}
export function blockNr(n: number): BlockNr {
  natural(n, 'block number');
  return n as BlockNr;
}
export function ino(n: number): Ino {
  natural(n, 'inode number');
  return n as Ino;
}
export function nodeId(n: number): NodeId {
  natural(n, 'node id');
  return n as NodeId;
}
export function fd(n: number): Fd {
  natural(n, 'fd');
  return n as Fd;
}
export function tid(n: number): Tid {
  natural(n, 'transaction id');
  return n as Tid;
}
export function recno(n: number): Recno {
  natural(n, 'KML record number');
  return n as Recno;
}

/** Ticks per simulated second: one tick is one microsecond. */
export const TICKS_PER_SEC = 1_000_000;

/**
 * Wall-clock seconds of tick 0: 2002-01-01T00:00:00Z, InterMezzo's heyday. Inode times are
 * derived as EPOCH_BASE_SEC + tick / TICKS_PER_SEC, so every run starts at the same date.
 */
export const EPOCH_BASE_SEC = 1_009_843_200;

export interface Timespec {
  readonly sec: number;
  readonly nsec: number;
}

export function tickToTimespec(t: Tick): Timespec {
  return { sec: EPOCH_BASE_SEC + Math.floor(t / TICKS_PER_SEC), nsec: (t % TICKS_PER_SEC) * 1000 };
}
