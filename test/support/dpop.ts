/** DPoP proofs for tests: jose signs real proofs; `forge` (tokens.ts) makes the ones attackers send. */
import { createHash, randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, SignJWT, type JWK } from 'jose';
import type { TestKey } from './tokens.ts';

export interface ProofOptions {
  readonly htm?: string;
  readonly htu?: string;
  /** The access token the proof is for (ath); null = no ath. */
  readonly token?: string | null;
  readonly iat?: number;
  readonly jti?: string;
  readonly nonce?: string;
  /** Header members to add or (undefined) remove; `jwk` defaults to the key's public JWK. */
  readonly header?: Record<string, unknown>;
  readonly claims?: Record<string, unknown>;
}

/** The base64url SHA-256 of an access token (the proof's ath). */
export const athOf = (token: string): string => createHash('sha256').update(token).digest('base64url');

/** The public JWK as a proof embeds it (no kid, alg or use: only the key). */
export function proofJwk(key: TestKey): JWK {
  const { kid: _kid, alg: _alg, use: _use, ...jwk } = key.jwk;
  return jwk;
}

/** RFC 7638 thumbprint of the key, computed by jose (the token's cnf.jkt). */
export const jktOf = (key: TestKey): Promise<string> => calculateJwkThumbprint(proofJwk(key), 'sha256');

export async function makeProof(key: TestKey, opts: ProofOptions = {}): Promise<string> {
  const payload: Record<string, unknown> = {
    jti: opts.jti ?? randomUUID(),
    htm: opts.htm ?? 'GET',
    htu: opts.htu ?? 'https://api.test/orders',
    iat: opts.iat ?? Math.floor(Date.now() / 1000),
    ...(opts.token !== undefined && opts.token !== null ? { ath: athOf(opts.token) } : {}),
    ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
    ...opts.claims,
  };
  for (const k of Object.keys(payload)) if (payload[k] === undefined) delete payload[k];
  const header: Record<string, unknown> = { alg: key.alg, typ: 'dpop+jwt', jwk: proofJwk(key), ...opts.header };
  for (const k of Object.keys(header)) if (header[k] === undefined) delete header[k];
  return new SignJWT(payload).setProtectedHeader(header as { alg: string }).sign(key.privateKey);
}

/** `Authorization: DPoP <token>` and the proof. */
export const dpopHeaders = (token: string, proof: string | readonly string[]): Record<string, string | string[]> => ({
  authorization: `DPoP ${token}`,
  dpop: typeof proof === 'string' ? proof : [...proof],
});
