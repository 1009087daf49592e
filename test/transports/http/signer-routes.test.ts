/**
 * The signer's HTTP endpoints on a real listener with a stub authorizer: what /sign answers for each decision
 * (the minted header only on allow, every identity header cleared), and publication under the issuer's path.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { SignerConfig } from '../../../src/core/config.ts';
import type { AuthRequest, Authorizer, Decision } from '../../../src/core/types.ts';
import { buildDeny, type DenyContext } from '../../../src/core/deny.ts';
import { signerRoutes } from '../../../src/transports/http/signer-routes.ts';
import { startHttpServer, type RunningHttpServer } from '../../../src/transports/http/server.ts';
import { testConfig, TestReadiness } from './fixtures.ts';

const DENY: DenyContext = { realm: 'portcullis', cleared: [{ name: 'x-auth-subject', value: undefined }] };
const signer = (issuer: string): SignerConfig => ({
  issuer, algorithm: 'EdDSA', keys: { dir: '/unused', allowGroupRead: false }, ttlMs: 300_000, maxSkewMs: 60_000, fixedAudience: null, subjectHeader: null,
  claims: {}, allowedAudiences: null, replaceExisting: false, publishLeadMs: 900_000, endpoint: '/sign', endpointPolicy: 'outbound',
});

let server: RunningHttpServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(issuer: string, decide: (r: AuthRequest) => Decision): Promise<{ url: string; seen: AuthRequest[] }> {
  const seen: AuthRequest[] = [];
  const authorizer: Authorizer = { check: async (r) => (seen.push(r), decide(r)) };
  const routes = signerRoutes({ signer: signer(issuer), authorizer, deny: DENY, jwks: () => ({ keys: [{ kty: 'OKP', crv: 'Ed25519', x: 'abc', kid: 'k', alg: 'EdDSA', use: 'sig' }] }), maxAgeSeconds: 42 });
  server = await startHttpServer({ address: '127.0.0.1:0', config: testConfig(), authorizer, readiness: new TestReadiness(), routes });
  return { url: server.url, seen };
}

const forwarded = { 'x-forwarded-method': 'POST', 'x-forwarded-uri': '/charge', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'payments.svc' };

describe('/sign', () => {
  it('asks the core under the endpoint policy and answers the minted header with every identity header cleared', async () => {
    const { url, seen } = await serve('https://orders.svc', () => ({
      kind: 'allow', reason: 'token_signed', identity: DENY.cleared, signed: ['authorization', 'Bearer minted'], setHeaders: [['authorization', 'Bearer minted']],
    }));
    const res = await fetch(`${url}/sign`, { headers: { ...forwarded, 'x-original-host': 'evil.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('authorization')).toBe('Bearer minted');
    expect(res.headers.get('x-auth-subject')).toBe('');
    expect(seen[0]).toMatchObject({ method: 'POST', host: 'payments.svc', scheme: 'https', path: '/charge', endpoint: '/sign' });
    expect(seen[0]!.contextExtensions.get('policy')).toBe('outbound');
  });

  it('answers a deny as it is, with no header to copy', async () => {
    const { url } = await serve('https://orders.svc', () => buildDeny({ status: 403, reason: 'authorization_present', message: 'no', tokenOffered: false }, DENY));
    const res = await fetch(`${url}/sign`, { headers: forwarded });
    expect(res.status).toBe(403);
    expect(res.headers.get('authorization')).toBeNull();
    expect(((await res.json()) as { reason: string }).reason).toBe('authorization_present');
  });

  it('answers 503 internal_error when the authorizer throws', async () => {
    const { url } = await serve('https://orders.svc', () => {
      throw new Error('boom');
    });
    const res = await fetch(`${url}/sign`, { headers: forwarded });
    expect(res.status).toBe(503);
    expect(res.headers.get('authorization')).toBeNull();
  });
});

describe('publication', () => {
  it('serves discovery and the JWKS under the issuer path, GET and HEAD only, with the given max-age', async () => {
    const { url } = await serve('https://orders.svc/tenant/a/', () => {
      throw new Error('not called');
    });
    const discovery = await fetch(`${url}/tenant/a/.well-known/openid-configuration`);
    expect(await discovery.json()).toEqual({
      issuer: 'https://orders.svc/tenant/a/',
      jwks_uri: 'https://orders.svc/tenant/a/.well-known/jwks.json',
      id_token_signing_alg_values_supported: ['EdDSA'],
      token_endpoint_auth_signing_alg_values_supported: ['EdDSA'],
    });
    const jwks = await fetch(`${url}/tenant/a/.well-known/jwks.json`);
    expect(jwks.headers.get('cache-control')).toBe('public, max-age=42');
    expect(((await jwks.json()) as { keys: unknown[] }).keys).toHaveLength(1);
    const head = await fetch(`${url}/tenant/a/.well-known/jwks.json`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${url}/tenant/a/.well-known/jwks.json`, { method: 'DELETE' })).status).toBe(405);
    expect((await fetch(`${url}/.well-known/jwks.json`)).status).toBe(404);
  });
});
