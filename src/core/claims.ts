/**
 * Registered-claim checks on a payload whose signature has already been verified.
 * Done here rather than by jose so that every failure has a stable reason and a message that says
 * what was expected and what arrived (the "works direct, fails behind the proxy" audience outage).
 */
import type { IssuerConfig } from './config.ts';
import { Reasons, type ReasonCode } from './reasons.ts';
import { clip } from './text.ts';
import { audienceMatches } from './audience.ts';
import { AMBIGUOUS, claimValue } from './claim-path.ts';

export type ClaimsResult =
  | { readonly ok: true; readonly note?: () => string }
  | { readonly ok: false; readonly reason: ReasonCode; readonly message: string };

type Claims = Readonly<Record<string, unknown>>;

const fail = (reason: ReasonCode, message: string): ClaimsResult => ({ ok: false, reason, message });
const OK: ClaimsResult = { ok: true };
/** The note is only rendered by `explain`: lazy, so the hot path formats nothing. */
const pass = (note: () => string): ClaimsResult => ({ ok: true, note });
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

type Check = (claims: Claims, issuer: IssuerConfig, now: number, leeway: number) => ClaimsResult;
/** What `explain` says about a check that passed; rendered only when asked, so a pass allocates nothing. */
type Note = (claims: Claims, issuer: IssuerConfig) => string;

/**
 * Each registered-claim check, named for `explain`; `checkClaims` runs them in order and stops at the first failure.
 * The first three depend on the clock; the others only on the token and the issuer's config, so a cached token
 * (verified under this same issuer config object) needs only the first three again.
 */
export const CLAIM_CHECKS: readonly (readonly [string, Check, Note])[] = [
  ['exp', ({ exp }, _i, now, leeway) => {
    if (exp === undefined) return fail(Reasons.claimMissing, 'token has no "exp" claim');
    if (!isTime(exp)) return fail(Reasons.claimInvalid, '"exp" must be a number');
    return now - leeway >= exp ? fail(Reasons.tokenExpired, `token expired at ${isoTime(exp)}`) : OK;
  }, ({ exp }) => `expires at ${isoTime(exp as number)}`],
  ['nbf', ({ nbf }, _i, now, leeway) => {
    if (nbf === undefined) return OK;
    if (!isTime(nbf)) return fail(Reasons.claimInvalid, '"nbf" must be a number');
    return now + leeway < nbf ? fail(Reasons.tokenNotYetValid, `token not valid before ${isoTime(nbf)}`) : OK;
  }, ({ nbf }) => (nbf === undefined ? 'no "nbf"' : `valid since ${isoTime(nbf as number)}`)],
  ['iat', ({ iat, exp }, issuer, now, leeway) => {
    if (iat !== undefined && !isTime(iat)) return fail(Reasons.claimInvalid, '"iat" must be a number');
    if (iat !== undefined && now + leeway < iat) return fail(Reasons.tokenNotYetValid, `token issued in the future (${isoTime(iat)})`);
    if (issuer.maxTtlMs === undefined) return OK;
    if (iat === undefined) return fail(Reasons.claimMissing, 'token has no "iat" claim, needed to check max_ttl');
    if (isTime(exp) && (exp - iat) * 1000 > issuer.maxTtlMs) {
      return fail(Reasons.lifetimeTooLong, `token lifetime ${Math.round(exp - iat)}s exceeds max_ttl ${issuer.maxTtlMs / 1000}s`);
    }
    return OK;
  }, ({ iat }, issuer) => {
    if (issuer.maxTtlMs !== undefined) return `lifetime within max_ttl ${issuer.maxTtlMs / 1000}s`;
    return iat === undefined ? 'no "iat"' : `issued at ${isoTime(iat as number)}`;
  }],
  ['sub', ({ sub }) => (sub !== undefined && typeof sub !== 'string' ? fail(Reasons.claimInvalid, '"sub" must be a string') : OK), ({ sub }) => (sub === undefined ? 'no "sub"' : 'is a string')],
  ['aud', ({ aud }, issuer) => {
    if (aud === undefined) return fail(Reasons.claimMissing, `token has no "aud" claim; expected one of ${describe(issuer.audiences)}`);
    const received = typeof aud === 'string' ? [aud] : aud;
    if (!Array.isArray(received) || received.length === 0 || !received.every((a) => typeof a === 'string')) {
      return fail(Reasons.claimInvalid, '"aud" must be a string or a non-empty array of strings');
    }
    if (!received.some((a) => audienceMatches(a, issuer))) {
      return fail(Reasons.audienceMismatch, `audience mismatch: expected one of ${describe(issuer.audiences)}, got ${describe(received)}`);
    }
    return OK;
  }, ({ aud }, issuer) => `${describe(typeof aud === 'string' ? [aud] : (aud as string[]))} intersects ${describe(issuer.audiences)}`],
  ['required_claims', (claims, issuer) => {
    for (const name of issuer.requiredClaims) {
      const value = claimValue(claims, name);
      // An ambiguous claim path counts as missing: it fails closed.
      if (value === AMBIGUOUS) return fail(Reasons.claimMissing, `claim "${name}" is ambiguous in this token: it resolves in more than one way`);
      if (value === undefined || value === null) return fail(Reasons.claimMissing, `token has no "${name}" claim`);
    }
    return OK;
  }, (_claims, issuer) => (issuer.requiredClaims.length ? `present: ${issuer.requiredClaims.join(', ')}` : 'none required')],
];

const TIME_CHECKS = 3;

/**
 * `whenPresent`: an introspection answer (RFC 7662), whose `exp` and `aud` are optional: each is checked only when
 * the answer has it. A JWT needs both.
 */
export function checkClaims(claims: Claims, issuer: IssuerConfig, nowMs: number, each?: (name: string, result: ClaimsResult) => void, whenPresent = false): ClaimsResult {
  return run(CLAIM_CHECKS.length, claims, issuer, nowMs, each, whenPresent);
}

/** The clock-dependent checks only (exp, nbf, iat), for a token that passed every check under this issuer config. */
export function checkClaimTimes(claims: Claims, issuer: IssuerConfig, nowMs: number, whenPresent = false): ClaimsResult {
  return run(TIME_CHECKS, claims, issuer, nowMs, undefined, whenPresent);
}

const OPTIONAL_IN_ANSWERS = new Set(['exp', 'aud']);

function run(count: number, claims: Claims, issuer: IssuerConfig, nowMs: number, each: ((name: string, result: ClaimsResult) => void) | undefined, whenPresent: boolean): ClaimsResult {
  const now = nowMs / 1000;
  const leeway = issuer.leewayMs / 1000;
  for (let i = 0; i < count; i++) {
    // Indexed, not destructured: array destructuring runs the iterator protocol, on every cache hit.
    const entry = CLAIM_CHECKS[i]!;
    const name = entry[0];
    const check = entry[1];
    const note = entry[2];
    if (whenPresent && claims[name] === undefined && OPTIONAL_IN_ANSWERS.has(name)) {
      each?.(name, pass(() => `not in the introspection answer`));
      continue;
    }
    const r = check(claims, issuer, now, leeway);
    if (each !== undefined) each(name, r.ok ? pass(() => note(claims, issuer)) : r);
    if (!r.ok) return r;
  }
  return OK;
}

function isoTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}

/** Lists values for a message; values from a token are clipped so a hostile token cannot bloat logs or headers. */
export function describe(values: readonly string[]): string {
  const shown = values.slice(0, 5).map((v) => JSON.stringify(clip(v)));
  return `[${shown.join(', ')}${values.length > 5 ? `, … ${values.length - 5} more` : ''}]`;
}
