/**
 * `signer.keys.generate`: keys made in memory, for one instance (a second replica would have other keys, so config
 * refuses it with workers > 1). The first key signs at once; every `rotate_every` the next key is made `lead` before
 * it activates, and the previous one retires when it does, so the ring's timeline holds as for a key directory.
 * A reload that keeps generating with the same algorithm keeps the keys (`previous`): only another algorithm, or a
 * key directory instead, makes new ones, and the ring then publishes the old ones until their tail ends.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { parseKeyFile, type SigningAlgorithm, type SigningKey } from './keyfile.ts';

export interface GeneratedKeysOptions {
  readonly alg: SigningAlgorithm;
  readonly rotateEveryMs: number;
  readonly leadMs: number;
}

export class GeneratedKeys {
  readonly #opts: GeneratedKeysOptions;
  #keys: SigningKey[] = [];

  constructor(opts: GeneratedKeysOptions, previous?: GeneratedKeys) {
    this.#opts = opts;
    // A copy, not a share: until the reload is swapped in, the previous generator still serves (and may rotate).
    if (previous !== undefined && previous.#opts.alg === opts.alg) this.#keys = [...previous.#keys];
  }

  /** The keys as of `now`, making the next one when its time has come. */
  keys(now: number): readonly SigningKey[] {
    const newest = this.#keys.at(-1);
    if (newest === undefined) {
      this.#keys.push(makeKey(this.#opts.alg, now, undefined));
    } else {
      const next = newest.activateAt + this.#opts.rotateEveryMs;
      if (now >= next - this.#opts.leadMs) {
        const activateAt = Math.max(next, now + this.#opts.leadMs);
        this.#keys[this.#keys.length - 1] = withRetirement(newest, activateAt);
        this.#keys.push(makeKey(this.#opts.alg, activateAt, undefined));
      }
    }
    // Keys retired long ago are dropped here; the ring still publishes them until their tail ends.
    this.#keys = this.#keys.filter((k) => k.retireAt === undefined || now < k.retireAt + this.#opts.rotateEveryMs);
    return this.#keys;
  }
}

/** A fresh private key in the key-file form (shared with `portcullis keys generate`). */
export function newKeyFile(alg: SigningAlgorithm, activateAtMs: number, retireAtMs: number | undefined): Record<string, unknown> {
  const { privateKey } = alg === 'ES256' ? generateKeyPairSync('ec', { namedCurve: 'P-256' })
    : alg === 'EdDSA' ? generateKeyPairSync('ed25519')
    : generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    ...(privateKey.export({ format: 'jwk' }) as Record<string, unknown>),
    kid: randomBytes(12).toString('base64url'),
    alg,
    use: 'sig',
    activate_at: Math.floor(activateAtMs / 1000),
    ...(retireAtMs !== undefined ? { retire_at: Math.floor(retireAtMs / 1000) } : {}),
  };
}

function makeKey(alg: SigningAlgorithm, activateAt: number, retireAt: number | undefined): SigningKey {
  const parsed = parseKeyFile(JSON.stringify(newKeyFile(alg, activateAt, retireAt)));
  if (!parsed.ok) throw new Error(`generated key refused: ${parsed.problem}`);
  // Keep millisecond precision in memory (the file form has whole seconds).
  return { ...parsed.key, activateAt };
}

function withRetirement(key: SigningKey, retireAt: number): SigningKey {
  return Object.freeze({ ...key, retireAt });
}
