/**
 * Signing as a decision: a rule with `sign` makes the core answer allow with a header to set (overwrite), or deny.
 * - outbound (`sign: true`): refuse a request that already carries the header (unless signer.replace_existing:
 *   a service must not smuggle its own token through), work out the audience, mint.
 * - exchange (`sign: { claims_from_token }`): after verification, mint a token with the named claims; the external
 *   token is removed for the upstream (Envoy) or overwritten (forward auth copies the header).
 */
import type { SignerConfig } from '../config.ts';
import type { Allow, AuthRequest, Decision, IdentityHeader } from '../types.ts';
import type { SignRule } from '../policy/types.ts';
import { Reasons, type ReasonCode } from '../reasons.ts';
import { buildDeny, type DenyContext } from '../deny.ts';
import { destinationOrigin } from './destination.ts';
import { isSafeText } from '../text.ts';
import type { Minter } from './mint.ts';
import { copyClaims } from '../claim-path.ts';

/** Longest `sub` taken from signer.subject_header. */
const MAX_SUBJECT = 1024;

export class SignDecider {
  readonly #config: SignerConfig;
  readonly #minter: Minter;
  readonly #deny: DenyContext;

  constructor(config: SignerConfig, minter: Minter, deny: DenyContext) {
    this.#config = config;
    this.#minter = minter;
    this.#deny = deny;
  }

  /** `sign: true`: no token is verified; the request's own header decides nothing but may be refused. */
  async outbound(request: AuthRequest, sign: SignRule, rule: string, identity: readonly IdentityHeader[]): Promise<Decision> {
    if (request.headers.has(sign.header) && !this.#config.replaceExisting) {
      return this.#refuse(403, Reasons.authorizationPresent, `the request already carries ${sign.header}; signer.replace_existing is off`, rule);
    }
    const audience = this.#audience(request);
    if (audience.kind === 'deny') return { ...audience.deny, rule };
    const claims: Record<string, unknown> = {};
    if (this.#config.subjectHeader !== null) {
      const values = request.headers.get(this.#config.subjectHeader);
      const value = values?.length === 1 ? values[0]!.trim() : '';
      if (value !== '' && value.length <= MAX_SUBJECT && isSafeText(value)) claims.sub = value;
    }
    return this.#mintAllow(audience.value, claims, sign, rule, Reasons.tokenSigned, { kind: 'allow', reason: Reasons.tokenSigned, identity });
  }

  /** `sign: { claims_from_token }`: `allow` is the verified answer; its token is replaced by a minted one. */
  async exchange(request: AuthRequest, sign: SignRule, allow: Allow): Promise<Decision> {
    const rule = allow.rule ?? 'default';
    const audience = this.#audience(request);
    if (audience.kind === 'deny') return { ...audience.deny, rule, ...(allow.issuer !== undefined ? { issuer: allow.issuer } : {}) };
    // Claim paths (core/claim-path.ts): a nested claim is copied with the structure that holds it.
    const claims = copyClaims(allow.claims ?? {}, sign.claimsFromToken ?? []);
    // The external token must not reach the upstream: its removal stays, except for the header we overwrite.
    const strip = (allow.stripHeaders ?? []).filter((name) => name !== sign.header);
    return this.#mintAllow(audience.value, claims, sign, rule, Reasons.tokenExchanged, { ...allow, stripHeaders: strip });
  }

  async #mintAllow(audience: string, claims: Record<string, unknown>, sign: SignRule, rule: string, reason: Allow['reason'], base: Allow): Promise<Decision> {
    const token = await this.#minter.mint({ audience, claims });
    if (token === undefined) return this.#refuse(503, Reasons.signingUnavailable, 'no signing key can sign now', rule);
    const value = sign.header === 'authorization' ? `Bearer ${token}` : token;
    const signed = [sign.header, value] as const;
    const set = (base.setHeaders ?? []).filter(([name]) => name !== sign.header);
    return { ...base, reason, rule, signed, setHeaders: [...set, signed] };
  }

  #audience(request: AuthRequest): { kind: 'ok'; value: string } | { kind: 'deny'; deny: Decision } {
    let audience = this.#config.fixedAudience;
    if (audience === null) {
      audience = destinationOrigin(request.scheme, request.host);
      if (audience === null) {
        return { kind: 'deny', deny: this.#refuse(403, Reasons.destinationInvalid, 'the destination is not a valid http(s) scheme and host[:port]', undefined) };
      }
    }
    if (this.#config.allowedAudiences !== null && !this.#config.allowedAudiences.includes(audience)) {
      return { kind: 'deny', deny: this.#refuse(403, Reasons.audienceNotAllowed, `${audience.slice(0, 200)} is not in signer.allowed_audiences`, undefined) };
    }
    return { kind: 'ok', value: audience };
  }

  #refuse(status: 403 | 503, reason: ReasonCode, message: string, rule: string | undefined): Decision {
    return { ...buildDeny({ status, reason, message, tokenOffered: false }, this.#deny), ...(rule !== undefined ? { rule } : {}) };
  }
}
