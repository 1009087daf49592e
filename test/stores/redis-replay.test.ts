/**
 * The Redis replay store against a real redis-server (test/support/redis.ts): atomic consumption across clients,
 * key shape and expiry, failures (down, slow, auth) answered as errors without waiting, automatic recovery.
 */
import { randomUUID } from 'node:crypto';
import { getCACertificates, setDefaultCACertificates } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { RedisReplayStore, reconnectDelay, type ReplayStoreEvent } from '../../src/stores/redis-replay.ts';
import { replayKey } from '../../src/core/replay.ts';
import { startRedis, type TestRedis } from '../support/redis.ts';

let redis: TestRedis;
const stores: RedisReplayStore[] = [];

beforeAll(async () => {
  redis = await startRedis();
});
afterEach(async () => {
  await Promise.all(stores.splice(0).map((s) => s.stop()));
});
afterAll(async () => {
  await redis?.close();
});

async function store(opts: Partial<ConstructorParameters<typeof RedisReplayStore>[0]> = {}): Promise<RedisReplayStore> {
  // A generous timeout: these tests are about answers, not speed, and the machine may be busy (the slow-Redis test sets its own).
  const s = new RedisReplayStore({ url: redis.url, keyPrefix: 'test:jti:', timeoutMs: 5000, random: () => 0, ...opts });
  stores.push(s);
  await s.start();
  return s;
}

/** Resolves once `condition` holds (polling the real thing); fails the test with `what` otherwise. */
async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('RedisReplayStore', () => {
  it('answers fresh once and replayed after, with one SET NX PX key under the prefix', async () => {
    const s = await store();
    const key = replayKey('https://idp.test/', randomUUID());
    expect(await s.consume(key, 60_000)).toBe('fresh');
    expect(await s.consume(key, 60_000)).toBe('replayed');
    const client = await redis.client();
    expect(await client.get(`test:jti:${key}`)).toBe('1');
    const pttl = await client.pTTL(`test:jti:${key}`);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
  });

  it('stores the longest TTL the core can ask for (an absurd exp) without a Redis error', async () => {
    const s = await store();
    expect(await s.consume(replayKey('https://idp.test/', randomUUID()), Number.MAX_SAFE_INTEGER)).toBe('fresh');
  });

  it('lets the key expire with the token: after its TTL the same key is fresh again', async () => {
    const s = await store();
    const key = replayKey('https://idp.test/', randomUUID());
    expect(await s.consume(key, 100)).toBe('fresh');
    const client = await redis.client();
    await until('the key expires in Redis', async () => (await client.exists(`test:jti:${key}`)) === 0);
    expect(await s.consume(key, 100)).toBe('fresh');
  });

  it('of 200 concurrent uses through two separate clients, exactly one is fresh', async () => {
    const [a, b] = [await store(), await store()];
    const key = replayKey('https://idp.test/', randomUUID());
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? a : b).consume(key, 60_000)));
    expect(results.filter((r) => r === 'fresh')).toHaveLength(1);
    expect(results.filter((r) => r === 'replayed')).toHaveLength(199);
  });

  it('pipelines concurrent checks: 200 of them reach Redis in a handful of reads, not 200', async () => {
    const s = await store();
    await until('connected', () => s.status().ready);
    const client = await redis.client();
    const reads = async () => Number(/total_reads_processed:(\d+)/.exec(await client.info('stats'))![1]);
    const before = await reads();
    const results = await Promise.all(Array.from({ length: 200 }, () => s.consume(replayKey('https://idp.test/', randomUUID()), 60_000)));
    expect(results.every((r) => r === 'fresh')).toBe(true);
    // Each INFO is one read as well; the 200 SETs arrive in one write (one or a few reads, however TCP splits it).
    expect((await reads()) - before).toBeLessThan(20);
  });

  it('answers a slow Redis (past the timeout) with an error, not a wait', async () => {
    const s = await store({ timeoutMs: 50 });
    const client = await redis.client();
    await client.sendCommand(['CLIENT', 'PAUSE', '500', 'ALL']);
    try {
      expect(await s.consume(replayKey('https://idp.test/', randomUUID()), 60_000)).toEqual({ error: expect.stringMatching(/timeout/i) });
    } finally {
      await client.sendCommand(['CLIENT', 'UNPAUSE']);
    }
  });

  it('when Redis goes away: errors at once, not ready, a log event; when it is back: ready again by itself', async () => {
    const events: ReplayStoreEvent[] = [];
    const s = await store({ onEvent: (e) => events.push(e), errorLogIntervalMs: 60_000 });
    let changes = 0;
    s.onChange(() => changes++);
    await until('connected', () => s.status().ready);
    const key = replayKey('https://idp.test/', randomUUID());
    expect(await s.consume(key, 60_000)).toBe('fresh');

    await redis.stop();
    await until('not ready', () => !s.status().ready);
    expect(s.status()).toMatchObject({ kind: 'redis', ready: false, state: expect.stringMatching(/reconnecting|connecting/) });
    for (let i = 0; i < 3; i++) expect(await s.consume(replayKey('https://idp.test/', randomUUID()), 60_000)).toEqual({ error: expect.any(String) });
    expect(events.filter((e) => e.type === 'down')).toHaveLength(1);
    // Failed checks are logged at most once per interval, the rest counted as suppressed.
    expect(events.filter((e) => e.type === 'consume_failed')).toHaveLength(1);

    await redis.start();
    await until('ready again', () => s.status().ready);
    expect(changes).toBeGreaterThanOrEqual(2);
    expect(events.at(-1)).toEqual({ type: 'ready', store: 'redis' });
    // The restarted Redis is empty (no persistence): that is the operator's durability choice, documented.
    expect(await s.consume(replayKey('https://idp.test/', randomUUID()), 60_000)).toBe('fresh');
  });

  it('starts while Redis is unreachable (not ready, checks fail fast) and connects once it is there', async () => {
    const later = await startRedis();
    await later.stop();
    try {
      const s = await store({ url: later.url });
      expect(s.status().ready).toBe(false);
      expect(await s.consume('k', 1000)).toEqual({ error: expect.any(String) });
      await later.start();
      await until('ready', () => s.status().ready);
      expect(await s.consume('k', 1000)).toBe('fresh');
    } finally {
      await later.close();
    }
  });

  it('backs off from 50 ms to 2 s, with jitter', () => {
    expect([0, 1, 2, 5, 6, 30].map((n) => reconnectDelay(n, () => 1))).toEqual([50, 100, 200, 1600, 2000, 2000]);
    expect(reconnectDelay(6, () => 0)).toBe(1000);
  });
});

describe('RedisReplayStore with a password (requirepass)', () => {
  let secured: TestRedis;
  beforeAll(async () => {
    secured = await startRedis(['--requirepass', 's3cret']);
  });
  afterAll(async () => {
    await secured?.close();
  });

  it.each([
    ['from the URL', (url: string) => ({ url: url.replace('redis://', 'redis://:s3cret@') })],
    ['from PORTCULLIS_REDIS_PASSWORD (the password option)', (url: string) => ({ url, password: 's3cret' })],
    ['from the URL even when the option holds another', (url: string) => ({ url: url.replace('redis://', 'redis://:s3cret@'), password: 'wrong' })],
  ])('authenticates with the password %s', async (_name, opts) => {
    const s = await store(opts(secured.url));
    await until('ready', () => s.status().ready);
    expect(await s.consume(randomUUID(), 1000)).toBe('fresh');
  });

  it('never becomes ready without the password, and says why without echoing secrets', async () => {
    const s = await store({ url: secured.url, password: 'wrong-password' });
    await until('an auth error is reported', () => s.status().lastError !== null);
    expect(s.status().ready).toBe(false);
    expect(s.status().lastError).not.toContain('wrong-password');
    expect(await s.consume(randomUUID(), 1000)).toEqual({ error: expect.any(String) });
  });
});

describe('RedisReplayStore over TLS (rediss://)', () => {
  let tls: TestRedis;
  const systemCAs = getCACertificates('default');
  beforeAll(async () => {
    tls = await startRedis([], { tls: true });
  });
  afterAll(async () => {
    setDefaultCACertificates(systemCAs);
    await tls?.close();
  });

  it('connects with TLS when the server certificate chains to a trusted CA', async () => {
    // The process's default CAs, as NODE_EXTRA_CA_CERTS or the system store would provide them in production.
    setDefaultCACertificates([...systemCAs, tls.caPem!]);
    try {
      const s = await store({ url: tls.url });
      await until('ready', () => s.status().ready);
      const key = randomUUID();
      expect(await s.consume(key, 1000)).toBe('fresh');
      expect(await s.consume(key, 1000)).toBe('replayed');
    } finally {
      setDefaultCACertificates(systemCAs);
    }
  });

  it('never connects to a server whose certificate it cannot verify', async () => {
    const s = await store({ url: tls.url });
    await until('a TLS error is reported', () => s.status().lastError !== null);
    expect(s.status().lastError).toMatch(/certificate/i);
    expect(s.status().ready).toBe(false);
    expect(await s.consume(randomUUID(), 1000)).toEqual({ error: expect.any(String) });
  });
});

describe('RedisReplayStore with wait_replicas (WAIT after the SET)', () => {
  let primary: TestRedis;
  let replica: TestRedis;
  beforeAll(async () => {
    primary = await startRedis();
    replica = await startRedis(['--replicaof', '127.0.0.1', String(primary.port)]);
    const client = await replica.client();
    await until('the replica is in sync', async () => /master_link_status:up/.test(await client.info('replication')));
  });
  afterAll(async () => {
    await replica?.close();
    await primary?.close();
  });

  it('answers fresh only once the replica has the key: a failover right after cannot forget it', async () => {
    const s = await store({ url: primary.url, waitReplicas: 1, timeoutMs: 2000 });
    await until('ready', () => s.status().ready);
    const key = randomUUID();
    expect(await s.consume(key, 60_000)).toBe('fresh');
    expect(await (await replica.client()).get(`test:jti:${key}`)).toBe('1');
    expect(await s.consume(key, 60_000)).toBe('replayed');
  });

  it('answers a store error when fewer replicas acknowledge within the timeout (on_store_error decides)', async () => {
    const s = await store({ url: primary.url, waitReplicas: 2, timeoutMs: 200 });
    await until('ready', () => s.status().ready);
    expect(await s.consume(randomUUID(), 60_000)).toEqual({ error: expect.stringMatching(/1 of 2 replicas acknowledged|did not acknowledge/) });
    // Slow replicas are not a dead connection: the store stays connected and ready.
    for (let i = 0; i < 4; i++) await s.consume(randomUUID(), 60_000);
    expect(s.status().ready).toBe(true);
  });
});
