/**
 * Single-use tokens: a token's `jti` is consumed once, in a store every replica shares (Redis: src/stores/) or, for
 * one process only, in memory. The authorizer asks only after the signature, every claim check and the rule's
 * requirements passed, so a forged or otherwise refused token never burns a jti (quay/jwtproxy#76).
 *
 * - Key: sha256(byte length of issuer, ":", issuer, NUL, jti), base64url (43 chars): scoped by issuer (two issuers
 *   may reuse a jti; the length prefix keeps any issuer/jti split apart), and a hostile jti cannot grow the key. The
 *   Redis adapter prepends its key_prefix.
 * - Lifetime: until the token's exp plus the issuer's leeway, i.e. exactly as long as the token could still pass the
 *   claim checks. Memory is bounded by the live single-use tokens.
 * - consume is atomic per key: of concurrent uses, exactly one is 'fresh'.
 */
import { hash } from 'node:crypto';

export type ConsumeResult = 'fresh' | 'replayed' | { readonly error: string };

/** What the authorizer needs from a store. `consume` never rejects: failures are `{ error }`. */
export interface ReplayStore {
  /** Records `key` for `ttlMs` unless it is already there: 'fresh' the first time, 'replayed' after. */
  consume(key: string, ttlMs: number): Promise<ConsumeResult>;
  /** For /readyz and the readiness gate. */
  status(): ReplayStoreStatus;
  /** Called whenever `status().ready` may have changed. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface ReplayStoreStatus {
  readonly kind: 'memory' | 'redis';
  readonly ready: boolean;
  /** memory: 'ready'; redis: 'connecting' | 'ready' | 'reconnecting' | 'closed'. */
  readonly state: string;
  readonly lastError: string | null;
}

/** The outcome of a replay check, carried on the decision for metrics and logs. */
export type ReplayCheck = 'fresh' | 'replayed' | 'jti_missing' | 'store_error_denied' | 'store_error_allowed';
export const REPLAY_CHECKS: readonly ReplayCheck[] = ['fresh', 'replayed', 'jti_missing', 'store_error_denied', 'store_error_allowed'];

/**
 * One use of `key` (a single-use token's jti, a DPoP proof's jti): what the store answered, with a store failure (or
 * no store at all) already turned into what `on_store_error` makes of it. The one place that rule lives.
 */
export async function consumeOnce(store: ReplayStore | null, key: string, ttlMs: number, onStoreError: 'deny' | 'allow'): Promise<Exclude<ReplayCheck, 'jti_missing'>> {
  const result = store ? await store.consume(key, ttlMs) : { error: 'no replay store is configured' };
  if (result === 'fresh' || result === 'replayed') return result;
  return onStoreError === 'allow' ? 'store_error_allowed' : 'store_error_denied';
}

/** The store key for one issuer's jti (before any key prefix). */
export function replayKey(issuer: string, jti: string): string {
  // One string, one-shot hash: the issuer part ends in NUL, so its UTF-8 bytes and the jti's simply concatenate.
  return hash('sha256', `${Buffer.byteLength(issuer)}:${issuer}\0${jti}`, 'base64url');
}

/**
 * Milliseconds the key must live: until the token fails the exp check (exp + leeway), at least 1, at most 2^53 - 1
 * (an absurd but validly signed exp like 1e300 must still give a number Redis accepts, not a store error).
 */
export function replayTtlMs(exp: number, leewayMs: number, now: number): number {
  return Math.min(Number.MAX_SAFE_INTEGER, Math.max(1, Math.ceil(exp * 1000 + leewayMs - now)));
}

/**
 * One process only (`workers: 1`, one replica): a replay that lands on another process is not seen. Expired keys are
 * swept at most once per `sweepEveryMs` (injected clock), so memory follows the live tokens. Past `maxEntries` live
 * keys it answers an error instead of evicting one (evicting would let that token be replayed): on_store_error decides.
 */
export class MemoryReplayStore implements ReplayStore {
  readonly #now: () => number;
  readonly #maxEntries: number;
  readonly #sweepEveryMs: number;
  readonly #expires = new Map<string, number>();
  #nextSweep = 0;

  constructor(opts: { now: () => number; maxEntries?: number; sweepEveryMs?: number }) {
    this.#now = opts.now;
    this.#maxEntries = opts.maxEntries ?? 1_000_000;
    this.#sweepEveryMs = opts.sweepEveryMs ?? 1000;
  }

  consume(key: string, ttlMs: number): Promise<ConsumeResult> {
    const now = this.#now();
    // At most one sweep per interval, also when full: a full store must not turn every check into a full scan.
    if (now >= this.#nextSweep) this.#sweep(now);
    const until = this.#expires.get(key);
    if (until !== undefined && until > now) return Promise.resolve('replayed');
    if (until === undefined && this.#expires.size >= this.#maxEntries) {
      return Promise.resolve({ error: `memory replay store is full (${this.#maxEntries} live single-use tokens)` });
    }
    this.#expires.set(key, now + ttlMs);
    return Promise.resolve('fresh');
  }

  /** Live keys (tests, metrics). */
  get size(): number {
    return this.#expires.size;
  }

  status(): ReplayStoreStatus {
    return { kind: 'memory', ready: true, state: 'ready', lastError: null };
  }

  onChange(): () => void {
    return () => {};
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.#expires.clear();
  }

  #sweep(now: number): void {
    this.#nextSweep = now + this.#sweepEveryMs;
    for (const [key, until] of this.#expires) if (until <= now) this.#expires.delete(key);
  }
}
