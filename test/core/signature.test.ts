/**
 * The signature check holds the same verdict as jose's compactVerify on every case: each algorithm we accept, each
 * way a signature or key can be wrong. Keys are real (node:crypto), tokens signed by jose or by hand.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { constants, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { compactVerify, SignJWT } from 'jose';
import { verifySignature } from '../../src/core/signature.ts';
import { parseCompactJws } from '../../src/core/jws.ts';
import type { Algorithm } from '../../src/core/config.ts';

type Pair = { publicKey: KeyObject; privateKey: KeyObject };
const rsa = (bits = 2048): Pair => generateKeyPairSync('rsa', { modulusLength: bits });
const ec = (namedCurve: string): Pair => generateKeyPairSync('ec', { namedCurve });

let keys: Record<'rsa' | 'rsa1024' | 'p256' | 'p384' | 'p521' | 'ed25519', Pair>;
beforeAll(() => {
  keys = { rsa: rsa(), rsa1024: rsa(1024), p256: ec('P-256'), p384: ec('P-384'), p521: ec('P-521'), ed25519: generateKeyPairSync('ed25519') };
});

const KEY_OF: Record<Algorithm, keyof typeof keys> = {
  RS256: 'rsa', RS384: 'rsa', RS512: 'rsa', PS256: 'rsa', PS384: 'rsa', PS512: 'rsa',
  ES256: 'p256', ES384: 'p384', ES512: 'p521', EdDSA: 'ed25519', Ed25519: 'ed25519',
};

const jwt = (alg: string, key: KeyObject, claims: Record<string, unknown> = { sub: 'alice' }): Promise<string> =>
  new SignJWT(claims).setProtectedHeader({ alg }).sign(key);

/** A signature made by hand over `header.payload`, for shapes jose will not produce. */
function handSigned(alg: string, sign: (input: Buffer) => Buffer): string {
  const input = `${Buffer.from(JSON.stringify({ alg })).toString('base64url')}.${Buffer.from('{"sub":"alice"}').toString('base64url')}`;
  return `${input}.${sign(Buffer.from(input)).toString('base64url')}`;
}

async function verdicts(token: string, alg: Algorithm, key: KeyObject): Promise<{ ours: boolean; jose: boolean }> {
  const parsed = parseCompactJws(token);
  if (!parsed.ok) throw new Error(parsed.message);
  const ours = await verifySignature(parsed.jws, alg, key);
  const jose = await compactVerify(token, key, { algorithms: [alg] }).then(() => true, () => false);
  return { ours, jose };
}

describe('verifySignature agrees with jose', () => {
  it.each(Object.keys(KEY_OF) as Algorithm[])('accepts a %s signature by the right key', async (alg) => {
    const { publicKey, privateKey } = keys[KEY_OF[alg]];
    expect(await verdicts(await jwt(alg, privateKey), alg, publicKey)).toEqual({ ours: true, jose: true });
  });

  it.each(Object.keys(KEY_OF) as Algorithm[])('refuses a %s token whose payload was changed', async (alg) => {
    const { publicKey, privateKey } = keys[KEY_OF[alg]];
    const [h, , s] = (await jwt(alg, privateKey)).split('.');
    const forged = `${h}.${Buffer.from('{"sub":"admin"}').toString('base64url')}.${s}`;
    expect(await verdicts(forged, alg, publicKey)).toEqual({ ours: false, jose: false });
  });

  it.each<[string, () => Promise<string> | string, Algorithm, () => KeyObject]>([
    ['a signature cut short', async () => { const [h, p, sig] = (await jwt('RS256', keys.rsa.privateKey)).split('.'); return `${h}.${p}.${Buffer.from(sig!, 'base64url').subarray(0, -3).toString('base64url')}`; }, 'RS256', () => keys.rsa.publicKey],
    ['an RS256 signature presented as RS384', async () => { const [h, p, s] = (await jwt('RS256', keys.rsa.privateKey)).split('.'); void h; return `${Buffer.from('{"alg":"RS384"}').toString('base64url')}.${p}.${s}`; }, 'RS384', () => keys.rsa.publicKey],
    ['an RS256 signature checked as PS256', async () => jwt('RS256', keys.rsa.privateKey), 'PS256', () => keys.rsa.publicKey],
    ['a PS256 signature with a zero-length salt', () => handSigned('PS256', (i) => cryptoSign('sha256', i, { key: keys.rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 0 })), 'PS256', () => keys.rsa.publicKey],
    ['a PS256 signature with the longest salt', () => handSigned('PS256', (i) => cryptoSign('sha256', i, { key: keys.rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_MAX_SIGN })), 'PS256', () => keys.rsa.publicKey],
    ['an RS256 signature by a 1024-bit RSA key', () => handSigned('RS256', (i) => cryptoSign('sha256', i, keys.rsa1024.privateKey)), 'RS256', () => keys.rsa1024.publicKey],
    ['an ES256 signature in DER form', () => handSigned('ES256', (i) => cryptoSign('sha256', i, keys.p256.privateKey)), 'ES256', () => keys.p256.publicKey],
    ['an all-zero ES256 signature (CVE-2022-21449)', () => handSigned('ES256', () => Buffer.alloc(64)), 'ES256', () => keys.p256.publicKey],
    ['an ES256 signature with a byte appended', () => handSigned('ES256', (i) => Buffer.concat([cryptoSign('sha256', i, { key: keys.p256.privateKey, dsaEncoding: 'ieee-p1363' }), Buffer.alloc(1)])), 'ES256', () => keys.p256.publicKey],
    ['an ES256 signature checked with a P-384 key', () => handSigned('ES256', (i) => cryptoSign('sha256', i, { key: keys.p384.privateKey, dsaEncoding: 'ieee-p1363' })), 'ES256', () => keys.p384.publicKey],
    ['an ES256 token checked with an RSA key', async () => jwt('ES256', keys.p256.privateKey), 'ES256', () => keys.rsa.publicKey],
    ['an RS256 token checked with an EC key', async () => jwt('RS256', keys.rsa.privateKey), 'RS256', () => keys.p256.publicKey],
    ['an EdDSA token checked with an EC key', async () => jwt('EdDSA', keys.ed25519.privateKey), 'EdDSA', () => keys.p256.publicKey],
    ['an EdDSA signature by another Ed25519 key', async () => jwt('EdDSA', generateKeyPairSync('ed25519').privateKey), 'EdDSA', () => keys.ed25519.publicKey],
  ])('refuses %s', async (_name, make, alg, key) => {
    expect(await verdicts(await make(), alg, key())).toEqual({ ours: false, jose: false });
  });

  it('answers false, never throws, for an algorithm it does not know', async () => {
    const parsed = parseCompactJws(await jwt('RS256', keys.rsa.privateKey));
    if (!parsed.ok) throw new Error(parsed.message);
    expect(await verifySignature(parsed.jws, 'HS256' as Algorithm, keys.rsa.publicKey)).toBe(false);
  });
});
