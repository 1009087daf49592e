import { describe, expect, it } from 'vitest';
import { AMBIGUOUS, claimValue, copyClaims, lookupClaim } from '../../src/core/claim-path.ts';

const keycloak = { sub: 'u1', realm_access: { roles: ['admin', 'user'] }, resource_access: { 'my-client': { roles: ['editor'] } } };
const kubernetes = { sub: 'system:serviceaccount:payments:api', 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api', uid: 'x' } } };
const uri = { 'https://example.com/roles': ['reader'], 'https://example.com': { other: 1 } };

describe('claim paths', () => {
  it.each<[string, Record<string, unknown>, string, unknown]>([
    ['a top-level claim', keycloak, 'sub', 'u1'],
    ['Keycloak realm roles', keycloak, 'realm_access.roles', ['admin', 'user']],
    ['Keycloak client roles (a key with a dash)', keycloak, 'resource_access.my-client.roles', ['editor']],
    ['a Kubernetes namespace under a dotted top-level key', kubernetes, 'kubernetes.io.namespace', 'payments'],
    ['a Kubernetes service account name, two levels under it', kubernetes, 'kubernetes.io.serviceaccount.name', 'api'],
    ['a top-level URI-named claim with dots', uri, 'https://example.com/roles', ['reader']],
    ['an object claim itself', keycloak, 'realm_access', { roles: ['admin', 'user'] }],
    ['a null leaf (present, but null)', { a: { b: null } }, 'a.b', null],
  ])('reaches %s', (_n, claims, name, expected) => {
    expect(claimValue(claims, name)).toEqual(expected);
    const found = lookupClaim(claims, name);
    expect(found.kind === 'found' && found.value).toEqual(expected);
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['an absent claim', keycloak, 'email'],
    ['a path that stops short', keycloak, 'realm_access.groups'],
    ['a path through a scalar', keycloak, 'sub.length'],
    ['a path through an array (arrays are not walked)', { groups: [{ name: 'a' }] }, 'groups.0.name'],
    ['an inherited key', {}, 'constructor'],
    ['an inherited key under a claim', { a: {} }, 'a.__proto__'],
    ['an inherited method under a claim', { a: {} }, 'a.hasOwnProperty'],
    ['a prefix of a dotted key', kubernetes, 'kubernetes'],
  ])('finds nothing for %s', (_n, claims, name) => {
    expect(claimValue(claims, name)).toBeUndefined();
    expect(lookupClaim(claims, name)).toEqual({ kind: 'missing' });
  });

  it('reads an own "__proto__" key of a parsed token as data, never the prototype', () => {
    const claims = JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>;
    expect(claimValue(claims, '__proto__.admin')).toBe(true);
    expect(claimValue({}, '__proto__.admin')).toBeUndefined();
  });

  it.each<[string, Record<string, unknown>, string]>([
    ['a dotted key and a nested object both', { 'a.b': 1, a: { b: 2 } }, 'a.b'],
    ['the same value reached twice', { 'a.b': 'x', a: { b: 'x' } }, 'a.b'],
    ['two groupings deeper down', { k: { 'x.y': { z: 1 }, x: { 'y.z': 2 } } }, 'k.x.y.z'],
  ])('calls a name that resolves two ways AMBIGUOUS: %s', (_n, claims, name) => {
    expect(claimValue(claims, name)).toBe(AMBIGUOUS);
    expect(lookupClaim(claims, name)).toEqual({ kind: 'ambiguous' });
  });

  it('reports the keys that reached a value', () => {
    expect(lookupClaim(kubernetes, 'kubernetes.io.serviceaccount.name')).toEqual({ kind: 'found', value: 'api', keys: ['kubernetes.io', 'serviceaccount', 'name'] });
  });

  it('visits each object of a hostile token at most once, however many groupings a long name has', () => {
    // Name: 16 pieces "a.a.….a" (2^15 groupings). Token: every object has keys "a" and "a.a" leading to another
    // object, as deep as the name allows without ever resolving it. Lookups are counted through proxies.
    const PIECES = 16;
    let objects = 0;
    let lookups = 0;
    const build = (left: number): Record<string, unknown> => {
      objects++;
      const o: Record<string, unknown> = {};
      if (left > 2) o.a = build(left - 1);
      if (left > 3) o['a.a'] = build(left - 2);
      return new Proxy(o, { getOwnPropertyDescriptor: (t, k) => (lookups++, Reflect.getOwnPropertyDescriptor(t, k)) });
    };
    const claims = build(PIECES + 1);
    const name = Array.from({ length: PIECES }, () => 'a').join('.');
    expect(lookupClaim(claims, name)).toEqual({ kind: 'missing' });
    expect(objects).toBeGreaterThan(500);
    expect(lookups).toBeLessThanOrEqual(objects * PIECES);
  });

  it('stops at the second resolution', () => {
    let lookups = 0;
    const count = <T extends object>(o: T): T => new Proxy(o, { getOwnPropertyDescriptor: (t, k) => (lookups++, Reflect.getOwnPropertyDescriptor(t, k)) });
    const wide = count(Object.fromEntries(Array.from({ length: 1000 }, (_, i) => [`k${i}`, i])));
    const claims = count({ 'a.b': 1, a: count({ b: 2 }), rest: wide });
    expect(claimValue(claims, 'a.b')).toBe(AMBIGUOUS);
    expect(lookups).toBeLessThan(10);
  });
});

describe('copyClaims (sign.claims_from_token)', () => {
  it.each<[string, Record<string, unknown>, string[], Record<string, unknown>]>([
    ['top-level claims', { sub: 'u', email: 'e', x: 1 }, ['sub', 'email'], { sub: 'u', email: 'e' }],
    ['a nested claim with the structure that holds it', keycloak, ['realm_access.roles'], { realm_access: { roles: ['admin', 'user'] } }],
    ['two paths under one object', kubernetes, ['kubernetes.io.namespace', 'kubernetes.io.serviceaccount.name'], { 'kubernetes.io': { namespace: 'payments', serviceaccount: { name: 'api' } } }],
    ['a path under one copied whole', keycloak, ['realm_access', 'realm_access.roles'], { realm_access: { roles: ['admin', 'user'] } }],
    ['a path above one copied first', kubernetes, ['kubernetes.io.namespace', 'kubernetes.io'], { 'kubernetes.io': kubernetes['kubernetes.io'] }],
    ['absent and ambiguous names left out', { 'a.b': 1, a: { b: 2 }, sub: 's' }, ['a.b', 'email', 'sub'], { sub: 's' }],
  ])('copies %s', (_n, source, names, expected) => {
    const before = JSON.stringify(source);
    expect(copyClaims(source, names)).toEqual(expected);
    expect(JSON.stringify(source)).toBe(before);
  });

  it('keeps a "__proto__" key a key', () => {
    const source = JSON.parse('{"__proto__": {"admin": true}}') as Record<string, unknown>;
    const out = copyClaims(source, ['__proto__.admin']);
    expect(JSON.stringify(out)).toBe('{"__proto__":{"admin":true}}');
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
  });
});
