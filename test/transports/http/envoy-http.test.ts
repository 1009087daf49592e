/**
 * Envoy ext_authz HTTP mode (`http_service`) against the real service (real core, real JWKS server, real socket).
 * Each request is built exactly as Envoy's RawHttpClientImpl::check builds it (envoyproxy/envoy
 * source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc, read for this test):
 *   - the ORIGINAL method; `:path` = path_prefix + the original `:path` (raw, query included);
 *   - Host = the original `:authority`;
 *   - Content-Length: 0, Authorization, and only what `authorization_request.allowed_headers` adds (deploy/envoy/
 *     envoy-http.yaml lists cookie, accept, x-forwarded-proto, traceparent, …); repeated headers comma-merged.
 * and each answer is read as toResponse reads it: only 200 allows (allowed_upstream_headers are copied onto the
 * upstream request, `x-envoy-auth-headers-to-remove` names request headers to drop), 5xx is an error
 * (status_on_error), anything else is a deny whose status, body, WWW-Authenticate and Location reach the client.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig, ConfigError } from '../../../src/config/load.ts';
import { startTestPortcullis, type TestPortcullis } from '../../support/portcullis.ts';
import { makeKey, signToken, type TestKey } from '../../support/tokens.ts';
import { send, type RawResponse } from './fixtures.ts';
import { envoyOriginalPath } from '../../../src/transports/http/envoy-http.ts';
import { HEADERS_TO_REMOVE, renderDecision } from '../../../src/transports/http/render.ts';

const renderEnvoyDecision = (d: Parameters<typeof renderDecision>[0], names: readonly string[]) => renderDecision(d, names, 'envoy_http');

const PREFIX = '/envoy';
const LOGIN = 'https://login.test/start?rd={return_url}';

let portcullis: TestPortcullis;
let key: TestKey;

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  portcullis = await startTestPortcullis({
    key,
    config: {
      envoy_http: { path_prefix: PREFIX },
      login: { url: LOGIN, return_hosts: ['app.test', 'admin.app.test'] },
      routes: [
        { name: 'admin-host', match: { hosts: ['admin.app.test'] }, require: { scopes: ['admin'] } },
        { name: 'writes', match: { methods: ['POST', 'PUT', 'DELETE'] }, require: { scopes: ['write'] } },
        { name: 'tenants', match: { paths: ['/tenants/**'] }, identity_headers: { tenant: 'x-auth-tenant' } },
      ],
      upstream: { payload_header: 'x-jwt-payload', forward_token: false },
    },
  });
});
afterAll(async () => {
  await portcullis?.close();
});

interface EnvoyCheck {
  /** The original request as the client sent it to Envoy. */
  readonly method?: string;
  readonly path: string;
  readonly authority?: string;
  /** Original headers that allowed_headers lets through (already comma-merged, as Envoy sends them). */
  readonly headers?: readonly (readonly [string, string])[];
}

/** The authorization request Envoy's HTTP client sends for `check`. */
function envoy(check: EnvoyCheck): Promise<RawResponse> {
  return send(portcullis.httpUrl, {
    method: check.method ?? 'GET',
    path: `${PREFIX}${check.path}`,
    headers: [
      ['host', check.authority ?? 'app.test'],
      ['content-length', '0'],
      ['x-envoy-expected-rq-timeout-ms', '250'],
      ...(check.headers ?? []),
    ],
  });
}

const bearer = (token: string) => ['authorization', `Bearer ${token}`] as const;
const removed = (res: RawResponse) => (res.headers[HEADERS_TO_REMOVE]?.[0] ?? '').split(',').map((s) => s.trim()).filter(Boolean).sort();

describe('Envoy HTTP mode: allow (only 200)', () => {
  it('answers 200 with the identity headers Envoy copies via allowed_upstream_headers, and names the unset ones for removal', async () => {
    const res = await envoy({ path: '/orders/7?full=1', headers: [bearer(await signToken(key, { email: 'alice@example.test' }))] });
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-subject']).toEqual(['alice']);
    expect(res.headers['x-auth-email']).toEqual(['alice@example.test']);
    // x-auth-tenant belongs to another route and is unset: removed, so a client's own copy never reaches the app.
    // forward_token: false: the Authorization header is removed too.
    expect(removed(res)).toEqual(['authorization', 'x-auth-tenant']);
    expect(res.headers['cache-control']).toEqual(['no-store']);
  });

  it('forwards the verified payload as base64url JSON (upstream.payload_header)', async () => {
    const res = await envoy({ path: '/orders', headers: [bearer(await signToken(key, { sub: 'bob' }))] });
    const payload = JSON.parse(Buffer.from(res.headers['x-jwt-payload']?.[0] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(payload).toMatchObject({ sub: 'bob', iss: 'https://idp.test/' });
  });

  it('sets the per-rule identity header on its route only', async () => {
    const token = await signToken(key, { tenant: 'acme' });
    const onRoute = await envoy({ path: '/tenants/acme/users', headers: [bearer(token)] });
    expect(onRoute.headers['x-auth-tenant']).toEqual(['acme']);
    const elsewhere = await envoy({ path: '/orders', headers: [bearer(token)] });
    expect(elsewhere.headers['x-auth-tenant']).toBeUndefined();
    expect(removed(elsewhere)).toContain('x-auth-tenant');
  });

  it('removes the token cookie but keeps the other cookies (Cookie needs allowed_upstream_headers)', async () => {
    const token = await signToken(key);
    const res = await envoy({ path: '/orders', headers: [['cookie', `theme=dark; access_token=${token}; lang=en`]] });
    expect(res.status).toBe(200);
    expect(res.headers['cookie']).toEqual(['theme=dark; lang=en']);
    expect(removed(res)).not.toContain('cookie');
    const only = await envoy({ path: '/orders', headers: [['cookie', `access_token=${token}`]] });
    expect(only.headers['cookie']).toBeUndefined();
    expect(removed(only)).toContain('cookie');
  });

  it('lets an excluded path through without a token, removing every identity header', async () => {
    const res = await envoy({ path: '/public/logo.png' });
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-subject']).toBeUndefined();
    expect(removed(res)).toEqual(['x-auth-email', 'x-auth-subject', 'x-auth-tenant', 'x-jwt-payload']);
  });
});

describe('Envoy HTTP mode: what is authorized comes from the request line and Host', () => {
  it('authorizes the original method: a POST needs the write scope, a GET does not', async () => {
    const token = await signToken(key, { scope: 'read' });
    expect((await envoy({ method: 'GET', path: '/orders', headers: [bearer(token)] })).status).toBe(200);
    const post = await envoy({ method: 'POST', path: '/orders', headers: [bearer(token)] });
    expect(post.status).toBe(403);
    expect(JSON.parse(post.body)).toMatchObject({ reason: 'scope_missing' });
    expect(post.headers['www-authenticate']?.[0]).toContain('scope="write"');
    const writer = await signToken(key, { scope: 'write' });
    expect((await envoy({ method: 'DELETE', path: '/orders/7', headers: [bearer(writer)] })).status).toBe(200);
  });

  it('authorizes the original authority: the admin host needs the admin scope', async () => {
    const token = await signToken(key);
    expect((await envoy({ path: '/', authority: 'app.test', headers: [bearer(token)] })).status).toBe(200);
    const res = await envoy({ path: '/', authority: 'admin.app.test', headers: [bearer(token)] });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'scope_missing' });
  });

  it('strips exactly the prefix and judges the raw rest: encoded dot segments are never excluded', async () => {
    // Routes here match on paths, so an ambiguous path is refused outright (403 path_ambiguous), not just not excluded.
    const res = await envoy({ path: '/public/%2e%2e/admin' });
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'path_ambiguous' });
    expect((await envoy({ path: '/public//x?y=1' })).status).toBe(200);
  });

  it('ignores forwarding headers entirely: X-Forwarded-Uri / X-Original-URI cannot choose an excluded path', async () => {
    const res = await envoy({ path: '/orders', headers: [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/public/x'], ['x-original-uri', '/healthz']] });
    expect(res.status).toBe(401);
  });
});

describe('Envoy HTTP mode: deny (status, headers and body reach the client)', () => {
  it('answers no token with 401 and the bare challenge, no identity headers, JSON body with the reason', async () => {
    const res = await envoy({ path: '/orders', headers: [['accept', 'application/json']] });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toEqual(['Bearer realm="portcullis"']);
    expect(res.headers['content-type']).toEqual(['application/json']);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'unauthorized', reason: 'token_missing' });
    expect(res.headers['x-auth-subject']).toBeUndefined();
    expect(res.headers[HEADERS_TO_REMOVE]).toBeUndefined();
  });

  it('answers an invalid token with 401 invalid_token', async () => {
    const res = await envoy({ path: '/orders', headers: [bearer(await signToken(key, { aud: 'other.test' }))] });
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']?.[0]).toMatch(/error="invalid_token", error_description="audience mismatch/);
  });

  it('never allows two comma-merged Authorization headers (how Envoy sends repeated headers)', async () => {
    const [a, b] = [await signToken(key, { sub: 'a' }), await signToken(key, { sub: 'b' })];
    const res = await envoy({ path: '/orders', headers: [['authorization', `Bearer ${a},Bearer ${b}`]] });
    expect(res.status).toBe(401);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'token_ambiguous' });
  });

  it('redirects a browser navigation to the login page with the return URL from Host and X-Forwarded-Proto', async () => {
    const res = await envoy({ path: '/orders/7?tab=items', headers: [['accept', 'text/html'], ['x-forwarded-proto', 'http']] });
    expect(res.status).toBe(302);
    expect(res.headers['location']).toEqual([`https://login.test/start?rd=${encodeURIComponent('http://app.test/orders/7?tab=items')}`]);
    const https = await envoy({ path: '/orders', authority: 'app.test:8443', headers: [['accept', 'text/html']] });
    expect(https.headers['location']).toEqual([`https://login.test/start?rd=${encodeURIComponent('https://app.test:8443/orders')}`]);
  });

  it('gives a look-alike authority no return URL', async () => {
    const res = await envoy({ path: '/', authority: 'app.test.evil.com', headers: [['accept', 'text/html']] });
    expect(res.status).toBe(302);
    expect(res.headers['location']).toEqual(['https://login.test/start?rd=']);
  });

  it('answers HEAD with the deny status and no body', async () => {
    const res = await envoy({ method: 'HEAD', path: '/orders' });
    expect(res.status).toBe(401);
    expect(res.body).toBe('');
  });
});

describe('Envoy HTTP mode: routing on the HTTP listener', () => {
  it.each([
    ['/envoy/x', '/x'],
    ['/envoy/', '/'],
    ['/envoy//evil', '//evil'],
    ['/envoy*', '*'],
    ['/envoy', undefined],
    ['/envoyx/y', undefined],
    ['/envoy?x=1', undefined],
    ['/other/envoy/x', undefined],
  ])('%s → %s', (url, expected) => {
    expect(envoyOriginalPath(url, PREFIX)).toBe(expected);
  });

  it('answers 404 outside the prefix and keeps /auth, /healthz working', async () => {
    expect((await send(portcullis.httpUrl, { path: '/envoyx/orders' })).status).toBe(404);
    expect((await send(portcullis.httpUrl, { path: '/healthz' })).status).toBe(200);
    const fa = await send(portcullis.httpUrl, { path: '/auth', headers: [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/public/x']] });
    expect(fa.status).toBe(200);
  });

  it('refuses to render a header it cannot write (the handler then answers the 503 internal error, never an allow)', () => {
    const r = renderEnvoyDecision({ kind: 'allow', reason: 'token_valid', identity: [{ name: 'x-auth-subject', value: 'a' }] }, ['x-auth-subject']);
    expect(r.status).toBe(200);
    expect(() => renderEnvoyDecision({ kind: 'allow', reason: 'token_valid', identity: [{ name: 'bad name', value: 'a' }] }, [])).toThrow();
  });
});

describe('Envoy HTTP mode: keys unavailable', () => {
  it('answers 503 keys_unavailable, which Envoy turns into status_on_error', async () => {
    const broken = await startTestPortcullis({ jwks: { kind: 'status', status: 500 }, config: { envoy_http: { path_prefix: PREFIX } } });
    try {
      const k = await makeKey('ES256', 'k1');
      const res = await send(broken.httpUrl, { path: `${PREFIX}/orders`, headers: [['host', 'app.test'], ['authorization', `Bearer ${await signToken(k)}`]] });
      expect(res.status).toBe(503);
      expect(JSON.parse(res.body)).toMatchObject({ reason: 'keys_unavailable' });
    } finally {
      await broken.close();
    }
  });
});

describe('config: envoy_http and forward_auth.redirect_status', () => {
  const base = { issuers: [{ issuer: 'https://idp.test/', jwks: { keys: [{ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }] }, audiences: ['a'] }] };
  const problems = (extra: Record<string, unknown>): readonly string[] => {
    try {
      buildConfig({ ...base, ...extra }, 'test', process.cwd());
      return [];
    } catch (e) {
      if (e instanceof ConfigError) return e.problems;
      throw e;
    }
  };

  it('is off by default; redirect_status defaults to 302', () => {
    const c = buildConfig(base, 'test', process.cwd());
    expect(c.envoyHttp).toBeUndefined();
    expect(c.forwardAuth.endpoints).toEqual([{ path: '/auth', originalRequest: 'x-forwarded', redirectStatus: 302 }]);
    expect(buildConfig({ ...base, envoy_http: { path_prefix: '/ext-authz' } }, 'test', process.cwd()).envoyHttp).toEqual({ pathPrefix: '/ext-authz' });
    expect(buildConfig({ ...base, forward_auth: { redirect_status: 401 } }, 'test', process.cwd()).forwardAuth.endpoints[0]!.redirectStatus).toBe(401);
  });

  it.each([
    [{ envoy_http: { path_prefix: '/' } }, 'envoy_http.path_prefix: "/" must be a path like "/envoy"'],
    [{ envoy_http: { path_prefix: 'envoy' } }, 'envoy_http.path_prefix: "envoy" must be a path'],
    [{ envoy_http: { path_prefix: '/envoy/' } }, 'no trailing "/"'],
    [{ envoy_http: { path_prefix: '/a/../b' } }, 'must not contain "." or ".." segments'],
    [{ envoy_http: { path_prefix: '/e?x' } }, 'must be a path'],
    [{ envoy_http: {} }, 'envoy_http.path_prefix: required'],
    [{ envoy_http: { path_prefix: '/auth' } }, 'envoy_http.path_prefix: /auth would take over the forward_auth.path /auth'],
    [{ envoy_http: { path_prefix: '/x' }, forward_auth: { path: '/x/auth' } }, 'would take over the forward_auth.path /x/auth'],
    [{ envoy_http: { path_prefix: '/healthz' } }, 'would take over the reserved path /healthz'],
    [{ forward_auth: { redirect_status: 303 } }, 'forward_auth.redirect_status: must be 302 or 401, got 303'],
    [{ forward_auth: { redirect_status: '401' } }, 'forward_auth.redirect_status: must be 302 or 401, got "401"'],
  ])('refuses %j', (extra, message) => {
    expect(problems(extra).join('\n')).toContain(message);
  });
});
