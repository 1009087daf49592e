/**
 * The cached fast path answers exactly what the full path answers. One real core behind two real forward-auth
 * listeners: one calls the authorizer as the service does (a token seen twice is answered from the cache, with a shared
 * allow, a shared rendering, headers read on demand from rawHeaders, the bind stage's plain-bearer shortcut); the other
 * calls it with `explain`, which verifies every token from scratch and builds every answer anew. Every request of the
 * table is sent three times to the first (first sight, second sight, cache hit) and must get, each time, the status,
 * headers and body the second gives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../../src/app.ts';
import type { Authorizer } from '../../../src/core/types.ts';
import type { CoreAuthorizer } from '../../../src/core/authorizer.ts';
import { startHttpServer, type RunningHttpServer } from '../../../src/transports/http/server.ts';
import { startCore, testConfig } from '../../support/core.ts';
import { jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../../support/tokens.ts';
import { jktOf } from '../../support/dpop.ts';
import { clientPki, rfc9440, x5tS256, type ClientPki } from '../../support/client-certs.ts';
import { send, type RawResponse } from './fixtures.ts';

let key: TestKey;
let core: Core;
let pki: ClientPki;
let now = NOW_S * 1000;
const servers: { fast?: RunningHttpServer; full?: RunningHttpServer } = {};
const tokens: Record<string, string> = {};

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  pki = clientPki(NOW_S * 1000);
  const config = testConfig({
    workers: 1,
    excludes: ['/public/**'],
    identity_headers: { sub: 'x-auth-subject', email: 'x-auth-email', 'org.name': 'x-auth-org' },
    client_certificate: { header: 'client-cert', identity_headers: { thumbprint: 'x-client-thumbprint' } },
    routes: [
      { name: 'open', match: { paths: ['/open/**'] }, anonymous: 'optional' },
      { name: 'admin', match: { paths: ['/admin/**'] }, require: { scopes: ['admin'] } },
      { name: 'cel', match: { paths: ['/cel/**'] }, require: { when: '"buyer" in claims.roles' } },
      { name: 'bound', match: { paths: ['/bound/**'] }, require: { sender_constrained: true } },
    ],
  }, { jwks: jwksOf(key) });
  core = await startCore(config, () => now);
  // explain (a no-op here) takes the full path: no cache, every check from scratch, every answer built anew.
  const explaining = core.authorizer as CoreAuthorizer;
  const full: Authorizer = { check: (request) => explaining.check(request, () => {}) };
  const common = { address: '127.0.0.1:0', config, readiness: core.readiness } as const;
  servers.fast = await startHttpServer({ ...common, authorizer: core.authorizer });
  servers.full = await startHttpServer({ ...common, authorizer: full });
  const sign = (claims: Record<string, unknown>) => signToken(key, claims);
  Object.assign(tokens, {
    plain: await sign({ email: 'alice@example.com' }),
    nested: await sign({ org: { name: 'acme', id: 7 }, email: 'bob@example.com' }),
    admin: await sign({ scope: 'read admin' }),
    buyer: await sign({ roles: ['buyer'] }),
    expired: await sign({ exp: NOW_S - 3600 }),
    otherAudience: await sign({ aud: 'internal' }),
    dpopBound: await sign({ cnf: { jkt: await jktOf(key) } }),
    certBound: await sign({ cnf: { 'x5t#S256': x5tS256(pki.alice) } }),
    shortLived: await sign({ exp: NOW_S + 30 }),
  });
});
afterAll(async () => {
  await Promise.all([servers.fast?.close(), servers.full?.close()]);
  core?.stop();
});

type Headers = [string, string][];
const forwarded = (uri: string | undefined, method = 'GET'): Headers => [
  ['X-Forwarded-Method', method],
  ...(uri === undefined ? [] : [['X-Forwarded-Uri', uri] as [string, string]]),
  ['X-Forwarded-Host', 'api.test'],
  ['X-Forwarded-Proto', 'https'],
  ['X-Forwarded-For', '203.0.113.7'],
];
const bearer = (name: string): Headers => [['Authorization', `Bearer ${tokens[name]}`]];

/** What a proxy sees of an answer: everything but node's own per-connection headers. */
function answer(r: RawResponse): { status: number; headers: Record<string, readonly string[]>; body: string } {
  const headers = Object.fromEntries(Object.entries(r.headers).filter(([n]) => !['date', 'connection', 'keep-alive'].includes(n)));
  return { status: r.status, headers, body: r.body };
}

async function both(headers: () => Headers): Promise<{ fast: ReturnType<typeof answer>[]; full: ReturnType<typeof answer> }> {
  const fast = [];
  for (let i = 0; i < 3; i++) fast.push(answer(await send(servers.fast!.url, { method: 'GET', path: '/auth', headers: headers() })));
  const full = answer(await send(servers.full!.url, { method: 'GET', path: '/auth', headers: headers() }));
  return { fast, full };
}

const CASES: readonly [string, () => Headers, number, string?][] = [
  ['a cached allow', () => [...forwarded('/orders?page=2'), ...bearer('plain')], 200],
  ['identity headers from nested claims', () => [...forwarded('/orders'), ...bearer('nested')], 200],
  ['a client spoofing an identity header', () => [...forwarded('/orders'), ['X-Auth-Subject', 'mallory'], ['x-auth-org', 'evil'], ...bearer('plain')], 200],
  ['an anonymous request on an optional route', () => forwarded('/open/page'), 200],
  ['a token on an optional route', () => [...forwarded('/open/page'), ...bearer('plain')], 200],
  ['an excluded path', () => [...forwarded('/public/app.js'), ...bearer('plain')], 200],
  ['a CORS preflight', () => [...forwarded('/orders', 'OPTIONS'), ['Origin', 'https://app.test'], ['Access-Control-Request-Method', 'POST']], 200],
  ['no token', () => forwarded('/orders'), 401, 'token_missing'],
  ['an expired token', () => [...forwarded('/orders'), ...bearer('expired')], 401, 'token_expired'],
  ['a token for another audience', () => [...forwarded('/orders'), ...bearer('otherAudience')], 401, 'audience_mismatch'],
  ['two distinct tokens', () => [...forwarded('/orders'), ...bearer('plain'), ...bearer('admin')], 401, 'token_ambiguous'],
  ['the same token twice', () => [...forwarded('/orders'), ...bearer('plain'), ['authorization', `Bearer ${tokens.plain}`]], 200],
  ['no original URI', () => [...forwarded(undefined), ...bearer('plain')], 403, 'original_request_missing'],
  ['a repeated original method', () => [...forwarded('/orders'), ['x-forwarded-method', 'POST'], ...bearer('plain')], 403, 'original_request_missing'],
  ['an ambiguous path', () => [...forwarded('/admin/%2e%2e/orders'), ...bearer('plain')], 403, 'path_ambiguous'],
  ['a missing scope', () => [...forwarded('/admin/users'), ...bearer('plain')], 403, 'scope_missing'],
  ['a granted scope', () => [...forwarded('/admin/users'), ...bearer('admin')], 200],
  ['a CEL rule that does not hold', () => [...forwarded('/cel/cart'), ...bearer('plain')], 403, 'requirement_not_met'],
  ['a CEL rule that holds', () => [...forwarded('/cel/cart'), ...bearer('buyer')], 200],
  ['a bearer token where a bound one is required', () => [...forwarded('/bound/x'), ...bearer('plain')], 401, 'token_not_sender_constrained'],
  ['a DPoP-bound token sent as a bearer token', () => [...forwarded('/orders'), ...bearer('dpopBound')], 401, 'dpop_binding_mismatch'],
  ['a DPoP proof beside a bearer token', () => [...forwarded('/orders'), ...bearer('plain'), ['DPoP', 'x.y.z']], 401, 'dpop_proof_invalid'],
  ['an empty DPoP header beside a bearer token', () => [...forwarded('/orders'), ...bearer('plain'), ['dpop', ' ']], 200],
  ['a certificate-bound token with its certificate', () => [...forwarded('/bound/x'), ...bearer('certBound'), ['Client-Cert', rfc9440(pki.alice)]], 200],
  ['a certificate-bound token without a certificate', () => [...forwarded('/orders'), ...bearer('certBound')], 401],
  ['a certificate-bound token with another certificate', () => [...forwarded('/orders'), ...bearer('certBound'), ['client-cert', rfc9440(pki.mallory)]], 401],
  ['a plain token with a client certificate (certificate identity headers)', () => [...forwarded('/orders'), ...bearer('plain'), ['client-cert', rfc9440(pki.alice)]], 200],
];

describe('the cached fast path', () => {
  it.each(CASES)('answers %s as the full path does', async (_name, headers, status, reason) => {
    const { fast, full } = await both(headers);
    expect(full.status).toBe(status);
    if (reason !== undefined) expect(JSON.parse(full.body)).toMatchObject({ reason });
    for (const answer of fast) expect(answer).toEqual(full);
  });

  it('takes the fast path: the third sight of a token is a cache hit', async () => {
    const hits = core.verifier.cache.stats.hits;
    await both(() => [...forwarded('/orders'), ...bearer('admin')]);
    expect(core.verifier.cache.stats.hits).toBeGreaterThan(hits);
  });

  it('sets identity headers from nested claims and never passes a client value through', async () => {
    const { fast } = await both(() => [...forwarded('/orders'), ['x-auth-org', 'evil'], ['X-Auth-Subject', 'mallory'], ...bearer('nested')]);
    expect(fast[2]!.headers).toMatchObject({ 'x-auth-org': ['acme'], 'x-auth-subject': ['alice'], 'x-auth-email': ['bob@example.com'] });
  });

  it('rechecks exp on a cache hit: a cached token that expires is denied like an uncached one', async () => {
    const headers = () => [...forwarded('/orders'), ...bearer('shortLived')];
    expect((await both(headers)).fast.map((a) => a.status)).toEqual([200, 200, 200]);
    now = (NOW_S + 3600) * 1000;
    try {
      const { fast, full } = await both(headers);
      expect(JSON.parse(full.body)).toMatchObject({ reason: 'token_expired' });
      for (const answer of fast) expect(answer).toEqual(full);
    } finally {
      now = NOW_S * 1000;
    }
  });
});
