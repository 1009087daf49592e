/**
 * The Redis replay store behind a path that goes silent without closing (test/support/stall-proxy.ts, a real loopback
 * proxy in front of a real redis-server): it notices, drops the connection, opens a new one with its backoff, says it
 * is not ready meanwhile and recovers by itself.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { pingDeadlineMs, reconnectDelay, RedisReplayStore, SILENT_CHECKS } from '../../src/stores/redis-replay.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';
import { startStallProxy, type StallProxy } from '../support/stall-proxy.ts';

const TIMEOUT = 250;
const random = () => 0;
/** Connecting and the first PING on a loopback Redis, with room for a busy CI machine. */
const SLACK = 1000;

let redis: TestRedis;
let proxy: StallProxy;
let store: RedisReplayStore;
let readiness: boolean[];

beforeAll(async () => {
  redis = await startRedis();
});
afterAll(async () => {
  await redis?.close();
});
beforeEach(async () => {
  proxy = await startStallProxy({ port: redis.port });
  store = new RedisReplayStore({ url: `redis://127.0.0.1:${proxy.port}/0`, keyPrefix: 'stall:', timeoutMs: TIMEOUT, random, healthIntervalMs: 200 });
  await store.start();
  await until('ready', () => store.status().ready);
  readiness = [];
  store.onChange(() => readiness.push(store.status().ready));
});
afterEach(async () => {
  await store?.stop();
  await proxy?.close();
});

async function until(what: string, condition: () => boolean, timeoutMs = 10_000): Promise<number> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return Date.now() - start;
}

/** Serial single-use checks until one is answered 'fresh'; each answer and how long it took. */
async function checkUntilFresh(limitMs: number): Promise<{ elapsed: number; answers: { result: unknown; ms: number }[] }> {
  const start = Date.now();
  const answers: { result: unknown; ms: number }[] = [];
  for (;;) {
    const t = Date.now();
    const result = await store.consume(randomUUID(), 60_000);
    answers.push({ result, ms: Date.now() - t });
    if (result === 'fresh') return { elapsed: Date.now() - start, answers };
    if (Date.now() - start > limitMs) throw new Error(`no fresh answer within ${limitMs} ms: ${JSON.stringify(answers.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RedisReplayStore when the path to Redis goes silent', () => {
  it(`under load: ${SILENT_CHECKS} checks without an answer drop the connection; it answers again within timeout × ${SILENT_CHECKS} + backoff, on a new connection`, async () => {
    expect(await store.consume(randomUUID(), 60_000)).toBe('fresh');
    const opened = proxy.opened;
    proxy.stall();
    const { elapsed, answers } = await checkUntilFresh(10_000);
    expect(elapsed).toBeLessThan(TIMEOUT * SILENT_CHECKS + reconnectDelay(0, random) + SLACK);
    // The checks in between were store errors (on_store_error decides), each within the timeout, never a hang.
    expect(answers.slice(0, -1).length).toBeGreaterThanOrEqual(SILENT_CHECKS);
    for (const a of answers.slice(0, -1)) {
      expect(a.result).toEqual({ error: expect.any(String) });
      expect(a.ms).toBeLessThan(TIMEOUT + 200);
    }
    expect(proxy.opened).toBeGreaterThan(opened);
    expect(readiness).toEqual([false, true]);
  });

  it('without traffic: the health PING finds it, the store is not ready, then ready again on a new connection', async () => {
    const opened = proxy.opened;
    proxy.stall();
    await until('not ready', () => !store.status().ready, 200 + pingDeadlineMs(TIMEOUT) + SLACK);
    await until('ready again', () => store.status().ready, reconnectDelay(0, random) + SLACK);
    expect(proxy.opened).toBeGreaterThan(opened);
    expect(store.status().lastError).toBeNull();
    expect(await store.consume(randomUUID(), 60_000)).toBe('fresh');
  });

  it('while every new connection is silent too: not ready, checks fail within the timeout, it keeps trying; ready by itself once a path works', async () => {
    proxy.stall({ newConnections: true });
    await until('not ready', () => !store.status().ready, 200 + pingDeadlineMs(TIMEOUT) + SLACK);
    expect(store.status()).toMatchObject({ ready: false, state: 'reconnecting', lastError: expect.stringMatching(/no answer/) });
    const t = Date.now();
    expect(await store.consume(randomUUID(), 60_000)).toEqual({ error: expect.any(String) });
    expect(Date.now() - t).toBeLessThan(TIMEOUT + 200);
    const opened = proxy.opened;
    // A connected socket is not ready: ready means Redis answered a PING on it.
    await until('another connection tried', () => proxy.opened > opened, pingDeadlineMs(TIMEOUT) + 2000 + SLACK);
    expect(store.status().ready).toBe(false);

    proxy.resume();
    // The silent attempt under way runs out its PING deadline; the next one, after the backoff (at most 2 s), works.
    await until('ready again', () => store.status().ready, pingDeadlineMs(TIMEOUT) + 2000 + SLACK);
    expect(await store.consume(randomUUID(), 60_000)).toBe('fresh');
  });

  it('a Redis that answers some commands on each connection and then stops: never a hang, new connections, and recovery once it is over', async () => {
    proxy.stallAfter(400);
    const opened = proxy.opened;
    const end = Date.now() + 3000;
    const answers: { result: unknown; ms: number }[] = [];
    while (Date.now() < end) {
      const t = Date.now();
      answers.push({ result: await store.consume(randomUUID(), 60_000), ms: Date.now() - t });
      await new Promise((r) => setTimeout(r, 20));
    }
    for (const a of answers) expect(a.ms).toBeLessThan(TIMEOUT + 200);
    expect(answers.filter((a) => a.result === 'fresh').length).toBeGreaterThan(0);
    expect(answers.filter((a) => typeof a.result === 'object').length).toBeGreaterThan(0);
    expect(proxy.opened - opened).toBeGreaterThanOrEqual(2);

    proxy.resume();
    // Connections opened before resume() still go silent on schedule: the store may need one more round to settle.
    await new Promise((r) => setTimeout(r, 400));
    await checkUntilFresh(TIMEOUT * SILENT_CHECKS + 2000 + SLACK);
    await until('ready', () => store.status().ready, pingDeadlineMs(TIMEOUT) + 2000 + SLACK);
    const steady = await Promise.all(Array.from({ length: 20 }, () => store.consume(randomUUID(), 60_000)));
    expect(steady.every((r) => r === 'fresh')).toBe(true);
  });
});
