/**
 * How app.ts wires single-use tokens, with a real redis-server: the password from PORTCULLIS_REDIS_PASSWORD, and a
 * start while Redis is unreachable (the service starts, is not ready, the single-use issuers report ready: false,
 * and all of it recovers once Redis is there).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCore, type Core } from '../src/app.ts';
import { startRedis, type TestRedis } from './support/redis.ts';
import { testConfig, fixedNow } from './support/core.ts';
import { ISSUER, jwksOf, makeKey } from './support/tokens.ts';

const PARTNER = 'https://partner.test/';
let redis: TestRedis;
let jwks: ReturnType<typeof jwksOf>;
const cores: Core[] = [];

beforeAll(async () => {
  redis = await startRedis(['--requirepass', 'from-env']);
  jwks = jwksOf(await makeKey('ES256', 'k1'));
});
afterEach(() => {
  for (const c of cores.splice(0)) c.stop();
  delete process.env['PORTCULLIS_REDIS_PASSWORD'];
});
afterAll(async () => {
  await redis?.close();
});

function core(url: string, onStoreError: 'deny' | 'allow' = 'deny'): Core {
  const config = testConfig({
    issuers: [
      { issuer: ISSUER, audiences: ['api.test'], jwks },
      { issuer: PARTNER, audiences: ['api.test'], jwks, replay: true },
    ],
    replay: { store: 'redis', redis: { url }, on_store_error: onStoreError },
  });
  const c = createCore(config, { fetch, now: fixedNow });
  cores.push(c);
  return c;
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const issuersOf = (c: Core) => (c.readiness.details?.() as { issuers: { issuer: string; ready: boolean; single_use: boolean }[] }).issuers;

describe('the Redis replay store as app.ts wires it', () => {
  it('takes the password from PORTCULLIS_REDIS_PASSWORD when the URL has none', async () => {
    process.env['PORTCULLIS_REDIS_PASSWORD'] = 'from-env';
    const c = core(redis.url);
    await c.start();
    await until('ready', () => c.readiness.isReady());
    expect(c.replay!.store.status()).toMatchObject({ kind: 'redis', ready: true });
  });

  it('starts while Redis is unreachable: not ready, the single-use issuer not ready, and recovers when Redis is back', async () => {
    process.env['PORTCULLIS_REDIS_PASSWORD'] = 'from-env';
    const later = await startRedis(['--requirepass', 'from-env']);
    await later.stop();
    try {
      const c = core(later.url);
      let changes = 0;
      c.readiness.onChange(() => changes++);
      await c.start();
      expect(c.readiness.isReady()).toBe(false);
      expect(issuersOf(c)).toEqual([
        expect.objectContaining({ issuer: ISSUER, ready: true, single_use: false }),
        expect.objectContaining({ issuer: PARTNER, ready: false, single_use: true }),
      ]);
      expect(c.readiness.details?.()).toMatchObject({ replay_store: { kind: 'redis', ready: false, blocks_readiness: true } });

      await later.start();
      await until('ready', () => c.readiness.isReady());
      expect(issuersOf(c).every((i) => i.ready)).toBe(true);
      expect(changes).toBeGreaterThan(0);
    } finally {
      await later.close();
    }
  });

  it('does not block readiness with on_store_error: allow, and still reports the store', async () => {
    const c = core('redis://127.0.0.1:1/0', 'allow');
    await c.start();
    expect(c.readiness.isReady()).toBe(true);
    expect(issuersOf(c).every((i) => i.ready)).toBe(true);
    expect(c.readiness.details?.()).toMatchObject({ replay_store: { ready: false, blocks_readiness: false, on_store_error: 'allow' } });
  });
});
