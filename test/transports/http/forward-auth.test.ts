/**
 * Forward auth over a real socket: the trust rule (which headers carry the original request), the AuthRequest the
 * core receives, and how each Decision is written back. The authorizer is a recording stub.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { OriginalRequestHeaders } from '../../../src/core/config.ts';
import type { Decision } from '../../../src/core/types.ts';
import { startHttpServer } from '../../../src/transports/http/server.ts';
import { methodOf } from '../../../src/transports/http/forward-auth.ts';
import { allow, deny401, send, StubAuthorizer, testConfig, TestReadiness, utf8 } from './fixtures.ts';
import type { RawResponse } from './fixtures.ts';

type Headers = readonly (readonly [string, string])[];

const FORWARDED: Headers = [
  ['x-forwarded-method', 'POST'],
  ['x-forwarded-uri', '/api/orders?id=7'],
  ['x-forwarded-host', 'shop.example'],
  ['x-forwarded-proto', 'https'],
];
const ORIGINAL: Headers = [
  ['x-original-method', 'DELETE'],
  ['x-original-uri', '/admin?drop=all'],
  ['x-original-host', 'admin.example'],
  ['x-original-proto', 'http'],
];


const stub = new StubAuthorizer(() => allow('alice'));
const running: Partial<Record<OriginalRequestHeaders, { url: string; close(): Promise<void> }>> = {};

beforeAll(async () => {
  for (const mode of ['x-forwarded', 'x-original'] as const) {
    running[mode] = await startHttpServer({
      address: '127.0.0.1:0',
      config: testConfig(mode),
      authorizer: stub,
      readiness: new TestReadiness(),
    });
  }
});
afterAll(async () => {
  await Promise.all(Object.values(running).map((s) => s.close()));
});
afterEach(() => {
  stub.seen.length = 0;
  stub.decide = () => allow('alice');
});

function auth(mode: OriginalRequestHeaders, headers: Headers, path = '/auth', method = 'GET'): Promise<RawResponse> {
  const server = running[mode];
  if (!server) throw new Error('server not started');
  return send(server.url, { method, path, headers });
}

function expectOriginalRequestMissing(res: RawResponse): void {
  expect(res.status).toBe(403);
  expect(JSON.parse(res.body)).toEqual({ error: 'forbidden', reason: 'original_request_missing', message: 'The proxy did not send the original request method and URI.' });
  expect(res.headers['content-type']).toEqual(['application/json']);
  expect(res.headers['cache-control']).toEqual(['no-store']);
  expect(res.headers['x-auth-subject']).toEqual(['']);
  expect(res.headers['x-auth-email']).toEqual(['']);
  // Nothing is guessed: the core gets a request marked invalid, with no method or path it could act on.
  expect(stub.seen).toHaveLength(1);
  expect(stub.seen[0]).toMatchObject({ method: '', path: '', invalid: { reason: 'original_request_missing' } });
}

describe('the trust rule: the original request comes only from the configured header family', () => {
  it.each([
    {
      name: 'x-forwarded mode reads X-Forwarded-* and ignores X-Original-*',
      mode: 'x-forwarded' as const,
      headers: [...FORWARDED, ...ORIGINAL, ['host', 'portcullis.internal']] as Headers,
      want: { method: 'POST', path: '/api/orders?id=7', host: 'shop.example', scheme: 'https' },
    },
    {
      name: 'x-original mode reads X-Original-* and ignores X-Forwarded-*',
      mode: 'x-original' as const,
      headers: [...ORIGINAL, ...FORWARDED, ['host', 'portcullis.internal']] as Headers,
      want: { method: 'DELETE', path: '/admin?drop=all', host: 'admin.example', scheme: 'http' },
    },
    {
      name: 'x-original mode falls back to Host when X-Original-Host is absent',
      mode: 'x-original' as const,
      headers: [['x-original-method', 'GET'], ['x-original-uri', '/'], ['host', 'app.example:8443']] as Headers,
      want: { method: 'GET', path: '/', host: 'app.example:8443', scheme: '' },
    },
    {
      name: 'x-forwarded mode never falls back to Host (Traefik sends its own Host)',
      mode: 'x-forwarded' as const,
      headers: [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/'], ['host', 'portcullis.internal']] as Headers,
      want: { method: 'GET', path: '/', host: '', scheme: '' },
    },
    {
      name: 'a lower-case method is upper-cased and the scheme lower-cased',
      mode: 'x-forwarded' as const,
      headers: [['x-forwarded-method', 'patch'], ['x-forwarded-uri', '/x'], ['x-forwarded-proto', 'HTTPS']] as Headers,
      want: { method: 'PATCH', path: '/x', host: '', scheme: 'https' },
    },
    {
      name: 'the URI is passed raw: not decoded, not normalized, query kept',
      mode: 'x-forwarded' as const,
      headers: [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '//healthz/../admin/%2e%2e/a%2Fb?q=%20&r#f']] as Headers,
      want: { method: 'GET', path: '//healthz/../admin/%2e%2e/a%2Fb?q=%20&r#f', host: '', scheme: '' },
    },
    {
      name: 'a repeated host or proto is treated as unknown',
      mode: 'x-forwarded' as const,
      headers: [
        ['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/'],
        ['x-forwarded-host', 'a.example'], ['x-forwarded-host', 'b.example'],
        ['x-forwarded-proto', 'https'], ['x-forwarded-proto', 'http'],
      ] as Headers,
      want: { method: 'GET', path: '/', host: '', scheme: '' },
    },
  ])('$name', async ({ mode, headers, want }) => {
    const res = await auth(mode, headers);
    expect(res.status).toBe(200);
    expect(stub.seen).toHaveLength(1);
    const seen = stub.seen[0];
    expect({ method: seen?.method, path: seen?.path, host: seen?.host, scheme: seen?.scheme }).toEqual(want);
    expect(seen?.transport).toBe('http');
    expect(seen?.contextExtensions.size).toBe(0);
  });

  it.each([
    { name: 'x-forwarded mode with only X-Original-* headers', mode: 'x-forwarded' as const, headers: ORIGINAL },
    { name: 'x-original mode with only X-Forwarded-* headers', mode: 'x-original' as const, headers: FORWARDED },
    { name: 'no method header', mode: 'x-forwarded' as const, headers: [['x-forwarded-uri', '/']] as Headers },
    { name: 'no URI header', mode: 'x-forwarded' as const, headers: [['x-forwarded-method', 'GET']] as Headers },
    {
      name: 'the URI header sent twice',
      mode: 'x-forwarded' as const,
      headers: [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/public'], ['x-forwarded-uri', '/admin']] as Headers,
    },
    {
      name: 'the method header sent twice',
      mode: 'x-original' as const,
      headers: [['x-original-method', 'GET'], ['x-original-method', 'POST'], ['x-original-uri', '/']] as Headers,
    },
    {
      name: 'X-Original-URI sent twice',
      mode: 'x-original' as const,
      headers: [['x-original-method', 'GET'], ['x-original-uri', '/a'], ['x-original-uri', '/b']] as Headers,
    },
    { name: 'an empty URI', mode: 'x-forwarded' as const, headers: [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '']] as Headers },
    { name: 'a blank method', mode: 'x-original' as const, headers: [['x-original-method', '  '], ['x-original-uri', '/']] as Headers },
    {
      name: 'a method that is not an HTTP token',
      mode: 'x-forwarded' as const,
      headers: [['x-forwarded-method', 'GET /admin'], ['x-forwarded-uri', '/']] as Headers,
    },
    {
      name: 'underscore spellings (X_Forwarded_Uri is a different header)',
      mode: 'x-forwarded' as const,
      headers: [['x_forwarded_method', 'GET'], ['x_forwarded_uri', '/']] as Headers,
    },
  ])('answers 403 original_request_missing, decided from a request marked invalid: $name', async ({ mode, headers }) => {
    expectOriginalRequestMissing(await auth(mode, headers));
  });

  it('ignores our own method, path query and request line (Caddy appends the client query to /auth)', async () => {
    const res = await auth('x-forwarded', FORWARDED, '/auth?id=999&admin=1', 'POST');
    expect(res.status).toBe(200);
    expect(stub.seen[0]?.path).toBe('/api/orders?id=7');
    expect(stub.seen[0]?.method).toBe('POST');
  });
});

describe('the AuthRequest headers and client address', () => {
  it('keeps every header, lower-cased and unmerged, repeats included', async () => {
    await auth('x-forwarded', [
      ...FORWARDED,
      ['Authorization', 'Bearer one'],
      ['authorization', 'Bearer two'],
      ['Cookie', 'a=1'],
      ['cookie', 'b=2, c=3'],
    ]);
    const headers = stub.seen[0]?.headers;
    expect(headers?.get('authorization')).toEqual(['Bearer one', 'Bearer two']);
    expect(headers?.get('cookie')).toEqual(['a=1', 'b=2, c=3']);
    expect(headers?.get('x-forwarded-uri')).toEqual(['/api/orders?id=7']);
  });

  it.each([
    { name: 'the first X-Forwarded-For entry', xff: ['203.0.113.7, 10.0.0.1', '10.0.0.2'], want: '203.0.113.7' },
    { name: 'the socket peer without X-Forwarded-For', xff: [], want: '127.0.0.1' },
  ])('takes the client address from $name', async ({ xff, want }) => {
    await auth('x-forwarded', [...FORWARDED, ...xff.map((v): [string, string] => ['x-forwarded-for', v])]);
    expect(stub.seen[0]?.clientAddress).toBe(want);
  });
});

describe('answering a Decision', () => {
  it.each<{ name: string; decision: Decision; subject: string; email: string }>([
    { name: 'sets every identity header', decision: allow('alice', 'alice@example.com'), subject: 'alice', email: 'alice@example.com' },
    { name: 'sends an unset identity header as present and empty', decision: allow('alice'), subject: 'alice', email: '' },
    { name: 'sends all identity headers empty when none is set', decision: allow(undefined), subject: '', email: '' },
    {
      name: 'also clears a configured identity header the Decision forgot',
      decision: { kind: 'allow', reason: 'token_valid', identity: [{ name: 'x-auth-subject', value: 'bob' }] },
      subject: 'bob',
      email: '',
    },
  ])('allow → 200 with no body that $name', async ({ decision, subject, email }) => {
    stub.decide = () => decision;
    const res = await auth('x-forwarded', FORWARDED);
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['x-auth-subject']).toEqual([subject]);
    expect(res.headers['x-auth-email']).toEqual([email]);
    expect(res.headers['cache-control']).toEqual(['no-store']);
  });

  it('writes UTF-8 identity values as their UTF-8 bytes', async () => {
    const subject = 'Zoë Ångström ☃ 𝄞 日本';
    stub.decide = () => allow(subject, 'ü@example.com');
    const res = await auth('x-forwarded', FORWARDED);
    expect(res.status).toBe(200);
    expect(utf8(res.headers['x-auth-subject']?.[0])).toBe(subject);
    expect(utf8(res.headers['x-auth-email']?.[0])).toBe('ü@example.com');
  });

  it.each<{ name: string; decision: Decision; status: number; headers: Record<string, string> }>([
    {
      name: '401 with WWW-Authenticate',
      decision: deny401(),
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="portcullis"', 'content-type': 'application/json' },
    },
    {
      name: '503 with Retry-After, content-type added when missing',
      decision: { ...deny401(), status: 503, reason: 'keys_unavailable', headers: [['retry-after', '5']] },
      status: 503,
      headers: { 'retry-after': '5', 'content-type': 'application/json' },
    },
    {
      name: '403 that (wrongly) carries identity values: they are still sent empty',
      decision: { ...deny401(), status: 403, identity: [{ name: 'x-auth-subject', value: 'mallory' }] },
      status: 403,
      headers: { 'content-type': 'application/json' },
    },
  ])('deny → its status, headers and body: $name', async ({ decision, status, headers }) => {
    stub.decide = () => decision;
    const res = await auth('x-forwarded', FORWARDED);
    expect(res.status).toBe(status);
    expect(res.body).toBe(decision.kind === 'deny' ? decision.body : '');
    for (const [name, value] of Object.entries(headers)) expect(res.headers[name]).toEqual([value]);
    expect(res.headers['x-auth-subject']).toEqual(['']);
    expect(res.headers['x-auth-email']).toEqual(['']);
    expect(res.headers['cache-control']).toEqual(['no-store']);
  });

  it('a Decision cannot set content-length, cache-control or an identity header through its headers', async () => {
    stub.decide = () => ({
      ...deny401(),
      headers: [['content-length', '1'], ['cache-control', 'public'], ['x-auth-subject', 'mallory']],
    });
    const res = await auth('x-forwarded', FORWARDED);
    expect(res.status).toBe(401);
    expect(res.headers['cache-control']).toEqual(['no-store']);
    expect(res.headers['x-auth-subject']).toEqual(['']);
    expect(res.body).toBe(deny401().body);
  });

  it.each<{ name: string; decide: () => Decision | Promise<Decision> }>([
    { name: 'throws', decide: () => { throw new Error('boom'); } },
    { name: 'rejects', decide: () => Promise.reject(new Error('boom')) },
    { name: 'resolves to undefined', decide: () => undefined as unknown as Decision },
    { name: 'returns an identity value with a newline', decide: () => allow('alice\r\nx-admin: 1') },
    { name: 'returns an invalid header name', decide: () => ({ ...deny401(), headers: [['bad name', 'x']] }) },
  ])('answers 503 internal_error and keeps serving when the authorizer $name', async ({ decide }) => {
    stub.decide = decide;
    const res = await auth('x-forwarded', FORWARDED);
    expect(res.status).toBe(503);
    expect(JSON.parse(res.body)).toEqual({ error: 'unavailable', reason: 'internal_error', message: 'internal error' });
    expect(res.headers['x-auth-subject']).toEqual(['']);
    expect(res.headers['x-admin']).toBeUndefined();
    stub.decide = () => allow('alice');
    expect((await auth('x-forwarded', FORWARDED)).status).toBe(200);
  });
});

describe('reading the method header', () => {
  /** What the method header is read as without the shortcut for upper-case letters: trimmed, a token, upper-cased. */
  const reference = (value: string | undefined): string | undefined => {
    const method = value?.trim();
    return method !== undefined && /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(method) ? method.toUpperCase() : undefined;
  };
  it.each([
    ['GET'], ['get'], ['Post'], [' GET '], ['\tDELETE'], ['PROPFIND'], ['M-SEARCH'], ['G ET'], [''], ['   '], ['GÉT'], ['GET\r\n'],
    ['GET;'], ['A'], ['Z'], ['@'], ['['], ['`GET'], [undefined],
  ])('reads %j as the same method the full check does', (value) => {
    expect(methodOf(value)).toBe(reference(value));
  });
});
