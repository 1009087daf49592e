/**
 * Route policies end to end, all real: client → caddy 2.6.2 / nginx 1.22 (each run from its deploy/ config) → the
 * real Portcullis (config with routes and a global login) with its keys on a real JWKS server → the recording app.
 *
 * Routes: /admin/** needs scope admin; / and /news/** are anonymous-optional; /profile/** adds the email as an extra
 * identity header (x-auth-email is NOT a global identity header here); /api/** has no login redirect; everything
 * else falls to the default rule (token required, global login). Proves: browser navigations without a usable token
 * are sent to the login page with a return URL on the allowed host (and never anywhere else), API calls get 401,
 * a token without the scope gets 403 and never reaches the app, optional routes reach the app with and without
 * identity, and the extra identity header reaches the app only on its route.
 *
 * How each proxy carries the redirect (observed here):
 * - Caddy's forward_auth returns any non-2xx answer to the client as-is, so Portcullis's 302 + Location goes through
 *   (forward_auth.redirect_status: 302, the default).
 * - nginx's auth_request turns every status but 2xx/401/403 into a 500: behind nginx Portcullis answers the redirect
 *   as 401 + Location (forward_auth.redirect_status: 401) and deploy/nginx/nginx.conf's `@portcullis_login` turns it
 *   into nginx's own 302. Without that setting the browser gets nginx's 503 (last describe block). nginx keeps the
 *   WWW-Authenticate it copied from the 401 on its 302, and its X-Original-Host ($host) has no port, so the return
 *   URL behind nginx names the bare host.
 */
import { describe, expect, it } from 'vitest';
import type { OriginalRequestHeaders } from '../../src/core/config.ts';
import { startTestPortcullis } from '../support/portcullis.ts';
import type { ProxyName } from '../support/proxies.ts';
import type { RecordedRequest } from '../support/upstream.ts';
import { useProxyStack } from '../support/proxy-stack.ts';
import { makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';
import type { RawResponse } from '../transports/http/fixtures.ts';

const APP = 'app.test';
const LOGIN = 'https://login.test/start?rd={return_url}';
const LOGIN_PREFIX = 'https://login.test/start?rd=';
const EMAIL = 'alice@example.test';
const BROWSER = [['Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8']] as const;
const API = [['Accept', 'application/json']] as const;

function policyConfig(mode: OriginalRequestHeaders, redirectStatus: 302 | 401): Record<string, unknown> {
  return {
    identity_headers: { sub: 'x-auth-subject' },
    login: { url: LOGIN, return_hosts: [APP] },
    forward_auth: { path: '/auth', original_request: mode, redirect_status: redirectStatus },
    routes: [
      { name: 'admin', match: { paths: ['/admin/**'] }, require: { scopes: ['admin'] } },
      { name: 'home', match: { paths: ['/', '/news/**'] }, anonymous: 'optional' },
      { name: 'profile', match: { paths: ['/profile/**'] }, identity_headers: { email: 'x-auth-email' } },
      { name: 'api', match: { paths: ['/api/**'] }, login: false },
    ],
  };
}

interface ProxyCase {
  readonly proxy: ProxyName;
  readonly mode: OriginalRequestHeaders;
  readonly redirectStatus: 302 | 401;
  /** What the app receives for an identity header the allow leaves unset (Caddy copies our empty header; nginx sends none). */
  readonly unset: readonly string[] | undefined;
  /** The authority Portcullis sees: Caddy's X-Forwarded-Host keeps the port, nginx's $host drops it. */
  readonly returnAuthority: (port: number) => string;
}

const CASES: readonly ProxyCase[] = [
  { proxy: 'caddy', mode: 'x-forwarded', redirectStatus: 302, unset: [''], returnAuthority: (port) => `${APP}:${port}` },
  { proxy: 'nginx', mode: 'x-original', redirectStatus: 401, unset: undefined, returnAuthority: () => APP },
];

/** The return URL inside a login Location ('' when Portcullis gave none), or undefined when it is not a login Location. */
function returnUrlOf(location: string | undefined): string | undefined {
  if (location === undefined || !location.startsWith(LOGIN_PREFIX)) return undefined;
  return decodeURIComponent(location.slice(LOGIN_PREFIX.length));
}

describe.each(CASES)('route policies end to end through $proxy ($mode, redirect_status $redirectStatus)', ({ proxy: proxyName, mode, redirectStatus, unset, returnAuthority }) => {
  let key: TestKey;
  const stack = useProxyStack(proxyName, async () => {
    key = await makeKey('ES256', 'k1');
    const auth = await startTestPortcullis({ originalRequest: mode, key, config: policyConfig(mode, redirectStatus) });
    return { auth, address: auth.httpAddress };
  }, { hosts: [APP] });
  const { reached } = stack;
  function client(path: string, headers: readonly (readonly [string, string])[] = [], method = 'GET'): Promise<RawResponse> {
    const host = headers.some(([n]) => n.toLowerCase() === 'host') ? [] : [['Host', `${APP}:${stack.proxy.port}`] as const];
    return stack.client(method, path, [...host, ...headers]);
  }
  function onlyRequest(): RecordedRequest {
    expect(reached(), stack.proxy.output()).toHaveLength(1);
    return reached()[0]!;
  }
  const bearer = (token: string) => ['Authorization', `Bearer ${token}`] as const;
  const back = (path: string) => `http://${returnAuthority(stack.proxy.port)}${path}`;

  describe('login redirects', () => {
    it.each([
      ['the default rule', '/orders/7?tab=items'],
      ['the admin route (global login inherited)', '/admin/users'],
    ])('sends a browser navigation without a token on %s to the login page with the return URL', async (_rule, path) => {
      const res = await client(path, BROWSER);
      expect(res.status, stack.proxy.output()).toBe(302);
      expect(res.headers['location']).toEqual([`${LOGIN_PREFIX}${encodeURIComponent(back(path))}`]);
      // Caddy passes our 302 as is; nginx builds its own 302 and keeps the challenge it copied from our 401.
      expect(res.headers['www-authenticate']).toEqual(proxyName === 'nginx' ? ['Bearer realm="portcullis"'] : undefined);
      expect(reached()).toHaveLength(0);
    });

    it('sends a browser with an expired token to the login page too', async () => {
      const expired = await signToken(key, { iat: NOW_S - 7200, exp: NOW_S - 3600 });
      const res = await client('/orders', [...BROWSER, bearer(expired)]);
      expect(res.status).toBe(302);
      expect(returnUrlOf(res.headers['location']?.[0])).toBe(back('/orders'));
      expect(reached()).toHaveLength(0);
    });

    it('answers an API call without a token with 401 and the challenge, never a redirect', async () => {
      const res = await client('/orders/7', API);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toEqual(['Bearer realm="portcullis"']);
      expect(res.headers['location']).toBeUndefined();
      expect(reached()).toHaveLength(0);
    });

    it('answers a browser on a route with login: false with 401', async () => {
      const res = await client('/api/orders', BROWSER);
      expect(res.status).toBe(401);
      expect(res.headers['location']).toBeUndefined();
      expect(res.headers['www-authenticate']).toEqual(['Bearer realm="portcullis"']);
    });
  });

  describe('requirements', () => {
    it('answers a valid token without the admin scope with 403, for APIs and browsers alike, and never reaches the app', async () => {
      const token = await signToken(key, { scope: 'read' });
      for (const accept of [API, BROWSER]) {
        const res = await client('/admin/users', [...accept, bearer(token)]);
        expect(res.status).toBe(403);
        expect(res.headers['location']).toBeUndefined();
        // Caddy passes our answer through; nginx answers 403 with its own page and no challenge.
        if (proxyName === 'caddy') expect(res.headers['www-authenticate']?.[0]).toContain('error="insufficient_scope"');
      }
      expect(reached()).toHaveLength(0);
    });

    it('lets a token with the admin scope through with its identity', async () => {
      const res = await client('/admin/users', [...API, bearer(await signToken(key, { scope: 'read admin' }))]);
      expect(res.status).toBe(200);
      expect(onlyRequest().headers['x-auth-subject']).toEqual(['alice']);
    });
  });

  describe('anonymous-optional route', () => {
    it('reaches the app without a token and without identity, even when the client sends its own', async () => {
      const res = await client('/news/today', [...BROWSER, ['X-Auth-Subject', 'mallory'], ['X-Auth-Email', 'mallory@evil.test']]);
      expect(res.status, stack.proxy.output()).toBe(200);
      const seen = onlyRequest();
      expect(seen.url).toBe('/news/today');
      expect(seen.headers['x-auth-subject']).toEqual(unset);
      // x-auth-email is only an identity header on /profile/**; the client's copy is stripped by the proxy config.
      expect(seen.headers['x-auth-email']).toEqual(unset);
    });

    it('reaches the app with identity when a valid token is sent', async () => {
      const res = await client('/news/today', [bearer(await signToken(key))]);
      expect(res.status).toBe(200);
      expect(onlyRequest().headers['x-auth-subject']).toEqual(['alice']);
    });

    it('never downgrades a bad token to anonymous', async () => {
      const expired = await signToken(key, { iat: NOW_S - 7200, exp: NOW_S - 3600 });
      const res = await client('/news/today', [...API, bearer(expired)]);
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']?.[0]).toContain('error="invalid_token"');
      expect(reached()).toHaveLength(0);
    });
  });

  describe('per-route identity header', () => {
    it('sends the email to the app on /profile/** only', async () => {
      const token = await signToken(key, { email: EMAIL });
      expect((await client('/profile/me', [bearer(token)])).status).toBe(200);
      expect(onlyRequest().headers['x-auth-email']).toEqual([EMAIL]);
      stack.upstream.requests.splice(0);

      const elsewhere = await client('/orders/7', [bearer(token), ['X-Auth-Email', 'mallory@evil.test']]);
      expect(elsewhere.status).toBe(200);
      const seen = onlyRequest();
      expect(seen.headers['x-auth-subject']).toEqual(['alice']);
      expect(seen.headers['x-auth-email']).toEqual(unset);
    });

    it('replaces a client-sent copy on its own route', async () => {
      const token = await signToken(key, { email: EMAIL });
      expect((await client('/profile/me', [bearer(token), ['X-Auth-Email', 'mallory@evil.test']])).status).toBe(200);
      expect(onlyRequest().headers['x-auth-email']).toEqual([EMAIL]);
    });
  });

  // oauth2-proxy pkg/app/redirect/validator_test.go vector classes, through the real proxy: whatever the browser asks
  // for, a Location only ever points at the login page, and its return URL is empty or on the allowed host.
  describe('open-redirect vectors', () => {
    it.each([
      ['a protocol-relative path', '//evil.com/x', 302, () => back('/evil.com/x')],
      ['three slashes', '///evil.com', 302, () => back('/evil.com')],
      ['a query naming another site', '/x?next=https://evil.com/', 302, () => back('/x?next=https://evil.com/')],
      ['a query with quotes and angle brackets', '/x?a=%22%3E%3Cscript%3E', 302, () => back('/x?a=%22%3E%3Cscript%3E')],
      ['an encoded backslash', '/%5Cevil.com', 403, undefined],
      ['encoded slashes', '/%2F%2Fevil.com', 403, undefined],
      ['an encoded tab', '/%09/evil.com', 403, undefined],
      ['encoded CR LF', '/%0d%0aLocation:%20https://evil.com', 403, undefined],
      ['a dot segment', '/a/%2e%2e/evil.com', 403, undefined],
      ['a path parameter', '/..;/evil.com', 403, undefined],
    ] as const)('%s (%s)', async (_name, path, status, expected) => {
      const res = await client(path, BROWSER);
      expect(res.status, stack.proxy.output()).toBe(status);
      if (expected === undefined) {
        // An ambiguous path is refused outright (403 path_ambiguous): no redirect at all.
        expect(res.headers['location']).toBeUndefined();
      } else {
        expect(returnUrlOf(res.headers['location']?.[0])).toBe(expected());
        expect(new URL(returnUrlOf(res.headers['location']?.[0])!).hostname).toBe(APP);
      }
      expect(reached()).toHaveLength(0);
    });

    // Caddy only routes Hosts its site names, so foreign hosts never reach Portcullis there; nginx's one server answers every Host and passes it on as X-Original-Host.
    it.each([
      ['another host', 'evil.com'],
      ['a look-alike suffix', 'app.test.evil.com'],
      ['a look-alike prefix', 'evilapp.test'],
      ['userinfo', 'app.test@evil.com'],
    ])('gives %s (%s) no return URL', async (_name, host) => {
      const res = await client('/orders', [...BROWSER, ['Host', host]]);
      if (proxyName === 'nginx') {
        expect(res.status).toBe(302);
        expect(res.headers['location']).toEqual([LOGIN_PREFIX]);
      } else {
        // Caddy: an empty 200 for a host it does not serve, 400 for a Host with userinfo.
        expect(res.status).toBe(host.includes('@') ? 400 : 200);
        expect(res.headers['location']).toBeUndefined();
      }
      expect(reached()).toHaveLength(0);
    });
  });
});

describe('nginx without forward_auth.redirect_status: 401', () => {
  const stack = useProxyStack('nginx', async () => {
    const auth = await startTestPortcullis({ originalRequest: 'x-original', config: policyConfig('x-original', 302) });
    return { auth, address: auth.httpAddress };
  });

  it('turns the 302 into a 500 (mapped to 503): why nginx needs redirect_status 401', async () => {
    const res = await stack.client('GET', '/orders', [['Host', APP], ...BROWSER]);
    expect(res.status).toBe(503);
    expect(res.headers['location']).toBeUndefined();
    expect(stack.proxy.output()).toContain('auth request unexpected status: 302');
    expect(stack.reached()).toHaveLength(0);
  });
});
