/**
 * The core decision: AuthRequest → Decision. Transport-free; every outcome, including bugs, is a Decision.
 */
import type { Config } from '../config/types.ts';
import type { Allow, AuthRequest, Authorizer, Decision, IdentityHeader } from './types.ts';
import { Reasons } from './reasons.ts';
import { normalizePath } from './path.ts';
import { compileExcludes, type PathMatcher } from './glob.ts';
import { extractToken } from './token.ts';
import { identityHeaders } from './identity.ts';
import { buildDeny, type DenyContext } from './deny.ts';
import type { Verifier } from './verify.ts';
import { inSpan } from './tracing.ts';

export class CoreAuthorizer implements Authorizer {
  readonly #config: Config;
  readonly #verifier: Verifier;
  readonly #excluded: PathMatcher;
  readonly #deny: DenyContext;
  readonly #noIdentity: readonly IdentityHeader[];
  readonly #identityCache = new WeakMap<object, readonly IdentityHeader[]>();

  constructor(config: Config, verifier: Verifier) {
    this.#config = config;
    this.#verifier = verifier;
    this.#excluded = compileExcludes(config.excludes);
    this.#noIdentity = Object.freeze(config.identityHeaders.map(({ header }) => Object.freeze({ name: header, value: undefined })));
    this.#deny = { realm: config.realm, cleared: this.#noIdentity };
  }

  async check(request: AuthRequest): Promise<Decision> {
    try {
      return await this.#decide(request);
    } catch (e) {
      // A bug must never become an allow, nor a transport error (Envoy's failure_mode_allow would allow it).
      return buildDeny({ status: 503, reason: Reasons.internalError, message: 'internal error', tokenOffered: false }, this.#deny);
    }
  }

  async #decide(request: AuthRequest): Promise<Decision> {
    if (this.#config.skipPreflight && isPreflight(request)) return this.#anonymous(Reasons.preflight);
    const path = normalizePath(request.path);
    if (path !== null && this.#excluded(path)) return this.#anonymous(Reasons.pathExcluded);

    const found = extractToken(request.headers, this.#config.tokens);
    if (found.kind === 'none') {
      return buildDeny({ status: 401, reason: Reasons.tokenMissing, message: 'no token in the request', tokenOffered: false }, this.#deny);
    }
    if (found.kind === 'error') return buildDeny({ status: 401, reason: found.reason, message: found.message, tokenOffered: true }, this.#deny);

    const tokenBytes = found.token.length;
    const result = await inSpan('portcullis.verify_token', { 'portcullis.token.source': found.source }, async (span) => {
      const r = await this.#verifier.verify(found.token);
      span.setAttributes({
        'portcullis.token.valid': r.ok,
        ...(r.issuer !== undefined ? { 'portcullis.issuer': r.issuer } : {}),
        ...(r.ok && r.kid !== undefined ? { 'portcullis.kid': r.kid } : {}),
        ...(!r.ok ? { 'portcullis.reason': r.reason } : {}),
      });
      return r;
    });
    if (!result.ok) {
      return {
        ...buildDeny({ status: result.status, reason: result.reason, message: result.message, tokenOffered: true, ...(result.issuer !== undefined ? { issuer: result.issuer } : {}) }, this.#deny),
        tokenBytes,
      };
    }
    return {
      kind: 'allow',
      reason: Reasons.tokenValid,
      identity: this.#identityOf(result.claims),
      claims: result.claims,
      issuer: result.issuer,
      ...(result.kid !== undefined ? { kid: result.kid } : {}),
      tokenBytes,
    };
  }

  /** Identity depends only on the claims object, which the token cache keeps stable: compute it once per token. */
  #identityOf(claims: Readonly<Record<string, unknown>>): readonly IdentityHeader[] {
    let identity = this.#identityCache.get(claims);
    if (!identity) {
      identity = Object.freeze(identityHeaders(claims, this.#config.identityHeaders, this.#config.identityHeaderMaxBytes));
      this.#identityCache.set(claims, identity);
    }
    return identity;
  }

  #anonymous(reason: Allow['reason']): Allow {
    return { kind: 'allow', reason, identity: this.#noIdentity };
  }
}

/** A CORS preflight: OPTIONS carrying both Origin and Access-Control-Request-Method. Any other OPTIONS is ordinary. */
function isPreflight(r: AuthRequest): boolean {
  return r.method === 'OPTIONS' && nonEmpty(r.headers.get('origin')) && nonEmpty(r.headers.get('access-control-request-method'));
}

function nonEmpty(values: readonly string[] | undefined): boolean {
  return values !== undefined && values.some((v) => v.trim() !== '');
}
