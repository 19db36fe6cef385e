/**
 * The byte queues of a socket (kernel/skbuff.ts) against a plain array model: any sequence of
 * pushes, views, peeks, reads and consumes gives the model's bytes, across wraps and growth; and
 * slab copies are private copies.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ByteRing, Slab } from '../../kernel/skbuff.ts';

type Op =
  | { readonly op: 'push'; readonly n: number }
  | { readonly op: 'read'; readonly n: number; readonly peek: boolean }
  | { readonly op: 'consume'; readonly n: number }
  | { readonly op: 'view'; readonly off: number; readonly n: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant('push' as const), n: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({ op: fc.constant('read' as const), n: fc.integer({ min: 0, max: 3000 }), peek: fc.boolean() }),
  fc.record({ op: fc.constant('consume' as const), n: fc.integer({ min: 0, max: 3000 }) }),
  fc.record({ op: fc.constant('view' as const), off: fc.nat({ max: 3000 }), n: fc.nat({ max: 3000 }) }),
);

describe('ByteRing', () => {
  it('behaves as an array of bytes, whatever the wraps and growth (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 4096 }), fc.array(op, { maxLength: 60 }), (limit, ops) => {
      const ring = new ByteRing();
      let model: number[] = [];
      let next = 0;
      for (const o of ops) {
        if (o.op === 'push') {
          const data = Uint8Array.from({ length: o.n }, () => next++ & 0xff);
          ring.push(data, limit);
          model.push(...data);
        } else if (o.op === 'read') {
          const dst = new Uint8Array(o.n);
          const got = ring.copyOut(dst, o.peek);
          expect([...dst.subarray(0, got)]).toEqual(model.slice(0, got));
          expect(got).toBe(Math.min(o.n, model.length));
          if (!o.peek) model = model.slice(got);
        } else if (o.op === 'consume') {
          const n = Math.min(o.n, model.length);
          ring.consume(n);
          model = model.slice(n);
        } else if (o.off + o.n <= model.length) {
          expect([...ring.view(o.off, o.n)]).toEqual(model.slice(o.off, o.off + o.n));
        }
        expect(ring.length).toBe(model.length);
        expect(ring.capacity).toBeGreaterThanOrEqual(ring.length);
      }
    }));
  });

  it('refuses a view or consume past its end (a broken invariant of the caller)', () => {
    const ring = new ByteRing();
    ring.push(new Uint8Array(10), 16);
    expect(() => ring.view(5, 6)).toThrow(/byte ring: 5\+6 of 10/);
    expect(() => ring.consume(11)).toThrow(/consume 11 of 10/);
  });
});

describe('Slab', () => {
  it('copies: a later change of the source does not show; copies do not overlap', () => {
    const slab = new Slab();
    const src = new Uint8Array([1, 2, 3]);
    const a = slab.copy(src);
    src[0] = 9;
    const b = slab.copy(src);
    expect([...a, ...b]).toEqual([1, 2, 3, 9, 2, 3]);
    const big = slab.copy(new Uint8Array(100_000).fill(5));
    expect(big.length).toBe(100_000);
    expect(big.every((x) => x === 5)).toBe(true);
    for (let i = 0; i < 200; i++) slab.copy(new Uint8Array(16384).fill(i & 0xff)); // across many blocks
    expect([...a]).toEqual([1, 2, 3]);
  });
});
