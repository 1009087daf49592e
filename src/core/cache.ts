/**
 * Verified-token cache: a token already verified is not verified again.
 * - One entry per token string. Only tokens that passed the strict compact-JWS check get here, and that check
 *   admits one spelling per token, so one entry is one token. The map is indexed by the token's last characters
 *   (its signature, where tokens differ) and a hit is a hit only when the whole token is equal: hashing a fresh
 *   700-character header string for a Map lookup cost ~1.4 µs per request, more than the rest of a cache hit.
 *   Two tokens sharing a tail only share a slot (the later one replaces the earlier); neither is ever answered
 *   for the other.
 * - An entry lives no longer than the token's `exp` (plus leeway) and only while its key is still in the issuer's
 *   current key set (a key removed by rotation invalidates its tokens). Time checks still run on every hit.
 * - Bounded in entries and bytes (clock-cache.ts: a hit only marks its entry; room is made on a store). Failures
 *   that no later moment can fix (bad signature, malformed, wrong audience…) may be remembered briefly so a flood of
 *   the same bad token costs one verification.
 * - Introspection answers (docs/introspection.md) live here too. An opaque token's entry is keyed by the SHA-256 of
 *   the token (`introspectionKey`), never the token itself; a JWT that was also introspected keeps its own entry.
 *   Both are stored on their first answer (an IdP call is what the cache saves), for at most the introspection
 *   max_ttl; an inactive answer is a failure remembered for inactive_ttl.
 */
import { hash } from 'node:crypto';
import { ClockCache } from './clock-cache.ts';
import type { KeyEntry } from './keys/keyset.ts';
import type { TrustedIssuer, VerifiedToken } from './verify.ts';
import type { ReasonCode } from './reasons.ts';

export interface CachedToken {
  readonly trusted: TrustedIssuer;
  /** The key that verified the token; absent for an opaque token (the introspection answer vouches for it). */
  readonly key?: KeyEntry;
  /** The issuer's introspection endpoint vouched for it: optional exp/aud, and counted as an introspection hit. */
  readonly introspected?: boolean;
  /** Size of the introspection answer it holds (counted against cache.max_bytes). */
  readonly bytes?: number;
  /** What a hit answers once the time checks pass, claims included (built once: a hit allocates nothing for it). */
  readonly verified: VerifiedToken;
}

export interface CachedFailure {
  readonly reason: ReasonCode;
  readonly message: string;
  readonly issuer: string | undefined;
}

export interface CacheLimits {
  readonly maxEntries: number;
  readonly maxBytes: number;
  /** 0 disables negative caching. */
  readonly negativeTtlMs: number;
}

export interface CacheStats {
  hits: number;
  misses: number;
  negativeHits: number;
  /** Hits on introspected tokens: IdP calls saved. */
  introspectionHits: number;
}

/** The cache key of an opaque token: the SHA-256 of the token, so the cache never holds the token itself. */
export function introspectionKey(token: string): string {
  // '#' never starts a compact JWS, so this key never equals a JWT's.
  return `#${hash('sha256', token, 'base64url')}`;
}

/**
 * How many trailing characters index an entry: more than any signature's shared prefix, far fewer than a token.
 * The DPoP proof-header memo (core/bind/dpop.ts) indexes header segments the same way (a jwk's last members differ).
 */
const INDEX_CHARS = 48;
export const indexOf = (token: string): string => (token.length <= INDEX_CHARS ? token : token.slice(-INDEX_CHARS));

interface Slot<T> {
  readonly token: string;
  readonly value: T;
}

export class TokenCache {
  readonly #verified: ClockCache<Slot<CachedToken>> | null;
  readonly #failed: ClockCache<Slot<CachedFailure>> | null;
  readonly stats: CacheStats = { hits: 0, misses: 0, negativeHits: 0, introspectionHits: 0 };
  readonly #negativeTtlMs: number;
  readonly #doorkeeper = new Doorkeeper(1 << 18);

  constructor(limits: CacheLimits) {
    this.#verified =
      limits.maxEntries > 0
        ? new ClockCache<Slot<CachedToken>>({
            max: limits.maxEntries,
            maxSize: limits.maxBytes,
            // The token string dominates (UTF-16 in memory); claims are bounded by the token size they came from, or
            // by the introspection answer they were read from.
            sizeOf: (slot) => slot.token.length * 4 + 256 + (slot.value.bytes ?? 0) * 2,
          })
        : null;
    this.#negativeTtlMs = limits.negativeTtlMs;
    // Also there when negative_ttl is 0: inactive introspection answers are remembered for their own inactive_ttl.
    this.#failed =
      limits.maxEntries > 0
        ? new ClockCache<Slot<CachedFailure>>({
            max: Math.max(1, Math.floor(limits.maxEntries / 10)),
            maxSize: Math.max(1024, Math.floor(limits.maxBytes / 10)),
            sizeOf: (slot) => slot.token.length * 2 + 256,
          })
        : null;
  }

  get(token: string): CachedToken | undefined {
    const slot = this.#verified?.get(indexOf(token));
    const hit = slot !== undefined && slot.token === token ? slot.value : undefined;
    if (hit) this.stats.hits++;
    else this.stats.misses++;
    return hit;
  }

  /**
   * `ttlMs` is how long until the token expires (with leeway); nothing is stored for a token about to expire.
   * A token is admitted on its second verification only: a flood of single-use tokens never enters the cache (it
   * would only churn it, and grow the heap), while a real client's token is cached from its second request on.
   * True when the token was stored.
   */
  set(token: string, value: CachedToken, ttlMs: number): boolean {
    // An introspected token is stored at once: its second request would otherwise cost a second IdP call.
    if (ttlMs < 1 || !this.#verified || (!value.introspected && !this.#doorkeeper.admit(token))) return false;
    return this.#verified.set(indexOf(token), { token, value }, Math.ceil(ttlMs));
  }

  delete(token: string): void {
    const key = indexOf(token);
    if (this.#verified?.peek(key)?.token === token) this.#verified.delete(key);
  }

  getFailure(token: string): CachedFailure | undefined {
    const slot = this.#failed?.get(indexOf(token));
    const hit = slot !== undefined && slot.token === token ? slot.value : undefined;
    if (hit) this.stats.negativeHits++;
    return hit;
  }

  /** Remembered for `ttlMs` (inactive introspection answers), by default for cache.negative_ttl (0: not at all). */
  setFailure(token: string, failure: CachedFailure, ttlMs = this.#negativeTtlMs): void {
    if (ttlMs >= 1) this.#failed?.set(indexOf(token), { token, value: failure }, Math.ceil(ttlMs));
  }

  /** Forgets remembered failures (a config reload: what failed for good may pass under the new config). */
  forgetFailures(): void {
    this.#failed?.clear();
  }

  get size(): number {
    return this.#verified?.size ?? 0;
  }

  get bytes(): number {
    return this.#verified?.calculatedSize ?? 0;
  }
}

/**
 * Remembers, in fixed memory, which tokens were seen once: a table of 32-bit fingerprints indexed by another hash.
 * `admit` answers true when the token was seen before (a collision can only delay admission or admit early; both
 * are harmless: admission decides caching, never validity).
 */
class Doorkeeper {
  readonly #slots: Uint32Array;
  readonly #mask: number;

  constructor(size: number) {
    this.#slots = new Uint32Array(size);
    this.#mask = size - 1;
  }

  admit(token: string): boolean {
    // Two FNV-1a variants over the signature end of the token (the part that differs between tokens).
    let a = 0x811c9dc5;
    let b = 0x01000193;
    for (let i = Math.max(0, token.length - 128); i < token.length; i++) {
      const c = token.charCodeAt(i);
      a = Math.imul(a ^ c, 0x01000193);
      b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 15);
    }
    const slot = (a >>> 0) & this.#mask;
    const print = (b | 1) >>> 0;
    if (this.#slots[slot] === print) return true;
    this.#slots[slot] = print;
    return false;
  }
}
