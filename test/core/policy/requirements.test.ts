import { describe, expect, it } from 'vitest';
import { evaluate, scopesOf } from '../../../src/core/policy/requirements.ts';
import type { Requirement } from '../../../src/core/policy/types.ts';
import type { RuleContext } from '../../../src/core/policy/requirements.ts';
import type { AuthRequest } from '../../../src/core/types.ts';

const ISS = 'https://idp.test/';
const claims = { sub: 'alice', aud: ['api', 'web'], scope: 'read write', groups: ['dev', 'ops'], email_verified: true, tenant: 'acme', level: 3 };

describe('scopesOf', () => {
  it.each([
    ['a space-separated scope', { scope: 'a b  c' }, ['a', 'b', 'c']],
    ['an scp array', { scp: ['a', 'b'] }, ['a', 'b']],
    ['an scp string', { scp: 'a b' }, ['a', 'b']],
    ['both', { scope: 'a', scp: ['b'] }, ['a', 'b']],
    ['neither', {}, []],
    ['non-string scp entries', { scp: ['a', 7, null] }, ['a']],
  ])('reads %s', (_n, c, expected) => {
    expect([...scopesOf(c)].sort()).toEqual(expected);
  });
});

const request: AuthRequest = { transport: 'http', method: 'GET', host: 'api.test', scheme: 'https', path: '/', headers: new Map(), contextExtensions: new Map() };
const ctx = (c: Record<string, unknown>): RuleContext => ({ claims: c, issuer: ISS, request, path: '/', params: {} });

describe('evaluate', () => {
  it.each<[string, Requirement]>([
    ['no requirement', {}],
    ['an allowed issuer', { issuers: [ISS] }],
    ['an allowed audience', { audiences: ['web'] }],
    ['all required scopes', { scopes: ['read', 'write'] }],
    ['groups contains ops', { claims: { groups: { contains: 'ops' } } }],
    ['a scalar claim contains its own value', { claims: { tenant: { contains: 'acme' } } }],
    ['email_verified equals true', { claims: { email_verified: { equals: true } } }],
    ['tenant one_of', { claims: { tenant: { one_of: ['acme', 'globex'] } } }],
    ['a numeric claim equals', { claims: { level: { equals: 3 } } }],
    ['a present claim', { claims: { sub: { present: true } } }],
    ['any with one holding', { any: [{ scopes: ['admin'] }, { claims: { groups: { contains: 'ops' } } }] }],
    ['all holding', { all: [{ scopes: ['read'] }, { audiences: ['api'] }] }],
  ])('holds for %s', (_n, req) => {
    expect(evaluate(req, ctx(claims))).toEqual({ ok: true });
  });

  it.each<[string, Requirement, string, string[]]>([
    ['another issuer only', { issuers: ['https://partner.test/'] }, 'issuer "https://idp.test/" is not allowed on this route (allowed: https://partner.test/)', []],
    ['another audience only', { audiences: ['admin-api'] }, 'audience not allowed on this route: expected one of ["admin-api"], got ["api", "web"]', []],
    ['a missing scope, named', { scopes: ['read', 'admin', 'delete'] }, 'missing scope: admin delete', ['admin', 'delete']],
    ['a group not contained', { claims: { groups: { contains: 'admins' } } }, 'claim "groups" must contain "admins"', []],
    ['equals with another type', { claims: { email_verified: { equals: 'true' } } }, 'claim "email_verified" must equal "true"', []],
    ['one_of without the value', { claims: { tenant: { one_of: ['globex'] } } }, 'claim "tenant" must be one of ["globex"]', []],
    ['equals against an array claim', { claims: { groups: { equals: 'ops' } } }, 'claim "groups" must equal "ops"', []],
    ['an absent claim', { claims: { department: { present: true } } }, 'claim "department" must be present', []],
    ['any with none holding', { any: [{ scopes: ['admin'] }, { claims: { tenant: { equals: 'globex' } } }] }, 'none of the alternatives holds: missing scope: admin; or claim "tenant" must equal "globex"', ['admin']],
    ['all with one failing', { all: [{ scopes: ['read'] }, { scopes: ['admin'] }] }, 'missing scope: admin', ['admin']],
    ['fields AND-ed', { scopes: ['read'], claims: { tenant: { equals: 'globex' } } }, 'claim "tenant" must equal "globex"', []],
  ])('fails for %s', (_n, req, message, missing) => {
    expect(evaluate(req, ctx(claims))).toEqual({ ok: false, message, missingScopes: missing });
  });

  it('does not read a scope out of an unrelated claim', () => {
    expect(evaluate({ scopes: ['admin'] }, ctx({ roles: 'admin' })).ok).toBe(false);
  });
});

describe('claim paths, prefix and not', () => {
  const token = {
    sub: 'spiffe://prod.example/ns/payments/sa/api',
    realm_access: { roles: ['admin', 'user'] },
    resource_access: { 'my-client': { roles: ['editor'] } },
    'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } },
    'https://example.com/roles': ['reader'],
    uris: ['mailto:x@example.com', 'spiffe://prod.example/ns/payments/sa/worker'],
    role: 'member',
    // Resolves two ways: a dotted key and a nested object.
    'org.team': 'red',
    org: { team: 'blue' },
  };

  it.each<[string, Requirement]>([
    ['a Keycloak realm role', { claims: { 'realm_access.roles': { contains: 'admin' } } }],
    ['a Keycloak client role', { claims: { 'resource_access.my-client.roles': { contains: 'editor' } } }],
    ['a Kubernetes namespace and service account', { claims: { 'kubernetes.io.namespace': { equals: 'payments' }, 'kubernetes.io.serviceaccount.name': { equals: 'api' } } }],
    ['a URI-named claim', { claims: { 'https://example.com/roles': { contains: 'reader' } } }],
    ['a string claim with a prefix', { claims: { sub: { prefix: 'spiffe://prod.example/ns/payments/' } } }],
    ['an array claim with one element with a prefix', { claims: { uris: { prefix: 'spiffe://prod.example/' } } }],
    ['not a guest', { not: { claims: { role: { equals: 'guest' } } } }],
    ['not a guest, for a token without a role (absent is "does not hold")', { not: { claims: { department: { equals: 'guest' } } } }],
    ['not missing a scope', { not: { scopes: ['admin'] } }],
    ['not not', { not: { not: { claims: { role: { equals: 'member' } } } } }],
    ['not inside any', { any: [{ scopes: ['admin'] }, { not: { claims: { role: { equals: 'guest' } } } }] }],
    ['not inside all', { all: [{ scopes: ['read'] }, { not: { issuers: ['https://other.test/'] } }] }],
  ])('holds for %s', (_n, req) => {
    expect(evaluate(req, ctx({ ...claims, ...token }))).toEqual({ ok: true });
  });

  const ambiguous = 'claim "org.team" is ambiguous in this token: it resolves in more than one way';
  it.each<[string, Requirement, string, boolean]>([
    ['a prefix no element has', { claims: { uris: { prefix: 'spiffe://staging.example/' } } }, 'claim "uris" must start with "spiffe://staging.example/"', false],
    ['a prefix on a non-string claim', { claims: { level: { prefix: '3' } } }, 'claim "level" must start with "3"', false],
    ['a prefix on an absent claim', { claims: { nope: { prefix: 'a' } } }, 'claim "nope" must start with "a"', false],
    ['a nested role the token lacks', { claims: { 'realm_access.roles': { contains: 'root' } } }, 'claim "realm_access.roles" must contain "root"', false],
    ['not, when the inner holds', { not: { claims: { role: { equals: 'member' } } } }, 'must not hold, but does: claim "role" must equal "member"', false],
    ['an ambiguous path, even for present', { claims: { 'org.team': { present: true } } }, ambiguous, true],
    ['an ambiguous path under not: never a pass', { not: { claims: { 'org.team': { equals: 'green' } } } }, ambiguous, true],
    ['an ambiguous path under not not', { not: { not: { claims: { 'org.team': { equals: 'red' } } } } }, ambiguous, true],
    ['an ambiguous alternative before one that holds', { any: [{ claims: { 'org.team': { present: true } } }, { scopes: ['read'] }] }, ambiguous, true],
    ['an ambiguous alternative after one that holds: the order never hides an error', { any: [{ scopes: ['read'] }, { claims: { 'org.team': { present: true } } }] }, ambiguous, true],
    ['an ambiguous path in all after a failing condition, under not', { not: { all: [{ scopes: ['admin'] }, { claims: { 'org.team': { present: true } } }] } }, ambiguous, true],
    ['an ambiguous claim condition after a failing one', { claims: { sub: { equals: 'mallory' }, 'org.team': { present: true } } }, ambiguous, true],
    ['an ambiguous path in all, under not', { not: { all: [{ scopes: ['read'] }, { claims: { 'org.team': { present: true } } }] } }, ambiguous, true],
  ])('fails for %s', (_n, req, message, error) => {
    expect(evaluate(req, ctx({ ...claims, ...token }))).toEqual({ ok: false, message, missingScopes: [], ...(error ? { error: true } : {}) });
  });
});

describe('evaluate with explain', () => {
  const explained = (req: Requirement, c: Record<string, unknown>) => {
    const steps: { check: string; ok: boolean; detail: string }[] = [];
    const result = evaluate(req, ctx(c), (s) => steps.push(s));
    return { result, steps };
  };

  it('reports every condition under its key path, each with its outcome, past the first failure', () => {
    const req: Requirement = {
      scopes: ['admin'],
      claims: { tenant: { equals: 'acme' }, 'realm_access.roles': { contains: 'root' } },
      any: [{ claims: { level: { one_of: [1, 2] } } }, { not: { claims: { tenant: { prefix: 'glob' } } } }],
    };
    const { result, steps } = explained(req, { ...claims, realm_access: { roles: ['user'] } });
    expect(result).toEqual(evaluate(req, ctx({ ...claims, realm_access: { roles: ['user'] } })));
    expect(steps.map((s) => [s.check, s.ok])).toEqual([
      ['require.scopes', false],
      ['require.claims.tenant', true],
      ['require.claims.realm_access.roles', false],
      ['require.any[0].claims.level', false],
      ['require.any[1].not.claims.tenant', false],
      ['require.any[1].not', true],
      ['require.any', true],
    ]);
    expect(steps[1]!.detail).toBe('claim "tenant" must equal "acme": holds');
    expect(steps[2]!.detail).toBe('claim "realm_access.roles" must contain "root"');
  });

  it('says when a condition cannot be decided', () => {
    const { steps } = explained({ not: { claims: { 'a.b': { present: true } } } }, { 'a.b': 1, a: { b: 2 } });
    expect(steps.at(-1)).toEqual({ check: 'require.not', ok: false, detail: 'cannot be decided: claim "a.b" is ambiguous in this token: it resolves in more than one way' });
  });

  it.each<[string, Requirement]>([
    ['an AND with two failures', { scopes: ['x'], claims: { tenant: { equals: 'no' } } }],
    ['an any with an error after a hold', { any: [{ scopes: ['read'] }, { claims: { 'a.b': { present: true } } }] }],
    ['an any with an error before a hold', { any: [{ claims: { 'a.b': { present: true } } }, { scopes: ['read'] }] }],
    ['an all with a failure before an error', { all: [{ scopes: ['x'] }, { claims: { 'a.b': { present: true } } }] }],
  ])('answers as it does without explain: %s', (_n, req) => {
    const c = { ...claims, 'a.b': 1, a: { b: 2 } };
    expect(explained(req, c).result).toEqual(evaluate(req, ctx(c)));
  });
});
