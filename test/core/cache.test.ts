/** The verified-token cache, through the Verifier, with a real JWKS server and an injected clock. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Verifier } from '../../src/core/verify.ts';
import { TokenCache, type CachedToken } from '../../src/core/cache.ts';
import { KeySource } from '../../src/core/keys/source.ts';
import { httpLoader } from '../../src/core/keys/loaders.ts';
import { testConfig } from '../support/core.ts';
import { jwksOf, makeKey, NOW_S, signToken } from '../support/tokens.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';

let server: JwksServer;
afterEach(() => server.close());

async function setup(limits = { maxEntries: 100, maxBytes: 1_000_000, negativeTtlMs: 10_000 }) {
  const k1 = await makeKey('ES256', 'k1');
  const k2 = await makeKey('ES256', 'k2');
  server = await startJwksServer({ kind: 'serve', body: jwksOf(k1, k2) });
  const clock = { t: NOW_S * 1000 };
  const config = testConfig({}, { jwks_uri: server.url });
  const keys = new KeySource({
    issuer: config.issuers[0]!.issuer, location: server.url, now: () => clock.t,
    load: httpLoader({ url: server.url, fetch: (u, i) => fetch(u, i), timeoutMs: 2000, maxBytes: 65536 }),
    refreshIntervalMs: 300_000, minRefreshMs: 30_000, cooldownMs: 30_000, maxStaleMs: 86_400_000,
  });
  await keys.start();
  const cache = new TokenCache(limits);
  const verifier = new Verifier([{ config: config.issuers[0]!, keys }], () => clock.t, cache);
  return { k1, k2, keys, cache, verifier, clock };
}

describe('verified-token cache', () => {
  it('caches a token from its second verification and answers repeats from the cache with the same claims', async () => {
    const { k1, cache, verifier } = await setup();
    const token = await signToken(k1);
    const first = await verifier.verify(token);
    expect(cache.size).toBe(0);
    await verifier.verify(token);
    expect(cache.size).toBe(1);
    const third = await verifier.verify(token);
    // Only the cached answer is marked as shared by later requests (what is derived from it may be memoized).
    expect(first).toMatchObject({ ok: true, shared: false });
    expect(third).toEqual({ ...first, shared: true });
    expect(cache.stats).toMatchObject({ hits: 1, misses: 2 });
  });

  it('never admits a flood of single-use tokens (it would only churn the cache and grow the heap)', async () => {
    const { k1, cache, verifier } = await setup();
    for (let i = 0; i < 50; i++) expect(await verifier.verify(await signToken(k1, { jti: String(i) }))).toMatchObject({ ok: true });
    expect(cache.size).toBe(0);
  });

  it('still checks exp on every hit', async () => {
    const { k1, verifier, clock } = await setup();
    const token = await signToken(k1, { exp: NOW_S + 10 });
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    clock.t += 71_000; // past exp + 60 s leeway
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'token_expired' });
  });

  it('drops tokens whose key the IdP removed at the next key load', async () => {
    const { k1, k2, keys, cache, verifier, clock } = await setup();
    const token = await signToken(k1);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(cache.size).toBe(1);
    server.behaviour = { kind: 'serve', body: jwksOf(k2) };
    clock.t += 300_000;
    await keys.reload();
    expect(await verifier.verify(token)).toMatchObject({ ok: false, reason: 'key_unknown' });
    expect(cache.size).toBe(0);
  });

  it('keeps serving a token whose key is still published after a reload', async () => {
    const { k1, keys, cache, verifier, clock } = await setup();
    const token = await signToken(k1);
    await verifier.verify(token);
    await verifier.verify(token);
    clock.t += 300_000;
    await keys.reload();
    expect(await verifier.verify(token)).toMatchObject({ ok: true });
    expect(cache.stats).toMatchObject({ hits: 1, misses: 2 });
    expect(cache.size).toBe(1);
  });

  it('never answers a tampered token from the entry of the genuine one', async () => {
    const { k1, verifier } = await setup();
    const token = await signToken(k1);
    await verifier.verify(token);
    const [h, p, s] = token.split('.') as [string, string, string];
    const tampered = `${h}.${p}.${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`;
    expect(await verifier.verify(tampered)).toMatchObject({ ok: false, reason: 'signature_invalid' });
  });

  it('never answers a token whose payload was swapped under the genuine signature (same tail, different token)', async () => {
    const { k1, cache, verifier } = await setup();
    const token = await signToken(k1, { sub: 'alice' });
    await verifier.verify(token);
    await verifier.verify(token);
    const [h, , s] = token.split('.') as [string, string, string];
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()), sub: 'admin' })).toString('base64url')}.${s}`;
    expect(cache.get(forged)).toBeUndefined();
    expect(await verifier.verify(forged)).toMatchObject({ ok: false, reason: 'signature_invalid' });
    // The genuine token is still answered from the cache, and the forged one's remembered failure is its own.
    expect(verifier.cached(token)).toMatchObject({ ok: true, claims: { sub: 'alice' } });
    expect(verifier.cached(forged)).toMatchObject({ ok: false, reason: 'signature_invalid' });
  });

  it('stays within its entry bound', async () => {
    const { k1, cache, verifier } = await setup({ maxEntries: 3, maxBytes: 1_000_000, negativeTtlMs: 0 });
    for (let i = 0; i < 10; i++) {
      const token = await signToken(k1, { jti: String(i) });
      await verifier.verify(token);
      await verifier.verify(token);
    }
    expect(cache.size).toBe(3);
  });

  it('stays within its byte bound', async () => {
    const { k1, cache, verifier } = await setup({ maxEntries: 1000, maxBytes: 8_000, negativeTtlMs: 0 });
    for (let i = 0; i < 20; i++) {
      const token = await signToken(k1, { jti: String(i) });
      await verifier.verify(token);
      await verifier.verify(token);
    }
    expect(cache.bytes).toBeLessThanOrEqual(8_000);
    expect(cache.size).toBeGreaterThan(0);
  });

  it('remembers a token that failed for good, so a flood of it costs one verification', async () => {
    const { k1, cache, verifier } = await setup();
    const bad = await signToken(k1, { aud: 'elsewhere' });
    for (let i = 0; i < 5; i++) expect(await verifier.verify(bad)).toMatchObject({ ok: false, reason: 'audience_mismatch' });
    expect(cache.stats.negativeHits).toBe(4);
  });

  it('does not remember an unknown kid (the key may be published a moment later)', async () => {
    const { cache, verifier } = await setup();
    const k3 = await makeKey('ES256', 'k3');
    const token = await signToken(k3);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(cache.stats.negativeHits).toBe(0);
  });

  it('can be switched off', async () => {
    const { k1, cache, verifier } = await setup({ maxEntries: 0, maxBytes: 0, negativeTtlMs: 0 });
    const token = await signToken(k1);
    await verifier.verify(token);
    await verifier.verify(token);
    expect(cache.stats.hits).toBe(0);
    expect(cache.size).toBe(0);
  });
});

describe('verified-token cache timers', () => {
  afterEach(() => vi.useRealTimers());

  // lru-cache's default TTL resolution armed a 1 ms timer on reads (one extra event-loop wakeup per request at low
  // load); the store that replaced it must not bring that back.
  it.each([
    ['a hit', (c: TokenCache, token: string) => c.get(token)],
    ['a miss', (c: TokenCache) => c.get('x.y.z')],
    ['a remembered failure', (c: TokenCache) => c.getFailure('f.a.il')],
  ])('arms no timer when it answers %s', (_, read) => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'performance'] });
    const cache = new TokenCache({ maxEntries: 10, maxBytes: 100_000, negativeTtlMs: 10_000 });
    const token = 'h.p.s'.repeat(20);
    const value = {} as CachedToken;
    cache.set(token, value, 60_000);
    expect(cache.set(token, value, 60_000)).toBe(true);
    cache.setFailure('f.a.il', { reason: 'signature_invalid', message: 'x', issuer: undefined });
    vi.advanceTimersByTime(5);
    const armed = vi.getTimerCount();
    read(cache, token);
    expect(vi.getTimerCount()).toBe(armed);
  });
});
