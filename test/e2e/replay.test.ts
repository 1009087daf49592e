/**
 * Single-use tokens with the real service and a real redis-server: two Portcullis instances (each its own Redis
 * client, as two replicas have) share one Redis. Forward auth over HTTP and ext_authz over gRPC; Redis is stopped
 * and started again mid-run for both on_store_error values.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayKey } from '../../src/core/replay.ts';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { connectEnvoyClient } from '../support/envoy-client.ts';
import { ISSUER, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';
import { parseExposition } from '../telemetry/support.ts';
import { answer, readyz, singleUseConfig, until } from './replay-support.ts';

const PREFIX = 'e2e:jti:';

const replayConfig = (redis: TestRedis, onStoreError: 'deny' | 'allow') => singleUseConfig({ url: redis.url }, { onStoreError, prefix: PREFIX });

let n = 0;
const jti = () => `jti-${process.pid}-${++n}`;

describe('two instances sharing one Redis', () => {
  let redis: TestRedis;
  let a: TestPortcullis, b: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    redis = await startRedis();
    key = await makeKey('ES256', 'k1');
    [a, b] = await Promise.all([startTestPortcullis({ key, config: replayConfig(redis, 'deny') }), startTestPortcullis({ key, config: replayConfig(redis, 'deny') })]);
    for (const p of [a, b]) await until('connected to Redis', async () => (await readyz(p)).body.replay_store?.ready === true);
  });
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()]);
    await redis?.close();
  });

  it('refuses on one instance a token used on the other (401 token_replayed)', async () => {
    const token = await signToken(key, { jti: jti() });
    expect(await answer(a, token)).toEqual({ status: 200, reason: undefined });
    expect(await answer(b, token)).toEqual({ status: 401, reason: 'token_replayed' });
    expect(await answer(a, token)).toEqual({ status: 401, reason: 'token_replayed' });
  });

  it('allows exactly one of 200 concurrent uses of one token, spread over both instances', async () => {
    const token = await signToken(key, { jti: jti() });
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => answer(i % 2 ? a : b, token)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    expect(results.filter((r) => r.status === 401 && r.reason === 'token_replayed')).toHaveLength(199);
  });

  it('lets forged and refused tokens consume nothing', async () => {
    const id = jti();
    const client = await redis.client();
    const before = await client.dbSize();
    const forger = await makeKey('ES256', 'k1');
    for (const bad of [await signToken(forger, { jti: id }), await signToken(key, { jti: id, aud: 'other' }), await signToken(key, { jti: id, exp: NOW_S - 3600 })]) {
      expect((await answer(a, bad)).status).toBe(401);
    }
    expect(await client.dbSize()).toBe(before);
    expect(await answer(b, await signToken(key, { jti: id }))).toEqual({ status: 200, reason: undefined });
    expect(await client.dbSize()).toBe(before + 1);
  });

  it('keeps the key exactly as long as the token can pass: exp plus leeway', async () => {
    const id = jti();
    expect((await answer(a, await signToken(key, { jti: id, exp: NOW_S + 120 }))).status).toBe(200);
    // The test clock stands at NOW_S; default leeway 60 s: the key lives 180 s in Redis.
    const pttl = await (await redis.client()).pTTL(`${PREFIX}${replayKey(ISSUER, id)}`);
    expect(pttl).toBeGreaterThan(170_000);
    expect(pttl).toBeLessThanOrEqual(180_000);
  });

  it('answers a replay over gRPC ext_authz as a denied CheckResponse (401), never a gRPC error', async () => {
    const client = connectEnvoyClient(a.grpcAddress);
    try {
      const token = await signToken(key, { jti: jti() });
      const check = () => client.check({ attributes: { request: { http: { method: 'POST', host: 'api.test', path: '/payments/9', headers: { authorization: `Bearer ${token}` } } } } });
      expect((await check()).status.code ?? 0).toBe(0);
      const replay = await check();
      expect(replay.status).toMatchObject({ code: 16, message: 'token_replayed' });
      expect(replay.denied_response.status.code).toBe('Unauthorized');
    } finally {
      client.close();
    }
  });

  it('leaves routes without single_use alone: the same token works there many times', async () => {
    const token = await signToken(key, { jti: jti() });
    for (let i = 0; i < 3; i++) expect((await answer(a, token, '/orders')).status).toBe(200);
  });
});

describe.each([
  { mode: 'deny' as const, whileDown: { status: 503, reason: 'replay_store_unavailable' }, readyWhileDown: 503 },
  { mode: 'allow' as const, whileDown: { status: 200, reason: undefined }, readyWhileDown: 200 },
])('Redis stopped mid-run with on_store_error: $mode', ({ mode, whileDown, readyWhileDown }) => {
  let redis: TestRedis;
  let p: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    redis = await startRedis();
    key = await makeKey('ES256', 'k1');
    p = await startTestPortcullis({ key, config: replayConfig(redis, mode) });
  });
  afterAll(async () => {
    await p?.close();
    await redis?.close();
  });

  it(`answers single-use requests ${whileDown.status} while Redis is down, and recovers by itself when it is back`, async () => {
    await until('connected to Redis', async () => (await readyz(p)).body.replay_store?.ready === true);
    expect((await readyz(p)).status).toBe(200);
    expect((await answer(p, await signToken(key, { jti: jti() }))).status).toBe(200);

    await redis.stop();
    await until('the store reports down', async () => (await readyz(p)).body.replay_store?.ready === false);
    const token = await signToken(key, { jti: jti() });
    expect(await answer(p, token)).toEqual(whileDown);
    // Nothing single-use is unaffected either way.
    expect((await answer(p, token, '/orders')).status).toBe(200);
    const down = await readyz(p);
    expect(down.status).toBe(readyWhileDown);
    expect(down.body.replay_store).toMatchObject({ kind: 'redis', ready: false, on_store_error: mode, blocks_readiness: mode === 'deny', single_use_rules: ['payments'] });

    const grpc = connectEnvoyClient(p.grpcAddress);
    try {
      expect((await grpc.healthCheck('')).status).toBe(mode === 'deny' ? 'NOT_SERVING' : 'SERVING');
      const r = await grpc.check({ attributes: { request: { http: { method: 'POST', host: 'api.test', path: '/payments/2', headers: { authorization: `Bearer ${await signToken(key, { jti: jti() })}` } } } } });
      if (mode === 'deny') {
        expect(r.status).toMatchObject({ code: 14, message: 'replay_store_unavailable' });
        expect(r.denied_response.status.code).toBe('ServiceUnavailable');
      } else {
        expect(r.status.code ?? 0).toBe(0);
      }
    } finally {
      grpc.close();
    }

    await redis.start();
    await until('ready again', async () => (await readyz(p)).status === 200 && (await readyz(p)).body.replay_store.ready === true);
    const fresh = await signToken(key, { jti: jti() });
    expect((await answer(p, fresh)).status).toBe(200);
    expect(await answer(p, fresh)).toEqual({ status: 401, reason: 'token_replayed' });

    const metrics = parseExposition(await (await fetch(`${p.httpUrl}/metrics`)).text());
    expect(metrics.value('portcullis_replay_checks_total', { outcome: `store_error_${mode === 'deny' ? 'denied' : 'allowed'}` })).toBe(2);
    expect(metrics.value('portcullis_replay_checks_total', { outcome: 'replayed' })).toBe(1);
    expect(metrics.value('portcullis_replay_store_up', { store: 'redis' })).toBe(1);
  });
});
