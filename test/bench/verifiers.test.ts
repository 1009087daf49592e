/**
 * The unique-token floors must do the work they claim: a floor that accepted every token would be fast for free and
 * make Portcullis look slow. Both verifiers accept the bench's tokens and reject the same bad ones.
 */
import { createPrivateKey, sign } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { ALGS, AUDIENCE, ISSUER, jwksOf, makeKeys, signTokens, type Alg, type BenchKey } from '../../bench/fixtures.ts';
import { makeVerifier, type VerifierKind } from '../../bench/verifiers.ts';

let keys: Record<Alg, BenchKey>;
beforeAll(async () => {
  keys = await makeKeys();
});

const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

function forge(key: BenchKey, header: Record<string, unknown>, claims: Record<string, unknown>): string {
  const input = `${b64({ alg: key.alg, kid: key.kid, typ: 'JWT', ...header })}.${b64(claims)}`;
  const pk = createPrivateKey(key.privatePem);
  const sig = sign(key.alg === 'EdDSA' ? null : 'sha256', Buffer.from(input), key.alg === 'ES256' ? { key: pk, dsaEncoding: 'ieee-p1363' } : pk);
  return `${input}.${sig.toString('base64url')}`;
}

const now = (): number => Math.floor(Date.now() / 1000);
const good = (): Record<string, unknown> => ({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: now() + 600 });

const BAD: readonly [string, (k: BenchKey) => string][] = [
  ['a broken signature', (k) => `${forge(k, {}, good()).slice(0, -4)}AAAA`],
  ['an expired token', (k) => forge(k, {}, { ...good(), exp: now() - 10 })],
  ['another issuer', (k) => forge(k, {}, { ...good(), iss: 'https://evil.example/' })],
  ['another audience', (k) => forge(k, {}, { ...good(), aud: 'other' })],
  ['an unknown kid', (k) => forge(k, { kid: 'nope' }, good())],
  ['alg none', (k) => `${b64({ alg: 'none', kid: k.kid })}.${b64(good())}.`],
  ['two parts', (k) => forge(k, {}, good()).split('.').slice(0, 2).join('.')],
  ['garbage', () => 'not a token'],
];

describe.each(['jose', 'crypto'] as VerifierKind[])('the %s floor verifier', (kind) => {
  const verifier = () => makeVerifier(kind, { jwks: jwksOf(keys), issuer: ISSUER, audience: AUDIENCE, algorithms: [...ALGS] });

  it.each(ALGS)('accepts the bench tokens signed with %s and gives their subject', async (alg) => {
    const [token] = await signTokens(keys[alg], 1, 'test', 1);
    expect(await verifier()(token!)).toBe(`user-test-0`);
  });

  it.each(BAD)('rejects %s', async (_name, make) => {
    const v = verifier();
    for (const alg of ALGS) expect(await v(make(keys[alg]))).toBeUndefined();
  });

  it('rejects an ES256 token whose header claims RS256 under the ES256 kid', async () => {
    expect(await verifier()(forge(keys.ES256, { alg: 'RS256' }, good()))).toBeUndefined();
  });
});

describe('the floors differ only where jose does', () => {
  const noExp = (): string => forge(keys.ES256, {}, { iss: ISSUER, aud: AUDIENCE, sub: 'alice' });
  const options = (): Parameters<typeof makeVerifier>[1] => ({ jwks: jwksOf(keys), issuer: ISSUER, audience: AUDIENCE, algorithms: [...ALGS] });

  it('bare jose jwtVerify accepts a token without exp (no requiredClaims), the node:crypto floor does not', async () => {
    expect(await makeVerifier('jose', options())(noExp())).toBe('alice');
    expect(await makeVerifier('crypto', options())(noExp())).toBeUndefined();
  });
});
