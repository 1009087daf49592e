/**
 * An introspection answer judged as a token: `active: true` required, then the answer's `iss` (when present: the
 * issuer itself) and the same registered-claim checks a JWT gets (claims.ts), with `exp` and `aud` checked when
 * present. The answer's members are the claims rules, identity headers, explain, logs and Envoy metadata see.
 */
import type { IssuerConfig } from '../config.ts';
import { checkClaims, type ClaimsResult } from '../claims.ts';
import { Reasons, type ReasonCode } from '../reasons.ts';
import { clip } from '../text.ts';
import type { IntrospectionAnswer } from './client.ts';

export type Judged =
  | { readonly ok: true; readonly claims: Readonly<Record<string, unknown>>; readonly bytes: number }
  | { readonly ok: false; readonly status: 401 | 503; readonly reason: ReasonCode; readonly message: string };

const ACCESS_TOKEN_TYPES: ReadonlySet<string> = new Set(['bearer', 'dpop']);

type Step = (check: string, ok: boolean, detail: string) => void;

export function judgeAnswer(answer: IntrospectionAnswer, issuer: IssuerConfig, nowMs: number, step: Step): Judged {
  if (answer.kind === 'unavailable') {
    step('introspection', false, answer.message);
    return { ok: false, status: 503, reason: Reasons.introspectionUnavailable, message: answer.message };
  }
  if (answer.kind === 'inactive') {
    const message = `${issuer.issuer} says the token is not active`;
    step('introspection', false, message);
    return { ok: false, status: 401, reason: Reasons.tokenInactive, message };
  }
  step('introspection', true, `${issuer.issuer} says the token is active`);
  const { claims } = answer;
  if (claims.iss !== undefined && claims.iss !== issuer.issuer) {
    const message = `the introspection answer names issuer ${JSON.stringify(typeof claims.iss === 'string' ? clip(claims.iss, 128) : claims.iss)}, expected ${JSON.stringify(issuer.issuer)}`;
    step('claim iss', false, message);
    return { ok: false, status: 401, reason: Reasons.claimInvalid, message };
  }
  // RFC 7662 §2.2: token_type is optional; when the IdP names one, it must be an access token's (RFC 6750 Bearer, RFC
  // 9449 DPoP). A refresh token or an ID token sent as a bearer token is not an access token, however active.
  const type = claims.token_type;
  if (type !== undefined && (typeof type !== 'string' || !ACCESS_TOKEN_TYPES.has(type.toLowerCase()))) {
    const message = `the introspection answer's token_type ${JSON.stringify(typeof type === 'string' ? clip(type, 64) : type)} is not an access token's (Bearer or DPoP)`;
    step('token_type', false, message);
    return { ok: false, status: 401, reason: Reasons.claimInvalid, message };
  }
  const each = (name: string, r: ClaimsResult) => step(`claim ${name}`, r.ok, r.ok ? (r.note?.() ?? 'ok') : r.message);
  const checked = checkClaims(claims, issuer, nowMs, each, true);
  if (!checked.ok) return { ok: false, status: 401, reason: checked.reason, message: checked.message };
  return { ok: true, claims, bytes: answer.bytes };
}

/** How long an answer is kept: until the earliest of the token's exp (plus leeway) and max_ttl. */
export function activeTtlMs(issuer: IssuerConfig & { readonly introspection: { readonly maxTtlMs: number } }, nowMs: number, ...exps: unknown[]): number {
  let ttl = issuer.introspection.maxTtlMs;
  for (const exp of exps) if (typeof exp === 'number' && Number.isFinite(exp)) ttl = Math.min(ttl, exp * 1000 + issuer.leewayMs - nowMs);
  return ttl;
}
