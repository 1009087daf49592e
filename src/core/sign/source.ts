/**
 * Keeps the key ring fed: loads the keys once at start (failure stops the start, naming the files), then again
 * every `pollMs` so a replica picks up new and removed files within seconds. A load that fails later keeps the
 * last good keys, logs why (once per distinct problem), and readiness turns false only when those keys can sign no
 * more. Loader and clock are injected.
 */
import type { KeyDirResult } from './key-dir.ts';
import { KeyRing, type KeyRingOptions, type KeyView } from './keyring.ts';
import type { SigningKey } from './keyfile.ts';

export type SigningKeyEvent =
  | { readonly type: 'signing_keys_loaded'; readonly kids: readonly string[] }
  | { readonly type: 'signing_keys_load_failed'; readonly problems: readonly string[] }
  | { readonly type: 'signing_ready_changed'; readonly ready: boolean };

export interface SigningKeySourceOptions extends KeyRingOptions {
  readonly load: () => KeyDirResult;
  readonly now: () => number;
  readonly pollMs: number;
  readonly location: string;
  readonly onEvent?: (event: SigningKeyEvent) => void;
  /** The source this one replaces at a reload: its keys keep their timeline (keyring.ts). */
  readonly previous?: SigningKeySource;
}

export class SigningKeyError extends Error {
  readonly problems: readonly string[];
  constructor(problems: readonly string[]) {
    super(`signing keys cannot be loaded:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'SigningKeyError';
    this.problems = problems;
  }
}

export class SigningKeySource {
  readonly #opts: SigningKeySourceOptions;
  readonly #ring: KeyRing;
  readonly #listeners = new Set<() => void>();
  #timer: NodeJS.Timeout | undefined;
  #lastError: string | null = null;
  #loadedAt: number | null = null;
  #kids = '';
  #ready = false;

  constructor(opts: SigningKeySourceOptions) {
    this.#opts = opts;
    this.#ring = new KeyRing(opts, opts.previous === undefined ? undefined : opts.previous.#ring);
  }

  /** First load: throws SigningKeyError naming every bad file. Then polls. */
  start(): void {
    const result = this.#opts.load();
    if (!result.ok) throw new SigningKeyError(result.problems);
    this.#apply(result.keys);
    this.#timer = setInterval(() => this.reload(), this.#opts.pollMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** One poll: new keys in, removed keys marked; a failure keeps the last good keys. */
  reload(): void {
    let result: KeyDirResult;
    try {
      result = this.#opts.load();
    } catch (e) {
      result = { ok: false, problems: [`${this.#opts.location}: ${(e as Error).name}`] };
    }
    if (result.ok) {
      this.#lastError = null;
      this.#apply(result.keys);
    } else {
      const error = result.problems.join('; ');
      if (error !== this.#lastError) this.#opts.onEvent?.({ type: 'signing_keys_load_failed', problems: result.problems });
      this.#lastError = error;
    }
    this.#checkReady();
  }

  /** The key to sign with now (undefined: not ready for signing). */
  signingKey(): SigningKey | undefined {
    return this.#ring.signingKey(this.#opts.now());
  }

  isReady(): boolean {
    return this.#ring.canSign(this.#opts.now());
  }

  /** The JWKS document to publish now: public members only. */
  jwks(): { keys: Readonly<Record<string, string>>[] } {
    return { keys: this.#ring.published(this.#opts.now()) };
  }

  status(): { source: string; ready: boolean; loaded_at: string | null; last_error: string | null; keys: KeyView[] } {
    const now = this.#opts.now();
    return {
      source: this.#opts.location,
      ready: this.#ring.canSign(now),
      loaded_at: this.#loadedAt === null ? null : new Date(this.#loadedAt).toISOString(),
      last_error: this.#lastError,
      keys: this.#ring.view(now),
    };
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #apply(keys: readonly SigningKey[]): void {
    const now = this.#opts.now();
    this.#ring.update(keys, now);
    this.#loadedAt = now;
    const kids = keys.map((k) => k.kid).join(',');
    if (kids !== this.#kids) this.#opts.onEvent?.({ type: 'signing_keys_loaded', kids: keys.map((k) => k.kid) });
    this.#kids = kids;
    this.#checkReady();
  }

  #checkReady(): void {
    const ready = this.#ring.canSign(this.#opts.now());
    if (ready === this.#ready) return;
    this.#ready = ready;
    this.#opts.onEvent?.({ type: 'signing_ready_changed', ready });
    for (const listener of this.#listeners) listener();
  }
}
