/**
 * Certificate-bound tokens (RFC 8705) through the real service on every transport: Envoy gRPC (CheckRequests built
 * from Envoy's own protos, source.certificate or a trusted XFCC), forward auth and Envoy HTTP mode (the configured
 * header). Each transport refuses a bound token without its certificate or with another one, and an instance without
 * `client_certificate` takes no client-sent header as a certificate.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { makeKey, signToken, type TestKey } from '../support/tokens.ts';
import { clientPki, envoyPem, escapedPem, rfc9440, sha256Hex, x5tS256, type ClientPki } from '../support/client-certs.ts';
import { send } from '../transports/http/fixtures.ts';
import type { IssuedCert } from '../support/pki.ts';

interface Answer {
  readonly status: number;
  readonly reason?: string;
  readonly challenge?: string;
  readonly subject?: string;
}

/** What each transport carries as the client certificate: Envoy's peer field, or a header. */
type Cert = { readonly peer: string } | { readonly header: readonly [string, string] };

let c: ClientPki;
let key: TestKey;
let trusting: TestPortcullis;
let untrusting: TestPortcullis;
const clients = new Map<TestPortcullis, EnvoyClient>();
let bound: string;

beforeAll(async () => {
  c = clientPki();
  key = await makeKey('ES256', 'k1');
  const common = { envoy_http: { path_prefix: '/envoy' }, identity_headers: { sub: 'x-auth-subject' } };
  trusting = await startTestPortcullis({ key, config: { ...common, client_certificate: { header: 'client-cert', xfcc: true, identity_headers: { subject: 'x-client-subject' } } } });
  untrusting = await startTestPortcullis({ key, config: common });
  for (const p of [trusting, untrusting]) clients.set(p, connectEnvoyClient(p.grpcAddress));
  bound = await signToken(key, { cnf: { 'x5t#S256': x5tS256(c.alice) } });
});
afterAll(async () => {
  for (const client of clients.values()) client.close();
  await Promise.all([trusting?.close(), untrusting?.close()]);
  c?.pki.cleanup();
});

async function viaGrpc(p: TestPortcullis, token: string, cert?: Cert): Promise<Answer> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}`, ...(cert && 'header' in cert ? { [cert.header[0]]: cert.header[1] } : {}) };
  const response = await clients.get(p)!.check({
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.9', port_value: 51234 } }, ...(cert && 'peer' in cert ? { certificate: cert.peer } : {}) },
      request: { http: { method: 'GET', host: 'api.test', scheme: 'https', path: '/orders', headers } },
    },
  });
  if (response.status.code === 0) {
    const set = Object.fromEntries(response.ok_response.headers.map((h: any) => [h.header.key, h.header.value]));
    return { status: 200, subject: set['x-client-subject'] };
  }
  const denied = Object.fromEntries(response.denied_response.headers.map((h: any) => [h.header.key, h.header.value]));
  // envoy.type.v3.StatusCode comes back as its enum name.
  return { status: ({ Unauthorized: 401, Forbidden: 403 } as Record<string, number>)[response.denied_response.status.code] ?? -1, reason: JSON.parse(response.denied_response.body).reason, challenge: denied['www-authenticate'] };
}

async function viaHttp(p: TestPortcullis, path: string, extra: readonly (readonly [string, string])[], token: string, cert?: Cert): Promise<Answer> {
  const headers = [...extra, ['authorization', `Bearer ${token}`] as const, ...(cert && 'header' in cert ? [cert.header] : [])];
  const res = await send(p.httpUrl, { method: 'GET', path, headers });
  // Forward auth answers every identity header, empty when unset.
  if (res.status === 200) return { status: 200, subject: res.headers['x-client-subject']?.[0] || undefined };
  return { status: res.status, reason: JSON.parse(res.body).reason, challenge: res.headers['www-authenticate']?.[0] };
}

const FORWARDED = [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/orders'], ['x-forwarded-host', 'api.test'], ['x-forwarded-proto', 'https']] as const;

/** Each transport, and how its proxy would hand over a certificate. */
const TRANSPORTS: readonly [string, (p: TestPortcullis, token: string, cert?: Cert) => Promise<Answer>, (cert: IssuedCert) => Cert][] = [
  ['Envoy gRPC (source.certificate)', viaGrpc, (cert) => ({ peer: envoyPem(cert) })],
  ['Envoy gRPC (trusted x-forwarded-client-cert)', viaGrpc, (cert) => ({ header: ['x-forwarded-client-cert', `By=spiffe://gw;Hash=${sha256Hex(cert)};Cert="${envoyPem(cert)}"`] })],
  ['forward auth (RFC 9440 Client-Cert)', (p, t, cert) => viaHttp(p, '/auth', FORWARDED, t, cert), (cert) => ({ header: ['client-cert', rfc9440(cert)] })],
  ['forward auth (nginx escaped PEM)', (p, t, cert) => viaHttp(p, '/auth', FORWARDED, t, cert), (cert) => ({ header: ['client-cert', escapedPem(cert)] })],
  ['Envoy HTTP mode', (p, t, cert) => viaHttp(p, '/envoy/orders', [], t, cert), (cert) => ({ header: ['client-cert', rfc9440(cert)] })],
];

describe.each(TRANSPORTS)('a certificate-bound token over %s', (_name, call, certOf) => {
  it('is allowed with its certificate, whose subject reaches the upstream', async () => {
    expect(await call(trusting, bound, certOf(c.alice))).toEqual({ status: 200, subject: 'CN=alice,O=Portcullis Test' });
  });

  it.each([
    ['no certificate', () => undefined, 'certificate_missing'],
    ['another certificate', () => certOf(c.mallory), 'certificate_binding_mismatch'],
  ])('is refused with %s: 401 and an invalid_token challenge', async (_what, cert, reason) => {
    const answer = await call(trusting, bound, cert());
    expect(answer).toMatchObject({ status: 401, reason });
    expect(answer.challenge).toMatch(/^Bearer realm="portcullis", error="invalid_token"/);
  });

  it('is refused where the endpoint does not trust the header: a client-sent certificate is no certificate', async () => {
    const cert = certOf(c.alice);
    if ('peer' in cert) return; // source.certificate is Envoy's own TLS state, trusted everywhere (covered above)
    expect(await call(untrusting, bound, cert)).toMatchObject({ status: 401, reason: 'certificate_missing' });
  });
});

describe('a token that is not certificate-bound', () => {
  it.each(TRANSPORTS)('works as before over %s, with or without a certificate', async (_name, call, certOf) => {
    const plain = await signToken(key);
    expect(await call(trusting, plain)).toEqual({ status: 200, subject: undefined });
    expect(await call(untrusting, plain, certOf(c.mallory))).toMatchObject({ status: 200 });
  });
});
