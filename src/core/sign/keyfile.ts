/**
 * One signing key file: a private JWK (RFC 7517) with two extra members that say when the key may sign.
 *
 *   { "kty": "EC", "crv": "P-256", "x": …, "y": …, "d": …,     the private key
 *     "kid": "…", "alg": "ES256",                                 required
 *     "activate_at": 1764500000,                                  NumericDate: signs from here on
 *     "retire_at": 1764543200 }                                   optional NumericDate: signs no more from here on
 *
 * Problems are described by name and member only: never a value, so no private key material can reach an error,
 * a log line or the /keys view.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';

export const SIGNING_ALGORITHMS = ['ES256', 'EdDSA', 'RS256', 'PS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
  /** Epoch ms from which the key may sign. */
  readonly activateAt: number;
  /** Epoch ms from which it signs no more; undefined = until a newer key takes over. */
  readonly retireAt: number | undefined;
  readonly privateKey: KeyObject;
  /** kty, crv/x/y or n/e, kid, alg, use: what the JWKS publishes. */
  readonly publicJwk: Readonly<Record<string, string>>;
}

export type ParsedKey = { readonly ok: true; readonly key: SigningKey } | { readonly ok: false; readonly problem: string };

const KID = /^[A-Za-z0-9._~-]{1,128}$/;

/** Parses a key file's text. `problem` names what is wrong, never what the file contains. */
export function parseKeyFile(text: string): ParsedKey {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return { ok: false, problem: 'not valid JSON' };
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) return { ok: false, problem: 'must be a JSON object (a private JWK)' };
  const jwk = doc as Record<string, unknown>;
  if (typeof jwk.kid !== 'string' || !KID.test(jwk.kid)) return { ok: false, problem: 'kid must be 1-128 characters of A-Z a-z 0-9 . _ ~ -' };
  if (!(SIGNING_ALGORITHMS as readonly unknown[]).includes(jwk.alg)) return { ok: false, problem: `alg must be one of ${SIGNING_ALGORITHMS.join(', ')}` };
  const alg = jwk.alg as SigningAlgorithm;
  if (!isNumericDate(jwk.activate_at)) return { ok: false, problem: 'activate_at must be a NumericDate (whole seconds since the epoch)' };
  if (jwk.retire_at !== undefined && (!isNumericDate(jwk.retire_at) || jwk.retire_at <= jwk.activate_at)) {
    return { ok: false, problem: 'retire_at must be a NumericDate after activate_at' };
  }
  if (typeof jwk.d !== 'string') return { ok: false, problem: 'is not a private key (no "d" member)' };
  let privateKey: KeyObject;
  try {
    const { activate_at: _a, retire_at: _r, kid: _k, alg: _g, use: _u, key_ops: _o, ...material } = jwk;
    privateKey = createPrivateKey({ key: material as never, format: 'jwk' });
  } catch {
    return { ok: false, problem: 'the key members do not form a valid private key' };
  }
  const typeProblem = keyTypeProblem(privateKey, alg);
  if (typeProblem) return { ok: false, problem: typeProblem };
  const exported = createPublicKey(privateKey).export({ format: 'jwk' }) as Record<string, string>;
  const members = exported.kty === 'RSA' ? ['kty', 'n', 'e'] : exported.kty === 'EC' ? ['kty', 'crv', 'x', 'y'] : ['kty', 'crv', 'x'];
  const publicJwk: Record<string, string> = {};
  for (const m of members) publicJwk[m] = exported[m]!;
  Object.assign(publicJwk, { kid: jwk.kid, alg, use: 'sig' });
  return {
    ok: true,
    key: Object.freeze({
      kid: jwk.kid,
      alg,
      activateAt: (jwk.activate_at as number) * 1000,
      retireAt: jwk.retire_at === undefined ? undefined : (jwk.retire_at as number) * 1000,
      privateKey,
      publicJwk: Object.freeze(publicJwk),
    }),
  };
}

function isNumericDate(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < 253_402_300_800;
}

/** The key must be of the type the algorithm needs; RSA keys of at least 2048 bits. */
export function keyTypeProblem(key: KeyObject, alg: SigningAlgorithm): string | null {
  const type = key.asymmetricKeyType;
  switch (alg) {
    case 'ES256':
      return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1' ? null : 'ES256 needs an EC P-256 key';
    case 'EdDSA':
      return type === 'ed25519' ? null : 'EdDSA needs an Ed25519 key';
    case 'RS256':
    case 'PS256':
      return type === 'rsa' && (key.asymmetricKeyDetails?.modulusLength ?? 0) >= 2048 ? null : `${alg} needs an RSA key of at least 2048 bits`;
  }
}
