/**
 * A bounded map with a time to live per entry and second-chance (CLOCK) eviction, for the token cache (cache.ts).
 *
 * Why not an LRU: an LRU relinks its list on every hit. lru-cache's `get` (an options object, its list arrays, a TTL
 * lookup) was the largest single item of Portcullis' own work on a cached forward-auth request. Here a hit is one Map
 * lookup, one expiry comparison and one flag set; the work moves to `set`, which runs only after a verification:
 *   - entries sit in the Map's insertion order, oldest first;
 *   - to make room, the oldest entry is looked at: read since it was last looked at, it gets a second chance (flag
 *     cleared, moved to the end); otherwise, or once expired, it goes.
 * So a token in use is never evicted before one that is not, as with an LRU, and a full pass clears every flag, so
 * making room always ends.
 *
 * Bounded in entries and in a size the caller computes per value (bytes); a value larger than the whole size bound is
 * not stored. Time is `performance.now()` (monotonic, as lru-cache's was; tests inject a clock): a wall-clock step
 * neither ends nor extends an entry. Nothing here arms a timer: an expired entry is dropped when it is read or when
 * room is made.
 */
import { performance } from 'node:perf_hooks';

interface Entry<V> {
  readonly value: V;
  readonly size: number;
  readonly expires: number;
  /** Read since eviction last looked at it. */
  used: boolean;
}

export interface ClockCacheLimits<V> {
  /** At most this many entries (≥ 1). */
  readonly max: number;
  /** At most this total of `sizeOf` (≥ 1). */
  readonly maxSize: number;
  readonly sizeOf: (value: V) => number;
  /** Monotonic milliseconds; default performance.now() (tests inject one). */
  readonly now?: () => number;
}

export class ClockCache<V> {
  readonly #entries = new Map<string, Entry<V>>();
  readonly #limits: ClockCacheLimits<V>;
  readonly #now: () => number;
  #size = 0;

  constructor(limits: ClockCacheLimits<V>) {
    this.#limits = limits;
    this.#now = limits.now ?? (() => performance.now());
  }

  /** The live value for `key`, marked as used; an expired one is dropped. */
  get(key: string): V | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expires <= this.#now()) {
      this.#remove(key, entry);
      return undefined;
    }
    entry.used = true;
    return entry.value;
  }

  /** The value for `key` without marking it used (expired or not). */
  peek(key: string): V | undefined {
    return this.#entries.get(key)?.value;
  }

  /** Stores `value` for `ttlMs` (replacing any entry of `key`), then makes room. False when it is too large to store. */
  set(key: string, value: V, ttlMs: number): boolean {
    const old = this.#entries.get(key);
    if (old !== undefined) this.#remove(key, old);
    const size = this.#limits.sizeOf(value);
    if (size > this.#limits.maxSize) return false;
    this.#entries.set(key, { value, size, expires: this.#now() + ttlMs, used: false });
    this.#size += size;
    this.#makeRoom(key);
    return true;
  }

  delete(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(key, entry);
  }

  clear(): void {
    this.#entries.clear();
    this.#size = 0;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The sum of `sizeOf` over the entries. */
  get calculatedSize(): number {
    return this.#size;
  }

  /** Evicts until within both bounds; `added` (the entry just set) goes last, so it is never evicted for itself. */
  #makeRoom(added: string): void {
    const { max, maxSize } = this.#limits;
    if (this.#entries.size <= max && this.#size <= maxSize) return;
    const now = this.#now();
    for (const [key, entry] of this.#entries) {
      if (this.#entries.size <= max && this.#size <= maxSize) return;
      if (key === added) continue;
      if (entry.used && entry.expires > now) {
        // Second chance: to the end of the order. The iterator visits it again after everything else, flag clear.
        entry.used = false;
        this.#entries.delete(key);
        this.#entries.set(key, entry);
        continue;
      }
      this.#remove(key, entry);
    }
  }

  #remove(key: string, entry: Entry<V>): void {
    this.#entries.delete(key);
    this.#size -= entry.size;
  }
}
