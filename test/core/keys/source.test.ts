/**
 * The key source against a real JWKS HTTP server whose behaviour changes while it runs; time is an injected clock
 * so cooldowns and staleness are exercised without waiting.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { KeySource, type KeySourceEvent } from '../../../src/core/keys/source.ts';
import { httpLoader } from '../../../src/core/keys/loaders.ts';
import { jwksOf, makeKey } from '../../support/tokens.ts';
import { startJwksServer, type JwksServer } from '../../support/jwks-server.ts';

let server: JwksServer | undefined;
let source: KeySource | undefined;
afterEach(async () => {
  source?.stop();
  await server?.close();
});

async function setup(opts: { timeoutMs?: number; maxBytes?: number } = {}) {
  const k1 = await makeKey('ES256', 'k1');
  const k2 = await makeKey('ES256', 'k2');
  server = await startJwksServer({ kind: 'serve', body: jwksOf(k1) });
  const clock = { t: 1_000_000 };
  const events: KeySourceEvent[] = [];
  source = new KeySource({
    issuer: 'https://idp.test/',
    location: server.url,
    load: httpLoader({ url: server.url, fetch: (u, i) => fetch(u, i), timeoutMs: opts.timeoutMs ?? 2000, maxBytes: opts.maxBytes ?? 65536 }),
    now: () => clock.t,
    refreshIntervalMs: 300_000,
    minRefreshMs: 30_000,
    cooldownMs: 30_000,
    maxStaleMs: 86_400_000,
    onEvent: (e) => events.push(e),
  });
  return { k1, k2, server, source, clock, events };
}

describe('KeySource', () => {
  it('is not ready before the first load and ready after it', async () => {
    const { source } = await setup();
    expect(source.isReady()).toBe(false);
    await source.start();
    expect(source.isReady()).toBe(true);
  });

  it('accepts a key published after start on its first use, with exactly one refetch', async () => {
    const { k1, k2, server, source } = await setup();
    await source.start();
    server.behaviour = { kind: 'serve', body: jwksOf(k1, k2) };
    const before = server.fetches;
    expect((await source.lookup('k2', 'ES256')).kind).toBe('found');
    expect(server.fetches - before).toBe(1);
    expect((await source.lookup('k1', 'ES256')).kind).toBe('found');
  });

  it('bounds a flood of 1,000 unknown kids to one fetch per cooldown window', async () => {
    const { server, source, clock } = await setup();
    await source.start();
    const before = server.fetches;
    const flood = (tag: string) => Promise.all(Array.from({ length: 1000 }, (_, i) => source.lookup(`${tag}-${i}`, 'ES256')));
    const results = await flood('first');
    expect(results.every((r) => r.kind === 'unknown')).toBe(true);
    expect(server.fetches - before).toBe(1);
    clock.t += 29_999;
    await flood('same-window');
    expect(server.fetches - before).toBe(1);
    clock.t += 1;
    await flood('next-window');
    expect(server.fetches - before).toBe(2);
  });

  it('keeps the flood bounded while the endpoint is failing', async () => {
    const { server, source, clock } = await setup();
    await source.start();
    server.behaviour = { kind: 'status', status: 500 };
    const before = server.fetches;
    for (let window = 0; window < 3; window++) {
      if (window > 0) clock.t += 30_000;
      await Promise.all(Array.from({ length: 200 }, (_, i) => source.lookup(`x-${window}-${i}`, 'ES256')));
    }
    expect(server.fetches - before).toBe(3);
  });

  it.each([
    ['an error status', { kind: 'status', status: 503 } as const, 'HTTP 503'],
    ['an HTML page', { kind: 'raw', body: '<html>login</html>', contentType: 'text/html' } as const, 'not JSON'],
    ['invalid JSON', { kind: 'raw', body: '{"keys": [', contentType: 'application/json' } as const, 'not JSON'],
    ['an empty key set', { kind: 'serve', body: { keys: [] } } as const, 'no usable verification key'],
    ['a document without keys', { kind: 'serve', body: { issuer: 'x' } } as const, 'not a JWKS document'],
    ['an oversized body', { kind: 'raw', body: JSON.stringify({ keys: [], pad: 'x'.repeat(100_000) }), contentType: 'application/json' } as const, 'exceeds'],
  ])('never replaces a good key set with %s', async (_name, behaviour, error) => {
    const { server, source, clock, events } = await setup();
    await source.start();
    server.behaviour = behaviour;
    clock.t += 30_000;
    await source.reload();
    expect((await source.lookup('k1', 'ES256')).kind).toBe('found');
    expect(source.status().lastError).toContain(error);
    expect(events.at(-1)).toMatchObject({ type: 'load_failed', keptStale: true });
  });

  it('gives up on a hanging endpoint after the fetch timeout and keeps the old keys', async () => {
    const { server, source, clock } = await setup({ timeoutMs: 200 });
    await source.start();
    server.behaviour = { kind: 'hang' };
    clock.t += 30_000;
    await source.reload();
    expect(source.status().lastError).toContain('timed out');
    expect((await source.lookup('k1', 'ES256')).kind).toBe('found');
  });

  it('stops trusting stale keys after max staleness', async () => {
    const { server, source, clock } = await setup();
    await source.start();
    server.behaviour = { kind: 'status', status: 500 };
    clock.t += 86_400_001;
    expect(source.isReady()).toBe(false);
    expect((await source.lookup('k1', 'ES256')).kind).toBe('unavailable');
  });

  it('starts with the IdP down, reports unavailable, and becomes ready when it comes back', async () => {
    const { k1, server, source, clock } = await setup();
    server.behaviour = { kind: 'status', status: 502 };
    await source.start();
    expect(source.isReady()).toBe(false);
    expect(await source.lookup('k1', 'ES256')).toMatchObject({ kind: 'unavailable' });
    server.behaviour = { kind: 'serve', body: jwksOf(k1) };
    // The first request already tried once; the next try waits for the cooldown.
    expect(await source.lookup('k1', 'ES256')).toMatchObject({ kind: 'unavailable' });
    clock.t += 30_000;
    expect((await source.lookup('k1', 'ES256')).kind).toBe('found');
    expect(source.isReady()).toBe(true);
  });

  it('stops accepting a key the IdP removed once the next load succeeds', async () => {
    const { k1, k2, server, source, clock } = await setup();
    server.behaviour = { kind: 'serve', body: jwksOf(k1, k2) };
    await source.start();
    const entry = await source.lookup('k1', 'ES256');
    server.behaviour = { kind: 'serve', body: jwksOf(k2) };
    clock.t += 300_000;
    await source.reload();
    expect((await source.lookup('k1', 'ES256')).kind).toBe('unknown');
    expect(entry.kind === 'found' && source.holds(entry.entry)).toBe(false);
  });

  it('shares one fetch between concurrent loads', async () => {
    const { server, source } = await setup();
    await Promise.all([source.start(), source.reload(), source.reload()]);
    expect(server.fetches).toBe(1);
  });

  it('shows key status without private material', async () => {
    const { source, server } = await setup();
    await source.start();
    const status = source.status();
    expect(status).toMatchObject({ issuer: 'https://idp.test/', location: server.url, ready: true, lastError: null });
    expect(status.keys[0]).toMatchObject({ kid: 'k1', kty: 'EC', crv: 'P-256' });
    expect(status.keys[0]).not.toHaveProperty('d');
  });
});

describe('KeySource background schedule', () => {
  it.each([
    ['no Cache-Control: the refresh interval', undefined, 300_000],
    ['max-age within bounds', 'public, max-age=120', 120_000],
    ['max-age below min_refresh: clamped up', 'max-age=5', 30_000],
    ['max-age above refresh_interval: clamped down', 'max-age=86400', 300_000],
    ['max-age=0: clamped up', 'no-cache, max-age=0', 30_000],
  ])('refreshes after %s', async (_name, cacheControl, delay) => {
    const { k1, server, source } = await setup();
    server.behaviour = { kind: 'serve', body: jwksOf(k1), ...(cacheControl ? { cacheControl } : {}) };
    await source.start();
    expect(source.status().nextLoadInMs).toBe(delay);
  });

  it('backs off exponentially from the cooldown once it has keys, with at most 25 % jitter, capped at the refresh interval', async () => {
    const { server, source, clock } = await setup();
    await source.start();
    server.behaviour = { kind: 'status', status: 500 };
    const delays: number[] = [];
    for (let i = 0; i < 6; i++) {
      await source.reload();
      delays.push(source.status().nextLoadInMs!);
      clock.t += 1000;
    }
    const bases = [30_000, 60_000, 120_000, 240_000, 300_000, 300_000];
    delays.forEach((d, i) => {
      expect(d).toBeGreaterThanOrEqual(bases[i]!);
      expect(d).toBeLessThanOrEqual(bases[i]! * 1.25);
    });
  });

  it.each([
    ['cooldown 30 s', 30_000, [1000, 2000, 4000, 4000, 4000, 4000]],
    ['cooldown 3 s', 3000, [1000, 2000, 3000, 3000]],
    ['cooldown 0', 0, [1000, 1000, 1000]],
  ])('retries quickly while it has no usable keys (%s): 1 s, doubling, capped at the cooldown and at 4 s', async (_name, cooldownMs, bases) => {
    const { server, clock } = await setup();
    server.behaviour = { kind: 'status', status: 503 };
    let r = 0;
    source?.stop();
    source = new KeySource({
      issuer: 'https://idp.test/', location: server.url, now: () => clock.t, refreshIntervalMs: 300_000, minRefreshMs: 30_000,
      cooldownMs, maxStaleMs: 86_400_000, random: () => [0, 1, 0.5][r++ % 3]!,
      load: httpLoader({ url: server.url, fetch: (u, i) => fetch(u, i), timeoutMs: 2000, maxBytes: 65536 }),
    });
    source.stop(); // no background loads: only the delays it chooses are read
    for (const [i, base] of bases.entries()) {
      await source.reload();
      const d = source.status().nextLoadInMs!;
      expect(d).toBe(base * [1, 1.25, 1.125][i % 3]!);
    }
  });

  it('goes back to the slow backoff after it has keys again, and to the fast one when its keys went stale', async () => {
    const { k1, server, source, clock } = await setup();
    server.behaviour = { kind: 'status', status: 503 };
    await source.start();
    source.stop(); // no background loads: only the delays it chooses are read
    expect(source.status().nextLoadInMs).toBeLessThan(1250);
    server.behaviour = { kind: 'serve', body: jwksOf(k1) };
    await source.reload();
    server.behaviour = { kind: 'status', status: 503 };
    await source.reload();
    expect(source.status().nextLoadInMs).toBeGreaterThanOrEqual(30_000);
    clock.t += 86_400_001;
    await source.reload();
    expect(source.isReady()).toBe(false);
    expect(source.status().nextLoadInMs).toBeLessThanOrEqual(30_000 * 1.25);
  });

  it('becomes ready by itself within seconds when the IdP that was down at start answers again (no request needed)', async () => {
    const { k1, server, source } = await setup();
    server.behaviour = { kind: 'status', status: 502 };
    await source.start();
    expect(source.isReady()).toBe(false);
    server.behaviour = { kind: 'serve', body: jwksOf(k1) };
    // The default cooldown is 30 s: only the fast retry (1 s after the failure) can make this ready before the test times out.
    await new Promise<void>((resolve) => source.onChange(() => resolve()));
    expect(source.isReady()).toBe(true);
    expect(server.fetches).toBe(2);
  });

  it('keeps an unknown-kid flood bounded while the IdP is down and no keys are loaded', async () => {
    const { server, source, clock } = await setup();
    server.behaviour = { kind: 'status', status: 500 };
    await source.start();
    source.stop(); // background retries off: only request-triggered loads are counted
    const before = server.fetches;
    for (let window = 0; window < 3; window++) {
      if (window > 0) clock.t += 30_000;
      const results = await Promise.all(Array.from({ length: 300 }, (_, i) => source.lookup(`x-${window}-${i}`, 'ES256')));
      expect(results.every((x) => x.kind === 'unavailable')).toBe(true);
    }
    expect(server.fetches - before).toBe(3);
  });
});
