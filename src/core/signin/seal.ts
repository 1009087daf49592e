/**
 * Sealed cookies: a JWE (dir + A256GCM, authenticated encryption, so a cookie is both secret and tamper-evident)
 * under a key derived from a session secret. The newest secret seals; every configured secret opens, so rotation
 * keeps cookies readable during the overlap. Each cookie says what it is for (`use`), so one kind can never be
 * replayed as another, and carries its own expiry checked against the injected clock.
 */
import { createHash, hkdfSync } from 'node:crypto';
import { EncryptJWT, jwtDecrypt, decodeProtectedHeader } from 'jose';

export type SealUse = 'signin' | 'session';

interface DerivedKey {
  readonly kid: string;
  readonly key: Uint8Array;
}

export type Opened = { readonly ok: true; readonly payload: Record<string, unknown> } | { readonly ok: false; readonly why: 'expired' | 'invalid' };

function derive(secret: string): DerivedKey {
  const key = new Uint8Array(hkdfSync('sha256', Buffer.from(secret, 'utf8'), 'portcullis-session', 'A256GCM cookie key', 32));
  return { key, kid: createHash('sha256').update(key).digest('base64url').slice(0, 12) };
}

export class Sealer {
  readonly #keys: readonly DerivedKey[];
  readonly #now: () => number;

  /** `secrets`: newest first. */
  constructor(secrets: readonly string[], now: () => number) {
    if (secrets.length === 0) throw new Error('no session key');
    this.#keys = secrets.map(derive);
    this.#now = now;
  }

  async seal(use: SealUse, payload: Record<string, unknown>, ttlMs: number): Promise<string> {
    const nowS = Math.floor(this.#now() / 1000);
    const newest = this.#keys[0]!;
    return new EncryptJWT({ ...payload, use })
      .setProtectedHeader({ alg: 'dir', enc: 'A256GCM', kid: newest.kid })
      .setIssuedAt(nowS)
      .setExpirationTime(nowS + Math.ceil(ttlMs / 1000))
      .encrypt(newest.key);
  }

  /** Never throws: anything that is not our sealed cookie of this use, unexpired, is refused. */
  async open(use: SealUse, value: string): Promise<Opened> {
    let kid: unknown;
    try {
      kid = decodeProtectedHeader(value).kid;
    } catch {
      return { ok: false, why: 'invalid' };
    }
    const entry = this.#keys.find((k) => k.kid === kid);
    if (!entry) return { ok: false, why: 'invalid' };
    try {
      const { payload } = await jwtDecrypt(value, entry.key, {
        keyManagementAlgorithms: ['dir'],
        contentEncryptionAlgorithms: ['A256GCM'],
        currentDate: new Date(this.#now()),
        requiredClaims: ['exp', 'use'],
        clockTolerance: 0,
      });
      if (payload['use'] !== use) return { ok: false, why: 'invalid' };
      return { ok: true, payload: payload as Record<string, unknown> };
    } catch (e) {
      return { ok: false, why: (e as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid' };
    }
  }
}
