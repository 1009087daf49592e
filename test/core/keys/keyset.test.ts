import { describe, expect, it } from 'vitest';
import { generateKeyPairSync } from 'node:crypto';
import { parseKeySet } from '../../../src/core/keys/keyset.ts';
import { makeKey } from '../../support/tokens.ts';

describe('parseKeySet', () => {
  it('keeps only public members of a JWK that leaks its private part', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const priv = pair.privateKey.export({ format: 'jwk' });
    const r = parseKeySet({ keys: [{ ...priv, kid: 'k1', use: 'sig' }] });
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(Object.keys(r.set.entries[0]!.publicJwk).sort()).toEqual(['crv', 'kid', 'kty', 'x', 'y']);
    expect(r.set.entries[0]!.key.type).toBe('public');
  });

  it.each([
    ['not an object', 'hello'],
    ['no keys array', { foo: [] }],
    ['an empty key set', { keys: [] }],
    ['only a symmetric key', { keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 'h' }] }],
    ['only an encryption key', { keys: [{ kty: 'RSA', use: 'enc', n: 'AQAB', e: 'AQAB' }] }],
    ['only garbage keys', { keys: [{ kty: 'EC', crv: 'P-256', x: 'bad', y: 'bad' }, 7] }],
  ])('refuses %s (it must never replace a good set)', (_name, doc) => {
    expect(parseKeySet(doc).ok).toBe(false);
  });

  it('skips unusable keys and says why, keeping the usable ones', async () => {
    const good = await makeKey('ES256', 'good');
    const r = parseKeySet({ keys: [{ kty: 'oct', k: 'c2VjcmV0' }, good.jwk, { ...good.jwk, key_ops: ['encrypt'] }] });
    expect(r.ok && r.set.entries.map((e) => e.kid)).toEqual(['good']);
    expect(r.ok && r.set.skipped).toHaveLength(2);
  });
});

describe('KeySet.select', () => {
  it.each([
    ['the kid with a fitting algorithm', 'es', 'ES256', 'found'],
    ['the kid with an algorithm of another key type (RSA key for ES256)', 'rsa', 'ES256', 'none'],
    ['the kid with an algorithm the JWK does not pin', 'es', 'ES384', 'none'],
    ['an RSA key for PS256 (same key type, JWK pins RS256)', 'rsa', 'PS256', 'none'],
    ['an unknown kid', 'nope', 'ES256', 'none'],
    ['an Ed25519 key for EdDSA', 'ed', 'EdDSA', 'found'],
  ] as const)('%s → %s', async (_name, kid, alg, kind) => {
    const set = parseKeySet({ keys: [(await makeKey('ES256', 'es')).jwk, (await makeKey('RS256', 'rsa')).jwk, (await makeKey('EdDSA', 'ed')).jwk] });
    expect(set.ok && set.set.select(kid, alg).kind).toBe(kind);
  });

  it('uses the only fitting key for a token without kid, and refuses to guess among several', async () => {
    const es = await makeKey('ES256', 'es');
    const rsa = await makeKey('RS256', 'rsa');
    const one = parseKeySet({ keys: [es.jwk, rsa.jwk] });
    expect(one.ok && one.set.select(undefined, 'ES256')).toMatchObject({ kind: 'found', entry: { kid: 'es' } });
    const two = parseKeySet({ keys: [es.jwk, (await makeKey('ES256', 'es2')).jwk] });
    expect(two.ok && two.set.select(undefined, 'ES256').kind).toBe('ambiguous');
  });
});
