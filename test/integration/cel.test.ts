/**
 * `require.when` through the real transports with real signed tokens: the same request, as Envoy sends it over gRPC,
 * as a forward-auth proxy sends it (X-Forwarded-*), and in Envoy HTTP mode, gets the same decision. Covers the
 * tenant-in-a-header worked example (docs/policies.md), a role-and-method rule, an expression that cannot see the
 * token header, a runtime error (403 requirement_not_met, never a 5xx or a gRPC error) and a catastrophic regular
 * expression against a hostile header (answered at once: matches runs on RE2).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { signToken } from '../support/tokens.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { send } from '../transports/http/fixtures.ts';

const ROUTES = [
  { name: 'tenant-path', match: { paths: ['/tenants/{tenant}/**'] }, require: { when: 'claims.tenant == request.params.tenant' } },
  { name: 'tenant', match: { paths: ['/orders/**'] }, require: { when: 'claims.tenant == request.headers["x-tenant"]' } },
  { name: 'admin', match: { paths: ['/admin/**'] }, require: { when: '"admin" in claims.roles && request.method == "GET"' } },
  { name: 'blind', match: { paths: ['/blind/**'] }, require: { when: '!("authorization" in request.headers) && request.host == "api.test"' } },
  { name: 'typed', match: { paths: ['/typed/**'] }, require: { when: 'claims.level > 2' } },
  { name: 'regex', match: { paths: ['/regex/**'] }, require: { when: 'request.headers["x-name"].matches("^(a|aa)+$")' } },
];

let p: TestPortcullis;
let grpc: EnvoyClient;
beforeAll(async () => {
  p = await startTestPortcullis({ config: { routes: ROUTES, envoy_http: { path_prefix: '/envoy' } } });
  grpc = connectEnvoyClient(p.grpcAddress);
});
afterAll(async () => {
  grpc.close();
  await p.close();
});

interface Answer {
  readonly status: number;
  readonly reason: string | undefined;
  readonly message: string | undefined;
}
type Send = (method: string, path: string, headers: Record<string, string>) => Promise<Answer>;

const GRPC_STATUS: Record<string, number> = { Forbidden: 403, Unauthorized: 401 };
const TRANSPORTS: readonly [string, Send][] = [
  ['gRPC', async (method, path, headers) => {
    const r = await grpc.check({ attributes: { request: { http: { method, path, host: 'api.test:443', headers: { ...headers, ':authority': 'api.test' } } } } });
    if (r.status.code === 0) return { status: 200, reason: undefined, message: undefined };
    const body = JSON.parse(r.denied_response.body);
    return { status: GRPC_STATUS[r.denied_response.status.code] ?? -1, reason: body.reason, message: body.message };
  }],
  ['forward auth', async (method, path, headers) => {
    const forwarded = [['X-Forwarded-Method', method], ['X-Forwarded-Uri', path], ['X-Forwarded-Host', 'API.test:8443'], ['X-Forwarded-Proto', 'https']] as [string, string][];
    const r = await send(p.httpUrl, { method: 'GET', path: '/auth', headers: [...forwarded, ...Object.entries(headers)] });
    const body = r.status === 200 ? {} : JSON.parse(r.body);
    return { status: r.status, reason: body.reason, message: body.message };
  }],
  ['Envoy HTTP mode', async (method, path, headers) => {
    const r = await send(p.httpUrl, { method, path: `/envoy${path}`, headers: [['Host', 'api.test'], ...Object.entries(headers)] });
    const body = r.status === 200 ? {} : JSON.parse(r.body);
    return { status: r.status, reason: body.reason, message: body.message };
  }],
];

describe.each(TRANSPORTS)('require.when over %s', (_name, ask) => {
  const bearer = async (claims: Record<string, unknown>) => ({ authorization: `Bearer ${await signToken(p.key, claims)}` });

  it('allows the token whose tenant is the one in the header, and refuses another tenant or no header', async () => {
    expect(await ask('GET', '/orders/7', { ...(await bearer({ tenant: 'acme' })), 'x-tenant': 'acme' })).toMatchObject({ status: 200 });
    const other = await ask('GET', '/orders/7', { ...(await bearer({ tenant: 'acme' })), 'x-tenant': 'globex' });
    expect(other).toEqual({ status: 403, reason: 'requirement_not_met', message: 'when "claims.tenant == request.headers[\\"x-tenant\\"]" is false' });
    expect(await ask('GET', '/orders/7', await bearer({ tenant: 'acme' }))).toMatchObject({ status: 403, reason: 'requirement_not_met', message: expect.stringContaining('could not be evaluated (no_such_key)') });
  });

  it('allows the token whose tenant is the one in the path template, and refuses another tenant', async () => {
    const acme = await bearer({ tenant: 'acme' });
    expect(await ask('GET', '/tenants/acme/orders/7', acme)).toMatchObject({ status: 200 });
    expect(await ask('GET', '/tenants/globex/orders/7', acme)).toEqual({ status: 403, reason: 'requirement_not_met', message: 'when "claims.tenant == request.params.tenant" is false' });
    // The template matches the normalized path: a path that cannot be normalized unambiguously never binds a tenant.
    for (const path of ['/tenants/acme%2F..%2Fglobex/orders', '/tenants/globex/../acme/orders']) expect((await ask('GET', path, acme)).status).toBe(403);
  });

  it('checks a role in a list claim together with the method', async () => {
    const admin = await bearer({ roles: ['dev', 'admin'] });
    expect(await ask('GET', '/admin/users', admin)).toMatchObject({ status: 200 });
    expect(await ask('DELETE', '/admin/users', admin)).toMatchObject({ status: 403, reason: 'requirement_not_met' });
    expect(await ask('GET', '/admin/users', await bearer({ roles: ['dev'] }))).toMatchObject({ status: 403, reason: 'requirement_not_met' });
  });

  it('never shows the token header to an expression, and sees the host without its port', async () => {
    expect(await ask('GET', '/blind/x', await bearer({}))).toMatchObject({ status: 200 });
  });

  it('answers a claim of the wrong type with 403 requirement_not_met, never an error of its own', async () => {
    expect(await ask('GET', '/typed/x', await bearer({ level: 3 }))).toMatchObject({ status: 200 });
    const r = await ask('GET', '/typed/x', await bearer({ level: 'high' }));
    expect(r).toMatchObject({ status: 403, reason: 'requirement_not_met' });
    expect(r.message).not.toContain('high');
  });

  it('answers a catastrophic pattern against a hostile header at once', async () => {
    const started = performance.now();
    expect(await ask('GET', '/regex/x', { ...(await bearer({})), 'x-name': `${'a'.repeat(30_000)}!` })).toMatchObject({ status: 403, reason: 'requirement_not_met' });
    expect(performance.now() - started).toBeLessThan(2000);
  });
});
