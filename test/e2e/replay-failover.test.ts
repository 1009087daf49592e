/**
 * Single use on Redis as production runs it (issue 24 §3), with real redis-server processes: a Sentinel group (three
 * Sentinels, a master, a replica) whose master is killed under steady single-use load, and a three-master Cluster
 * (each master with a replica) that loses one master. Answers are the documented ones throughout (200, 401
 * token_replayed, 503 replay_store_unavailable), and /readyz says not ready while checks would be refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { replayKey } from '../../src/core/replay.ts';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { eventually, startCluster, startSentinelGroup, type TestCluster, type TestSentinelGroup } from '../support/redis.ts';
import { ISSUER, makeKey, signToken, type TestKey } from '../support/tokens.ts';
import { answer, readyz, singleUseConfig, until } from './replay-support.ts';

const PREFIX = 'e2e:jti:';
let n = 0;
const jti = () => `failover-${process.pid}-${++n}`;

type Sample = { at: number; status: number; reason: string | undefined; ready: number };

/** One fresh single-use token every `everyMs` until stop(); each answer with the /readyz status next to it. */
function steadyLoad(p: TestPortcullis, key: TestKey, everyMs = 50) {
  const samples: Sample[] = [];
  let running = true;
  const done = (async () => {
    while (running) {
      const token = await signToken(key, { jti: jti() });
      const a = await answer(p, token);
      samples.push({ at: Date.now(), ...a, ready: (await readyz(p)).status });
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return { samples, stop: async () => ((running = false), await done) };
}

describe('Redis Sentinel: the master is killed under steady single-use load', () => {
  let group: TestSentinelGroup;
  let p: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    group = await startSentinelGroup({ downAfterMs: 1000 });
    key = await makeKey('ES256', 'k1');
    p = await startTestPortcullis({ key, config: singleUseConfig({ sentinel: { master_name: group.masterName, nodes: group.nodes } }, { timeout: '250ms', prefix: PREFIX }) });
    await until('ready', async () => (await readyz(p)).status === 200);
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await group?.close();
  });

  it('answers 503s until the replica is promoted, then single use is correct again within 10 s, with the ids used before', async () => {
    const before = await Promise.all(Array.from({ length: 5 }, () => signToken(key, { jti: jti() })));
    for (const t of before) expect(await answer(p, t)).toEqual({ status: 200, reason: undefined });
    // Those writes reached the replica (the asynchronous-replication window is closed for them).
    expect(Number(await (await group.master.client()).sendCommand(['WAIT', '1', '2000']))).toBe(1);

    const load = steadyLoad(p, key);
    await new Promise((r) => setTimeout(r, 300));
    await group.master.stop();
    const killedAt = Date.now();
    await eventually('the Sentinels promote the replica', async () => (await group.masterPort()) === group.replica.port, 30_000);
    const promotedAt = Date.now();
    await eventually('a fresh single-use token is allowed again', async () => load.samples.some((s) => s.at > promotedAt && s.status === 200), 10_000);
    await eventually('/readyz is ready again', async () => (await readyz(p)).status === 200, 10_000);
    await new Promise((r) => setTimeout(r, 300));
    await load.stop();

    const during = load.samples.filter((s) => s.at > killedAt);
    // Every answer is a documented one: allowed, or the store-unavailable 503.
    for (const s of during) expect([{ status: 200, reason: undefined }, { status: 503, reason: 'replay_store_unavailable' }]).toContainEqual({ status: s.status, reason: s.reason });
    expect(during.filter((s) => s.status === 503).length).toBeGreaterThan(0);
    // /readyz told the truth: not ready while the checks were refused.
    expect(during.some((s) => s.status === 503 && s.ready === 503)).toBe(true);
    const recovered = during.find((s) => s.at > promotedAt && s.status === 200)!;
    expect(recovered.at - promotedAt).toBeLessThan(10_000);
    expect(during.filter((s) => s.at > recovered.at + 1000).every((s) => s.status === 200)).toBe(true);

    for (const t of before) expect(await answer(p, t)).toEqual({ status: 401, reason: 'token_replayed' });
    const token = await signToken(key, { jti: jti() });
    expect(await answer(p, token)).toEqual({ status: 200, reason: undefined });
    expect(await answer(p, token)).toEqual({ status: 401, reason: 'token_replayed' });
  }, 60_000);
});

describe('Redis Cluster: one of three masters is killed', () => {
  let cluster: TestCluster;
  let p: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    cluster = await startCluster({ masters: 3, nodeTimeoutMs: 1000 });
    key = await makeKey('ES256', 'k1');
    p = await startTestPortcullis({ key, config: singleUseConfig({ cluster: { nodes: cluster.nodes } }, { timeout: '250ms', prefix: PREFIX }) });
    await until('ready', async () => (await readyz(p)).status === 200);
  }, 60_000);
  afterAll(async () => {
    await p?.close();
    await cluster?.close();
  });

  /** A fresh jti whose key the master on `port` serves (or, with `not`, any other master). */
  async function jtiOn(port: number, not = false): Promise<string> {
    for (;;) {
      const id = jti();
      const on = (await cluster.masterPortOf(`${PREFIX}${replayKey(ISSUER, id)}`)) === port;
      if (on !== not) return id;
    }
  }

  it('keeps the other masters\' keys working, answers 503 on the lost slots until the replica takes over, then all of them', async () => {
    const lost = cluster.masters[0]!;
    const onLost = await jtiOn(lost.port);
    const elsewhere = await Promise.all([jtiOn(lost.port, true), jtiOn(lost.port, true), jtiOn(lost.port, true)]);
    const usedBefore = await signToken(key, { jti: await jtiOn(lost.port, true) });
    expect((await answer(p, usedBefore)).status).toBe(200);

    await lost.stop();
    // The lost master's slots: the documented 503, at once (no wait for a dead socket).
    const start = Date.now();
    expect(await answer(p, await signToken(key, { jti: onLost }))).toEqual({ status: 503, reason: 'replay_store_unavailable' });
    expect(Date.now() - start).toBeLessThan(1000);
    // The other masters' keys keep working, both ways.
    for (const id of elsewhere) expect(await answer(p, await signToken(key, { jti: id }))).toEqual({ status: 200, reason: undefined });
    expect(await answer(p, usedBefore)).toEqual({ status: 401, reason: 'token_replayed' });
    // Part of the key space refuses its checks: not ready.
    await until('/readyz not ready', async () => (await readyz(p)).status === 503, 5000);

    await eventually('the replica takes over the lost slots', async () => (await cluster.masterPortOf(`${PREFIX}${replayKey(ISSUER, onLost)}`)) !== lost.port, 30_000);
    const promotedAt = Date.now();
    const token = await signToken(key, { jti: onLost });
    await eventually('the lost slots answer again', async () => (await answer(p, token)).status !== 503, 10_000);
    expect(Date.now() - promotedAt).toBeLessThan(10_000);
    expect(await answer(p, token)).toEqual({ status: 401, reason: 'token_replayed' });
    await until('/readyz ready again', async () => (await readyz(p)).status === 200, 10_000);
  }, 60_000);
});
