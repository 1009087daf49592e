/**
 * Certificate-bound access tokens (RFC 8705) end to end with real parts: oidc-provider issues JWT access tokens bound
 * to the TLS client certificate of the token request (its mTLS feature, client_credentials, resource indicators);
 * a real Caddy (client_auth) and a real nginx (ssl_verify_client), run from deploy/caddy/Caddyfile.mtls and
 * deploy/nginx/nginx.mtls.conf, pass the certificate they verified to the real service. Certificates come from
 * openssl at test time. Each proxy overwrites the certificate header, so what a client writes there never counts.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { startProxy, type ProxyName, type RunningProxy } from '../support/proxies.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.ts';
import { MTLS_CLIENT_ID, OP_AUDIENCE, startMtlsProvider, type RunningMtlsProvider } from '../support/oidc-provider.ts';
import { clientPki, derBase64, escapedPem, mtls, rfc9440, x5tS256, type ClientPki } from '../support/client-certs.ts';
import { send } from '../transports/http/fixtures.ts';
import type { IssuedCert } from '../support/pki.ts';

let c: ClientPki;
let op: RunningMtlsProvider;
let aliceToken: string;

beforeAll(async () => {
  c = clientPki();
  op = await startMtlsProvider({ cert: c.server.pem, key: readFileSync(c.server.keyFile, 'utf8'), ca: c.ca.pem });
  aliceToken = await op.clientCredentialsToken(c.alice.pem, readFileSync(c.alice.keyFile, 'utf8'));
});
afterAll(async () => {
  await op?.close();
  c?.pki.cleanup();
});

describe('oidc-provider with mTLS', () => {
  it('issues a JWT access token bound to the client certificate of the token request', () => {
    const payload = JSON.parse(Buffer.from(aliceToken.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(payload).toMatchObject({ iss: op.issuer, aud: OP_AUDIENCE, client_id: MTLS_CLIENT_ID, cnf: { 'x5t#S256': x5tS256(c.alice) } });
  });
});

const PROXIES: readonly [ProxyName, string, 'x-forwarded' | 'x-original'][] = [
  ['caddy', 'caddy/Caddyfile.mtls', 'x-forwarded'],
  ['nginx', 'nginx/nginx.mtls.conf', 'x-original'],
];

describe.each(PROXIES)('a certificate-bound token through %s with TLS client authentication', (name, config, originalRequest) => {
  let portcullis: TestPortcullis | undefined;
  let upstream: RecordingUpstream | undefined;
  let proxy: RunningProxy | undefined;

  beforeAll(async () => {
    portcullis = await startTestPortcullis({
      clock: 'real',
      originalRequest,
      config: {
        issuers: [{ issuer: op.issuer, jwks: op.jwks, audiences: [OP_AUDIENCE] }],
        client_certificate: { header: 'client-cert', identity_headers: { subject: 'x-client-subject' } },
        ...(name === 'nginx' ? { forward_auth: { path: '/auth', original_request: 'x-original', redirect_status: 401 } } : {}),
      },
    });
    upstream = await startRecordingUpstream();
    proxy = await startProxy(name, {
      authAddress: portcullis.httpAddress,
      upstreamAddress: upstream.address,
      config,
      hosts: ['localhost'],
      tls: { cert: c.server.pemFile, key: c.server.keyFile, clientCa: c.ca.pemFile },
    });
  });
  afterAll(async () => {
    try {
      await proxy?.stop();
    } finally {
      await Promise.all([upstream?.close(), portcullis?.close()]);
    }
  });
  beforeEach(() => {
    upstream?.requests.splice(0);
  });

  const get = (cert: IssuedCert | undefined, headers: readonly (readonly [string, string])[] = []) =>
    send(proxy!.url, { method: 'GET', path: '/orders', headers: [['Host', `localhost:${proxy!.port}`], ['Authorization', `Bearer ${aliceToken}`], ...headers], tls: mtls(c, cert) });

  it("reaches the app with the certificate it is bound to, and the certificate's subject", async () => {
    const res = await get(c.alice);
    expect(res.status, proxy!.output()).toBe(200);
    expect(upstream!.requests).toHaveLength(1);
    expect(upstream!.requests[0]!.headers['x-auth-subject']).toEqual([MTLS_CLIENT_ID]);
    expect(upstream!.requests[0]!.headers['x-client-subject']).toEqual(['CN=alice,O=Portcullis Test']);
  });

  it('keeps a client-written certificate or certificate subject header from the app', async () => {
    const res = await get(c.alice, [['Client-Cert', rfc9440(c.mallory)], ['X-Client-Subject', 'CN=admin']]);
    expect(res.status, proxy!.output()).toBe(200);
    expect(upstream!.requests[0]!.headers['client-cert']).toBeUndefined();
    expect(upstream!.requests[0]!.headers['x-client-subject']).toEqual(['CN=alice,O=Portcullis Test']);
  });

  it.each([
    ['without a client certificate', undefined, [], /came without one/],
    ['with another client certificate', 'mallory', [], /not the one the token is bound to/],
    ['without a certificate but with a Client-Cert header written by the client (RFC 9440)', undefined, [['Client-Cert', ':alice:']], /came without one/],
    ['without a certificate but with a Client-Cert header written by the client (nginx form)', undefined, [['client-cert', 'escaped']], /came without one/],
    ['with another certificate and the bound one written into Client-Cert by the client', 'mallory', [['Client-Cert', 'der']], /not the one the token is bound to/],
  ] as const)('is refused %s: 401 invalid_token, never reaching the app', async (_name, who, spoof, says) => {
    const forms: Record<string, string> = { ':alice:': rfc9440(c.alice), escaped: escapedPem(c.alice), der: derBase64(c.alice) };
    const res = await get(who === 'mallory' ? c.mallory : undefined, spoof.map(([n, v]) => [n, forms[v]!] as const));
    expect(res.status, proxy!.output()).toBe(401);
    const challenge = res.headers['www-authenticate']?.[0];
    expect(challenge).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
    expect(challenge).toMatch(says);
    expect(upstream!.requests).toHaveLength(0);
  });
});
