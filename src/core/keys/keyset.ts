/**
 * An issuer's verification keys, parsed once from a JWKS document.
 * Only public members are kept (a JWKS that leaks `d` never gets it into memory or the /keys view);
 * keys marked for encryption or without `verify` in key_ops are skipped; symmetric (`oct`) keys are never used,
 * so an HMAC key can never be made out of a public key (algorithm confusion).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import type { Algorithm } from '../config.ts';

export interface KeyEntry {
  readonly kid: string | undefined;
  readonly kty: 'RSA' | 'EC' | 'OKP';
  readonly crv: string | undefined;
  /** `alg` the JWK itself pins, if any. */
  readonly alg: string | undefined;
  readonly key: KeyObject;
  /** Public JWK members only. */
  readonly publicJwk: Readonly<Record<string, string>>;
}

export type Selection =
  | { readonly kind: 'found'; readonly entry: KeyEntry }
  | { readonly kind: 'none' }
  | { readonly kind: 'ambiguous' };

/** The public members of each key type: also exactly RFC 7638's thumbprint members (there sorted). */
export const PUBLIC_MEMBERS: Record<KeyEntry['kty'], readonly string[]> = {
  RSA: ['kty', 'n', 'e'],
  EC: ['kty', 'crv', 'x', 'y'],
  OKP: ['kty', 'crv', 'x'],
};

/** Which key type (and curve) each algorithm needs. */
export function fits(entry: Pick<KeyEntry, 'kty' | 'crv'>, alg: Algorithm): boolean {
  switch (alg) {
    case 'RS256': case 'RS384': case 'RS512': case 'PS256': case 'PS384': case 'PS512':
      return entry.kty === 'RSA';
    case 'ES256': return entry.kty === 'EC' && entry.crv === 'P-256';
    case 'ES384': return entry.kty === 'EC' && entry.crv === 'P-384';
    case 'ES512': return entry.kty === 'EC' && entry.crv === 'P-521';
    case 'EdDSA': case 'Ed25519': return entry.kty === 'OKP' && entry.crv === 'Ed25519';
  }
}

export class KeySet {
  readonly entries: readonly KeyEntry[];
  /** Keys of the document that were skipped, with why (shown in the keys view and logs). */
  readonly skipped: readonly string[];

  constructor(entries: readonly KeyEntry[], skipped: readonly string[]) {
    this.entries = entries;
    this.skipped = skipped;
  }

  /** With a `kid`: that key, if it fits `alg`. Without: the only key that fits, else ambiguous. */
  select(kid: string | undefined, alg: Algorithm): Selection {
    if (kid !== undefined) {
      const entry = this.entries.find((e) => e.kid === kid);
      return entry && fits(entry, alg) && (entry.alg === undefined || entry.alg === alg) ? { kind: 'found', entry } : { kind: 'none' };
    }
    const candidates = this.entries.filter((e) => fits(e, alg) && (e.alg === undefined || e.alg === alg));
    if (candidates.length === 1) return { kind: 'found', entry: candidates[0]! };
    return candidates.length === 0 ? { kind: 'none' } : { kind: 'ambiguous' };
  }

  has(entry: KeyEntry): boolean {
    return this.entries.includes(entry);
  }
}

export type ParseKeySetResult = { readonly ok: true; readonly set: KeySet } | { readonly ok: false; readonly error: string };

/** Parses a JWKS document. A document with no usable key is an error: it must never replace a good set. */
export function parseKeySet(doc: unknown): ParseKeySetResult {
  if (typeof doc !== 'object' || doc === null || !Array.isArray((doc as { keys?: unknown }).keys)) {
    return { ok: false, error: 'not a JWKS document (no "keys" array)' };
  }
  const entries: KeyEntry[] = [];
  const skipped: string[] = [];
  const seenKids = new Set<string>();
  for (const [i, raw] of ((doc as { keys: unknown[] }).keys).entries()) {
    const label = `keys[${i}]`;
    if (typeof raw !== 'object' || raw === null) { skipped.push(`${label}: not an object`); continue; }
    const jwk = raw as Record<string, unknown>;
    const kty = jwk.kty;
    if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') { skipped.push(`${label}: kty ${JSON.stringify(kty)} is not used for verification`); continue; }
    if (jwk.use !== undefined && jwk.use !== 'sig') { skipped.push(`${label}: use is not "sig"`); continue; }
    if (jwk.key_ops !== undefined && !(Array.isArray(jwk.key_ops) && jwk.key_ops.includes('verify'))) { skipped.push(`${label}: key_ops lacks "verify"`); continue; }
    const kid = typeof jwk.kid === 'string' ? jwk.kid : undefined;
    if (kid !== undefined && seenKids.has(kid)) { skipped.push(`${label}: duplicate kid ${JSON.stringify(kid)}`); continue; }
    const publicJwk: Record<string, string> = {};
    for (const m of PUBLIC_MEMBERS[kty]) {
      if (typeof jwk[m] === 'string') publicJwk[m] = jwk[m] as string;
    }
    let key: KeyObject;
    try {
      key = createPublicKey({ key: publicJwk, format: 'jwk' });
    } catch (e) {
      skipped.push(`${label}: ${(e as Error).message}`);
      continue;
    }
    if (kid !== undefined) { seenKids.add(kid); publicJwk.kid = kid; }
    const alg = typeof jwk.alg === 'string' ? jwk.alg : undefined;
    if (alg !== undefined) publicJwk.alg = alg;
    entries.push({ kid, kty, crv: publicJwk.crv, alg, key, publicJwk });
  }
  if (entries.length === 0) return { ok: false, error: `no usable verification key${skipped.length ? ` (${skipped.join('; ')})` : ''}` };
  return { ok: true, set: new KeySet(entries, skipped) };
}
