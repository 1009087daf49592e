/**
 * Mints one token: iss, aud, iat, nbf = now − max_skew, exp = now + ttl, a fresh 128-bit jti from the CSPRNG,
 * the static claims, and the caller's claims (sub, or claims copied from a verified token). Header: alg, kid, typ.
 */
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { SignerConfig } from '../config.ts';
import type { SigningKey } from './keyfile.ts';

/** Registered claims the minter owns; config refuses them in `claims` and `claims_from_token`. */
export const MINTED_CLAIMS = ['iss', 'aud', 'iat', 'nbf', 'exp', 'jti'] as const;

export interface MintInput {
  readonly audience: string;
  /** Claims on top of the static ones (`sub`, exchanged claims). Never overrides a minted claim. */
  readonly claims?: Readonly<Record<string, unknown>>;
}

export interface KeyProvider {
  signingKey(): SigningKey | undefined;
}

export class Minter {
  readonly #config: SignerConfig;
  readonly #keys: KeyProvider;
  readonly #now: () => number;
  readonly #random: (bytes: number) => Buffer;

  constructor(config: SignerConfig, keys: KeyProvider, now: () => number, random: (bytes: number) => Buffer = randomBytes) {
    this.#config = config;
    this.#keys = keys;
    this.#now = now;
    this.#random = random;
  }

  /** The compact JWS, or undefined when no key can sign now. */
  async mint(input: MintInput): Promise<string | undefined> {
    const key = this.#keys.signingKey();
    if (key === undefined) return undefined;
    const now = Math.floor(this.#now() / 1000);
    // The minted claims come last, so neither static nor copied claims can override them (config refuses them too).
    return new SignJWT({
      ...this.#config.claims,
      ...input.claims,
      iss: this.#config.issuer,
      aud: input.audience,
      iat: now,
      nbf: now - Math.floor(this.#config.maxSkewMs / 1000),
      exp: now + Math.floor(this.#config.ttlMs / 1000),
      jti: this.#random(16).toString('base64url'),
    })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .sign(key.privateKey);
  }
}
