/** Real keys and real signatures for tests: jose signs, and `forge` builds the malformed tokens attackers send. */
import { createHmac, generateKeyPairSync, sign as cryptoSign, type KeyObject } from 'node:crypto';
import { exportJWK, SignJWT, type JWK } from 'jose';

export type KeyAlg = 'RS256' | 'PS256' | 'ES256' | 'ES384' | 'EdDSA';

export interface TestKey {
  readonly kid: string;
  readonly alg: KeyAlg;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

export async function makeKey(alg: KeyAlg, kid: string): Promise<TestKey> {
  const pair =
    alg === 'RS256' || alg === 'PS256'
      ? generateKeyPairSync('rsa', { modulusLength: 2048 })
      : alg === 'ES256'
        ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
        : alg === 'ES384'
          ? generateKeyPairSync('ec', { namedCurve: 'P-384' })
          : generateKeyPairSync('ed25519');
  const jwk = { ...(await exportJWK(pair.publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey: pair.privateKey, publicKey: pair.publicKey, jwk };
}

export const jwksOf = (...keys: TestKey[]) => ({ keys: keys.map((k) => k.jwk) });

export const ISSUER = 'https://idp.test/';
export const AUDIENCE = 'api.test';
export const NOW_S = 1_800_000_000; // a fixed "now" for deterministic claim checks

export interface SignOptions {
  readonly header?: Record<string, unknown>;
  /** Omit `kid` from the header. */
  readonly noKid?: boolean;
}

/** A normal, valid token for `key`; `claims` override or (with undefined) remove defaults. */
export async function signToken(key: TestKey, claims: Record<string, unknown> = {}, opts: SignOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: NOW_S - 60, exp: NOW_S + 600, ...claims };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const header = { alg: key.alg, ...(opts.noKid ? {} : { kid: key.kid }), typ: 'JWT', ...opts.header };
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

const b64 = (v: unknown) => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v)).toString('base64url');

/** Builds a compact token from raw parts, signing with whatever the attacker chooses. */
export function forge(header: Record<string, unknown>, payload: Record<string, unknown>, signer: 'none' | { hmacSecret: Buffer | string } | { key: KeyObject; alg: string }): string {
  const input = `${b64(header)}.${b64(payload)}`;
  if (signer === 'none') return `${input}.`;
  if ('hmacSecret' in signer) return `${input}.${createHmac('sha256', signer.hmacSecret).update(input).digest('base64url')}`;
  const digest = signer.alg.startsWith('ES') || signer.alg === 'EdDSA' ? null : 'sha256';
  const sig = cryptoSign(digest, Buffer.from(input), signer.alg.startsWith('ES') ? { key: signer.key, dsaEncoding: 'ieee-p1363' } : signer.key);
  return `${input}.${sig.toString('base64url')}`;
}

export const defaultPayload = (claims: Record<string, unknown> = {}) => ({ iss: ISSUER, aud: AUDIENCE, sub: 'alice', iat: NOW_S - 60, exp: NOW_S + 600, ...claims });
