import { describe, expect, it } from 'vitest';
import { headerValue, identityHeaders } from '../../src/core/identity.ts';

describe('headerValue', () => {
  it.each([
    ['a string', 'alice', 'alice'],
    ['a number', 42, '42'],
    ['a boolean', true, 'true'],
    ['an array of strings, comma-joined', ['ops', 'dev'], 'ops,dev'],
    ['UTF-8 text', 'José', 'José'],
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
    ['a value over the byte bound (never truncated)', 'x'.repeat(65)],
    ['multi-byte text over the byte bound', 'é'.repeat(33)],
  ])('withholds %s', (_name, claim) => {
    expect(headerValue(claim, 64)).toBeUndefined();
  });
});

describe('identityHeaders', () => {
  const mappings = [
    { claim: 'sub', header: 'x-auth-subject' },
    { claim: 'email', header: 'x-auth-email' },
  ];
  it('answers every configured header in order, undefined where the claim is absent', () => {
    expect(identityHeaders({ sub: 'alice' }, mappings, 64)).toEqual([
      { name: 'x-auth-subject', value: 'alice' },
      { name: 'x-auth-email', value: undefined },
    ]);
  });
  it('answers every header undefined without claims', () => {
    expect(identityHeaders(undefined, mappings, 64).map((h) => h.value)).toEqual([undefined, undefined]);
  });
});
