/**
 * Introspection as an authenticator behind the Verifier: an opaque token (not a compact JWS) goes to the one issuer
 * with `opaque_tokens`, and a JWT of an issuer with `jwt_tokens` that verified locally is introspected too. Both end
 * as the same VerifyResult a JWT gets, in the one token cache:
 *  - an opaque token's entry is keyed by its SHA-256 (cache.ts introspectionKey), a JWT's by the token as always;
 *  - an active answer is kept until the earliest of exp (plus leeway) and max_ttl, an inactive one for inactive_ttl;
 *  - a failure to get an answer (503 introspection_unavailable) is never kept: the next request asks again, and an
 *    answer already cached keeps working until its TTL ends;
 *  - concurrent requests for one token share one call (single-flight), and the cache is read again before a call, so
 *    a request that finished verifying a JWT after another stored its answer joins that answer.
 */
import type { Explain } from '../explain.ts';
import { checkClaimTimes } from '../claims.ts';
import { introspectionKey, type TokenCache } from '../cache.ts';
import type { KeyEntry } from '../keys/keyset.ts';
import type { TrustedIssuer, VerifiedToken, VerifyResult } from '../verify.ts';
import { activeTtlMs, judgeAnswer } from './answer.ts';
import type { Introspector } from './client.ts';

type Introspecting = TrustedIssuer & { readonly introspector: Introspector; readonly config: { readonly introspection: NonNullable<TrustedIssuer['config']['introspection']> } };

/** A JWT that verified locally (verify.ts), before it is introspected. */
export interface LocallyVerified extends VerifiedToken {
  readonly trusted: TrustedIssuer;
  readonly key: KeyEntry;
}

type Step = (check: string, ok: boolean, detail: string) => void;

export function introspects(trusted: TrustedIssuer, kind: 'opaqueTokens' | 'jwtTokens'): trusted is Introspecting {
  return trusted.introspector !== undefined && trusted.config.introspection?.[kind] === true;
}

/**
 * Cheap shape test run before any cache lookup: a compact JWS has exactly two dots. A token with two dots that is not
 * a JWS after all still reaches introspection (verify.ts), only without the synchronous cache answer.
 */
export function maybeJws(token: string): boolean {
  const first = token.indexOf('.');
  if (first === -1) return false;
  const second = token.indexOf('.', first + 1);
  return second !== -1 && token.indexOf('.', second + 1) === -1;
}

export class IntrospectionStage {
  /** The issuer that answers for opaque tokens (at most one: config/load.ts). */
  readonly opaque: Introspecting | undefined;
  readonly #cache: TokenCache;
  readonly #now: () => number;
  readonly #current: (trusted: TrustedIssuer) => boolean;
  readonly #inflight = new Map<string, Promise<VerifyResult>>();

  /** `current`: is this still the verifier's own TrustedIssuer (a reload that changed the issuer drops its answers)? */
  constructor(issuers: readonly TrustedIssuer[], now: () => number, cache: TokenCache, current: (trusted: TrustedIssuer) => boolean) {
    this.opaque = issuers.find((i): i is Introspecting => introspects(i, 'opaqueTokens'));
    this.#cache = cache;
    this.#now = now;
    this.#current = current;
  }

  /** A cached answer for an opaque token, synchronously; undefined when the issuer must be asked. */
  cachedOpaque(token: string): VerifyResult | undefined {
    const key = introspectionKey(token);
    const hit = this.#cache.get(key);
    if (hit !== undefined) {
      if (this.#current(hit.trusted)) {
        const times = checkClaimTimes(hit.verified.claims, hit.trusted.config, this.#now(), true);
        if (!times.ok) return { ok: false, status: 401, reason: times.reason, message: times.message, issuer: hit.trusted.config.issuer };
        this.#cache.stats.introspectionHits++;
        return hit.verified;
      }
      this.#cache.delete(key);
    }
    const failed = this.#cache.getFailure(key);
    if (failed) return { ok: false, status: 401, reason: failed.reason, message: failed.message, ...(failed.issuer !== undefined ? { issuer: failed.issuer } : {}) };
    return undefined;
  }

  /** An opaque token: from the cache, or one shared call whose answer is cached. */
  opaqueToken(token: string): Promise<VerifyResult> {
    const issuer = this.opaque!;
    const key = introspectionKey(token);
    return this.#once(key, () => this.cachedOpaque(token), async () => {
      const judged = judgeAnswer(await issuer.introspector.introspect(token), issuer.config, this.#now(), NO_STEP);
      if (!judged.ok) return this.#failed(key, issuer, judged);
      const verified: VerifiedToken = Object.freeze({ ok: true, claims: judged.claims, issuer: issuer.config.issuer, kid: undefined, shared: true });
      const ttl = activeTtlMs(issuer.config, this.#now(), judged.claims.exp);
      const stored = this.#cache.set(key, { trusted: issuer, verified, introspected: true, bytes: judged.bytes }, ttl);
      return stored ? verified : { ...verified, shared: false };
    });
  }

  /** A JWT of an issuer with jwt_tokens that verified locally: still valid only while the issuer says it is active. */
  jwt(token: string, local: LocallyVerified): Promise<VerifyResult> {
    const trusted = local.trusted as Introspecting;
    return this.#once(token, () => this.#cachedJwt(token), async () => {
      const judged = judgeAnswer(await trusted.introspector.introspect(token), trusted.config, this.#now(), NO_STEP);
      if (!judged.ok) return this.#failed(token, trusted, judged);
      const verified: VerifiedToken = Object.freeze({ ok: true, claims: local.claims, issuer: local.issuer, kid: local.kid, ...(local.cert ? { cert: local.cert } : {}), shared: true });
      const ttl = activeTtlMs(trusted.config, this.#now(), local.claims.exp, judged.claims.exp);
      const stored = this.#cache.set(token, { trusted, key: local.key, verified, introspected: true, bytes: judged.bytes }, ttl);
      return stored ? verified : { ...verified, shared: false };
    });
  }

  /** `explain`: a fresh call, every check reported, nothing cached. */
  async explainOpaque(token: string, explain: Explain): Promise<VerifyResult> {
    const issuer = this.opaque!;
    const step: Step = (check, ok, detail) => explain({ check, ok, detail });
    step('token shape', true, `not a compact JWS: introspected at ${issuer.config.issuer} (opaque_tokens)`);
    const judged = judgeAnswer(await issuer.introspector.introspect(token), issuer.config, this.#now(), step);
    return judged.ok ? { ok: true, claims: judged.claims, issuer: issuer.config.issuer, kid: undefined, shared: false } : { ...judged, issuer: issuer.config.issuer };
  }

  async explainJwt(token: string, local: LocallyVerified, explain: Explain): Promise<VerifyResult> {
    const trusted = local.trusted as Introspecting;
    const judged = judgeAnswer(await trusted.introspector.introspect(token), trusted.config, this.#now(), (check, ok, detail) => explain({ check, ok, detail }));
    if (!judged.ok) return { ...judged, issuer: local.issuer };
    return { ok: true, claims: local.claims, issuer: local.issuer, kid: local.kid, ...(local.cert ? { cert: local.cert } : {}), shared: false };
  }

  /** Single-flight per cache key; the cache is read again first (another request may have stored the answer). */
  #once(key: string, cached: () => VerifyResult | undefined, call: () => Promise<VerifyResult>): Promise<VerifyResult> {
    const pending = this.#inflight.get(key);
    if (pending !== undefined) return pending;
    const known = cached();
    if (known !== undefined) return Promise.resolve(known);
    const p = call().finally(() => this.#inflight.delete(key));
    this.#inflight.set(key, p);
    return p;
  }

  #cachedJwt(token: string): VerifyResult | undefined {
    const hit = this.#cache.get(token);
    if (hit?.introspected === true && this.#current(hit.trusted) && (hit.key === undefined || hit.trusted.keys.holds(hit.key))) return hit.verified;
    const failed = this.#cache.getFailure(token);
    if (failed) return { ok: false, status: 401, reason: failed.reason, message: failed.message, ...(failed.issuer !== undefined ? { issuer: failed.issuer } : {}) };
    return undefined;
  }

  /** Inactive is remembered for inactive_ttl; an answer that could not be had (503) is never remembered. */
  #failed(key: string, trusted: Introspecting, judged: Extract<ReturnType<typeof judgeAnswer>, { ok: false }>): VerifyResult {
    const issuer = trusted.config.issuer;
    if (judged.status === 401) this.#cache.setFailure(key, { reason: judged.reason, message: judged.message, issuer }, trusted.config.introspection.inactiveTtlMs);
    return { ...judged, issuer };
  }
}

const NO_STEP: Step = () => {};
