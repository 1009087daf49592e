/**
 * The bind stage (DESIGN.md): after the token is verified and before the rule's requirements, is the sender the
 * token's holder? It reads the request, never the token cache: every request brings its own proof (and, with
 * certificate binding, its own client certificate).
 *
 * - A token bound to a key (`cnf.jkt`) is accepted only as `Authorization: DPoP <token>` with a valid proof (dpop.ts).
 * - `Authorization: DPoP` with a token bound to no key, or a proof beside a Bearer token or cookie, is refused.
 * - The issuer's `sender_constraint: required`, or the rule's `require.sender_constrained`, refuse a token without
 *   `cnf` (neither `jkt` nor `x5t#S256`). Under `optional` (the default) a plain bearer token works as before.
 *
 * Certificate-bound tokens (`cnf.x5t#S256`, RFC 8705) are checked after the proof, in their own module
 * (core/bind/certificate.ts), called from `#bound` below.
 */
import type { Config } from '../config.ts';
import type { AuthRequest } from '../types.ts';
import type { Rule } from '../policy/types.ts';
import type { Explain } from '../explain.ts';
import type { VerifiedToken } from '../verify.ts';
import type { Later } from '../sync.ts';
import { findProof, PROOF_HEADER, type TokenResult } from '../sources.ts';
import { Reasons } from '../reasons.ts';
import type { DpopProofs } from './dpop.ts';
import { BOUND, type BindResult } from './types.ts';
import { checkCertificateBinding } from './certificate.ts';

export interface BindInput {
  readonly request: AuthRequest;
  readonly found: Extract<TokenResult, { kind: 'token' }>;
  readonly verified: VerifiedToken;
  readonly rule: Rule;
}

/** The token's confirmation members (RFC 7800 `cnf`): what it is bound to. */
interface Confirmation {
  readonly jkt?: string;
  readonly x5t?: string;
}

export class Binder {
  readonly #required: ReadonlySet<string>;
  readonly #proofs: DpopProofs;

  constructor(issuers: Config['issuers'], proofs: DpopProofs) {
    this.#required = new Set(issuers.filter((i) => i.senderConstraint === 'required').map((i) => i.issuer));
    this.#proofs = proofs;
  }

  /** Synchronous when there is nothing to check (a plain bearer token where binding is optional). */
  bind(input: BindInput, explain?: Explain): Later<BindResult> {
    const { request, found, verified, rule } = input;
    // A plain bearer token (no cnf, not sent as DPoP, no proof header) where nothing requires binding: bound, and
    // nothing else below could say otherwise. Checked on every request, cached token or not; it allocates nothing.
    if (explain === undefined && verified.claims.cnf === undefined && !found.dpop && rule.senderConstrained !== true
      && !this.#required.has(verified.issuer) && !request.headers.has(PROOF_HEADER)) return BOUND;
    const step = (ok: boolean, detail: string) => explain?.({ check: 'sender constraint', ok, detail });
    const proof = findProof(request.headers);
    const cnf = confirmationOf(verified.claims.cnf);
    if (typeof cnf === 'string') {
      step(false, cnf);
      return { ok: false, status: 401, reason: Reasons.claimInvalid, message: cnf };
    }
    const constrained = cnf.jkt !== undefined || cnf.x5t !== undefined;
    const why = rule.senderConstrained === true ? `rule ${rule.name} requires sender_constrained` : this.#required.has(verified.issuer) ? `issuer ${verified.issuer} has sender_constraint: required` : undefined;
    if (!constrained && why !== undefined) {
      const message = 'this token is not sender-constrained (no cnf): a DPoP- or certificate-bound token is required';
      step(false, `${why}; ${message}`);
      return { ok: false, status: 401, reason: Reasons.tokenNotSenderConstrained, message, dpop: this.#proofs.challenge(undefined) };
    }
    if (proof.kind === 'error') {
      step(false, proof.message);
      return { ok: false, status: 401, reason: Reasons.dpopProofInvalid, message: proof.message, dpop: this.#proofs.challenge('invalid_dpop_proof') };
    }
    if (cnf.jkt !== undefined && !found.dpop) {
      const message = 'this token is DPoP-bound (cnf.jkt): it must be sent as "Authorization: DPoP", not as a bearer token';
      step(false, message);
      return { ok: false, status: 401, reason: Reasons.dpopBindingMismatch, message, dpop: this.#proofs.challenge('invalid_token') };
    }
    if (proof.kind === 'proof' && !found.dpop) {
      const message = 'a DPoP proof came without a DPoP token (the token was not sent as "Authorization: DPoP")';
      step(false, message);
      return { ok: false, status: 401, reason: Reasons.dpopProofInvalid, message, dpop: this.#proofs.challenge('invalid_dpop_proof') };
    }
    if (found.dpop && cnf.jkt === undefined) {
      const message = 'the token was sent as "Authorization: DPoP" but is bound to no key (no cnf.jkt)';
      step(false, message);
      return { ok: false, status: 401, reason: Reasons.dpopBindingMismatch, message, dpop: this.#proofs.challenge('invalid_token') };
    }
    if (cnf.jkt === undefined) {
      if (explain) step(true, constrained ? 'certificate-bound token' : 'plain bearer token; this issuer and rule do not require a bound one');
      return this.#bound(cnf, input, explain);
    }
    if (proof.kind === 'none') {
      const message = 'this token is DPoP-bound but the request has no DPoP proof header';
      step(false, message);
      return { ok: false, status: 401, reason: Reasons.dpopProofMissing, message, dpop: this.#proofs.challenge('invalid_dpop_proof') };
    }
    return this.#proofs.check({ request, proof: proof.proof, token: found.token, jkt: cnf.jkt, holder: verified }, explain).then((r) => (r.ok ? this.#bound(cnf, input, explain, r) : r));
  }

  /**
   * After the proof: a certificate-bound token (cnf.x5t#S256, RFC 8705) only with the client certificate it names,
   * read from this request (core/bind/certificate.ts).
   */
  #bound(cnf: Confirmation, { request }: BindInput, explain: Explain | undefined, proofResult: BindResult = BOUND): BindResult {
    if (cnf.x5t === undefined) return proofResult;
    const binding = checkCertificateBinding(cnf.x5t, request);
    if (!binding.ok) {
      explain?.({ check: 'certificate binding', ok: false, detail: binding.message });
      return { ok: false, status: 401, reason: binding.reason, message: binding.message };
    }
    explain?.({ check: 'certificate binding', ok: true, detail: `the client certificate has the token's thumbprint ${cnf.x5t}` });
    return proofResult;
  }
}

const UNBOUND: Confirmation = Object.freeze({});

/** The `cnf` claim: absent, or an object whose jkt and x5t#S256 are non-empty strings when present. */
function confirmationOf(cnf: unknown): Confirmation | string {
  if (cnf === undefined) return UNBOUND;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return 'the "cnf" claim must be an object';
  const { jkt, 'x5t#S256': x5t } = cnf as Record<string, unknown>;
  if (jkt !== undefined && (typeof jkt !== 'string' || jkt === '')) return 'cnf.jkt must be a non-empty string';
  if (x5t !== undefined && (typeof x5t !== 'string' || x5t === '')) return 'cnf.x5t#S256 must be a non-empty string';
  return { ...(jkt !== undefined ? { jkt: jkt as string } : {}), ...(x5t !== undefined ? { x5t: x5t as string } : {}) };
}
