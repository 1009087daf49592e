/**
 * Token string → verified claims, or a deny reason. Order matters for safety:
 * shape → issuer (exact `iss`, no network for unknown issuers) → algorithm allowlist → key → signature → claims.
 * Unverified content is used only to pick the issuer and key; nothing else is trusted before the signature.
 */
import type { Algorithm, IssuerConfig } from './config.ts';
import { parseCompactJws, type ParsedJws } from './jws.ts';
import { verifySignature } from './signature.ts';
import { checkClaims, checkClaimTimes } from './claims.ts';
import { Reasons, type ReasonCode } from './reasons.ts';
import type { KeySource } from './keys/source.ts';
import type { KeyEntry } from './keys/keyset.ts';
import { X5cTrust } from './keys/x5c-trust.ts';
import type { CertInfo, LeafKey } from './keys/x5c.ts';
import { TokenCache } from './cache.ts';
import type { Explain } from './explain.ts';
import type { Introspector } from './introspection/client.ts';
import { IntrospectionStage, introspects, maybeJws } from './introspection/stage.ts';

export interface TrustedIssuer {
  readonly config: IssuerConfig;
  /** A JWKS source, or (issuer with `x5c`) the configured roots that token chains must lead to. */
  readonly keys: KeySource | X5cTrust;
  /** Issuers with `introspection` (docs/introspection.md): their endpoint. */
  readonly introspector?: Introspector;
}

/** The leaf certificate of an x5c token (subject, SANs, path), for identity headers. */
const certOf = (key: KeyEntry): CertInfo | undefined => (key as Partial<LeafKey>).cert;

export type VerifyResult =
  | {
      readonly ok: true;
      readonly claims: Readonly<Record<string, unknown>>;
      readonly issuer: string;
      readonly kid: string | undefined;
      /** x5c issuers: the verified leaf certificate. */
      readonly cert?: CertInfo;
      /**
       * This result (and its claims object) is answered again for the token's later requests (it is in the token
       * cache): what is derived from it may be memoized per claims object. False for a token seen once, whose
       * claims nobody will see again: memoizing those only fills weak maps until the next full GC (the 1M-token
       * flood's heap).
       */
      readonly shared: boolean;
    }
  | {
      readonly ok: false;
      readonly status: 401 | 503;
      readonly reason: ReasonCode;
      readonly message: string;
      readonly issuer?: string;
    };

export type VerifiedToken = Extract<VerifyResult, { ok: true }>;

/** Failures no later moment can turn into a success for the same token string (safe to remember briefly). */
const PERMANENT = new Set<ReasonCode>([
  Reasons.tokenMalformed, Reasons.issuerUnknown, Reasons.algorithmNotAllowed, Reasons.signatureInvalid,
  Reasons.tokenExpired, Reasons.lifetimeTooLong, Reasons.audienceMismatch, Reasons.claimInvalid, Reasons.claimMissing,
  Reasons.x5cMalformed, Reasons.x5cUntrusted, Reasons.x5cUsage,
]);

function withCert(key: KeyEntry): { cert?: CertInfo } {
  const cert = certOf(key);
  return cert ? { cert } : {};
}

type Step = (check: string, ok: boolean, detail: string) => void;

/**
 * The issuer's algorithm allowlist, then its key (JWKS by kid, or the x5c chain to its roots), then the signature:
 * for access tokens and for RFC 9701 signed introspection answers alike.
 */
export async function verifyJws(
  trusted: Pick<TrustedIssuer, 'config' | 'keys'>,
  jws: ParsedJws,
  step: Step,
): Promise<{ readonly ok: true; readonly key: KeyEntry } | { readonly ok: false; readonly status: 401 | 503; readonly reason: ReasonCode; readonly message: string }> {
  const fail = (status: 401 | 503, reason: ReasonCode, message: string, check: string) => {
    step(check, false, message);
    return { ok: false, status, reason, message } as const;
  };
  const { alg, kid } = jws;
  if (!(trusted.config.algorithms as readonly string[]).includes(alg)) {
    return fail(401, Reasons.algorithmNotAllowed, `algorithm ${JSON.stringify(alg.slice(0, 16))} is not allowed for this issuer (allowed: ${trusted.config.algorithms.join(', ')})`, 'algorithm');
  }
  step('algorithm', true, `${alg} is allowed`);
  let key: KeyEntry;
  if (trusted.keys instanceof X5cTrust) {
    const chain = await trusted.keys.keyFor(jws, alg as Algorithm);
    if (chain.kind === 'denied') return fail(401, chain.reason, chain.message, 'x5c chain');
    step('x5c chain', true, X5cTrust.describe(chain.entry, chain.cached));
    key = chain.entry;
  } else {
    const pending = trusted.keys.lookup(kid, alg as Algorithm);
    const lookup = pending instanceof Promise ? await pending : pending; // no microtask turn when the key is at hand
    if (lookup.kind === 'unavailable') return fail(503, Reasons.keysUnavailable, lookup.message, 'key');
    if (lookup.kind === 'unknown') return fail(401, Reasons.keyUnknown, lookup.message, 'key');
    step('key', true, `found ${lookup.entry.kty} key${lookup.entry.kid !== undefined ? ` ${JSON.stringify(lookup.entry.kid)}` : ''}`);
    key = lookup.entry;
  }
  if (!(await verifySignature(jws, alg as Algorithm, key.key))) return fail(401, Reasons.signatureInvalid, 'signature verification failed', 'signature');
  step('signature', true, 'valid');
  return { ok: true, key };
}

export class Verifier {
  readonly #issuers: ReadonlyMap<string, TrustedIssuer>;
  readonly #now: () => number;
  readonly #cache: TokenCache;
  /** Opaque tokens and JWT revocation through the issuers' introspection endpoints. */
  readonly #introspection: IntrospectionStage;
  /** `#introspection.opaque` is set: a token that is not a JWS is introspected instead of malformed. */
  readonly #opaque: boolean;

  constructor(issuers: readonly TrustedIssuer[], now: () => number, cache: TokenCache = new TokenCache({ maxEntries: 0, maxBytes: 0, negativeTtlMs: 0 })) {
    this.#issuers = new Map(issuers.map((i) => [i.config.issuer, i]));
    this.#now = now;
    this.#cache = cache;
    this.#introspection = new IntrospectionStage(issuers, now, cache, (t) => this.#issuers.get(t.config.issuer) === t);
    this.#opaque = this.#introspection.opaque !== undefined;
  }

  get cache(): TokenCache {
    return this.#cache;
  }

  /**
   * The answer for a token this verifier already knows, synchronously: a verified token (time checks run again on
   * every hit) or a failure remembered as permanent; undefined when the token must be verified.
   */
  cached(token: string): VerifyResult | undefined {
    if (this.#opaque && !maybeJws(token)) return this.#introspection.cachedOpaque(token);
    const cached = this.#cache.get(token);
    if (cached) {
      // Verified by this verifier's own issuer (a reload that removed or changed the issuer drops its tokens), with a
      // key still published; time-dependent checks run on every hit.
      if (this.#issuers.get(cached.trusted.config.issuer) === cached.trusted && cached.key !== undefined && cached.trusted.keys.holds(cached.key)) {
        const claims = checkClaimTimes(cached.verified.claims, cached.trusted.config, this.#now());
        if (!claims.ok) return { ok: false, status: 401, reason: claims.reason, message: claims.message, issuer: cached.trusted.config.issuer };
        if (cached.introspected === true) this.#cache.stats.introspectionHits++;
        return cached.verified;
      }
      this.#cache.delete(token);
    }
    const failed = this.#cache.getFailure(token);
    if (failed) return { ok: false, status: 401, reason: failed.reason, message: failed.message, ...(failed.issuer !== undefined ? { issuer: failed.issuer } : {}) };
    return undefined;
  }

  /** With `explain`, the cache is bypassed and every check reports what it saw. */
  async verify(token: string, explain?: Explain): Promise<VerifyResult> {
    if (explain) {
      if (this.#opaque && !maybeJws(token)) return this.#introspection.explainOpaque(token, explain);
      const r = await this.#verifyUncached(token, explain);
      if (!r.ok && r.reason === Reasons.tokenMalformed && this.#opaque) return this.#introspection.explainOpaque(token, explain);
      if (r.ok && introspects(r.trusted, 'jwtTokens')) return this.#introspection.explainJwt(token, { ...r, ...withCert(r.key) }, explain);
      return r.ok ? { ok: true, claims: r.claims, issuer: r.issuer, kid: r.kid, ...withCert(r.key), shared: false } : r;
    }
    return this.cached(token) ?? this.verifyUnknown(token);
  }

  /** Verifies a token `cached()` just did not know (no second cache lookup), and remembers the outcome. */
  async verifyUnknown(token: string): Promise<VerifyResult> {
    if (this.#opaque && !maybeJws(token)) return this.#introspection.opaqueToken(token);
    const result = await this.#verifyUncached(token);
    // Not a JWS after all (two dots, but not its shape): the opaque-token issuer answers for it.
    if (!result.ok && result.reason === Reasons.tokenMalformed && this.#opaque) return this.#introspection.opaqueToken(token);
    if (result.ok && introspects(result.trusted, 'jwtTokens')) return this.#introspection.jwt(token, { ...result, ...withCert(result.key) });
    if (result.ok) {
      const exp = result.claims.exp as number;
      const verified: VerifiedToken = Object.freeze({ ok: true, claims: result.claims, issuer: result.issuer, kid: result.kid, ...withCert(result.key), shared: true });
      const cached = this.#cache.set(token, { trusted: result.trusted, key: result.key, verified }, exp * 1000 + result.trusted.config.leewayMs - this.#now());
      return cached ? verified : { ...verified, shared: false };
    }
    if (PERMANENT.has(result.reason)) this.#cache.setFailure(token, { reason: result.reason, message: result.message, issuer: result.issuer });
    return result;
  }

  async #verifyUncached(token: string, explain?: Explain): Promise<(Extract<VerifyResult, { ok: true }> & { trusted: TrustedIssuer; key: KeyEntry }) | Extract<VerifyResult, { ok: false }>> {
    const step: Step = (check, ok, detail) => explain?.({ check, ok, detail });
    const parsed = parseCompactJws(token);
    if (!parsed.ok) {
      step('token shape', false, parsed.message);
      return { ok: false, status: 401, reason: parsed.reason, message: parsed.message };
    }
    const { payload, alg, kid } = parsed.jws;
    step('token shape', true, `compact JWS, alg ${alg}${kid !== undefined ? `, kid ${JSON.stringify(kid)}` : ', no kid'}`);

    const iss = payload.iss;
    if (typeof iss !== 'string') {
      step('issuer', false, 'token has no "iss" claim');
      return { ok: false, status: 401, reason: Reasons.claimMissing, message: 'token has no "iss" claim' };
    }
    const trusted = this.#issuers.get(iss);
    if (!trusted) {
      const message = `issuer ${JSON.stringify(iss.slice(0, 128))} is not trusted`;
      step('issuer', false, `${message} (trusted: ${[...this.#issuers.keys()].join(', ')})`);
      return { ok: false, status: 401, reason: Reasons.issuerUnknown, message };
    }
    step('issuer', true, `${iss} is trusted`);
    const signed = await verifyJws(trusted, parsed.jws, step);
    if (!signed.ok) return { ...signed, issuer: iss };

    const claims = checkClaims(payload, trusted.config, this.#now(), explain && ((name, r) => step(`claim ${name}`, r.ok, r.ok ? (r.note?.() ?? 'ok') : r.message)));
    if (!claims.ok) return { ok: false, status: 401, reason: claims.reason, message: claims.message, issuer: iss };
    // An x5c issuer ignores kid (the step CLI puts a file path there): it is not reported as the key's id.
    return { ok: true, claims: payload, issuer: iss, kid: trusted.keys instanceof X5cTrust ? undefined : kid, trusted, key: signed.key, shared: false };
  }
}
