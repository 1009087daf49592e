/** The token cache's store: entries live for their ttl, within an entry and a size bound, and a read entry outlives an unread one. */
import { describe, expect, it } from 'vitest';
import { ClockCache } from '../../src/core/clock-cache.ts';

function cache(max: number, maxSize = 1_000_000) {
  const clock = { t: 1_000 };
  const c = new ClockCache<string>({ max, maxSize, sizeOf: (v) => v.length, now: () => clock.t });
  return { c, clock };
}

describe('ClockCache', () => {
  it('answers a value until its ttl has passed, then forgets it', () => {
    const { c, clock } = cache(10);
    c.set('a', 'A', 100);
    clock.t += 99;
    expect(c.get('a')).toBe('A');
    clock.t += 1;
    expect(c.get('a')).toBeUndefined();
    expect(c.size).toBe(0);
    expect(c.calculatedSize).toBe(0);
  });

  it('evicts an entry nobody read before one that was read, whatever their age', () => {
    const { c } = cache(3);
    c.set('old-read', 'x', 1e6);
    c.set('unread', 'y', 1e6);
    c.set('newer-read', 'z', 1e6);
    c.get('old-read');
    c.get('newer-read');
    c.set('new', 'w', 1e6);
    expect(c.peek('unread')).toBeUndefined();
    expect([c.peek('old-read'), c.peek('newer-read'), c.peek('new')]).toEqual(['x', 'z', 'w']);
  });

  it('evicts an expired entry even if it was read', () => {
    const { c, clock } = cache(2);
    c.set('short', 'a', 10);
    c.set('long', 'b', 1e6);
    c.get('short');
    clock.t += 20;
    c.set('new', 'c', 1e6);
    expect(c.peek('short')).toBeUndefined();
    expect(c.peek('long')).toBe('b');
  });

  it('makes room when every other entry was read, and keeps the one it stored', () => {
    const { c } = cache(3);
    for (const k of ['a', 'b', 'c']) c.set(k, k, 1e6);
    for (const k of ['a', 'b', 'c']) c.get(k);
    c.set('d', 'd', 1e6);
    expect(c.size).toBe(3);
    expect(c.peek('d')).toBe('d');
  });

  it.each([
    ['entries', 5, 1_000_000, 'v'],
    ['size', 1_000, 40, 'ten chars!'],
  ])('stays within its %s bound under any mix of stores, reads and deletes', (_name, max, maxSize, value) => {
    const { c, clock } = cache(max, maxSize);
    let seed = 1;
    const next = (n: number): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed % n;
    };
    for (let i = 0; i < 5_000; i++) {
      const key = `k${next(20)}`;
      const op = next(10);
      if (op < 5) expect(c.set(key, value.repeat(1 + next(2)), 1 + next(500))).toBe(true);
      else if (op < 9) c.get(key);
      else c.delete(key);
      clock.t += next(5);
      expect(c.size).toBeLessThanOrEqual(max);
      expect(c.calculatedSize).toBeLessThanOrEqual(maxSize);
    }
  });

  it('refuses a value larger than the whole size bound, and drops what the key held', () => {
    const { c } = cache(10, 5);
    c.set('k', 'abc', 1e6);
    expect(c.set('k', 'abcdef', 1e6)).toBe(false);
    expect(c.peek('k')).toBeUndefined();
    expect(c.calculatedSize).toBe(0);
  });

  it('counts a replaced value once, at its new size', () => {
    const { c } = cache(10);
    c.set('k', 'abc', 1e6);
    c.set('k', 'abcdef', 1e6);
    expect([c.size, c.calculatedSize, c.get('k')]).toEqual([1, 6, 'abcdef']);
  });

  it('forgets everything on clear', () => {
    const { c } = cache(10);
    c.set('a', 'A', 1e6);
    c.clear();
    expect([c.size, c.calculatedSize, c.get('a')]).toEqual([0, 0, undefined]);
  });
});
