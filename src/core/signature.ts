/**
 * A compact JWS's signature, checked with WebCrypto (RFC 7518 §3), the primitive jose uses, called directly.
 *
 * Why not jose's `compactVerify`: by the time a signature is checked, `parseCompactJws` has already split the token,
 * checked every segment's base64url spelling, decoded header and payload, and rejected `crit` and `b64`; the issuer's
 * allowlist and `fits` (keyset.ts) have bound the algorithm to a key. compactVerify does all the decoding again and
 * costs 20–45 µs of CPU per token above `subtle.verify` itself (RS256: 86–108 µs against 58–63 µs, 64 in flight on
 * Node 24): for an RS256 token, a third of the work. WebCrypto still runs each check on libuv's threadpool.
 *
 * The parameters are jose's (lib/jws_algorithms.js): the CryptoKey is imported for exactly one algorithm (and
 * curve), so a key can never check a signature of another kind; RSA keys under 2048 bits are refused, RSA-PSS
 * requires the salt length equal to the hash length, ECDSA takes only the fixed-length IEEE P1363 form (a DER
 * signature fails). `test/core/signature.test.ts` holds jose and this module to the same verdict on every case.
 */
import type { KeyObject, webcrypto } from 'node:crypto';
import type { Algorithm } from './config.ts';
import type { ParsedJws } from './jws.ts';

type ImportAs = webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams | webcrypto.Algorithm;
type VerifyAs = webcrypto.AlgorithmIdentifier | webcrypto.RsaPssParams | webcrypto.EcdsaParams;

interface Params {
  readonly importAs: ImportAs;
  readonly verifyAs: VerifyAs;
  readonly minRsaBits?: number;
}

const rsa = (bits: number, saltLength?: number): Params => {
  const importAs = { name: saltLength ? 'RSA-PSS' : 'RSASSA-PKCS1-v1_5', hash: `SHA-${bits}` };
  return { importAs, verifyAs: saltLength ? { ...importAs, saltLength } : importAs, minRsaBits: 2048 };
};
const ecdsa = (namedCurve: string, bits: number): Params => ({ importAs: { name: 'ECDSA', namedCurve }, verifyAs: { name: 'ECDSA', hash: `SHA-${bits}` } });
const ed25519: Params = { importAs: { name: 'Ed25519' }, verifyAs: { name: 'Ed25519' } };

const PARAMS: Readonly<Record<Algorithm, Params>> = {
  RS256: rsa(256), RS384: rsa(384), RS512: rsa(512),
  PS256: rsa(256, 32), PS384: rsa(384, 48), PS512: rsa(512, 64),
  ES256: ecdsa('P-256', 256), ES384: ecdsa('P-384', 384), ES512: ecdsa('P-521', 512),
  EdDSA: ed25519, Ed25519: ed25519,
};

/** Each key imported once per algorithm; `null` where it cannot make that algorithm's signatures. */
const imported = new WeakMap<KeyObject, Partial<Record<Algorithm, webcrypto.CryptoKey | null>>>();

function cryptoKeyFor(key: KeyObject, alg: Algorithm): webcrypto.CryptoKey | null {
  let byAlg = imported.get(key);
  if (byAlg === undefined) imported.set(key, (byAlg = {}));
  let cryptoKey = byAlg[alg];
  if (cryptoKey === undefined) {
    const params = PARAMS[alg];
    try {
      const tooShort = params.minRsaBits !== undefined && !((key.asymmetricKeyDetails?.modulusLength ?? 0) >= params.minRsaBits);
      cryptoKey = tooShort || key.type !== 'public' ? null : key.toCryptoKey(params.importAs, false, ['verify']);
    } catch {
      cryptoKey = null; // a key of another type or curve
    }
    byAlg[alg] = cryptoKey;
  }
  return cryptoKey;
}

/**
 * True when `jws`'s signature is `alg`'s signature over its signing input by `key`. Never throws: an unusable key
 * or signature is false. The caller has bound `alg` to the issuer's allowlist and `key` to `alg` (keyset `fits`).
 */
export async function verifySignature(jws: Pick<ParsedJws, 'signingInput' | 'signature'>, alg: Algorithm, key: KeyObject): Promise<boolean> {
  const params = PARAMS[alg];
  const cryptoKey = params === undefined ? null : cryptoKeyFor(key, alg);
  if (cryptoKey === null) return false;
  // Segments are base64url (ASCII) by the time we get here: latin1 is their exact bytes, without a UTF-8 pass.
  const data = Buffer.from(jws.signingInput, 'latin1');
  const signature = Buffer.from(jws.signature, 'base64url');
  try {
    return await globalThis.crypto.subtle.verify(params.verifyAs, cryptoKey, signature, data);
  } catch {
    return false;
  }
}
