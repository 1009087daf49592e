/**
 * Single-use tokens through the real core with the one-process memory store: who is single-use (issuer replay: true,
 * rule require.single_use), what a replay and a missing jti answer, and that only a token that passed every other
 * check consumes its jti. The Redis store has the same contract: test/stores/redis-replay.test.ts, test/e2e/replay.test.ts.
 */
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/app.ts';
import type { Decision } from '../../src/core/types.ts';
import { MemoryReplayStore } from '../../src/core/replay.ts';
import { runExplain } from '../../src/cli/explain.ts';
import { bearer, request, startCore, testConfig } from '../support/core.ts';
import { forge, ISSUER, jwksOf, makeKey, NOW_S, signToken, defaultPayload, type TestKey } from '../support/tokens.ts';

const ONCE = 'https://once.test/';
let key: TestKey, onceKey: TestKey, otherKey: TestKey;
let clock: { t: number };
let core: Core;

const jti = () => randomUUID();

beforeAll(async () => {
  [key, onceKey, otherKey] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 'o1'), makeKey('ES256', 'o1')]);
  clock = { t: NOW_S * 1000 };
  core = await startCore(
    testConfig({
      workers: 1,
      issuers: [
        { issuer: ISSUER, audiences: ['api.test'], jwks: jwksOf(key) },
        { issuer: ONCE, audiences: ['api.test'], jwks: jwksOf(onceKey), replay: true, leeway: '30s' },
      ],
      routes: [
        { name: 'payments', match: { paths: ['/payments/**'] }, require: { single_use: true, scopes: ['pay'] } },
        { name: 'named', match: { paths: ['/named/**'] }, policy: 'one-shot' },
      ],
      policies: { 'one-shot': { require: { single_use: true } } },
    }),
    () => clock.t,
  );
});

const check = async (path: string, token: string): Promise<Decision> => core.authorizer.check(request({ path, headers: bearer(token) }));
const store = () => core.replay!.store as MemoryReplayStore;

describe('which tokens are single-use', () => {
  it.each([
    ['every token of an issuer with replay: true', '/orders', () => signToken(onceKey, { iss: ONCE, jti: jti() })],
    ['any issuer on a route that requires single_use', '/payments/1', () => signToken(key, { jti: jti(), scope: 'pay' })],
    ['any issuer on a named policy that requires single_use', '/named/x', () => signToken(key, { jti: jti() })],
  ])('%s: the first use is allowed, the second is 401 token_replayed', async (_name, path, make) => {
    const token = await make();
    const first = await check(path, token);
    expect(first).toMatchObject({ kind: 'allow', reason: 'token_valid', replay: 'fresh' });
    const second = await check(path, token);
    expect(second).toMatchObject({ kind: 'deny', status: 401, reason: 'token_replayed', replay: 'replayed' });
    expect(second.kind === 'deny' && second.headers).toContainEqual(['www-authenticate', expect.stringContaining('error="invalid_token"')]);
    expect(second.identity.every((h) => h.value === undefined)).toBe(true);
  });

  it('leaves other tokens reusable: a browser reuses one token for many requests (jwtproxy#103)', async () => {
    const token = await signToken(key);
    for (let i = 0; i < 3; i++) {
      const d = await check('/orders', token);
      expect(d).toMatchObject({ kind: 'allow' });
      expect(d).not.toHaveProperty('replay');
    }
  });

  it.each([
    ['no jti', undefined],
    ['an empty jti', ''],
    ['a number as jti', 42],
  ])('denies a single-use token with %s: 401 jti_missing', async (_name, value) => {
    const d = await check('/orders', await signToken(onceKey, { iss: ONCE, jti: value }));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'jti_missing', replay: 'jti_missing' });
  });

  it('scopes jti values by issuer: two issuers may use the same jti', async () => {
    const shared = jti();
    expect(await check('/named/a', await signToken(key, { jti: shared }))).toMatchObject({ kind: 'allow' });
    expect(await check('/orders', await signToken(onceKey, { iss: ONCE, jti: shared }))).toMatchObject({ kind: 'allow' });
  });

  it('refuses a second token that reuses a consumed jti, even though the token string differs', async () => {
    const id = jti();
    expect(await check('/orders', await signToken(onceKey, { iss: ONCE, jti: id, sub: 'a' }))).toMatchObject({ kind: 'allow' });
    expect(await check('/orders', await signToken(onceKey, { iss: ONCE, jti: id, sub: 'b' }))).toMatchObject({ reason: 'token_replayed' });
  });
});

describe('only a token that passed every other check consumes its jti (jwtproxy#76)', () => {
  it.each([
    ['a forged signature (same kid, another key)', (id: string) => signToken(otherKey, { iss: ONCE, jti: id }), 'signature_invalid'],
    ['an unsigned token', async (id: string) => forge({ alg: 'none', kid: 'o1' }, defaultPayload({ iss: ONCE, jti: id }), 'none'), 'token_malformed'],
    ['a wrong audience', (id: string) => signToken(onceKey, { iss: ONCE, aud: 'other', jti: id }), 'audience_mismatch'],
    ['an expired token', (id: string) => signToken(onceKey, { iss: ONCE, exp: NOW_S - 3600, jti: id }), 'token_expired'],
  ])('%s burns nothing: the real token with that jti still works once', async (_name, attack, reason) => {
    const id = jti();
    // The attacker's token carries the jti of a real token it wants to burn.
    const bad = await attack(id);
    const before = store().size;
    for (let i = 0; i < 3; i++) expect(await check('/orders', bad)).toMatchObject({ kind: 'deny', reason });
    expect(store().size).toBe(before);
    const real = await signToken(onceKey, { iss: ONCE, jti: id });
    expect(await check('/orders', real)).toMatchObject({ kind: 'allow', replay: 'fresh' });
    expect(await check('/orders', real)).toMatchObject({ reason: 'token_replayed' });
  });

  it('a token that fails the route requirement burns nothing', async () => {
    const id = jti();
    expect(await check('/payments/1', await signToken(key, { jti: id, scope: 'read' }))).toMatchObject({ reason: 'scope_missing' });
    expect(await check('/payments/1', await signToken(key, { jti: id, scope: 'pay' }))).toMatchObject({ kind: 'allow', replay: 'fresh' });
  });

  it('a verified-token cache hit still consumes: a token cached before its first use is allowed once', async () => {
    const token = await signToken(onceKey, { iss: ONCE, jti: jti() });
    // Verified twice on a route whose requirement it fails: now it is in the verified-token cache, still unused.
    for (let i = 0; i < 2; i++) expect(await check('/payments/1', token)).toMatchObject({ reason: 'scope_missing' });
    const hits = core.verifier.cache.stats.hits;
    expect(await check('/orders', token)).toMatchObject({ kind: 'allow', replay: 'fresh' });
    expect(await check('/orders', token)).toMatchObject({ reason: 'token_replayed' });
    expect(core.verifier.cache.stats.hits).toBe(hits + 2);
  });
});

describe('key lifetime', () => {
  it('keeps a jti until exp plus leeway, and the store forgets it afterwards', async () => {
    const start = clock.t;
    try {
      const token = await signToken(onceKey, { iss: ONCE, jti: jti(), exp: NOW_S + 60 });
      expect(await check('/orders', token)).toMatchObject({ kind: 'allow' });
      clock.t = start + 60_000 + 30_000 - 1; // exp + leeway (30s) - 1 ms: still valid, still consumed
      expect(await check('/orders', token)).toMatchObject({ reason: 'token_replayed' });
      const size = store().size;
      clock.t = start + 60_000 + 30_000 + 2000; // past exp + leeway: the token itself is expired now
      expect(await check('/orders', token)).toMatchObject({ reason: 'token_expired' });
      await check('/orders', await signToken(onceKey, { iss: ONCE, jti: jti(), exp: NOW_S + 3600 }));
      expect(store().size).toBeLessThan(size + 1);
    } finally {
      clock.t = start;
    }
  });
});

describe('readiness', () => {
  it('reports the store and which issuers are single-use in /readyz details', () => {
    expect(core.readiness.isReady()).toBe(true);
    expect(core.readiness.details?.()).toMatchObject({
      issuers: [{ issuer: ISSUER, single_use: false, ready: true }, { issuer: ONCE, single_use: true, ready: true }],
      replay_store: { kind: 'memory', ready: true, on_store_error: 'deny', blocks_readiness: true, single_use_rules: ['payments', 'policy one-shot'] },
    });
  });

  it('has no replay store at all when nothing is single-use', async () => {
    const plain = await startCore(testConfig({}, { jwks: jwksOf(key) }));
    expect(plain.replay).toBeNull();
    expect(plain.readiness.details?.()).not.toHaveProperty('replay_store');
  });
});

describe('portcullis explain', () => {
  it('says the jti would be consumed, and never consumes it', async () => {
    const { mkdtempSync, writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-explain-'));
    writeFileSync(join(dir, 'c.yaml'), JSON.stringify({ workers: 1, issuers: [{ issuer: ONCE, audiences: ['api.test'], jwks: jwksOf(onceKey), replay: true }] }));
    const token = await signToken(onceKey, { iss: ONCE, jti: jti(), iat: Math.floor(Date.now() / 1000) - 10, exp: Math.floor(Date.now() / 1000) + 600 });
    for (let i = 0; i < 2; i++) {
      let out = '';
      const code = await runExplain(['--config', join(dir, 'c.yaml'), token], { out: (t) => (out += t), err: (t) => (out += t) });
      expect(out).toContain('would be consumed now (explain never consumes it)');
      expect(out).not.toContain('token_replayed');
      expect(code).toBe(0);
    }
  });
});
