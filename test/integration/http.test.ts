/**
 * The real service over its HTTP listener, no proxy in between: the forward-auth answers a proxy acts on (2xx copies
 * identity headers, anything else goes to the client), the health endpoints, and the trust rule — the original request
 * is read only from the configured header family, never from our own request line or query.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IDENTITY_HEADERS, REALM_CHALLENGE, startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { defaultPayload, forge, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';
import { send, type RawResponse } from '../transports/http/fixtures.ts';

const EMAIL = 'alice@example.test';
type Headers = readonly (readonly [string, string])[];

const forwarded = (uri: string, method = 'GET'): Headers => [['X-Forwarded-Method', method], ['X-Forwarded-Uri', uri], ['X-Forwarded-Host', 'api.test'], ['X-Forwarded-Proto', 'https']];
const original = (uri: string, method = 'GET'): Headers => [['X-Original-Method', method], ['X-Original-URI', uri], ['X-Original-Host', 'api.test'], ['X-Original-Proto', 'https']];
const bearer = (token: string): Headers => [['Authorization', `Bearer ${token}`]];

function get(p: TestPortcullis, path: string, headers: Headers = []): Promise<RawResponse> {
  return send(p.httpUrl, { method: 'GET', path, headers });
}

function expectIdentityCleared(res: RawResponse): void {
  for (const name of IDENTITY_HEADERS) expect(res.headers[name], name).toEqual(['']);
}

describe('forward auth over HTTP, x-forwarded mode (Caddy, Traefik)', () => {
  let p: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    key = await makeKey('ES256', 'k1');
    p = await startTestPortcullis({ key, originalRequest: 'x-forwarded' });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('allows a valid token with 200, an empty body, no-store, and every identity header', async () => {
    const res = await get(p, '/auth', [...forwarded('/orders/7'), ...bearer(await signToken(key, { email: EMAIL }))]);
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['cache-control']).toEqual(['no-store']);
    expect(res.headers['x-auth-subject']).toEqual(['alice']);
    expect(res.headers['x-auth-email']).toEqual([EMAIL]);
  });

  it('answers an identity header whose claim is missing as present and empty, so a copy-header proxy cannot pass the client\'s', async () => {
    const res = await get(p, '/auth', [...forwarded('/orders/7'), ...bearer(await signToken(key)), ['X-Auth-Email', 'mallory@evil.test']]);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-subject']).toEqual(['alice']);
    expect(res.headers['x-auth-email']).toEqual(['']);
  });

  it('reads the token from the access_token cookie', async () => {
    const res = await get(p, '/auth', [...forwarded('/orders/7'), ['Cookie', `a=b; access_token=${await signToken(key, { sub: 'carol' })}`]]);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-subject']).toEqual(['carol']);
  });

  it('denies a request without a token with 401, the bare realm challenge, a JSON body and every identity header empty', async () => {
    const res = await get(p, '/auth', forwarded('/orders/7'));
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toEqual([REALM_CHALLENGE]);
    expect(res.headers['content-type']).toEqual(['application/json']);
    expect(res.headers['cache-control']).toEqual(['no-store']);
    expect(JSON.parse(res.body)).toEqual({ error: 'unauthorized', reason: 'token_missing', message: 'no token in the request' });
    expectIdentityCleared(res);
  });

  it.each([
    { name: 'an expired token', token: () => signToken(key, { iat: NOW_S - 7200, exp: NOW_S - 3600 }), reason: 'token_expired' },
    { name: 'a token for another audience', token: () => signToken(key, { aud: ['other.test'] }), reason: 'audience_mismatch' },
    { name: 'a token with a forged signature', token: async () => forge({ alg: 'ES256', kid: 'k1' }, defaultPayload(), { key: (await makeKey('ES256', 'k1')).privateKey, alg: 'ES256' }), reason: 'signature_invalid' },
    { name: 'an unsigned token', token: () => forge({ alg: 'none' }, defaultPayload(), 'none'), reason: 'token_malformed' },
    { name: 'a token from an unknown issuer', token: () => signToken(key, { iss: 'https://idp.test' }), reason: 'issuer_unknown' },
  ])('denies $name with 401 error="invalid_token" and reason $reason', async ({ token, reason }) => {
    const res = await get(p, '/auth', [...forwarded('/orders/7'), ...bearer(await token())]);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']?.[0]).toMatch(/^Bearer realm="portcullis", error="invalid_token", error_description="[^"]+"$/);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'invalid_token', reason });
    expectIdentityCleared(res);
  });

  it.each([
    { name: 'no X-Forwarded-Uri', headers: [['X-Forwarded-Method', 'GET']] as Headers },
    { name: 'no X-Forwarded-Method', headers: [['X-Forwarded-Uri', '/public/x']] as Headers },
    { name: 'two X-Forwarded-Uri', headers: [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', '/public/x'], ['X-Forwarded-Uri', '/admin']] as Headers },
    { name: 'only the X-Original-* family', headers: original('/public/x') },
  ])('answers 403 original_request_missing, even for a valid token, when the proxy sent $name', async ({ headers }) => {
    const res = await get(p, '/auth', [...headers, ...bearer(await signToken(key))]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ error: 'forbidden', reason: 'original_request_missing', message: 'The proxy did not send the original request method and URI.' });
    expectIdentityCleared(res);
  });

  it('lets an excluded path through without a token and with every identity header empty', async () => {
    const res = await get(p, '/auth', [...forwarded('/public/x'), ['X-Auth-Subject', 'mallory']]);
    expect(res.status).toBe(200);
    expectIdentityCleared(res);
  });

  it('decides on X-Forwarded-Uri and ignores X-Original-URI in x-forwarded mode', async () => {
    const res = await get(p, '/auth', [...forwarded('/admin'), ...original('/public/x')]);
    expect(res.status).toBe(401);
  });

  // Caddy appends the client's query to the forward_auth uri: our own query must never change the decision.
  it.each([
    { ownQuery: '?uri=/public/x', uri: '/admin', status: 401 },
    { ownQuery: '?/public/x', uri: '/admin', status: 401 },
    { ownQuery: '?x-forwarded-uri=%2Fhealthz', uri: '/admin', status: 401 },
    { ownQuery: '?admin=1', uri: '/public/x', status: 200 },
  ])('ignores its own query $ownQuery and decides on X-Forwarded-Uri $uri', async ({ ownQuery, uri, status }) => {
    const res = await get(p, `/auth${ownQuery}`, forwarded(uri));
    expect(res.status).toBe(status);
  });

  it('answers /healthz and /readyz with 200 once keys are loaded, query or not', async () => {
    for (const path of ['/healthz', '/healthz?probe=1']) {
      const res = await get(p, path);
      expect(res.status).toBe(200);
      expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
    }
    const ready = await get(p, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'ready' });
  });

  it('answers 404 for any other path of its own', async () => {
    expect((await get(p, '/auth/x', forwarded('/public/x'))).status).toBe(404);
  });
});

describe('forward auth over HTTP, x-original mode (nginx)', () => {
  let p: TestPortcullis;
  let key: TestKey;

  beforeAll(async () => {
    key = await makeKey('EdDSA', 'ed');
    p = await startTestPortcullis({ key, originalRequest: 'x-original' });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('allows a valid token named by X-Original-*', async () => {
    const res = await get(p, '/auth', [...original('/orders/7', 'POST'), ...bearer(await signToken(key, { email: EMAIL }))]);
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-subject']).toEqual(['alice']);
    expect(res.headers['x-auth-email']).toEqual([EMAIL]);
  });

  it.each([
    { name: 'X-Forwarded-* alone, naming an excluded path, is no original request', headers: forwarded('/public/x'), status: 403 },
    { name: 'X-Forwarded-Uri naming an excluded path does not exclude X-Original-URI /admin', headers: [...original('/admin'), ...forwarded('/public/x')], status: 401 },
    { name: 'X-Forwarded-Uri naming /admin does not protect X-Original-URI /public/x', headers: [...original('/public/x'), ...forwarded('/admin')], status: 200 },
    { name: 'X-Forwarded-Method OPTIONS with CORS headers is no preflight', headers: [...original('/admin', 'GET'), ['X-Forwarded-Method', 'OPTIONS'], ['Origin', 'https://a.example'], ['Access-Control-Request-Method', 'GET']] as Headers, status: 401 },
    { name: 'X-Original-Method OPTIONS with CORS headers is a preflight', headers: [...original('/admin', 'OPTIONS'), ['Origin', 'https://a.example'], ['Access-Control-Request-Method', 'GET']] as Headers, status: 200 },
  ])('ignores X-Forwarded-*: $name', async ({ headers, status }) => {
    const res = await get(p, '/auth', headers);
    expect(res.status).toBe(status);
  });
});

describe('the HTTP listener while the JWKS cannot be loaded', () => {
  let p: TestPortcullis;

  beforeAll(async () => {
    // cooldown 0 s: the background retry after the failed first load comes about a second later.
    p = await startTestPortcullis({ jwks: { kind: 'status', status: 503 }, config: { jwks: { cooldown: '0s' } } });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('answers /readyz 503 and a token 503 keys_unavailable until the keys load, then /readyz 200 and the token is allowed', async () => {
    const token = await signToken(p.key);
    const notReady = await get(p, '/readyz');
    expect(notReady.status).toBe(503);
    expect(JSON.parse(notReady.body)).toMatchObject({ status: 'not_ready' });
    expect((await get(p, '/healthz')).status).toBe(200);

    const unavailable = await get(p, '/auth', [...forwarded('/orders/7'), ...bearer(token)]);
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers['retry-after']).toEqual(['5']);
    expect(JSON.parse(unavailable.body)).toMatchObject({ error: 'unavailable', reason: 'keys_unavailable' });
    expectIdentityCleared(unavailable);
    expect((await get(p, '/readyz')).status).toBe(503);

    // No request asks for the keys now: the background retry alone must load them.
    p.publish(p.key);
    await expect.poll(async () => (await get(p, '/readyz')).status, { timeout: 10_000, interval: 100 }).toBe(200);
    expect(p.keyEvents.at(-1)).toMatchObject({ type: 'loaded', keys: 1 });
    const allowed = await get(p, '/auth', [...forwarded('/orders/7'), ...bearer(token)]);
    expect(allowed.status).toBe(200);
    expect(allowed.headers['x-auth-subject']).toEqual(['alice']);
  });
});

describe('forward auth over HTTP on the real clock', () => {
  let p: TestPortcullis;

  beforeAll(async () => {
    p = await startTestPortcullis({ clock: 'real' });
  });
  afterAll(async () => {
    await p?.close();
  });

  const nowS = () => Math.floor(Date.now() / 1000);

  it.each([
    { name: 'a token issued now for five minutes is allowed', claims: () => ({ iat: nowS(), exp: nowS() + 300 }), status: 200, reason: undefined },
    { name: 'a token that expired an hour ago is refused', claims: () => ({ iat: nowS() - 7200, exp: nowS() - 3600 }), status: 401, reason: 'token_expired' },
    { name: 'a token issued an hour from now is refused', claims: () => ({ iat: nowS() + 3600, exp: nowS() + 7200 }), status: 401, reason: 'token_not_yet_valid' },
  ])('$name', async ({ claims, status, reason }) => {
    const res = await get(p, '/auth', [...forwarded('/orders/7'), ...bearer(await signToken(p.key, claims()))]);
    expect(res.status).toBe(status);
    if (reason !== undefined) expect(JSON.parse(res.body)).toMatchObject({ reason });
  });
});
