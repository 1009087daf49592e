/**
 * The worked examples of docs/policies.md with real signed tokens through the real service and each way a proxy
 * asks: gRPC ext_authz (Envoy), forward auth (Caddy, Traefik, nginx) and Envoy HTTP mode. Keycloak realm and
 * client roles, a Kubernetes service account (namespace and name under the dotted "kubernetes.io" key), a SPIFFE
 * prefix, a GitHub Actions repository and branch, and negation; an ambiguous claim path is always a 403.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { checkRequest } from '../support/process.ts';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { signToken } from '../support/tokens.ts';
import { send } from '../transports/http/fixtures.ts';

const CONFIG = {
  envoy_http: { path_prefix: '/envoy' },
  routes: [
    { name: 'keycloak-admin', match: { paths: ['/admin/**'] }, require: { claims: { 'realm_access.roles': { contains: 'admin' } } } },
    {
      name: 'keycloak-client',
      match: { paths: ['/reports/**'] },
      require: { claims: { 'resource_access.reports-app.roles': { contains: 'viewer' } } },
      identity_headers: { 'resource_access.reports-app.roles': 'x-auth-client-roles' },
    },
    {
      name: 'kubernetes',
      match: { paths: ['/internal/payments/**'] },
      require: { claims: { 'kubernetes.io.namespace': { equals: 'payments' }, 'kubernetes.io.serviceaccount.name': { one_of: ['api', 'worker'] } } },
      identity_headers: { 'kubernetes.io.namespace': 'x-auth-namespace' },
    },
    { name: 'spiffe', match: { paths: ['/mesh/**'] }, require: { claims: { sub: { prefix: 'spiffe://prod.example/ns/payments/' } } } },
    { name: 'github-deploy', match: { paths: ['/deploy/**'] }, require: { claims: { sub: { prefix: 'repo:acme/' }, ref: { equals: 'refs/heads/main' } } } },
    { name: 'no-guests', match: { paths: ['/members/**'] }, require: { not: { claims: { role: { equals: 'guest' } } } } },
  ],
};

interface Answer {
  readonly status: number;
  readonly headers: Record<string, string>;
  /** The deny body's reason code. */
  readonly reason?: string;
}
const reasonOf = (body: string): string | undefined => (body === '' ? undefined : (JSON.parse(body) as { reason?: string }).reason);

let p: TestPortcullis;
let grpc: EnvoyClient;
beforeAll(async () => {
  p = await startTestPortcullis({ config: CONFIG });
  grpc = connectEnvoyClient(p.grpcAddress);
});
afterAll(async () => {
  grpc.close();
  await p.close();
});

const STATUS: Record<string, number> = { Forbidden: 403, Unauthorized: 401 };
const first = (h: Record<string, readonly string[]>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, v[0] ?? '']));

/** One question, asked as each proxy asks it. */
const TRANSPORTS: Record<string, (path: string, token: string) => Promise<Answer>> = {
  grpc: async (path, token) => {
    const r = await grpc.check(checkRequest({ authorization: `Bearer ${token}` }, path));
    if (r.status.code !== 0) return { status: STATUS[r.denied_response.status.code] ?? 0, headers: {}, reason: reasonOf(r.denied_response.body) };
    return { status: 200, headers: Object.fromEntries((r.ok_response?.headers ?? []).map((h: any) => [h.header.key, h.header.value])) };
  },
  'forward auth': async (path, token) => {
    const headers = [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', path], ['X-Forwarded-Host', 'api.test'], ['X-Forwarded-Proto', 'https'], ['Authorization', `Bearer ${token}`]] as const;
    const r = await send(p.httpUrl, { path: '/auth', headers });
    return { status: r.status, headers: first(r.headers), reason: reasonOf(r.body) };
  },
  'Envoy HTTP mode': async (path, token) => {
    const r = await send(p.httpUrl, { path: `/envoy${path}`, headers: [['Host', 'api.test'], ['Authorization', `Bearer ${token}`]] });
    return { status: r.status, headers: first(r.headers), reason: reasonOf(r.body) };
  },
};

interface Case {
  readonly name: string;
  readonly path: string;
  readonly claims: Record<string, unknown>;
  readonly status: 200 | 403;
  /** Identity headers the allow must set. */
  readonly identity?: Record<string, string>;
}

const gha = (sub: string, ref: string) => ({ sub, ref, repository: sub.split(':')[1], repository_owner: 'acme' });

const CASES: readonly Case[] = [
  { name: 'a Keycloak realm admin', path: '/admin/users', claims: { realm_access: { roles: ['offline_access', 'admin'] } }, status: 200 },
  { name: 'a Keycloak realm user on /admin', path: '/admin/users', claims: { realm_access: { roles: ['user'] } }, status: 403 },
  { name: 'a Keycloak token with the roles path twice (ambiguous)', path: '/admin/users', claims: { realm_access: { roles: ['admin'] }, 'realm_access.roles': ['admin'] }, status: 403 },
  { name: 'a Keycloak client role', path: '/reports/q3', claims: { resource_access: { 'reports-app': { roles: ['viewer', 'export'] } } }, status: 200, identity: { 'x-auth-client-roles': 'viewer,export' } },
  { name: "another client's role", path: '/reports/q3', claims: { resource_access: { 'other-app': { roles: ['viewer'] } } }, status: 403 },
  {
    name: 'a Kubernetes service account in payments',
    path: '/internal/payments/refunds',
    claims: { sub: 'system:serviceaccount:payments:api', 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api', uid: 'f0e1' }, pod: { name: 'api-7d9', uid: 'a1b2' } } },
    status: 200,
    identity: { 'x-auth-namespace': 'payments', 'x-auth-subject': 'system:serviceaccount:payments:api' },
  },
  { name: 'a Kubernetes service account in billing', path: '/internal/payments/refunds', claims: { 'kubernetes.io': { namespace: 'billing', serviceaccount: { name: 'api' } } }, status: 403 },
  { name: 'another service account in payments', path: '/internal/payments/refunds', claims: { 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'batch' } } }, status: 403 },
  { name: 'a SPIFFE ID under the payments namespace', path: '/mesh/charge', claims: { sub: 'spiffe://prod.example/ns/payments/sa/api' }, status: 200, identity: { 'x-auth-subject': 'spiffe://prod.example/ns/payments/sa/api' } },
  { name: 'a SPIFFE ID of a look-alike namespace', path: '/mesh/charge', claims: { sub: 'spiffe://prod.example/ns/payments-test/sa/api' }, status: 403 },
  { name: 'a SPIFFE ID of another trust domain', path: '/mesh/charge', claims: { sub: 'spiffe://prod.example.evil/ns/payments/sa/api' }, status: 403 },
  { name: 'a GitHub Actions run on acme/app main', path: '/deploy/app', claims: gha('repo:acme/app:ref:refs/heads/main', 'refs/heads/main'), status: 200 },
  { name: 'a GitHub Actions run on a feature branch', path: '/deploy/app', claims: gha('repo:acme/app:ref:refs/heads/feature', 'refs/heads/feature'), status: 403 },
  { name: 'a GitHub Actions run of a look-alike owner', path: '/deploy/app', claims: gha('repo:acme-evil/app:ref:refs/heads/main', 'refs/heads/main'), status: 403 },
  { name: 'a member (no role claim at all)', path: '/members/home', claims: {}, status: 200 },
  { name: 'a member with a role', path: '/members/home', claims: { role: 'member' }, status: 200 },
  { name: 'a guest', path: '/members/home', claims: { role: 'guest' }, status: 403 },
];

describe.each(Object.keys(TRANSPORTS))('claim-path rules through %s', (transport) => {
  it.each(CASES)('answers $name with $status', async ({ path, claims, status, identity }) => {
    const answer = await TRANSPORTS[transport]!(path, await signToken(p.key, claims));
    expect(answer.status).toBe(status);
    expect(answer.reason).toBe(status === 403 ? 'requirement_not_met' : undefined);
    if (identity) expect(answer.headers).toMatchObject(identity);
  });
});
