/**
 * A reload builds the next core from the running one: what it keeps (key sources, loaded keys, cached tokens) and
 * what stops at once (removed issuers' tokens, remembered failures), against a real JWKS server.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createCore, retire, type Core, type Runtime } from '../src/app.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, signToken, type TestKey } from './support/tokens.ts';
import { startJwksServer, type JwksServer } from './support/jwks-server.ts';
import { bearer, fixedNow, request, testConfig } from './support/core.ts';

const OTHER = 'https://other.test/';
let servers: JwksServer[] = [];
let cores: Core[] = [];
afterEach(async () => {
  cores.forEach((c) => c.stop());
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
  cores = [];
});

async function idp(key: TestKey): Promise<JwksServer> {
  const s = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
  servers.push(s);
  return s;
}

const watches = { opened: [] as string[], closed: [] as string[] };
const runtime: Runtime = {
  fetch: (u, i) => fetch(u, i),
  now: fixedNow,
  watch: (path) => {
    watches.opened.push(path);
    return () => watches.closed.push(path);
  },
};

function config(issuers: { issuer: string; url: string; audiences?: string[] }[]) {
  return testConfig({ issuers: issuers.map((i) => ({ issuer: i.issuer, jwks_uri: i.url, audiences: i.audiences ?? [AUDIENCE] })) });
}

async function core(cfg: ReturnType<typeof config>, previous?: Core): Promise<Core> {
  const c = createCore(cfg, runtime, previous);
  cores.push(c);
  await c.start();
  if (previous) retire(previous, c);
  return c;
}

const check = (c: Core, token: string) => c.authorizer.check(request({ headers: bearer(token) }));

describe('createCore with the running core', () => {
  it('keeps an unchanged issuer: same key source, no JWKS fetch, cached tokens still answered from the cache', async () => {
    const key = await makeKey('ES256', 'k1');
    const server = await idp(key);
    const first = await core(config([{ issuer: ISSUER, url: server.url }]));
    const token = await signToken(key);
    for (let i = 0; i < 2; i++) expect((await check(first, token)).kind).toBe('allow'); // admitted on the second
    const fetches = server.fetches;
    const next = await core(testConfig({ realm: 'changed', issuers: [{ issuer: ISSUER, jwks_uri: server.url, audiences: [AUDIENCE] }] }), first);
    expect(next.sources[0]).toBe(first.sources[0]);
    const hits = next.verifier.cache.stats.hits;
    expect((await check(next, token)).kind).toBe('allow');
    expect(next.verifier.cache.stats.hits).toBe(hits + 1);
    expect(server.fetches).toBe(fetches);
  });

  it('checks cached tokens again when the issuer changed but its keys did not (no fetch): a dropped audience denies at once', async () => {
    const key = await makeKey('ES256', 'k1');
    const server = await idp(key);
    const first = await core(config([{ issuer: ISSUER, url: server.url, audiences: [AUDIENCE, 'old'] }]));
    const token = await signToken(key, { aud: 'old' });
    for (let i = 0; i < 2; i++) expect((await check(first, token)).kind).toBe('allow');
    const fetches = server.fetches;
    const next = await core(config([{ issuer: ISSUER, url: server.url, audiences: [AUDIENCE] }]), first);
    expect(next.sources[0]).toBe(first.sources[0]);
    expect(await check(next, token)).toMatchObject({ kind: 'deny', reason: 'audience_mismatch' });
    expect(server.fetches).toBe(fetches);
  });

  it('stops accepting the tokens of a removed issuer at once, even cached ones', async () => {
    const key = await makeKey('ES256', 'k1');
    const [a, b] = [await idp(key), await idp(key)];
    const first = await core(config([{ issuer: ISSUER, url: a.url }, { issuer: OTHER, url: b.url }]));
    const token = await signToken(key);
    for (let i = 0; i < 2; i++) expect((await check(first, token)).kind).toBe('allow');
    const next = await core(config([{ issuer: OTHER, url: b.url }]), first);
    expect(await check(next, token)).toMatchObject({ kind: 'deny', reason: 'issuer_unknown' });
  });

  it('builds a new key source when the key location changed, and forgets failures remembered under the old config', async () => {
    const key = await makeKey('ES256', 'k1');
    const [a, b] = [await idp(key), await idp(key)];
    const first = await core(config([{ issuer: ISSUER, url: a.url }]));
    const stranger = await signToken(key, { iss: OTHER });
    expect(await check(first, stranger)).toMatchObject({ kind: 'deny', reason: 'issuer_unknown' }); // remembered as a permanent failure
    const next = await core(config([{ issuer: ISSUER, url: b.url }, { issuer: OTHER, url: b.url }]), first);
    expect(next.sources[0]).not.toBe(first.sources[0]);
    expect(b.fetches).toBe(2);
    expect((await check(next, stranger)).kind).toBe('allow');
  });

  it('keeps the replay store across a reload: a single-use token consumed before it stays refused after it', async () => {
    const key = await makeKey('ES256', 'k1');
    const server = await idp(key);
    const single = (audiences: string[]) => testConfig({ workers: 1, replay: { store: 'memory' }, issuers: [{ issuer: ISSUER, jwks_uri: server.url, audiences, replay: true }] });
    const first = await core(single([AUDIENCE]));
    const token = await signToken(key, { jti: 'once' });
    expect((await check(first, token)).kind).toBe('allow');
    const next = await core(single([AUDIENCE, 'more']), first);
    expect(next.replay?.store).toBe(first.replay?.store);
    expect(await check(next, token)).toMatchObject({ kind: 'deny', reason: 'token_replayed' });
  });

  it("stops a removed or replaced issuer's jwks_file watch, and keeps an unchanged one's", async () => {
    watches.opened.length = 0;
    watches.closed.length = 0;
    const { mkdtempSync, writeFileSync, rmSync } = await import('node:fs');
    const dir = mkdtempSync(`${(await import('node:os')).tmpdir()}/portcullis-app-`);
    const file = (name: string) => `${dir}/${name}.json`;
    const key = await makeKey('ES256', 'k1');
    for (const n of ['a', 'b']) writeFileSync(file(n), JSON.stringify(jwksOf(key)));
    try {
      const files = (names: string[]) => testConfig({ issuers: names.map((n) => ({ issuer: `https://${n}.test/`, jwks_file: file(n), audiences: [AUDIENCE] })) });
      const first = await core(files(['a', 'b']));
      expect(watches.opened).toEqual([file('a'), file('b')]);
      await core(files(['a']), first);
      expect(watches.closed).toEqual([file('b')]);
      expect(watches.opened).toHaveLength(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
