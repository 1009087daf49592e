/**
 * One x5c issuer's trust: its configured roots (read and checked at config load, so it is ready from the start: no
 * JWKS to fetch) and a bounded cache of chains already verified, keyed by the fingerprints of their certificates,
 * each kept no longer than the path's earliest notAfter. It answers the same status / readiness / `holds` questions
 * as a JWKS KeySource, so readiness, /keys, metrics and the token cache treat both alike.
 */
import type * as pkijs from 'pkijs';
import { pkijs as loadPkijs } from './pkijs.ts';
import type { Algorithm } from '../config.ts';
import { Reasons, type ReasonCode } from '../reasons.ts';
import { fits, type KeyEntry } from './keyset.ts';
import type { KeySourceStatus } from './source.ts';
import type { ParsedJws } from '../jws.ts';
import { chainFingerprint, decodeX5c, validateChain, type ChainPolicy, type LeafKey } from './x5c.ts';

export interface X5cRoot {
  readonly file: string;
  /** Standard base64 DER. */
  readonly der: string;
  readonly subject: string;
  readonly sha256: string;
}

export interface X5cTrustOptions {
  readonly issuer: string;
  readonly roots: readonly X5cRoot[];
  readonly extendedKeyUsage: readonly string[];
  readonly leewayMs: number;
  readonly now: () => number;
  /** Verified chains remembered (default 1024); 0 disables the chain cache. */
  readonly maxChains?: number;
}

export type ChainLookup =
  | { readonly kind: 'found'; readonly entry: LeafKey; readonly cached: boolean }
  | { readonly kind: 'denied'; readonly reason: ReasonCode; readonly message: string };

export class X5cTrust {
  readonly issuer: string;
  readonly #o: X5cTrustOptions;
  readonly #policy: ChainPolicy;
  readonly #loadedAt: number;
  /** Insertion-ordered: the first entry is the oldest (evicted first). */
  readonly #chains = new Map<string, LeafKey>();
  /** Keys this trust handed out: the token cache asks `holds` about them. */
  readonly #issued = new WeakSet<KeyEntry>();

  constructor(options: X5cTrustOptions) {
    this.#o = options;
    this.issuer = options.issuer;
    this.#policy = {
      anchors: options.roots.map((r) => loadPkijs().Certificate.fromBER(Buffer.from(r.der, 'base64'))),
      extendedKeyUsage: options.extendedKeyUsage,
      leewayMs: options.leewayMs,
    };
    this.#loadedAt = options.now();
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  stop(): void {}

  isReady(): boolean {
    return this.#policy.anchors.length > 0;
  }

  /** Roots change only with the config (a new core), so readiness never changes. */
  onChange(_listener: () => void): () => void {
    return () => {};
  }

  /** Is a key from an earlier lookup still good now: this trust's, and its whole path valid (± leeway)? */
  holds(entry: KeyEntry): boolean {
    if (!this.#issued.has(entry)) return false;
    const { cert } = entry as LeafKey;
    const now = this.#o.now();
    return now + this.#o.leewayMs >= cert.notBefore && now - this.#o.leewayMs <= cert.notAfter;
  }

  /**
   * A token's key: from its `x5c` header only. A header that also names a key another way (`jwk`, `jku`, `x5u`) is
   * refused: which of them signed would be ambiguous. `kid` is ignored (the step CLI puts a file path there).
   */
  keyFor(jws: Pick<ParsedJws, 'header' | 'x5c'>, alg: Algorithm): Promise<ChainLookup> {
    const others = ['jwk', 'jku', 'x5u'].filter((k) => jws.header[k] !== undefined);
    if (others.length) return Promise.resolve({ kind: 'denied', reason: Reasons.x5cMalformed, message: `"x5c" together with ${others.map((k) => `"${k}"`).join(', ')} is not accepted` });
    if (jws.x5c === undefined) return Promise.resolve({ kind: 'denied', reason: Reasons.x5cMalformed, message: `token has no "x5c" header; issuer ${this.issuer} takes keys only from certificate chains` });
    return this.lookup(jws.x5c, alg);
  }

  /** The `x5c` header value → the validated leaf key that fits `alg`, or the deny reason. */
  async lookup(x5c: unknown, alg: Algorithm): Promise<ChainLookup> {
    const decoded = decodeX5c(x5c);
    if (!decoded.ok) return { kind: 'denied', reason: Reasons.x5cMalformed, message: decoded.message };
    const id = chainFingerprint(decoded.ders);
    let entry = this.#chains.get(id);
    const cached = entry !== undefined && this.holds(entry);
    if (!cached) {
      if (entry) this.#chains.delete(id);
      const r = await validateChain(decoded.ders, this.#policy, this.#o.now());
      if (!r.ok) return { kind: 'denied', reason: r.reason, message: r.message };
      entry = r.key;
      this.#issued.add(entry);
      this.#remember(id, entry);
    }
    if (!fits(entry!, alg)) {
      const held = entry!.kty === 'RSA' ? 'an RSA' : `an ${entry!.kty} ${entry!.crv}`;
      return { kind: 'denied', reason: Reasons.keyUnknown, message: `the x5c leaf holds ${held} key, which cannot make ${alg} signatures` };
    }
    return { kind: 'found', entry: entry!, cached };
  }

  status(): KeySourceStatus {
    return {
      issuer: this.issuer,
      location: `x5c roots ${[...new Set(this.#o.roots.map((r) => r.file))].join(', ')}`,
      ready: this.isReady(),
      fetchedAt: this.#loadedAt,
      lastAttemptAt: this.#loadedAt,
      lastError: null,
      nextLoadInMs: null,
      keys: this.#o.roots.map((r) => ({ kty: 'x509', subject: r.subject, 'x5t#S256': r.sha256 })),
    };
  }

  /** The path in words, for explain: subjects only, never keys. */
  static describe(entry: LeafKey, cached: boolean): string {
    const [leaf, ...issuers] = entry.cert.path;
    return `leaf ${leaf} ← ${issuers.join(' ← ')} (configured root)${cached ? ', from the chain cache' : ''}; valid until ${new Date(entry.cert.notAfter).toISOString()}`;
  }

  #remember(id: string, entry: LeafKey): void {
    const max = this.#o.maxChains ?? 1024;
    if (max <= 0) return;
    while (this.#chains.size >= max) this.#chains.delete(this.#chains.keys().next().value!);
    this.#chains.set(id, entry);
  }
}
