/**
 * The two token verifiers the unique-token floors run, shared by the HTTP and the gRPC floors (bench/floors.ts):
 *
 *   jose    jose `jwtVerify` with a local JWKS, issuer, audience and algorithms: what a bare jose service does.
 *           WebCrypto runs the signature check on libuv's threadpool, so many can be in flight.
 *   crypto  raw `node:crypto`: split the compact JWS, parse the header, pick the key by kid (KeyObjects made once),
 *           one-shot synchronous `verify`, then parse the payload and check exp, iss and aud. Nothing else.
 *
 * Both give the subject on success and undefined on any failure; the crypto one answers synchronously (no promise),
 * so it is as cheap as a JavaScript verifier can be.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';

export type VerifierKind = 'jose' | 'crypto';

export interface VerifierOptions {
  readonly jwks: JSONWebKeySet;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: string[];
}

/** The subject (sync or not), or undefined when the token does not verify. */
export type Verifier = (token: string) => string | undefined | Promise<string | undefined>;

export function makeVerifier(kind: VerifierKind, o: VerifierOptions): Verifier {
  return kind === 'jose' ? joseVerifier(o) : cryptoVerifier(o);
}

function joseVerifier(o: VerifierOptions): Verifier {
  const keys = createLocalJWKSet(o.jwks);
  const options = { issuer: o.issuer, audience: o.audience, algorithms: o.algorithms };
  return (token) => jwtVerify(token, keys, options).then(({ payload }) => String(payload.sub ?? ''), () => undefined);
}

interface RawKey {
  readonly alg: string;
  readonly digest: string | null;
  readonly key: KeyObject | { key: KeyObject; dsaEncoding: 'ieee-p1363' };
}

function cryptoVerifier(o: VerifierOptions): Verifier {
  const byKid = new Map<string, RawKey>();
  for (const jwk of o.jwks.keys) {
    const alg = String(jwk.alg ?? '');
    if (!o.algorithms.includes(alg) || typeof jwk.kid !== 'string') continue;
    const key = createPublicKey({ key: jwk as never, format: 'jwk' });
    byKid.set(jwk.kid, {
      alg,
      digest: alg === 'EdDSA' ? null : 'sha256',
      key: alg === 'ES256' ? { key, dsaEncoding: 'ieee-p1363' } : key,
    });
  }
  return (token) => {
    try {
      const d1 = token.indexOf('.');
      const d2 = token.indexOf('.', d1 + 1);
      if (d1 < 0 || d2 < 0 || token.indexOf('.', d2 + 1) >= 0) return undefined;
      const header = JSON.parse(Buffer.from(token.slice(0, d1), 'base64url').toString('utf8')) as { alg?: unknown; kid?: unknown };
      const k = typeof header.kid === 'string' ? byKid.get(header.kid) : undefined;
      if (k === undefined || header.alg !== k.alg) return undefined;
      const ok = verify(k.digest, Buffer.from(token.slice(0, d2), 'latin1'), k.key, Buffer.from(token.slice(d2 + 1), 'base64url'));
      if (!ok) return undefined;
      const p = JSON.parse(Buffer.from(token.slice(d1 + 1, d2), 'base64url').toString('utf8')) as { exp?: unknown; iss?: unknown; aud?: unknown; sub?: unknown };
      if (typeof p.exp !== 'number' || p.exp <= Date.now() / 1000) return undefined;
      if (p.iss !== o.issuer) return undefined;
      if (!(p.aud === o.audience || (Array.isArray(p.aud) && p.aud.includes(o.audience)))) return undefined;
      return String(p.sub ?? '');
    } catch {
      return undefined;
    }
  };
}
