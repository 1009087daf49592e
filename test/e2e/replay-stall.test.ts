/**
 * Issue 24 §1 as an operator met it: Portcullis (on_store_error deny, timeout 250ms) reaches a real redis-server
 * through a loopback proxy whose path goes silent without closing (test/support/stall-proxy.ts). Single use recovers
 * by itself on a new connection, and /readyz says not ready while the store cannot answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pingDeadlineMs } from '../../src/stores/redis-replay.ts';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { startStallProxy, type StallProxy } from '../support/stall-proxy.ts';
import { makeKey, signToken, type TestKey } from '../support/tokens.ts';
import { answer, readyz, singleUseConfig, until } from './replay-support.ts';

const TIMEOUT = 250;
let n = 0;
const jti = () => `stall-${process.pid}-${++n}`;

describe('a silent path to Redis (on_store_error deny)', () => {
  let redis: TestRedis;
  let proxy: StallProxy;
  let p: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    redis = await startRedis();
    proxy = await startStallProxy({ port: redis.port });
    key = await makeKey('ES256', 'k1');
    p = await startTestPortcullis({ key, config: singleUseConfig({ url: `redis://127.0.0.1:${proxy.port}/0` }, { timeout: `${TIMEOUT}ms` }) });
    await until('ready', async () => (await readyz(p)).status === 200);
  });
  afterAll(async () => {
    await p?.close();
    await proxy?.close();
    await redis?.close();
  });

  it('answers 503 replay_store_unavailable while silent, is not ready while nothing answers, and recovers by itself on new connections', async () => {
    expect(await answer(p, await signToken(key, { jti: jti() }))).toEqual({ status: 200, reason: undefined });
    const opened = proxy.opened;
    proxy.stall({ newConnections: true });
    expect(await answer(p, await signToken(key, { jti: jti() }))).toEqual({ status: 503, reason: 'replay_store_unavailable' });
    await until('/readyz says not ready', async () => (await readyz(p)).status === 503, pingDeadlineMs(TIMEOUT) + 3000);
    expect((await readyz(p)).body.replay_store).toMatchObject({ ready: false, state: 'reconnecting', last_error: expect.stringMatching(/no answer/) });

    proxy.resume();
    await until('/readyz ready again', async () => (await readyz(p)).status === 200, pingDeadlineMs(TIMEOUT) + 3000);
    expect(proxy.opened).toBeGreaterThan(opened);
    const token = await signToken(key, { jti: jti() });
    expect(await answer(p, token)).toEqual({ status: 200, reason: undefined });
    expect(await answer(p, token)).toEqual({ status: 401, reason: 'token_replayed' });
  });
});
