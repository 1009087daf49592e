import { beforeAll, describe, expect, it } from 'vitest';
import { CoreAuthorizer } from '../../src/core/authorizer.ts';
import type { Verifier } from '../../src/core/verify.ts';
import type { Core } from '../../src/app.ts';
import { bearer, request, startCore, testConfig } from '../support/core.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

let key: TestKey;
let core: Core;
let valid: string;

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  core = await startCore(testConfig({ excludes: ['/healthz', '/public/**'] }, { jwks: jwksOf(key) }));
  valid = await signToken(key, { email: 'alice@example.com' });
});

const identity = (d: Awaited<ReturnType<Core['authorizer']['check']>>) => Object.fromEntries(d.identity.map((h) => [h.name, h.value]));

describe('CoreAuthorizer', () => {
  it('allows a valid token with identity headers and claims', async () => {
    const d = await core.authorizer.check(request({ headers: bearer(valid) }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_valid', issuer: 'https://idp.test/', claims: { sub: 'alice' } });
    expect(identity(d)).toEqual({ 'x-auth-subject': 'alice', 'x-auth-email': 'alice@example.com' });
  });

  it('denies a request without a token with 401 and a bare challenge', async () => {
    const d = await core.authorizer.check(request());
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'token_missing' });
    expect(d.kind === 'deny' && d.headers).toContainEqual(['www-authenticate', 'Bearer realm="portcullis"']);
    expect(identity(d)).toEqual({ 'x-auth-subject': undefined, 'x-auth-email': undefined });
  });

  it('denies an invalid token with 401 invalid_token', async () => {
    const d = await core.authorizer.check(request({ headers: bearer(await signToken(key, { aud: 'internal' })) }));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'audience_mismatch' });
    expect(d.kind === 'deny' && JSON.parse(d.body).message).toContain('expected one of ["api.test", "caddy"], got ["internal"]');
  });

  it.each([
    ['a CORS preflight', { method: 'OPTIONS', headers: { origin: 'https://app.test', 'access-control-request-method': 'POST' } }, 'cors_preflight'],
    ['an excluded exact path', { path: '/healthz' }, 'path_excluded'],
    ['an excluded glob path with a query', { path: '/public/app.js?v=3' }, 'path_excluded'],
  ])('lets %s through without a token and without identity', async (_name, req, reason) => {
    const d = await core.authorizer.check(request({ ...req, headers: { ...(req as { headers?: Record<string, string> }).headers, 'x-auth-subject': 'spoofed' } }));
    expect(d).toMatchObject({ kind: 'allow', reason });
    expect(identity(d)).toEqual({ 'x-auth-subject': undefined, 'x-auth-email': undefined });
  });

  it('gives no identity on an excluded path even when a valid token is sent', async () => {
    const d = await core.authorizer.check(request({ path: '/public/x', headers: bearer(valid) }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'path_excluded' });
    expect(identity(d)['x-auth-subject']).toBeUndefined();
  });

  it.each([
    ['OPTIONS without Origin', { method: 'OPTIONS', headers: { 'access-control-request-method': 'POST' } }],
    ['OPTIONS without Access-Control-Request-Method', { method: 'OPTIONS', headers: { origin: 'https://app.test' } }],
    ['OPTIONS with empty preflight headers', { method: 'OPTIONS', headers: { origin: '', 'access-control-request-method': ' ' } }],
    ['GET dressed as a preflight', { method: 'GET', headers: { origin: 'https://app.test', 'access-control-request-method': 'POST' } }],
    ['an encoded slash into an excluded prefix', { path: '/public%2F..%2Fadmin' }],
    ['a path parameter escaping an excluded prefix', { path: '/public/..;/admin' }],
    ['a backslash escaping an excluded prefix', { path: '/public\\..\\admin' }],
    ['double encoding', { path: '/public/%252e%252e/admin' }],
    ['a fragment pretending to be excluded', { path: '/admin#/public/x' }],
    ['a query pretending to be excluded', { path: '/admin?/public/x' }],
    ['an absolute-form target', { path: 'http://x/public/x' }],
    ['a near miss of an exact exclude', { path: '/healthz/../admin' }],
    ['dot segments that resolve into an excluded path', { path: '/admin/../public/x' }],
  ])('requires a token for %s', async (_name, req) => {
    const d = await core.authorizer.check(request(req as Parameters<typeof request>[0]));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'token_missing' });
  });

  it('requires a token for preflights when skip_preflight is off', async () => {
    const strict = await startCore(testConfig({ skip_preflight: false }, { jwks: jwksOf(key) }));
    const d = await strict.authorizer.check(request({ method: 'OPTIONS', headers: { origin: 'https://app.test', 'access-control-request-method': 'POST' } }));
    expect(d).toMatchObject({ kind: 'deny', reason: 'token_missing' });
  });

  it('withholds an identity claim carrying CR LF rather than injecting a header', async () => {
    const d = await core.authorizer.check(request({ headers: bearer(await signToken(key, { email: 'a@b\r\nx-admin: 1' })) }));
    expect(d.kind).toBe('allow');
    expect(identity(d)).toEqual({ 'x-auth-subject': 'alice', 'x-auth-email': undefined });
  });

  it('answers a deny, not an exception, when verification throws (a bug)', async () => {
    const broken = new CoreAuthorizer(testConfig({}, { jwks: jwksOf(key) }), { verify: () => Promise.reject(new Error('boom')) } as unknown as Verifier);
    const d = await broken.check(request({ headers: bearer(valid) }));
    expect(d).toMatchObject({ kind: 'deny', status: 503, reason: 'internal_error' });
  });

  it('answers keys_unavailable with 503 when the issuer keys cannot be loaded', async () => {
    const down = await startCore(testConfig({ jwks: { timeout: '200ms' } }, { jwks_uri: 'http://127.0.0.1:9/jwks.json' }));
    expect(down.readiness.isReady()).toBe(false);
    const d = await down.authorizer.check(request({ headers: bearer(valid) }));
    expect(d).toMatchObject({ kind: 'deny', status: 503, reason: 'keys_unavailable' });
    down.stop();
  });
});

describe('answers without a promise when nothing waits for I/O', () => {
  it('answers a token it has cached synchronously, with the same decision the verification gave', async () => {
    const token = await signToken(key, { email: 'sync@example.com' });
    const first = core.authorizer.check(request({ headers: bearer(token) }));
    expect(first).toBeInstanceOf(Promise);
    const verified = await first;
    await core.authorizer.check(request({ headers: bearer(token) })); // admitted to the cache on its second verification
    const hit = core.authorizer.check(request({ headers: bearer(token) }));
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toEqual({ ...verified, shared: true });
  });

  it('marks an answer shared only when its identity and claims are the cached objects every later request gets', async () => {
    const token = await signToken(key, { email: 'shared@example.com' });
    const once = await core.authorizer.check(request({ headers: bearer(token) }));
    const admitted = await core.authorizer.check(request({ headers: bearer(token) }));
    const hit = await core.authorizer.check(request({ headers: bearer(token) }));
    expect(once).toMatchObject({ kind: 'allow', shared: false });
    expect(admitted).toMatchObject({ kind: 'allow', shared: true });
    expect(hit).toMatchObject({ kind: 'allow', shared: true });
    if (admitted.kind !== 'allow' || hit.kind !== 'allow') throw new Error('allowed above');
    expect(hit.identity).toBe(admitted.identity);
    expect(hit.claims).toBe(admitted.claims);
  });

  it.each([
    ['a request without a token', request()],
    ['an excluded path', request({ path: '/healthz' })],
  ])('answers %s synchronously', (_name, req) => {
    expect(core.authorizer.check(req)).not.toBeInstanceOf(Promise);
  });

  it('looks a new token up in the cache once: one miss counted per request, as the metrics report it', async () => {
    const token = await signToken(key, { email: 'once@example.com' });
    const before = { ...core.verifier.cache.stats };
    await core.authorizer.check(request({ headers: bearer(token) }));
    expect(core.verifier.cache.stats.misses - before.misses).toBe(1);
    expect(core.verifier.cache.stats.hits - before.hits).toBe(0);
  });

  it('answers a token that failed for good synchronously from its second sight', async () => {
    const forged = `${valid.slice(0, -4)}AAAA`;
    expect(await core.authorizer.check(request({ headers: bearer(forged) }))).toMatchObject({ reason: 'signature_invalid' });
    const again = core.authorizer.check(request({ headers: bearer(forged) }));
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toMatchObject({ kind: 'deny', status: 401, reason: 'signature_invalid' });
  });

  it('still verifies in full, asynchronously, when explain asks what every check saw', async () => {
    const steps: string[] = [];
    await core.authorizer.check(request({ headers: bearer(valid) }));
    await core.authorizer.check(request({ headers: bearer(valid) }));
    const explained = (core.authorizer as CoreAuthorizer).check(request({ headers: bearer(valid) }), (s) => steps.push(s.check));
    expect(explained).toBeInstanceOf(Promise);
    expect(await explained).toMatchObject({ kind: 'allow' });
    expect(steps).toContain('signature');
  });
});
