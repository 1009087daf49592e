import { describe, expect, it } from 'vitest';
import { claimHeaderValue, headerValue } from '../../src/core/identity.ts';

describe('headerValue', () => {
  it.each([
    ['a string', 'alice', 'alice'],
    ['a number', 42, '42'],
    ['a boolean', true, 'true'],
    ['an array of strings, comma-joined', ['ops', 'dev'], 'ops,dev'],
    ['UTF-8 text', 'José', 'José'],
    ['text just past C1 (U+00A0)', 'a\u00a0b', 'a\u00a0b'],
    ['a surrogate pair (astral character)', 'a😀b', 'a😀b'],
  ])('writes %s', (_name, claim, expected) => {
    expect(headerValue(claim, 64)).toBe(expected);
  });

  it.each([
    ['CR LF (header injection)', 'alice\r\nx-admin: true'],
    ['a bare LF', 'alice\nbob'],
    ['NUL', 'alice\u0000'],
    ['DEL', 'alice\u007f'],
    ['a tab', 'al\tice'],
    ['an injection inside an array', ['ops', 'x\r\ny: z']],
    ['an object', { role: 'admin' }],
    ['a nested array', [['a']]],
    ['null', null],
    ['an empty string', ''],
    ['an empty array', []],
    ['C1 NEL (U+0085)', 'a\u0085b'],
    ['C1 U+0080', 'a\u0080b'],
    ['C1 CSI (U+009B)', 'a\u009bb'],
    ['C1 U+009F', 'a\u009fb'],
    ['an unpaired high surrogate (would collide after repair)', 'al\ud800ice'],
    ['an unpaired low surrogate', 'al\udc00ice'],
    ['a value over the byte bound (never truncated)', 'x'.repeat(65)],
    ['multi-byte text over the byte bound', 'é'.repeat(33)],
  ])('withholds %s', (_name, claim) => {
    expect(headerValue(claim, 64)).toBeUndefined();
  });
});

describe('claimHeaderValue (a configured claim path)', () => {
  const claims = { sub: 'alice', realm_access: { roles: ['admin', 'user'] }, 'kubernetes.io': { namespace: 'payments' }, 'a.b': 'x', a: { b: 'y' }, obj: { k: { v: 1 } } };
  it.each([
    ['a top-level claim', 'sub', 'alice'],
    ['a nested array, comma-joined', 'realm_access.roles', 'admin,user'],
    ['a claim under a dotted key', 'kubernetes.io.namespace', 'payments'],
    ['an ambiguous path: empty, fail closed', 'a.b', undefined],
    ['an object: empty', 'obj.k', undefined],
    ['an absent path: empty', 'realm_access.groups', undefined],
  ])('writes %s', (_n, name, expected) => {
    expect(claimHeaderValue(claims, name, 64)).toBe(expected);
  });
});
