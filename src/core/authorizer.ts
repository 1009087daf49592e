/**
 * The core decision: AuthRequest → Decision. Transport-free; every outcome, including bugs, is a Decision.
 *
 * preflight → excluded path → rule (Envoy-named policy, first matching route, or default) → token → verify →
 * bind (DPoP proof, sender constraint: core/bind) → rule requirements → single use (consume the jti, last, so a
 * refused token burns nothing) → allow with identity.
 */
import type { Config } from './config.ts';
import type { Allow, AuthRequest, Authorizer, Decision, Deny, IdentityHeader } from './types.ts';
import type { TokenResult } from './sources.ts';
import type { VerifiedToken, VerifyResult } from './verify.ts';
import type { SingleUseResult } from './single-use.ts';
import { andThen, type Later } from './sync.ts';
import { Reasons, type ReasonCode } from './reasons.ts';
import { normalizePath } from './path.ts';
import { compileExcludes, type PathMatcher, type PathParams } from './glob.ts';
import { findToken, removeTokens } from './sources.ts';
import { claimHeaderValue, identityHeaderNames } from './identity.ts';
import { buildDeny, buildRedirect, denyContextOf, internalErrorDeny, invalidRequestDeny, type DenyContext } from './deny.ts';
import type { Verifier } from './verify.ts';
import { inChildSpan, inChildSpanSync, tracingActive } from './tracing.ts';
import type { Explain } from './explain.ts';
import { RouteTable } from './policy/routes.ts';
import type { Rule } from './policy/types.ts';
import { evaluate } from './policy/requirements.ts';
import { isBrowserNavigation, loginLocation } from './policy/login.ts';
import type { SingleUse } from './single-use.ts';
import { SignDecider } from './sign/decide.ts';
import type { Minter } from './sign/mint.ts';
import { certHeaderValues } from './cert-identity.ts';
import type { CertInfo } from './keys/x5c.ts';
import { certificateView } from './client-certificate.ts';
import type { Binder } from './bind/bind.ts';
import type { BindResult } from './bind/types.ts';

export class CoreAuthorizer implements Authorizer {
  readonly #config: Config;
  readonly #verifier: Verifier;
  readonly #excluded: PathMatcher;
  readonly #routes: RouteTable;
  readonly #deny: DenyContext;
  /** Every identity header any answer can set (global, per-rule, payload), in a fixed order. */
  readonly #identityNames: readonly string[];
  readonly #noIdentity: readonly IdentityHeader[];
  readonly #identityCache = new WeakMap<object, Map<Rule, readonly IdentityHeader[]>>();
  /** Allows of cached tokens, per verified token and rule (#sharedAllow). */
  readonly #allowCache = new WeakMap<VerifiedToken, Map<Rule, Allow>>();
  readonly #singleUse: SingleUse | null;
  readonly #issuers: ReadonlyMap<string, Config['issuers'][number]>;
  /** Rules with `sign` (core/sign/decide.ts); absent without a signer. */
  readonly #signing: SignDecider | undefined;
  /** The bind step (core/bind); absent = no binding is checked (partial test wiring only: app.ts always gives one). */
  readonly #binder: Binder | undefined;

  /**
   * `singleUse`: the replay step (app.ts builds it with the configured store); null = no token is single-use.
   * `minter`: the signer's (app.ts); absent = no signing.
   * `binder`: the bind step (app.ts builds it with the replay store and the DPoP nonces).
   */
  constructor(config: Config, verifier: Verifier, singleUse: SingleUse | null = null, minter?: Minter, binder?: Binder) {
    this.#config = config;
    this.#binder = binder;
    this.#verifier = verifier;
    this.#singleUse = singleUse;
    this.#excluded = compileExcludes(config.excludes);
    this.#issuers = new Map(config.issuers.map((i) => [i.issuer, i]));
    this.#routes = new RouteTable(config.policy);
    this.#identityNames = identityHeaderNames(config);
    this.#deny = denyContextOf(config);
    this.#noIdentity = this.#deny.cleared;
    this.#signing = config.signer !== undefined && minter !== undefined ? new SignDecider(config.signer, minter, this.#deny) : undefined;
  }

  /** Synchronous when nothing waits for I/O (types.ts Authorizer); never throws nor rejects. */
  check(request: AuthRequest, explain?: Explain): Later<Decision> {
    // A bug must never become an allow, nor a transport error (Envoy's failure_mode_allow would allow it).
    try {
      const decision = this.#decide(request, explain);
      return decision instanceof Promise ? decision.catch(this.#failed) : decision;
    } catch {
      return this.#failed();
    }
  }

  readonly #failed = (): Deny => internalErrorDeny(this.#deny);

  #decide(request: AuthRequest, explain?: Explain): Later<Decision> {
    if (request.invalid !== undefined) {
      explain?.({ check: 'original request', ok: false, detail: request.invalid.message });
      return invalidRequestDeny(request.invalid, this.#deny);
    }
    if (this.#config.skipPreflight && isPreflight(request)) {
      explain?.({ check: 'CORS preflight', ok: true, detail: 'OPTIONS with Origin and Access-Control-Request-Method passes without a token' });
      return this.#anonymous(Reasons.preflight);
    }
    const path = normalizePath(request.path);
    explain?.({ check: 'path', ok: path !== null, detail: path === null ? 'cannot be normalized unambiguously; it is never excluded' : `normalized to ${path}` });
    if (path !== null && this.#excluded(path)) {
      explain?.({ check: 'excludes', ok: true, detail: `${path} is excluded: no token needed` });
      return this.#anonymous(Reasons.pathExcluded);
    }

    const selected = this.#routes.select(request, path);
    if (selected.kind === 'ambiguous_path') {
      explain?.({ check: 'route', ok: false, detail: 'the path is ambiguous and routes depend on paths' });
      return buildDeny({ status: 403, reason: Reasons.pathAmbiguous, message: 'the request path cannot be normalized unambiguously', tokenOffered: false }, this.#deny);
    }
    if (selected.kind === 'unknown_policy') {
      explain?.({ check: 'route', ok: false, detail: `Envoy named policy ${JSON.stringify(selected.name)}, which is not configured` });
      return buildDeny({ status: 403, reason: Reasons.policyUnknown, message: `no policy named ${JSON.stringify(selected.name.slice(0, 64))}`, tokenOffered: false }, this.#deny);
    }
    const { rule, params } = selected;
    explain?.({ check: 'route', ok: true, detail: `rule ${rule.name} (anonymous ${rule.anonymous})${describeParams(params)}` });
    if (rule.sign !== undefined && rule.sign.claimsFromToken === null) {
      // Outbound signing: no token is verified; the decision is the minted one (or why not).
      if (this.#signing === undefined) return this.#noSigner(rule);
      return this.#signing.outbound(request, rule.sign, rule.name, this.#noIdentity).then((d) => {
        explain?.({ check: 'sign', ok: d.kind === 'allow', detail: d.kind === 'allow' ? `minted a token for ${rule.sign!.header}` : d.message });
        return d;
      });
    }

    const found = findToken(request.headers, this.#config.tokens);
    if (found.kind === 'none') {
      if (rule.anonymous === 'optional') {
        explain?.({ check: 'token', ok: true, detail: 'none sent; this rule allows anonymous requests' });
        return { ...this.#anonymous(Reasons.anonymous), rule: rule.name };
      }
      explain?.({ check: 'token', ok: false, detail: 'no token in the request' });
      return this.#unauthenticated(request, path, rule, Reasons.tokenMissing, 'no token in the request', false);
    }
    if (found.kind === 'error') {
      explain?.({ check: 'token', ok: false, detail: found.message });
      return this.#unauthenticated(request, path, rule, found.reason, found.message, true);
    }
    explain?.({ check: 'token', ok: true, detail: `found in ${found.source}` });

    // Neither explained nor traced: a token this verifier already knows is answered now, and one it does not is
    // verified without a second cache lookup. Explain and a recording trace take the full path below.
    if (explain === undefined && !tracingActive()) {
      const known = this.#verifier.cached(found.token);
      if (known !== undefined) return this.#verified(request, path, rule, params, found, known);
      return this.#verifier.verifyUnknown(found.token).then((result) => this.#verified(request, path, rule, params, found, result));
    }
    const verifying = inChildSpan('portcullis.verify_token', { 'portcullis.token.source': found.source }, async (span) => {
      const r = await this.#verifier.verify(found.token, explain);
      span?.setAttributes({
        'portcullis.token.valid': r.ok,
        ...(r.issuer !== undefined ? { 'portcullis.issuer': r.issuer } : {}),
        ...(r.ok && r.kid !== undefined ? { 'portcullis.kid': r.kid } : {}),
        ...(!r.ok ? { 'portcullis.reason': r.reason } : {}),
      });
      return r;
    });
    return verifying.then((result) => this.#verified(request, path, rule, params, found, result, explain));
  }

  /** After verification: the rule's requirements, single use, then the allow (or the token exchange). */
  #verified(request: AuthRequest, path: string | null, rule: Rule, params: PathParams, found: Extract<TokenResult, { kind: 'token' }>, result: VerifyResult, explain?: Explain): Later<Decision> {
    const tokenBytes = found.token.length;
    if (!result.ok) {
      // A bad token is never downgraded to anonymous, even where anonymous requests are allowed.
      const deny = result.status === 503
        ? buildDeny({ status: 503, reason: result.reason, message: result.message, tokenOffered: true }, this.#deny)
        : this.#unauthenticated(request, path, rule, result.reason, result.message, true);
      return { ...deny, tokenBytes, rule: rule.name, ...(result.issuer !== undefined ? { issuer: result.issuer } : {}) };
    }
    if (this.#binder === undefined) return this.#authorize(request, path, rule, params, result, tokenBytes, undefined, explain);
    const bound = this.#binder.bind({ request, found, verified: result, rule }, explain);
    if (bound instanceof Promise) return bound.then((b) => this.#authorize(request, path, rule, params, result, tokenBytes, b, explain));
    return this.#authorize(request, path, rule, params, result, tokenBytes, bound, explain);
  }

  /** After binding: the rule's requirements, single use, then the allow (or the token exchange). */
  #authorize(request: AuthRequest, path: string | null, rule: Rule, params: PathParams, result: VerifiedToken, tokenBytes: number, bound: BindResult | undefined, explain?: Explain): Later<Decision> {
    if (bound !== undefined && !bound.ok) {
      return {
        ...buildDeny({ status: bound.status, reason: bound.reason, message: bound.message, tokenOffered: true, ...(bound.dpop !== undefined ? { dpop: bound.dpop } : {}) }, this.#deny),
        issuer: result.issuer,
        tokenBytes,
        rule: rule.name,
      };
    }
    const responseHeaders = bound?.responseHeaders;
    if (rule.require) {
      const r = inChildSpanSync('portcullis.evaluate_policy', { 'portcullis.route': rule.name }, () => evaluate(rule.require!, { claims: result.claims, issuer: result.issuer, request, path, params, tokens: this.#config.tokens }, explain));
      explain?.({ check: 'requirements', ok: r.ok, detail: r.ok ? `rule ${rule.name} is satisfied` : r.message });
      if (!r.ok) {
        const reason = r.missingScopes.length ? Reasons.scopeMissing : Reasons.requirementNotMet;
        return {
          ...buildDeny({ status: 403, reason, message: r.message, tokenOffered: true, scopes: r.missingScopes }, this.#deny),
          issuer: result.issuer,
          tokenBytes,
          rule: rule.name,
        };
      }
    }

    if (this.#singleUse?.applies(result.issuer, rule)) {
      return this.#singleUse.check(result.claims, result.issuer, rule, explain).then((once) => this.#allow(request, rule, result, tokenBytes, once, explain, responseHeaders));
    }
    return this.#allow(request, rule, result, tokenBytes, undefined, explain, responseHeaders);
  }

  #allow(request: AuthRequest, rule: Rule, result: Extract<VerifyResult, { ok: true }>, tokenBytes: number, once: SingleUseResult | undefined, explain?: Explain, responseHeaders?: Allow['responseHeaders']): Later<Decision> {
    if (once !== undefined && !once.ok) {
      return {
        ...buildDeny({ status: once.status, reason: once.reason, message: once.message, tokenOffered: true }, this.#deny),
        issuer: result.issuer,
        tokenBytes,
        rule: rule.name,
        replay: once.check,
      };
    }
    const removal = this.#config.policy.forwardToken && rule.sign === undefined ? null : removeTokens(request.headers, this.#config.tokens);
    if (removal === null && once === undefined && responseHeaders === undefined && rule.sign === undefined && result.shared && !this.#certificateIdentity(request)) {
      return this.#sharedAllow(result, rule, tokenBytes);
    }
    const identity = this.#identityOf(result, rule);
    const withCert = this.#withClientCertificate(identity, request);
    const allow: Allow = {
      kind: 'allow',
      reason: Reasons.tokenValid,
      identity: withCert,
      shared: result.shared && withCert === identity,
      claims: result.claims,
      issuer: result.issuer,
      ...(result.kid !== undefined ? { kid: result.kid } : {}),
      tokenBytes,
      rule: rule.name,
      ...(removal ? { stripHeaders: removal.strip, setHeaders: removal.set } : {}),
      ...(once?.check !== undefined ? { replay: once.check } : {}),
      ...(responseHeaders !== undefined ? { responseHeaders } : {}),
    };
    if (rule.sign === undefined) return allow;
    // Token exchange: the verified external token is replaced by a minted internal one.
    if (this.#signing === undefined) return this.#noSigner(rule);
    const sign = rule.sign;
    return andThen(this.#signing.exchange(request, sign, allow), (exchanged) => {
      explain?.({ check: 'sign', ok: exchanged.kind === 'allow', detail: exchanged.kind === 'allow' ? `exchanged for a minted token in ${sign.header}` : exchanged.message });
      return exchanged;
    });
  }

  /**
   * The allow of a cached token under `rule` with nothing of this request's own in it (no single use, no token
   * removal, no response headers, no signing, no client-certificate identity): it depends only on the verified token
   * (claims, issuer, kid, x5c certificate: one frozen object per cached token), the rule, and the token's size, which
   * the cached token fixes too (checked anyway). Built once per token and rule, frozen, and shared by every request.
   */
  #sharedAllow(result: VerifiedToken, rule: Rule, tokenBytes: number): Allow {
    let perRule = this.#allowCache.get(result);
    if (perRule === undefined) this.#allowCache.set(result, (perRule = new Map()));
    const known = perRule.get(rule);
    if (known !== undefined && known.tokenBytes === tokenBytes) return known;
    const identity = this.#identityOf(result, rule);
    const allow: Allow = Object.freeze({
      kind: 'allow',
      reason: Reasons.tokenValid,
      identity,
      shared: true,
      claims: result.claims,
      issuer: result.issuer,
      ...(result.kid !== undefined ? { kid: result.kid } : {}),
      tokenBytes,
      rule: rule.name,
    });
    if (known === undefined) perRule.set(rule, allow);
    return allow;
  }

  /** `client_certificate.identity_headers` apply to this request: its allow carries its own certificate's values. */
  #certificateIdentity(request: AuthRequest): boolean {
    return this.#config.clientCertificate?.identityHeaders !== undefined && request.clientCertificate !== undefined;
  }

  /** A signing rule without a signer (config refuses it; kept so a partial config can never allow). */
  #noSigner(rule: Rule): Deny {
    return { ...buildDeny({ status: 503, reason: Reasons.signingUnavailable, message: 'no signer is configured', tokenOffered: false }, this.#deny), rule: rule.name };
  }

  /** 401, or a login redirect for browser navigations on rules that have one. */
  #unauthenticated(request: AuthRequest, path: string | null, rule: Rule, reason: ReasonCode, message: string, tokenOffered: boolean): Deny {
    if (rule.login && isBrowserNavigation(request)) {
      return { ...buildRedirect(loginLocation(rule.login, request, path), reason, message, this.#deny), rule: rule.name };
    }
    return { ...buildDeny({ status: 401, reason, message, tokenOffered }, this.#deny), rule: rule.name };
  }

  /**
   * Identity depends only on the claims object (kept stable by the token cache) and the rule: computed once per
   * cached token and rule, and frozen so the HTTP renderer shares the answer too. A token seen once gets a fresh,
   * unfrozen array that nothing keeps. The issuer and (x5c) certificate are fixed for a claims object: they come
   * from the same token.
   */
  #identityOf(result: VerifiedToken, rule: Rule): readonly IdentityHeader[] {
    const { claims } = result;
    if (!result.shared) return this.#identityFor(result, rule);
    let perRule = this.#identityCache.get(claims);
    if (!perRule) this.#identityCache.set(claims, (perRule = new Map()));
    let identity = perRule.get(rule);
    if (!identity) {
      identity = Object.freeze(this.#identityFor(result, rule).map((h) => Object.freeze(h)));
      perRule.set(rule, identity);
    }
    return identity;
  }

  /**
   * `client_certificate.identity_headers`: the request's own certificate, so never part of the per-token identity.
   * Without a certificate those headers are already cleared in `identity`, which is then returned as it is.
   */
  #withClientCertificate(identity: readonly IdentityHeader[], request: AuthRequest): readonly IdentityHeader[] {
    if (!this.#certificateIdentity(request)) return identity;
    const values = new Map(certHeaderValues(this.#config.clientCertificate!.identityHeaders, certificateView(request.clientCertificate), this.#config.identityHeaderMaxBytes));
    return identity.map((h) => (values.has(h.name) ? { name: h.name, value: values.get(h.name) } : h));
  }

  #identityFor({ claims, issuer, cert }: VerifiedToken, rule: Rule): IdentityHeader[] {
    const max = this.#config.identityHeaderMaxBytes;
    const values = new Map<string, string | undefined>();
    for (const { claim, header } of this.#config.identityHeaders) values.set(header, claimHeaderValue(claims, claim, max));
    for (const { claim, header } of rule.identityHeaders) values.set(header, claimHeaderValue(claims, claim, max));
    const payload = this.#config.policy.payloadHeader;
    if (payload !== null) values.set(payload, Buffer.from(JSON.stringify(claims)).toString('base64url'));
    if (cert !== undefined) for (const [name, value] of certHeaderValues(this.#issuers.get(issuer)?.identityHeadersFromCert, cert, max)) values.set(name, value);
    const names = this.#identityNames;
    const identity: IdentityHeader[] = new Array(names.length);
    for (let i = 0; i < names.length; i++) identity[i] = { name: names[i]!, value: values.get(names[i]!) };
    return identity;
  }

  #anonymous(reason: Allow['reason']): Allow {
    return { kind: 'allow', reason, identity: this.#noIdentity, shared: true };
  }
}

/** For explain: the matched template's values, e.g. ` with tenant="acme"`. */
function describeParams(params: PathParams): string {
  const entries = Object.entries(params);
  return entries.length === 0 ? '' : ` with ${entries.map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(', ')}`;
}

/** A CORS preflight: OPTIONS carrying both Origin and Access-Control-Request-Method. Any other OPTIONS is ordinary. */
function isPreflight(r: AuthRequest): boolean {
  return r.method === 'OPTIONS' && nonEmpty(r.headers.get('origin')) && nonEmpty(r.headers.get('access-control-request-method'));
}

function nonEmpty(values: readonly string[] | undefined): boolean {
  return values !== undefined && values.some((v) => v.trim() !== '');
}
