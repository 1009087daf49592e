import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryReplayStore, replayKey, replayTtlMs } from '../../src/core/replay.ts';

describe('replayKey', () => {
  it('is a fixed-size hash whatever the jti, so a hostile jti cannot grow the store', () => {
    expect(replayKey('https://idp.test/', 'a')).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(replayKey('https://idp.test/', 'x'.repeat(100_000))).toHaveLength(43);
  });

  it.each([
    ['two issuers using the same jti', ['https://a.test/', 'j1'], ['https://b.test/', 'j1']],
    ['an issuer/jti split moved across the separator', ['https://a.test/x', 'y'], ['https://a.test/', 'xy']],
    ['a jti that spells the separator itself', ['https://a.test/', '\u0000j'], ['https://a.test/\u0000', 'j']],
  ])('keeps %s apart', (_name, [i1, j1], [i2, j2]) => {
    expect(replayKey(i1!, j1!)).not.toBe(replayKey(i2!, j2!));
  });

  it.each([
    ['https://idp.test/', 'j1'],
    ['https://idp.test/', 'José 😀'],
    ['dpop jkt 0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I', '\u0000'],
  ])('is sha256(byte length of %j, ":", issuer, NUL, jti): keys already in a shared store keep their meaning', (issuer, jti) => {
    const expected = createHash('sha256').update(`${Buffer.byteLength(issuer)}:${issuer}\0`).update(jti).digest('base64url');
    expect(replayKey(issuer, jti)).toBe(expected);
  });
});

describe('replayTtlMs', () => {
  it.each([
    ['until exp plus leeway', 1000, 60_000, 900_000, 160_000],
    ['at least 1 ms at the very edge', 1000, 0, 1_000_000, 1],
    ['rounded up for fractional exp', 1000.0004, 0, 1_000_000, 1],
    ['at most 2^53 - 1 for an absurd exp', 1e300, 0, 0, Number.MAX_SAFE_INTEGER],
  ])('lives %s', (_name, exp, leeway, now, expected) => {
    expect(replayTtlMs(exp, leeway, now)).toBe(expected);
  });
});

describe('MemoryReplayStore', () => {
  it('answers fresh once and replayed after, until the key expires', async () => {
    let now = 0;
    const store = new MemoryReplayStore({ now: () => now });
    expect(await store.consume('k', 1000)).toBe('fresh');
    expect(await store.consume('k', 1000)).toBe('replayed');
    now = 999;
    expect(await store.consume('k', 1000)).toBe('replayed');
    now = 1000;
    expect(await store.consume('k', 1000)).toBe('fresh');
  });

  it('forgets expired keys, so memory follows the live tokens', async () => {
    let now = 0;
    const store = new MemoryReplayStore({ now: () => now, sweepEveryMs: 10 });
    for (let i = 0; i < 100; i++) await store.consume(`k${i}`, 50);
    expect(store.size).toBe(100);
    now = 60;
    await store.consume('late', 50);
    expect(store.size).toBe(1);
  });

  it('refuses new keys when full instead of evicting one (an evicted key could be replayed)', async () => {
    const store = new MemoryReplayStore({ now: () => 0, maxEntries: 2 });
    expect(await store.consume('a', 1000)).toBe('fresh');
    expect(await store.consume('b', 1000)).toBe('fresh');
    expect(await store.consume('c', 1000)).toEqual({ error: expect.stringContaining('full') });
    expect(await store.consume('a', 1000)).toBe('replayed');
  });

  it('is always ready', () => {
    expect(new MemoryReplayStore({ now: () => 0 }).status()).toEqual({ kind: 'memory', ready: true, state: 'ready', lastError: null });
  });
});
