/**
 * The real service (startPortcullis: config → key source on a real JWKS server → verifier → authorizer → gRPC
 * listener) over a real gRPC socket, called by a client built from Envoy's UPSTREAM ext_authz protos: what Envoy
 * would send, and what Envoy would read back. Every input, however broken, gets a CheckResponse — never a gRPC error,
 * which Envoy's failure_mode_allow would turn into an allow.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { credentials, makeGenericClientConstructor, type ServiceError } from '@grpc/grpc-js';
import { connectEnvoyClient, structToJs, upstreamDefinitions, type EnvoyClient } from '../support/envoy-client.ts';
import { IDENTITY_HEADERS, REALM_CHALLENGE, startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { defaultPayload, forge, ISSUER, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';

const EMAIL = 'alice@example.test';
const AUTHORIZATION_SERVICE = 'envoy.service.auth.v3.Authorization';

interface HttpAttributes {
  readonly method?: string;
  readonly path?: string;
  /** Envoy's default mode: lower-cased names, repeats comma-joined. */
  readonly headers?: Record<string, string>;
  /** encode_raw_headers: true — one entry per header line, values as bytes. */
  readonly headerMap?: readonly (readonly [string, string | Buffer])[];
}

/** A CheckRequest as Envoy builds it for `GET api.test<path>` (pseudo-headers included, as Envoy sends them). */
function checkRequest({ method = 'GET', path = '/orders/7', headers = {}, headerMap }: HttpAttributes = {}): object {
  const http: Record<string, unknown> = { id: '42', method, host: 'api.test', scheme: 'https', path, protocol: 'HTTP/1.1' };
  if (headerMap === undefined) {
    http.headers = { ':authority': 'api.test', ':method': method, ':path': path, ':scheme': 'https', ...headers };
  } else {
    http.header_map = { headers: headerMap.map(([key, value]) => ({ key, raw_value: Buffer.isBuffer(value) ? value : Buffer.from(value) })) };
  }
  return {
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.9', port_value: 51234 } } },
      request: { time: { seconds: String(NOW_S) }, http },
    },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

/** ok_response.headers as plain {key, value, append}. */
function setHeaders(response: any): { key: string; value: string; append: boolean | undefined }[] {
  return (response.ok_response?.headers ?? []).map((h: any) => ({ key: h.header.key, value: h.header.value, append: h.append?.value }));
}

function deniedHeaders(response: any): Record<string, string> {
  return Object.fromEntries((response.denied_response?.headers ?? []).map((h: any) => [h.header.key, h.header.value]));
}

function deniedBody(response: any): Record<string, unknown> {
  return JSON.parse(response.denied_response.body);
}

const payloadOf = (token: string): Record<string, unknown> => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8'));

describe('the real service over gRPC ext_authz, keys loaded', () => {
  let p: TestPortcullis;
  let client: EnvoyClient;
  let key: TestKey;
  let otherKey: TestKey;

  beforeAll(async () => {
    key = await makeKey('ES256', 'k1');
    otherKey = await makeKey('ES256', 'k1');
    p = await startTestPortcullis({ key });
    client = connectEnvoyClient(p.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await p?.close();
  });

  it('allows a valid token with status 0, sets every identity header with append false, and puts the claims in dynamic_metadata', async () => {
    const token = await signToken(key, { email: EMAIL, roles: ['admin', 'ops'], org: { id: 7 } });
    const response = await client.check(checkRequest({ headers: bearer(token) }));
    expect(response.status.code).toBe(0);
    expect(response.http_response).toBe('ok_response');
    expect(setHeaders(response)).toEqual([
      { key: 'x-auth-subject', value: 'alice', append: false },
      { key: 'x-auth-email', value: EMAIL, append: false },
    ]);
    expect(response.ok_response.headers_to_remove).toEqual([]);
    expect(structToJs(response.dynamic_metadata)).toEqual({ claims: payloadOf(token), issuer: ISSUER });
  });

  it('removes, rather than sets, an identity header whose claim the token lacks', async () => {
    const response = await client.check(checkRequest({ headers: { ...bearer(await signToken(key)), 'x-auth-email': 'mallory@evil.test' } }));
    expect(response.status.code).toBe(0);
    expect(setHeaders(response)).toEqual([{ key: 'x-auth-subject', value: 'alice', append: false }]);
    expect(response.ok_response.headers_to_remove).toEqual(['x-auth-email']);
  });

  it('denies a request without a token with 16 and a 401 carrying the bare realm challenge', async () => {
    const response = await client.check(checkRequest());
    expect(response.status).toMatchObject({ code: 16, message: 'token_missing' });
    expect(response.denied_response.status.code).toBe('Unauthorized');
    expect(deniedHeaders(response)['www-authenticate']).toBe(REALM_CHALLENGE);
    expect(deniedBody(response)).toMatchObject({ error: 'unauthorized', reason: 'token_missing' });
    expect(response.http_response).toBe('denied_response');
    expect(response.dynamic_metadata).toBeNull();
  });

  const INVALID: readonly { name: string; token: () => Promise<string> | string; reason: string }[] = [
    { name: 'an expired token', token: () => signToken(key, { iat: NOW_S - 7200, exp: NOW_S - 3600 }), reason: 'token_expired' },
    { name: 'a token not valid yet', token: () => signToken(key, { nbf: NOW_S + 3600, exp: NOW_S + 7200 }), reason: 'token_not_yet_valid' },
    { name: 'a token for another audience', token: () => signToken(key, { aud: 'other.test' }), reason: 'audience_mismatch' },
    {
      name: 'a token signed by another key under a published kid',
      token: () => forge({ alg: 'ES256', kid: 'k1', typ: 'JWT' }, defaultPayload(), { key: otherKey.privateKey, alg: 'ES256' }),
      reason: 'signature_invalid',
    },
    { name: 'an alg "none" token', token: () => forge({ alg: 'none', typ: 'JWT' }, defaultPayload(), { hmacSecret: 'x' }), reason: 'algorithm_not_allowed' },
    { name: 'an HS256 token keyed with the public key', token: () => forge({ alg: 'HS256', kid: 'k1' }, defaultPayload(), { hmacSecret: JSON.stringify(key.jwk) }), reason: 'algorithm_not_allowed' },
    { name: 'a token from an unknown issuer', token: () => signToken(key, { iss: 'https://evil.test/' }), reason: 'issuer_unknown' },
    { name: 'a token without exp', token: () => signToken(key, { exp: undefined }), reason: 'claim_missing' },
    { name: 'three dots of nothing', token: () => 'a.b.c', reason: 'token_malformed' },
  ];

  it.each(INVALID)('denies $name with 16, a 401 error="invalid_token" and reason $reason', async ({ token, reason }) => {
    const response = await client.check(checkRequest({ headers: bearer(await token()) }));
    expect(response.status).toMatchObject({ code: 16, message: reason });
    expect(response.denied_response.status.code).toBe('Unauthorized');
    expect(deniedHeaders(response)['www-authenticate']).toMatch(/^Bearer realm="portcullis", error="invalid_token", error_description="[^"]+"$/);
    expect(deniedBody(response)).toMatchObject({ error: 'invalid_token', reason });
    expect(response.http_response).toBe('denied_response');
  });

  it.each(['/public/x', '/public', '/healthz', '/public/a/b?token=1'])(
    'allows the excluded path %s without a token and removes every identity header, including a client-sent one',
    async (path) => {
      const response = await client.check(checkRequest({ path, headers: { 'x-auth-subject': 'mallory' } }));
      expect(response.status.code).toBe(0);
      expect(setHeaders(response)).toEqual([]);
      expect(response.ok_response.headers_to_remove).toEqual([...IDENTITY_HEADERS]);
      expect(response.dynamic_metadata).toBeNull();
    },
  );

  it('allows a CORS preflight without a token and removes every identity header', async () => {
    const response = await client.check(checkRequest({ method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'PUT' } }));
    expect(response.status.code).toBe(0);
    expect(response.ok_response.headers_to_remove).toEqual([...IDENTITY_HEADERS]);
  });

  it('denies an OPTIONS without Access-Control-Request-Method like any other tokenless request', async () => {
    const response = await client.check(checkRequest({ method: 'OPTIONS', headers: { origin: 'https://app.example' } }));
    expect(response.status).toMatchObject({ code: 16, message: 'token_missing' });
  });

  it('allows a valid token sent as header_map (encode_raw_headers) with the pseudo-headers as the only request line', async () => {
    const token = await signToken(key, { email: EMAIL });
    const request = checkRequest({ headerMap: [[':method', 'GET'], [':path', '/orders/7'], [':authority', 'api.test'], ['authorization', `Bearer ${token}`]] }) as any;
    delete request.attributes.request.http.method;
    delete request.attributes.request.http.path;
    const response = await client.check(request);
    expect(response.status.code).toBe(0);
    expect(setHeaders(response).map((h) => h.value)).toEqual(['alice', EMAIL]);
  });

  it('denies two different Authorization entries in header_map with 401 token_ambiguous, even when both tokens are valid', async () => {
    const [alice, bob] = [await signToken(key, { sub: 'alice' }), await signToken(key, { sub: 'bob' })];
    const response = await client.check(checkRequest({ headerMap: [['authorization', `Bearer ${alice}`], ['Authorization', `Bearer ${bob}`]] }));
    expect(response.status).toMatchObject({ code: 16, message: 'token_ambiguous' });
    expect(response.denied_response.status.code).toBe('Unauthorized');
    expect(deniedHeaders(response)['www-authenticate']).toContain('error="invalid_token"');
  });

  it('denies a header token and a different cookie token as ambiguous', async () => {
    const [alice, bob] = [await signToken(key, { sub: 'alice' }), await signToken(key, { sub: 'bob' })];
    const response = await client.check(checkRequest({ headers: { ...bearer(alice), cookie: `access_token=${bob}` } }));
    expect(response.status).toMatchObject({ code: 16, message: 'token_ambiguous' });
  });

  const GARBAGE: readonly { name: string; request: () => object; code: number; reason: string }[] = [
    { name: 'an empty CheckRequest', request: () => ({}), code: 16, reason: 'token_missing' },
    { name: 'a CheckRequest with empty attributes', request: () => ({ attributes: { request: { http: {} } } }), code: 16, reason: 'token_missing' },
    { name: 'a 1 MiB Authorization value', request: () => checkRequest({ headers: { authorization: `Bearer ${'a'.repeat(1 << 20)}` } }), code: 16, reason: 'token_too_large' },
    { name: 'a 2 MiB unrelated header and no token', request: () => checkRequest({ headers: { 'x-junk': 'x'.repeat(2 << 20) } }), code: 16, reason: 'token_missing' },
    { name: '5000 headers', request: () => checkRequest({ headers: Object.fromEntries(Array.from({ length: 5000 }, (_, i) => [`x-h${i}`, 'v'])) }), code: 16, reason: 'token_missing' },
    {
      name: 'a non-UTF-8 raw_value in the Authorization header',
      request: () => checkRequest({ headerMap: [['authorization', Buffer.concat([Buffer.from('Bearer '), Buffer.from([0xff, 0xfe, 0x80, 0xc3])])]] }),
      code: 16,
      reason: 'token_malformed',
    },
    {
      name: 'a non-UTF-8 raw_value in the cookie header',
      request: () => checkRequest({ headerMap: [['cookie', Buffer.from([0x61, 0x63, 0x63, 0xff, 0x3d, 0x80])]] }),
      code: 16,
      reason: 'token_missing',
    },
    { name: 'an excluded path with a NUL in it', request: () => checkRequest({ path: '/public/\u0000x' }), code: 16, reason: 'token_missing' },
    { name: 'an excluded path with a NUL before dot segments', request: () => checkRequest({ path: '/public/x\u0000/../../admin' }), code: 16, reason: 'token_missing' },
    { name: 'an excluded path with an encoded NUL', request: () => checkRequest({ path: '/public/%00' }), code: 16, reason: 'token_missing' },
    { name: 'a path that is only a NUL', request: () => checkRequest({ path: '\u0000' }), code: 16, reason: 'token_missing' },
  ];

  it.each(GARBAGE)('answers $name with a deny CheckResponse ($reason), never a gRPC error', async ({ request, code, reason }) => {
    const response = await client.check(request());
    expect(response.status).toMatchObject({ code, message: reason });
    expect(response.denied_response.status.code).toBe('Unauthorized');
    expect(response.http_response).toBe('denied_response');
  });

  it('answers bytes that are not a CheckRequest at all (and none at all) with a deny CheckResponse, never a gRPC error', async () => {
    const method = (upstreamDefinitions[AUTHORIZATION_SERVICE] as any).Check;
    const Raw = makeGenericClientConstructor(
      { Check: { ...method, requestSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b } },
      AUTHORIZATION_SERVICE,
    );
    const raw = new Raw(p.grpcAddress, credentials.createInsecure()) as any;
    try {
      for (const bytes of [Buffer.from([0xff, 0xff, 0xff, 0xff]), Buffer.from([0x0a, 0x7f, 0x01]), Buffer.alloc(0)]) {
        const reply: Buffer = await new Promise((resolve, reject) => {
          raw.Check(bytes, { deadline: Date.now() + 5000 }, (error: ServiceError | null, value: Buffer) => (error ? reject(error) : resolve(value)));
        });
        const response = method.responseDeserialize(reply);
        // Undecodable bytes are read as an empty CheckRequest, which has no token.
        expect(response.status, bytes.toString('hex')).toMatchObject({ code: 16, message: 'token_missing' });
        expect(response.http_response).toBe('denied_response');
      }
    } finally {
      raw.close();
    }
  });

  it('reports SERVING for the server and the Authorization service once keys are loaded', async () => {
    await expect(client.healthCheck('')).resolves.toEqual({ status: 'SERVING' });
    await expect(client.healthCheck(AUTHORIZATION_SERVICE)).resolves.toEqual({ status: 'SERVING' });
  });
});

describe('the real service over gRPC ext_authz, JWKS down at start', () => {
  let p: TestPortcullis;
  let client: EnvoyClient;

  beforeAll(async () => {
    p = await startTestPortcullis({ jwks: { kind: 'status', status: 500, body: 'idp down' } });
    client = connectEnvoyClient(p.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await p?.close();
  });

  it('answers 14 and a 503 keys_unavailable with Retry-After, reports NOT_SERVING, and recovers after the cooldown once the JWKS is back', async () => {
    const token = await signToken(p.key, { email: EMAIL });
    await expect(client.healthCheck('')).resolves.toEqual({ status: 'NOT_SERVING' });
    await expect(client.healthCheck(AUTHORIZATION_SERVICE)).resolves.toEqual({ status: 'NOT_SERVING' });

    const down = await client.check(checkRequest({ headers: bearer(token) }));
    expect(down.status).toMatchObject({ code: 14, message: 'keys_unavailable' });
    expect(down.denied_response.status.code).toBe('ServiceUnavailable');
    expect(deniedHeaders(down)['retry-after']).toBe('5');
    expect(deniedBody(down)).toMatchObject({ error: 'unavailable', reason: 'keys_unavailable' });
    expect(down.http_response).toBe('denied_response');

    // Excluded paths need no keys.
    expect((await client.check(checkRequest({ path: '/public/x' }))).status.code).toBe(0);

    // The IdP is back, but the last on-demand load was just now: the cooldown keeps us from fetching again.
    p.publish(p.key);
    const fetches = p.jwks.fetches;
    const stillDown = await client.check(checkRequest({ headers: bearer(token) }));
    expect(stillDown.status).toMatchObject({ code: 14, message: 'keys_unavailable' });
    expect(p.jwks.fetches).toBe(fetches);

    p.clock!.advance(30_000);
    const up = await client.check(checkRequest({ headers: bearer(token) }));
    expect(up.status.code).toBe(0);
    expect(setHeaders(up).map((h) => h.value)).toEqual(['alice', EMAIL]);
    expect(p.jwks.fetches).toBe(fetches + 1);
    await expect(client.healthCheck('')).resolves.toEqual({ status: 'SERVING' });
    await expect(client.healthCheck(AUTHORIZATION_SERVICE)).resolves.toEqual({ status: 'SERVING' });
  });
});
