/**
 * Portcullis's HTTP listener behind a REAL caddy and a REAL nginx, each run from its deploy/ config, with a recording
 * upstream and a stub authorizer (see plumbingAuthorizer). Proves the plumbing, not the JWT logic: who decides, what
 * reaches the app, and that no client-sent header can change what is authorized or who the app thinks the user is.
 *
 * Observed with Debian's caddy 2.6.2 (details in deploy/caddy/Caddyfile):
 * - copy_headers writes the literal placeholder "{http.reverse_proxy.header.X-Auth-Subject}" upstream when our 2xx
 *   answer lacks the header; an empty header in our answer is sent upstream as an empty header. So we answer every
 *   identity header on every allow, and the Caddyfile deletes the client's copies (in `route`, before forward_auth).
 * - Client-sent X-Forwarded-Method / -Uri / -Host / -Proto / -For are replaced on the auth subrequest, but passed on
 *   to the app unchanged. X_Auth_Subject (underscore) passes through unless deleted explicitly.
 * - The client's query is appended to the forward_auth uri (/auth?…); X-Forwarded-Uri is the raw request target.
 * Observed with nginx 1.22.1: proxy_set_header with an empty value sends no header (and still drops the client's);
 * nginx copies WWW-Authenticate from a 401 itself; underscore headers are dropped; other auth statuses become 500.
 */
import { describe, expect, it } from 'vitest';
import type { OriginalRequestHeaders } from '../../src/core/config.ts';
import { startHttpServer } from '../../src/transports/http/server.ts';
import type { ProxyName } from '../support/proxies.ts';
import { useProxyStack } from '../support/proxy-stack.ts';
import { plumbingAuthorizer, testConfig, TestReadiness, UNICODE_SUBJECT, utf8 } from '../transports/http/fixtures.ts';

interface ProxyCase {
  readonly proxy: ProxyName;
  readonly mode: OriginalRequestHeaders;
  /** What the app receives for an identity header our allow left empty. */
  readonly emptyIdentityUpstream: readonly string[] | undefined;
}

const CASES: readonly ProxyCase[] = [
  { proxy: 'caddy', mode: 'x-forwarded', emptyIdentityUpstream: [''] },
  { proxy: 'nginx', mode: 'x-original', emptyIdentityUpstream: undefined },
];

const SPOOFS = [
  ['X-Forwarded-Method', 'GET'],
  ['X-Forwarded-Uri', '/healthz'],
  ['X-Forwarded-Host', 'evil.example'],
  ['X-Original-Method', 'GET'],
  ['X-Original-URI', '/public'],
  ['X-Original-Host', 'evil.example'],
] as const;

describe.each(CASES)('through $proxy ($mode)', ({ proxy: name, mode, emptyIdentityUpstream }) => {
  const authorizer = plumbingAuthorizer();
  const stack = useProxyStack(name, async () => {
    const auth = await startHttpServer({ address: '127.0.0.1:0', config: testConfig(mode), authorizer, readiness: new TestReadiness() });
    return { auth, address: auth.address };
  }, { reset: () => (authorizer.seen.length = 0) });
  const { client } = stack;
  function only<T>(list: readonly T[]): T {
    expect(list, stack.proxy.output()).toHaveLength(1);
    return list[0] as T;
  }
  function noPlaceholders(headers: Readonly<Record<string, readonly string[]>>): void {
    for (const [header, values] of Object.entries(headers)) {
      for (const value of values) expect(value, header).not.toMatch(/\{http\./);
    }
  }

  it('lets an allowed request reach the app with the identity header', async () => {
    const res = await client('GET', '/api/things?x=1', [['Authorization', 'Bearer good']]);
    expect(res.status).toBe(200);
    const seen = only(stack.reached());
    expect(seen.url).toBe('/api/things?x=1');
    expect(seen.headers['x-auth-subject']).toEqual(['alice']);
    expect(seen.headers['x-auth-email']).toEqual(emptyIdentityUpstream);
    noPlaceholders(seen.headers);
  });

  it('answers a denied request with 401 and one WWW-Authenticate, and never reaches the app', async () => {
    const res = await client('GET', '/api/things', [['Authorization', 'Bearer bad']]);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toEqual(['Bearer realm="portcullis"']);
    expect(only(authorizer.seen).path).toBe('/api/things');
    expect(stack.reached()).toHaveLength(0);
  });

  it('answers 503 (retry later) when Portcullis cannot decide, and never reaches the app', async () => {
    const res = await client('GET', '/api/things', [['Authorization', 'Bearer unavailable']]);
    expect(res.status).toBe(503);
    expect(stack.reached()).toHaveLength(0);
  });

  it.each([
    { name: 'an allow that names alice', token: 'Bearer good', subject: ['alice'] as readonly string[] | undefined },
    { name: 'an allow whose identity is empty', token: 'Bearer anonymous', subject: emptyIdentityUpstream },
  ])('never lets a client-sent identity header reach the app, on $name', async ({ token, subject }) => {
    const res = await client('GET', '/api/me', [
      ['Authorization', token],
      ['X-Auth-Subject', 'mallory'],
      ['x-auth-subject', 'mallory2'],
      ['X_Auth_Subject', 'mallory3'],
      ['X-Auth-Email', 'mallory@example.com'],
    ]);
    expect(res.status).toBe(200);
    const seen = only(stack.reached());
    expect(seen.headers['x-auth-subject']).toEqual(subject);
    expect(seen.headers['x-auth-email']).toEqual(emptyIdentityUpstream);
    expect(seen.headers['x_auth_subject']).toBeUndefined();
    expect(JSON.stringify(seen.rawHeaders)).not.toMatch(/mallory/);
    noPlaceholders(seen.headers);
  });

  it('keeps UTF-8 identity bytes intact all the way to the app', async () => {
    await client('GET', '/api/me', [['Authorization', 'Bearer unicode']]);
    expect(utf8(only(stack.reached()).headers['x-auth-subject']?.[0])).toBe(UNICODE_SUBJECT);
  });

  it.each([
    { method: 'POST', path: '/api/orders?id=7' },
    { method: 'DELETE', path: '/admin/users/1' },
    { method: 'GET', path: '/a%2Fb/../c/./d//e?q=%20&r=%2e%2e' },
  ])('authorizes exactly the $method $path the app receives, whatever X-Forwarded-*/X-Original-* the client sends', async ({ method, path }) => {
    const res = await client(method, path, [['Authorization', 'Bearer good'], ...SPOOFS]);
    expect(res.status).toBe(200);
    const decided = only(authorizer.seen);
    const received = only(stack.reached());
    expect({ method: decided.method, path: decided.path }).toEqual({ method, path });
    expect({ method: received.method, url: received.url }).toEqual({ method, url: path });
    expect(decided.host).not.toBe('evil.example');
    expect(decided.host.startsWith('127.0.0.1')).toBe(true);
    expect(decided.scheme).toBe('http');
  });

  it('refuses the same spoofed request without a token: the spoofed path is not what gets authorized', async () => {
    const res = await client('POST', '/admin/delete-everything', SPOOFS);
    expect(res.status).toBe(401);
    expect(only(authorizer.seen).path).toBe('/admin/delete-everything');
    expect(stack.reached()).toHaveLength(0);
  });
});
