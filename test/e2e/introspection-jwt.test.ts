/**
 * `jwt_tokens: true`: a JWT that verifies locally is introspected too, so a revoked one stops working within max_ttl.
 *
 * The introspection endpoint here is a stand-in on a real loopback socket, on purpose: panva's oidc-provider, the
 * real IdP of test/e2e/introspection.test.ts, refuses to introspect structured (JWT) access tokens
 * (lib/shared/reject_structured_tokens.js answers 400 unsupported_token_type) and does not store them, so it cannot
 * revoke one either. The stand-in answers as RFC 7662 says (Basic client authentication, form body, JSON) from a
 * revocation list the test holds, and counts its calls. Portcullis runs for real (startPortcullis), asked over gRPC
 * ext_authz and on its forward-auth endpoint.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { manualClock } from '../support/portcullis.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, signToken, defaultPayload, type TestKey } from '../support/tokens.ts';
import { send } from '../transports/http/fixtures.ts';

const SECRET = 'introspection-client-secret';

interface Endpoint {
  readonly url: string;
  readonly revoked: Set<string>;
  calls: number;
  up: boolean;
  close(): Promise<void>;
}

async function startEndpoint(): Promise<Endpoint> {
  const state = { calls: 0, up: true };
  const revoked = new Set<string>();
  const server: Server = createServer(async (req, res) => {
    state.calls++;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    if (!state.up) return void res.writeHead(502).end('bad gateway');
    // RFC 6749 2.3.1: client id and secret are form-urlencoded before they are joined and base64-encoded.
    const basic = Buffer.from((req.headers.authorization ?? '').replace(/^Basic /, ''), 'base64').toString('utf8').split(':').map(decodeURIComponent);
    if (basic[0] !== 'portcullis' || basic[1] !== SECRET) {
      return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_client"}');
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const token = form.get('token') ?? '';
    const active = form.get('token_type_hint') === 'access_token' && !revoked.has(token);
    const answer = active ? { active, iss: ISSUER, sub: 'alice', exp: NOW_S + 600 } : { active };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/introspect`,
    revoked,
    get calls() { return state.calls; },
    set calls(n) { state.calls = n; },
    get up() { return state.up; },
    set up(v) { state.up = v; },
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

function checkRequest(token: string): object {
  const headers = { ':authority': 'api.test', ':method': 'GET', ':path': '/orders/7', ':scheme': 'https', authorization: `Bearer ${token}` };
  return { attributes: { request: { http: { id: '1', method: 'GET', host: 'api.test', scheme: 'https', path: '/orders/7', protocol: 'HTTP/1.1', headers } } } };
}

/** The real service: one issuer whose JWTs are verified locally and then introspected at `endpoint`. */
async function startPortcullisFor(jwksUrl: string, endpointUrl: string, maxTtl: string): Promise<Running> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-jwt-introspection-'));
  writeFileSync(join(dir, 'secret'), SECRET);
  const config = buildConfig({
    issuers: [{
      issuer: ISSUER,
      jwks_uri: jwksUrl,
      audiences: [AUDIENCE],
      introspection: { endpoint: endpointUrl, client_id: 'portcullis', client_secret_file: 'secret', jwt_tokens: true, cache: { max_ttl: maxTtl } },
    }],
  }, 'test/e2e/introspection-jwt.test.ts', dir);
  return startPortcullis({ ...config, listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' } }, { fetch: (u, i) => fetch(u, i), now: manualClock().now });
}

describe('JWT revocation through introspection (jwt_tokens: true)', () => {
  let key: TestKey;
  let jwks: JwksServer;
  let endpoint: Endpoint;
  let running: Running;
  let client: EnvoyClient;

  /** 200, or the deny's status and reason, over gRPC. */
  const grpcAsk = async (token: string): Promise<string> => {
    const r = await client.check(checkRequest(token));
    return r.status.code === 0 ? '200' : `${r.denied_response.status.code} ${JSON.parse(r.denied_response.body).reason}`;
  };
  const forwardAuth = async (token: string): Promise<string> => {
    const r = await send(running.httpUrl, { method: 'GET', path: '/auth', headers: [['authorization', `Bearer ${token}`], ['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/orders/7']] });
    return r.status === 200 ? '200' : `${r.status} ${JSON.parse(r.body).reason}`;
  };

  beforeAll(async () => {
    key = await makeKey('ES256', 'k1');
    jwks = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
    endpoint = await startEndpoint();
    running = await startPortcullisFor(jwks.url, endpoint.url, '1s');
    client = connectEnvoyClient(running.grpcAddress);
  });
  afterAll(async () => {
    client?.close();
    await running?.close(1000);
    await Promise.all([jwks?.close(), endpoint?.close()]);
  });

  it('allows a valid JWT after one call for a flood of 10,000 requests (max_ttl 60s)', async () => {
    const service = await startPortcullisFor(jwks.url, endpoint.url, '60s');
    const flooded = connectEnvoyClient(service.grpcAddress);
    try {
      const token = await signToken(key, defaultPayload({ jti: 'flood' }));
      const before = endpoint.calls;
      const answers: string[] = [];
      const ask = async () => ((await flooded.check(checkRequest(token))).status.code === 0 ? '200' : 'deny');
      for (let i = 0; i < 10_000; i += 200) answers.push(...(await Promise.all(Array.from({ length: 200 }, ask))));
      expect(new Set(answers)).toEqual(new Set(['200']));
      expect(endpoint.calls - before).toBe(1);
    } finally {
      flooded.close();
      await service.close(1000);
    }
  }, 60_000);

  it('denies a JWT revoked at the IdP within max_ttl, on both ways in', async () => {
    const token = await signToken(key, defaultPayload({ jti: 'revoked' }));
    expect([await grpcAsk(token), await forwardAuth(token)]).toEqual(['200', '200']);
    endpoint.revoked.add(token);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    expect(await grpcAsk(token)).toBe('Unauthorized token_inactive');
    expect(await forwardAuth(token)).toBe('401 token_inactive');
  });

  it('never allows a JWT it cannot introspect: 503 while the endpoint fails, then recovery on the next request', async () => {
    const token = await signToken(key, defaultPayload({ jti: 'outage' }));
    endpoint.up = false;
    try {
      expect(await grpcAsk(token)).toBe('ServiceUnavailable introspection_unavailable');
      expect(await forwardAuth(token)).toBe('503 introspection_unavailable');
    } finally {
      endpoint.up = true;
    }
    expect(await forwardAuth(token)).toBe('200');
  });

  it('still refuses a JWT that fails locally without asking the IdP', async () => {
    const before = endpoint.calls;
    const other = await makeKey('ES256', 'k1');
    expect(await forwardAuth(await signToken(other, defaultPayload()))).toBe('401 signature_invalid');
    expect(endpoint.calls).toBe(before);
  });
});
