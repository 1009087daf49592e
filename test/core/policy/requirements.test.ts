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
