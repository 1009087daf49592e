/**
 * The signer over real sockets: Envoy's egress Check (a client built from Envoy's UPSTREAM protos) gets the
 * authorization header back with append false; the forward-auth /sign endpoint answers 200 + Authorization; the
 * JWKS and OpenID configuration are published so a verifier finds the key by discovery.
 */
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { freePort } from '../support/ports.ts';
import { send } from '../transports/http/fixtures.ts';

let running: Running;
let client: EnvoyClient;
let issuer: string;

beforeAll(async () => {
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  const config = buildConfig({
    listen: { grpc: '127.0.0.1:0', http: `127.0.0.1:${port}` },
    workers: 1,
    signer: { issuer, keys: { generate: { rotate_every: '12h' } }, subject_header: 'x-service', claims: { team: 'checkout' } },
    policies: { outbound: { sign: true } },
    // Envoy HTTP mode has no context_extensions: a route picks the signing rule by destination host.
    routes: [{ match: { hosts: ['ledger.svc'] }, sign: true }],
    envoy_http: { path_prefix: '/envoy' },
  }, 'test', process.cwd());
  running = await startPortcullis(config, { fetch: (u, i) => fetch(u, i), now: () => Date.now() });
  client = connectEnvoyClient(running.grpcAddress);
});
afterAll(async () => {
  client?.close();
  await running?.close();
});

/** A CheckRequest from an egress listener: the destination is the request's authority. */
function egressCheck(headers: Record<string, string> = {}, host = 'payments.svc:8443'): object {
  return {
    attributes: {
      context_extensions: { policy: 'outbound' },
      request: { http: { id: '1', method: 'POST', host, scheme: 'https', path: '/charge', protocol: 'HTTP/1.1', headers: { ':authority': host, ':method': 'POST', ':path': '/charge', ...headers } } },
    },
  };
}

const verify = (token: string, audience: string) =>
  jwtVerify(token, createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)), { issuer, audience });

describe('Envoy egress (gRPC ext_authz)', () => {
  it('answers OK with authorization to set, append false, and the token verifies against the published JWKS', async () => {
    const response = await client.check(egressCheck({ 'x-service': 'orders' }));
    expect(response.status.code).toBe(0);
    const headers = response.ok_response.headers as { header: { key: string; value: string }; append: { value: boolean } | null }[];
    const auth = headers.filter((h) => h.header.key === 'authorization');
    expect(auth).toHaveLength(1);
    expect(auth[0]!.append).toEqual({ value: false });
    const { payload } = await verify(auth[0]!.header.value.replace(/^Bearer /, ''), 'https://payments.svc:8443');
    expect(payload).toMatchObject({ sub: 'orders', team: 'checkout', jti: expect.any(String) });
    expect(response.ok_response.headers_to_remove).not.toContain('authorization');
  });

  it('denies 403 authorization_present when the service sends its own token', async () => {
    const response = await client.check(egressCheck({ authorization: 'Bearer smuggled' }));
    expect(response.status.code).toBe(7);
    expect(response.denied_response.status.code).toBe('Forbidden');
    expect(JSON.parse(response.denied_response.body).reason).toBe('authorization_present');
  });

  it('denies a destination that is not a valid authority', async () => {
    const response = await client.check(egressCheck({}, 'payments.svc@evil.example'));
    expect(JSON.parse(response.denied_response.body).reason).toBe('destination_invalid');
  });
});

describe('Envoy egress (ext_authz HTTP mode)', () => {
  it('answers 200 with the authorization header to copy (allowed_upstream_headers) for a route that signs', async () => {
    const res = await send(running.httpUrl, { path: '/envoy/post', headers: [['host', 'ledger.svc'], ['x-forwarded-proto', 'https']] });
    expect(res.status, res.body).toBe(200);
    const { payload } = await verify(res.headers.authorization![0]!.replace(/^Bearer /, ''), 'https://ledger.svc');
    expect(payload.iss).toBe(issuer);
  });
});

describe('forward-auth /sign and publication', () => {
  const sign = (headers: Record<string, string>) => fetch(`${running.httpUrl}/sign`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', ...headers } });

  it('answers 200 with Authorization: Bearer for copy_headers, aud from X-Forwarded-Proto and -Host', async () => {
    const res = await sign({ 'x-forwarded-proto': 'http', 'x-forwarded-host': 'Payments.svc:80' });
    expect(res.status).toBe(200);
    const token = res.headers.get('authorization')!.replace(/^Bearer /, '');
    const { payload } = await verify(token, 'http://payments.svc');
    expect(payload.iss).toBe(issuer);
  });

  it('refuses a subrequest without the original request, and a bad destination, without a header to copy', async () => {
    const missing = await fetch(`${running.httpUrl}/sign`);
    expect(missing.status).toBe(403);
    const bad = await sign({ 'x-forwarded-proto': 'https', 'x-forwarded-host': 'a b' });
    expect(bad.status).toBe(403);
    expect(bad.headers.get('authorization')).toBeNull();
    expect(((await bad.json()) as { reason: string }).reason).toBe('destination_invalid');
  });

  it('publishes discovery and a JWKS of public keys only, cached for less than the lead', async () => {
    const discovery = await fetch(`${issuer}/.well-known/openid-configuration`);
    expect(await discovery.json()).toMatchObject({ issuer, jwks_uri: `${issuer}/.well-known/jwks.json` });
    const jwks = await fetch(`${issuer}/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=60');
    const body = await jwks.text();
    expect(JSON.parse(body).keys).toHaveLength(1);
    expect(body).not.toMatch(/"d"/);
    const keys = await (await fetch(`${running.httpUrl}/keys`)).text();
    expect(keys).toContain('"signer"');
    expect(keys).not.toMatch(/"d"/);
    expect((await fetch(`${issuer}/.well-known/jwks.json`, { method: 'POST' })).status).toBe(405);
  });

  it('reports ready for signing on /readyz', async () => {
    const ready = await (await fetch(`${running.httpUrl}/readyz`)).json();
    expect(ready).toMatchObject({ status: 'ready', signer: { ready: true, last_error: null } });
  });
});
