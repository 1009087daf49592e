/**
 * Claim paths, prefix, not and path templates through the real core: identity headers (global and per rule) and
 * required_claims read nested and dotted claims by the same rule as requirements, an ambiguous path fails closed
 * everywhere, and explain shows each condition and the template's values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/app.ts';
import type { Decision } from '../../src/core/types.ts';
import type { ExplainStep } from '../../src/core/explain.ts';
import type { CoreAuthorizer } from '../../src/core/authorizer.ts';
import { bearer, request, startCore, testConfig } from '../support/core.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

let key: TestKey;
let core: Core;

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  core = await startCore(
    testConfig(
      {
        identity_headers: { sub: 'x-auth-subject', 'realm_access.roles': 'x-auth-roles', 'https://example.com/tier': 'x-auth-tier' },
        routes: [
          {
            name: 'tenant',
            match: { paths: ['/tenants/{tenant}/**'] },
            require: { claims: { 'realm_access.roles': { contains: 'user' } }, not: { claims: { role: { equals: 'guest' } } } },
            identity_headers: { 'kubernetes.io.namespace': 'x-auth-namespace' },
          },
          { name: 'mesh', match: { paths: ['/mesh/**'] }, require: { claims: { sub: { prefix: 'spiffe://prod.example/ns/payments/' } } } },
        ],
      },
      { jwks: jwksOf(key), required_claims: ['sub', 'kubernetes.io.namespace'] },
    ),
  );
});

const k8s = { 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } } };
const identity = (d: Decision) => Object.fromEntries(d.identity.map((h) => [h.name, h.value]));
const check = async (path: string, claims: Record<string, unknown>, explain?: (s: ExplainStep) => void) =>
  (core.authorizer as CoreAuthorizer).check(request({ path, headers: bearer(await signToken(key, claims)) }), explain);

describe('identity headers from claim paths', () => {
  it('writes nested, dotted-key and URI-named claims, global and per rule', async () => {
    const d = await check('/tenants/acme/x', { ...k8s, realm_access: { roles: ['user', 'ops'] }, 'https://example.com/tier': 'gold' });
    expect(d).toMatchObject({ kind: 'allow', rule: 'tenant' });
    expect(identity(d)).toMatchObject({ 'x-auth-subject': 'alice', 'x-auth-roles': 'user,ops', 'x-auth-tier': 'gold', 'x-auth-namespace': 'payments' });
  });

  it.each([
    ['an object', { realm_access: { roles: { a: 1 } } }],
    ['an ambiguous path', { realm_access: { roles: ['user'] }, 'realm_access.roles': ['admin'] }],
  ])('leaves the header empty for %s', async (_n, claims) => {
    const d = await check('/other', { ...k8s, ...claims });
    expect(d).toMatchObject({ kind: 'allow' });
    expect(identity(d)['x-auth-roles']).toBeUndefined();
  });
});

describe('required_claims with a claim path', () => {
  it.each([
    ['absent', {}, 'token has no "kubernetes.io.namespace" claim'],
    ['ambiguous', { ...k8s, kubernetes: { io: { namespace: 'other' } } }, 'claim "kubernetes.io.namespace" is ambiguous in this token: it resolves in more than one way'],
  ])('refuses a token where it is %s (401 claim_missing)', async (_n, claims, message) => {
    expect(await check('/other', claims)).toMatchObject({ kind: 'deny', status: 401, reason: 'claim_missing', message });
  });
});

describe('prefix and not', () => {
  it.each<[string, string, Record<string, unknown>, Partial<Decision>]>([
    ['a SPIFFE ID under the prefix', '/mesh/x', { sub: 'spiffe://prod.example/ns/payments/sa/api' }, { kind: 'allow' }],
    ['a SPIFFE ID of another namespace', '/mesh/x', { sub: 'spiffe://prod.example/ns/billing/sa/api' }, { kind: 'deny', status: 403, reason: 'requirement_not_met' }],
    ['a token without a role (not a guest)', '/tenants/acme/x', { realm_access: { roles: ['user'] } }, { kind: 'allow' }],
    ['a guest', '/tenants/acme/x', { realm_access: { roles: ['user'] }, role: 'guest' }, { kind: 'deny', status: 403, reason: 'requirement_not_met' }],
    ['an ambiguous role path: never a pass', '/tenants/acme/x', { realm_access: { roles: ['user'] }, 'realm_access.roles': ['user'] }, { kind: 'deny', status: 403, reason: 'requirement_not_met' }],
  ])('answers %s', async (_n, path, claims, expected) => {
    expect(await check(path, { ...k8s, ...claims })).toMatchObject(expected);
  });
});

describe('explain', () => {
  it('shows the template values and each condition with its outcome', async () => {
    const steps: ExplainStep[] = [];
    const d = await check('/tenants/acme/orders', { ...k8s, realm_access: { roles: ['ops'] }, role: 'guest' }, (s) => steps.push(s));
    expect(d).toMatchObject({ kind: 'deny', status: 403, reason: 'requirement_not_met' });
    expect(steps.find((s) => s.check === 'route')?.detail).toBe('rule tenant (anonymous required) with tenant="acme"');
    expect(steps.filter((s) => s.check.startsWith('require.')).map((s) => [s.check, s.ok])).toEqual([
      ['require.claims.realm_access.roles', false],
      ['require.not.claims.role', true],
      ['require.not', false],
    ]);
  });
});
