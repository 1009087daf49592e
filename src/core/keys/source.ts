/**
 * One issuer's key source: holds the last good key set and reloads it
 *  - in the background before it goes stale (Cache-Control max-age within [minRefresh, refreshInterval]),
 *  - at once when a token names an unknown `kid` (a key the IdP just published) or no keys are loaded: such
 *    on-demand loads happen at most once per cooldown window, whatever the request rate (unknown-kid floods),
 *  - with exponential backoff and jitter after failures, never sooner than the cooldown, while it has usable keys;
 *  - while it has NO usable keys (IdP down at start, or keys gone stale), quickly: 1 s, 2 s, 4 s … capped at the
 *    cooldown, with jitter, so the issuer is ready within seconds of the IdP answering again (every request is a
 *    503 meanwhile, so waiting longer protects nobody). Request-triggered loads stay bounded by the cooldown.
 * A failed or bad load never replaces a good set (stale-if-error), up to `maxStaleMs`.
 * Concurrent needs share one load. Time comes from the injected clock; loads from the injected loader.
 */
import { KeySet, parseKeySet, type KeyEntry } from './keyset.ts';
import type { Algorithm } from '../config.ts';
import { clip } from '../text.ts';
import type { Later } from '../sync.ts';

/** First retry while an issuer has no usable keys. */
export const FAST_RETRY_MS = 1000;
/** The fast retry never waits longer than this, whatever the cooldown: ready within seconds of the IdP answering. */
export const FAST_RETRY_CAP_MS = 4000;

export interface LoadedDocument {
  readonly doc: unknown;
  /** From Cache-Control max-age, when the source has one. */
  readonly maxAgeMs?: number;
}

export interface KeySourceOptions {
  readonly issuer: string;
  /** Where the keys come from, for status and logs: a URL, `file:…` or `inline`. */
  readonly location: string;
  readonly load: () => Promise<LoadedDocument>;
  readonly now: () => number;
  readonly refreshIntervalMs: number;
  readonly minRefreshMs: number;
  readonly cooldownMs: number;
  readonly maxStaleMs: number;
  /** No background reloads (inline keys). */
  readonly static?: boolean;
  readonly onEvent?: (event: KeySourceEvent) => void;
  readonly random?: () => number;
}

export type KeySourceEvent =
  | { readonly type: 'loaded'; readonly issuer: string; readonly keys: number; readonly changed: boolean }
  | { readonly type: 'load_failed'; readonly issuer: string; readonly error: string; readonly keptStale: boolean };

export type Lookup =
  | { readonly kind: 'found'; readonly entry: KeyEntry }
  | { readonly kind: 'unknown'; readonly message: string }
  | { readonly kind: 'unavailable'; readonly message: string };

export interface KeySourceStatus {
  readonly issuer: string;
  readonly location: string;
  readonly ready: boolean;
  readonly fetchedAt: number | null;
  readonly lastAttemptAt: number | null;
  readonly lastError: string | null;
  /** Delay chosen for the next background load after the last attempt (refresh or backoff), in ms. */
  readonly nextLoadInMs: number | null;
  readonly keys: readonly Readonly<Record<string, string>>[];
}

export class KeySource {
  readonly issuer: string;
  readonly #o: KeySourceOptions;
  #set: KeySet | null = null;
  #fetchedAt: number | null = null;
  #lastAttemptAt: number | null = null;
  /** Last load caused by a request (unknown kid, no keys): these are what the cooldown bounds. */
  #lastOnDemandAt: number | null = null;
  #lastError: string | null = null;
  #failures = 0;
  #nextLoadInMs: number | null = null;
  #inflight: Promise<void> | null = null;
  #timer: NodeJS.Timeout | null = null;
  #stopped = false;
  readonly #listeners = new Set<() => void>();

  constructor(options: KeySourceOptions) {
    this.#o = options;
    this.issuer = options.issuer;
  }

  /** First load, then background reloads. Resolves after the first attempt, whatever its outcome. */
  start(): Promise<void> {
    this.#stopped = false;
    return this.reload();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
  }

  /** Keys loaded once and not older than max staleness. */
  isReady(): boolean {
    return this.#usableSet() !== null;
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Current set is still trusted? (Used by caches: a key removed by rotation invalidates its tokens.) */
  holds(entry: KeyEntry): boolean {
    return this.#usableSet()?.has(entry) ?? false;
  }

  /** Synchronous when the current key set answers (the common case); a reload is awaited otherwise. */
  lookup(kid: string | undefined, alg: Algorithm): Later<Lookup> {
    const set = this.#usableSet();
    if (set) {
      const sel = set.select(kid, alg);
      if (sel.kind === 'found') return sel;
      if (sel.kind === 'ambiguous') return { kind: 'unknown', message: `token has no "kid" and ${this.issuer} publishes several ${alg} keys` };
    }
    return this.#lookupAfterReload(kid, alg);
  }

  async #lookupAfterReload(kid: string | undefined, alg: Algorithm): Promise<Lookup> {
    let set;
    // Unknown kid (maybe just published) or no keys yet: one shared reload, at most once per cooldown.
    if (this.#inflight) await this.#inflight;
    else if (this.#cooldownOver()) {
      this.#lastOnDemandAt = this.#o.now();
      await this.reload();
    }
    set = this.#usableSet();
    if (!set) return { kind: 'unavailable', message: `keys for issuer ${this.issuer} are unavailable${this.#lastError ? `: ${this.#lastError}` : ''}` };
    const sel = set.select(kid, alg);
    if (sel.kind === 'found') return sel;
    return { kind: 'unknown', message: kid === undefined ? `no single ${alg} key of ${this.issuer} fits a token without "kid"` : `no ${alg} key with kid ${JSON.stringify(clip(kid))} for issuer ${this.issuer}` };
  }

  /** Loads now (or joins the load under way). Never rejects. */
  reload(): Promise<void> {
    if (!this.#inflight) {
      this.#inflight = this.#loadOnce().finally(() => {
        this.#inflight = null;
      });
    }
    return this.#inflight;
  }

  status(): KeySourceStatus {
    return {
      issuer: this.issuer,
      location: this.#o.location,
      ready: this.isReady(),
      fetchedAt: this.#fetchedAt,
      lastAttemptAt: this.#lastAttemptAt,
      lastError: this.#lastError,
      nextLoadInMs: this.#nextLoadInMs,
      keys: this.#set?.entries.map((e) => e.publicJwk) ?? [],
    };
  }

  #usableSet(): KeySet | null {
    if (!this.#set || this.#fetchedAt === null) return null;
    return this.#o.now() - this.#fetchedAt > this.#o.maxStaleMs ? null : this.#set;
  }

  #cooldownOver(): boolean {
    return this.#lastOnDemandAt === null || this.#o.now() - this.#lastOnDemandAt >= this.#o.cooldownMs;
  }

  async #loadOnce(): Promise<void> {
    const wasReady = this.isReady();
    this.#lastAttemptAt = this.#o.now();
    let next = this.#o.refreshIntervalMs;
    try {
      const { doc, maxAgeMs } = await this.#o.load();
      const parsed = parseKeySet(doc);
      if (!parsed.ok) throw new Error(parsed.error);
      const changed = !sameKeys(this.#set, parsed.set);
      this.#set = carryOver(this.#set, parsed.set);
      this.#fetchedAt = this.#o.now();
      this.#lastError = null;
      this.#failures = 0;
      if (maxAgeMs !== undefined) next = Math.min(Math.max(maxAgeMs, this.#o.minRefreshMs), this.#o.refreshIntervalMs);
      this.#o.onEvent?.({ type: 'loaded', issuer: this.issuer, keys: parsed.set.entries.length, changed });
    } catch (e) {
      this.#lastError = (e as Error).message || String(e);
      this.#failures++;
      next = this.#retryDelay() * (1 + (this.#o.random ?? Math.random)() * 0.25);
      this.#o.onEvent?.({ type: 'load_failed', issuer: this.issuer, error: this.#lastError, keptStale: this.#set !== null });
    }
    this.#schedule(next);
    if (wasReady !== this.isReady()) for (const l of this.#listeners) l();
  }

  /**
   * Before jitter (up to +25 %, so replicas do not retry in step).
   * With usable keys: cooldown, 2×, 4× … capped at the refresh interval, never sooner than the cooldown (the IdP sees
   * at most one background fetch per cooldown window). Without: 1 s, 2 s, 4 s … capped at the cooldown and at 4 s
   * (never under 1 s), so a long outage still ends within seconds of the IdP answering (plus up to 25 % jitter).
   */
  #retryDelay(): number {
    const exponent = Math.min(this.#failures - 1, 30);
    if (this.#usableSet() === null) return Math.min(FAST_RETRY_MS * 2 ** exponent, Math.max(Math.min(this.#o.cooldownMs, FAST_RETRY_CAP_MS), FAST_RETRY_MS));
    const backoff = Math.min(Math.max(this.#o.cooldownMs, 1000) * 2 ** exponent, this.#o.refreshIntervalMs);
    return Math.max(backoff, this.#o.cooldownMs);
  }

  #schedule(delayMs: number): void {
    if (this.#o.static) return;
    this.#nextLoadInMs = delayMs;
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.reload(), delayMs);
    this.#timer.unref();
  }
}

/**
 * Keeps the entry objects of keys that are still published, so tokens cached against them stay cached across
 * reloads (the token cache checks `holds(entry)` by identity); only removed or changed keys drop their tokens.
 */
function carryOver(previous: KeySet | null, next: KeySet): KeySet {
  if (!previous) return next;
  const old = new Map(previous.entries.map((e) => [JSON.stringify(e.publicJwk), e]));
  const entries = next.entries.map((e) => old.get(JSON.stringify(e.publicJwk)) ?? e);
  return new KeySet(entries, next.skipped);
}

function sameKeys(a: KeySet | null, b: KeySet): boolean {
  if (!a || a.entries.length !== b.entries.length) return false;
  return a.entries.every((e, i) => JSON.stringify(e.publicJwk) === JSON.stringify(b.entries[i]!.publicJwk));
}
