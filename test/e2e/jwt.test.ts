/**
 * The whole chain, all real: client → caddy 2.6.2 (x-forwarded) / nginx 1.22 (x-original), each run from its deploy/
 * config → the real Portcullis (startPortcullis: config → key source → verifier → authorizer → HTTP listener) with
 * its keys on a real JWKS server → the recording upstream. Proves that what the app receives, and whether it receives
 * anything at all, is decided by a verified JWT and nothing the client can spell differently.
 *
 * Path tricks, as observed with these two proxies: neither normalizes the target it sends to the app or to us —
 * Caddy's X-Forwarded-Uri is Go's re-escaped request URI (`/public/%2e%2e/admin` stays encoded, a raw `#` becomes
 * `%23`), nginx's X-Original-URI is `$request_uri`, the raw target, and both pass the raw target to the app. So
 * Portcullis judges exactly the target the app gets; a target it cannot read unambiguously (encoded `/`, double
 * encoding, `;`, `\`, NUL) is never excluded. nginx itself refuses an encoded NUL with 400.
 */
import { describe, expect, it } from 'vitest';
import type { OriginalRequestHeaders } from '../../src/core/config.ts';
import { startTestPortcullis, REALM_CHALLENGE } from '../support/portcullis.ts';
import type { ProxyName } from '../support/proxies.ts';
import type { RecordedRequest } from '../support/upstream.ts';
import { useProxyStack } from '../support/proxy-stack.ts';
import { defaultPayload, forge, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';

interface ProxyCase {
  readonly proxy: ProxyName;
  readonly mode: OriginalRequestHeaders;
  /** What the app receives for an identity header the allow leaves unset (Caddy copies our empty header; nginx sends none). */
  readonly unset: readonly string[] | undefined;
}

const CASES: readonly ProxyCase[] = [
  { proxy: 'caddy', mode: 'x-forwarded', unset: [''] },
  { proxy: 'nginx', mode: 'x-original', unset: undefined },
];

const EMAIL = 'alice@example.test';

/** Both families, pointing at excluded paths: only the proxy may say which request is being authorized. */
const SPOOFED_ORIGINAL = [
  ['X-Forwarded-Method', 'GET'],
  ['X-Forwarded-Uri', '/public/x'],
  ['X-Original-Method', 'GET'],
  ['X-Original-URI', '/healthz'],
] as const;

describe.each(CASES)('JWT end to end through $proxy ($mode)', ({ proxy: proxyName, mode, unset }) => {
  let key: TestKey;
  let otherKey: TestKey;
  const stack = useProxyStack(proxyName, async () => {
    key = await makeKey('ES256', 'k1');
    otherKey = await makeKey('ES256', 'k1'); // same kid, different key: a signature the issuer never made
    const auth = await startTestPortcullis({ originalRequest: mode, key });
    return { auth, address: auth.httpAddress };
  });
  const { client, reached } = stack;

  function onlyRequest(): RecordedRequest {
    expect(reached(), stack.proxy.output()).toHaveLength(1);
    return reached()[0]!;
  }
  const bearer = (token: string) => ['Authorization', `Bearer ${token}`] as const;

  it.each([
    { source: 'an Authorization Bearer header', header: (t: string) => bearer(t) },
    { source: 'an access_token cookie', header: (t: string) => ['Cookie', `theme=dark; access_token=${t}`] as const },
  ])('lets a valid token in $source reach the app with the verified subject and email', async ({ header }) => {
    const token = await signToken(key, { email: EMAIL });
    const res = await client('GET', '/orders/7?full=1', [header(token)]);
    expect(res.status, stack.proxy.output()).toBe(200);
    const seen = onlyRequest();
    expect(seen.url).toBe('/orders/7?full=1');
    expect(seen.headers['x-auth-subject']).toEqual(['alice']);
    expect(seen.headers['x-auth-email']).toEqual([EMAIL]);
  });

  it('answers a request without a token with 401 and the bare realm challenge, and never reaches the app', async () => {
    const res = await client('GET', '/orders/7');
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toEqual([REALM_CHALLENGE]);
    expect(reached()).toHaveLength(0);
  });

  const INVALID: readonly { name: string; token: () => Promise<string> | string; says: RegExp }[] = [
    { name: 'an expired token', token: () => signToken(key, { iat: NOW_S - 7200, exp: NOW_S - 3600 }), says: /token expired at/ },
    { name: 'a token for another audience', token: () => signToken(key, { aud: 'other.test' }), says: /audience mismatch/ },
    {
      name: 'a token signed by a key the issuer never published',
      token: () => forge({ alg: 'ES256', kid: 'k1', typ: 'JWT' }, defaultPayload(), { key: otherKey.privateKey, alg: 'ES256' }),
      says: /signature verification failed/,
    },
    { name: 'an alg "none" token', token: () => forge({ alg: 'none', typ: 'JWT' }, defaultPayload(), 'none'), says: /base64url/ },
    {
      name: 'an alg "none" token with a signature segment',
      token: () => forge({ alg: 'none', typ: 'JWT' }, defaultPayload(), { hmacSecret: 'x' }),
      says: /algorithm 'none' is not allowed/,
    },
    { name: 'a token from an unknown issuer', token: () => signToken(key, { iss: 'https://evil.test/' }), says: /is not trusted/ },
  ];

  it.each(INVALID)('answers $name with 401 error="invalid_token", and never reaches the app', async ({ token, says }) => {
    const res = await client('GET', '/orders/7', [bearer(await token())]);
    expect(res.status).toBe(401);
    const challenge = res.headers['www-authenticate'];
    expect(challenge).toHaveLength(1);
    expect(challenge?.[0]).toMatch(/^Bearer realm="portcullis", error="invalid_token", error_description="[^"]*"$/);
    expect(challenge?.[0]).toMatch(says);
    expect(reached()).toHaveLength(0);
  });

  const CLIENT_IDENTITY = [
    ['X-Auth-Subject', 'mallory'],
    ['x-auth-subject', 'mallory2'],
    ['X-Auth-Email', 'mallory@evil.test'],
  ] as const;

  it('replaces a client-sent X-Auth-Subject with the verified subject on an allowed request', async () => {
    const token = await signToken(key, { sub: 'alice' });
    const res = await client('GET', '/me', [bearer(token), ...CLIENT_IDENTITY]);
    expect(res.status).toBe(200);
    const seen = onlyRequest();
    expect(seen.headers['x-auth-subject']).toEqual(['alice']);
    expect(seen.headers['x-auth-email']).toEqual(unset); // the token has no email: the client's must not survive
    expect(JSON.stringify(seen.rawHeaders)).not.toMatch(/mallory/);
  });

  it('lets no client-sent X-Auth-Subject reach the app on an excluded path', async () => {
    const res = await client('GET', '/public/x', [...CLIENT_IDENTITY]);
    expect(res.status).toBe(200);
    const seen = onlyRequest();
    expect(seen.headers['x-auth-subject']).toEqual(unset);
    expect(seen.headers['x-auth-email']).toEqual(unset);
    expect(JSON.stringify(seen.rawHeaders)).not.toMatch(/mallory/);
  });

  it.each(['GET', 'POST', 'DELETE'])(
    'does not let spoofed X-Forwarded-*/X-Original-* naming an excluded path pass a tokenless %s to a protected path',
    async (method) => {
      const res = await client(method, '/admin/users', SPOOFED_ORIGINAL);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toEqual([REALM_CHALLENGE]);
      expect(reached()).toHaveLength(0);
    },
  );

  it.each(['/public/x', '/public', '/public/a/b?c=d', '/healthz'])('lets %s, an excluded path, through without a token and without identity', async (path) => {
    const res = await client('GET', path);
    expect(res.status).toBe(200);
    const seen = onlyRequest();
    expect(seen.url).toBe(path);
    expect(seen.headers['x-auth-subject']).toEqual(unset);
  });

  // Targets an attacker spells so that a sloppy matcher sees "/public/…" while the app may see something else.
  const DENIED_TRICKS: readonly { path: string; nginx?: number }[] = [
    { path: '/public/%2e%2e/admin' },
    { path: '/public/%2E%2E/admin' },
    { path: '/public/../admin' },
    { path: '/public//..//admin' },
    { path: '/healthz/%2e%2e/admin' },
    { path: '/public/..%2fadmin' }, // encoded slash: never excluded
    { path: '/public%2f..%2fadmin' },
    { path: '/public/%2e%2e%2fadmin' },
    { path: '/public/%252e%252e/admin' }, // double encoding: never excluded
    { path: '/public/x/..;/../admin' }, // path parameter (Tomcat reads /admin)
    { path: '/public\\..\\admin' }, // backslash
    { path: '/PUBLIC/x' }, // excludes are case-sensitive
    { path: '/public/x%00', nginx: 400 }, // nginx refuses an encoded NUL itself; Caddy passes it and we deny
    // Dot segments that would resolve INTO an excluded path: neither proxy resolves them, and an app that routes
    // them literally (Express: /admin/../public/x is under /admin) would serve a protected route. Ambiguous: token needed.
    { path: '/admin/%2e%2e/public/x' },
    { path: '/admin/../public/x' },
    { path: '/./public/x' },
  ];

  it.each(DENIED_TRICKS)('never lets the tokenless trick $path reach the app', async ({ path, nginx }) => {
    const res = await client('GET', path);
    expect(res.status).toBe(proxyName === 'nginx' && nginx !== undefined ? nginx : 401);
    expect(reached()).toHaveLength(0);
  });

  it('lets a CORS preflight (OPTIONS with Origin and Access-Control-Request-Method) through without a token', async () => {
    const res = await client('OPTIONS', '/orders/7', [
      ['Origin', 'https://app.example'],
      ['Access-Control-Request-Method', 'DELETE'],
    ]);
    expect(res.status).toBe(200);
    const seen = onlyRequest();
    expect(seen.method).toBe('OPTIONS');
    expect(seen.headers['x-auth-subject']).toEqual(unset);
  });

  it.each([
    { name: 'no CORS headers', headers: [] as [string, string][] },
    { name: 'an Origin only', headers: [['Origin', 'https://app.example']] as [string, string][] },
    { name: 'an empty Access-Control-Request-Method', headers: [['Origin', 'https://app.example'], ['Access-Control-Request-Method', '']] as [string, string][] },
  ])('requires a token for an OPTIONS with $name', async ({ headers }) => {
    const res = await client('OPTIONS', '/orders/7', headers);
    expect(res.status).toBe(401);
    expect(reached()).toHaveLength(0);
  });

  it('accepts, on its first request, a token signed with a key the JWKS server has only just started publishing', async () => {
    const p = stack.auth;
    const rotated = await makeKey('ES256', 'k2');
    const before = p.jwks.fetches;
    p.publish(key, rotated);
    const res = await client('GET', '/orders/7', [bearer(await signToken(rotated, { sub: 'bob', email: 'bob@example.test' }))]);
    expect(res.status).toBe(200);
    expect(p.jwks.fetches).toBe(before + 1);
    const seen = onlyRequest();
    expect(seen.headers['x-auth-subject']).toEqual(['bob']);
    expect(seen.headers['x-auth-email']).toEqual(['bob@example.test']);
    // The old key is still published and still works.
    stack.upstream.requests.splice(0);
    expect((await client('GET', '/orders/7', [bearer(await signToken(key))])).status).toBe(200);
    expect(p.jwks.fetches).toBe(before + 1);
  });

});
