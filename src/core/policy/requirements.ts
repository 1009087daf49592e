/**
 * Evaluates a route's requirement against verified claims. Pure and precompiled; the result names what was
 * missing so the 403 can say it (RFC 6750 `insufficient_scope` with the scope attribute).
 */
import type { ClaimCondition, Requirement } from './types.ts';
import type { AuthRequest } from '../types.ts';
import { describe } from '../claims.ts';
import { AMBIGUOUS, claimValue } from '../claim-path.ts';
import type { Explain } from '../explain.ts';
import type { TokenSources } from '../sources.ts';

/**
 * A failure is either "does not hold" or, with `error: true`, "could not be decided" (an ambiguous claim path, an
 * expression that failed to evaluate). `not` inverts the first and never the second: an error anywhere in the tree
 * is a 403 `requirement_not_met`, whatever surrounds it.
 */
export type RequirementResult =
  | { readonly ok: true }
  | { readonly ok: false; readonly message: string; readonly missingScopes: readonly string[]; readonly error?: true };

type Claims = Readonly<Record<string, unknown>>;

/**
 * What a requirement is evaluated against: the verified token and the request it came with. The request is the
 * adapter's AuthRequest as is; whatever a condition derives from it (a header map for CEL, …) is derived lazily by
 * that condition, so a rule that reads only claims costs nothing more per request.
 */
export interface RuleContext {
  readonly claims: Claims;
  readonly issuer: string;
  readonly request: AuthRequest;
  /** The normalized path (path.ts); null when it cannot be normalized unambiguously. */
  readonly path: string | null;
  /** Values of the matched route's `{name}` path-template segments; empty when none. */
  readonly params: Readonly<Record<string, string>>;
  /** The configured token sources: CEL `request.headers` leaves the token's header and cookie out. Absent = a
   *  `when` that reads request.headers cannot be decided (an error, never a leak). */
  readonly tokens?: TokenSources;
}
const OK: RequirementResult = { ok: true };

/** Scopes from `scope` (space-separated, RFC 8693/9068) or `scp` (array or space-separated string). */
export function scopesOf(claims: Claims): Set<string> {
  const out = new Set<string>();
  for (const v of [claims.scope, claims.scp]) {
    if (typeof v === 'string') for (const s of v.split(' ')) if (s) out.add(s);
    if (Array.isArray(v)) for (const s of v) if (typeof s === 'string') out.add(s);
  }
  return out;
}

const isScalar = (v: unknown): v is string | number | boolean => ['string', 'number', 'boolean'].includes(typeof v);

function conditionHolds(value: unknown, cond: ClaimCondition): boolean {
  if ('present' in cond) return value !== undefined && value !== null;
  if ('equals' in cond) return isScalar(value) && value === cond.equals;
  if ('one_of' in cond) return isScalar(value) && cond.one_of.includes(value);
  const values = Array.isArray(value) ? value : [value];
  if ('prefix' in cond) return values.some((v) => typeof v === 'string' && v.startsWith(cond.prefix));
  return values.some((v) => isScalar(v) && v === cond.contains);
}

function describeCondition(name: string, cond: ClaimCondition): string {
  if ('present' in cond) return `claim "${name}" must be present`;
  if ('equals' in cond) return `claim "${name}" must equal ${JSON.stringify(cond.equals)}`;
  if ('one_of' in cond) return `claim "${name}" must be one of ${JSON.stringify(cond.one_of)}`;
  if ('prefix' in cond) return `claim "${name}" must start with ${JSON.stringify(cond.prefix)}`;
  return `claim "${name}" must contain ${JSON.stringify(cond.contains)}`;
}

/** One claim condition: holds, does not hold, or (an ambiguous claim path) cannot be decided. */
function claimCondition(claims: Claims, name: string, cond: ClaimCondition): RequirementResult {
  const value = claimValue(claims, name);
  if (value === AMBIGUOUS) {
    return { ok: false, message: `claim "${name}" is ambiguous in this token: it resolves in more than one way`, missingScopes: [], error: true };
  }
  return conditionHolds(value, cond) ? OK : { ok: false, message: describeCondition(name, cond), missingScopes: [] };
}

/**
 * What a requirement asks, in words, for the message of a `not` whose inner requirement holds. Kinds without a
 * description of their own are named by their key.
 */
function describeRequirement(req: Requirement): string {
  const parts: string[] = [];
  for (const kind of Object.keys(req) as (keyof Requirement)[]) {
    const value = req[kind];
    if (value === undefined) continue;
    if (kind === 'issuers') parts.push(`issuer one of ${describe(req.issuers!)}`);
    else if (kind === 'audiences') parts.push(`audience one of ${describe(req.audiences!)}`);
    else if (kind === 'scopes') parts.push(`scopes ${req.scopes!.join(' ')}`);
    else if (kind === 'claims') parts.push(...Object.entries(req.claims!).map(([name, cond]) => describeCondition(name, cond)));
    else if (kind === 'any') parts.push(`any of (${req.any!.map(describeRequirement).join('; ')})`);
    else if (kind === 'all') parts.push(`all of (${req.all!.map(describeRequirement).join('; ')})`);
    else if (kind === 'not') parts.push(`not (${describeRequirement(req.not!)})`);
    else parts.push(kind);
  }
  return parts.join(' and ');
}

/**
 * A check gets `explain` and its key path (`at`, e.g. `require.any[1].claims`) only when explaining; `at` is ''
 * otherwise, so the hot path builds no strings. A check that explains its own parts (claims, one per claim) is
 * listed in SELF_EXPLAINED; every other kind's outcome is reported by `evaluate`.
 */
type Check<K extends keyof Requirement> = (value: NonNullable<Requirement[K]>, ctx: RuleContext, explain: Explain | undefined, at: string) => RequirementResult;
const SELF_EXPLAINED: ReadonlySet<keyof Requirement> = new Set(['claims']);

/**
 * One check per requirement kind, run in this order. The mapped type makes the table exhaustive: a kind added to
 * `Requirement` without a check here fails the type check, so it can never be silently ignored (which would allow).
 */
const CHECKS: { readonly [K in keyof Requirement]-?: Check<K> } = {
  issuers: (issuers, { issuer }) =>
    issuers.includes(issuer) ? OK : { ok: false, message: `issuer ${JSON.stringify(issuer)} is not allowed on this route (allowed: ${issuers.join(', ')})`, missingScopes: [] },
  audiences: (audiences, { claims }) => {
    const aud = typeof claims.aud === 'string' ? [claims.aud] : Array.isArray(claims.aud) ? claims.aud : [];
    if (aud.some((a) => audiences.includes(a as string))) return OK;
    return { ok: false, message: `audience not allowed on this route: expected one of ${describe(audiences)}, got ${describe(aud.map(String))}`, missingScopes: [] };
  },
  scopes: (scopes, { claims }) => {
    const have = scopesOf(claims);
    const missing = scopes.filter((s) => !have.has(s));
    return missing.length > 0 ? { ok: false, message: `missing scope: ${missing.join(' ')}`, missingScopes: missing } : OK;
  },
  claims: (conditions, { claims }, explain, at) => {
    let first: RequirementResult | undefined;
    for (const [name, cond] of Object.entries(conditions)) {
      const r = claimCondition(claims, name, cond);
      explain?.({ check: `${at}.${name}`, ok: r.ok, detail: r.ok ? `${describeCondition(name, cond)}: holds` : r.message });
      first = and(first, r);
    }
    return first ?? OK;
  },
  all: (all, ctx, explain, at) => {
    let first: RequirementResult | undefined;
    for (let i = 0; i < all.length; i++) first = and(first, evaluate(all[i]!, ctx, explain, explain && `${at}[${i}]`));
    return first ?? OK;
  },
  any: (any, ctx, explain, at) => {
    if (any.length === 0) return OK;
    const failures: RequirementResult[] = [];
    // Every alternative is evaluated: an error in any of them decides (see `and`), one that holds allows otherwise.
    let error: RequirementResult | undefined;
    let held = false;
    for (let i = 0; i < any.length; i++) {
      const r = evaluate(any[i]!, ctx, explain, explain && `${at}[${i}]`);
      if (r.ok) held = true;
      else if (r.error) error ??= r;
      else failures.push(r);
    }
    if (error !== undefined) return error;
    if (held) return OK;
    const reasons = failures.map((f) => (f.ok ? '' : f.message));
    return {
      ok: false,
      message: `none of the alternatives holds: ${reasons.join('; or ')}`,
      missingScopes: [...new Set(failures.flatMap((f) => (f.ok ? [] : f.missingScopes)))],
    };
  },
  not: (inner, ctx, explain, at) => {
    const r = evaluate(inner, ctx, explain, at);
    if (!r.ok) return r.error ? r : OK;
    return { ok: false, message: `must not hold, but does: ${describeRequirement(inner)}`, missingScopes: [] };
  },
  when: (when, ctx) => {
    const r = when.evaluate(ctx);
    return r.ok ? OK : { ...r, missingScopes: [] };
  },
};

const KINDS = Object.keys(CHECKS) as (keyof Requirement)[];

/**
 * Every kind the requirement names must hold (AND), checked in the table's order; the first failure is answered.
 * With `explain` (portcullis explain, never the hot path) every condition reports its outcome under its key path,
 * and evaluation goes on past a failure so all of them show; the answer is the same as without it.
 */
export function evaluate(req: Requirement, ctx: RuleContext, explain?: Explain, at = 'require'): RequirementResult {
  let first: RequirementResult | undefined;
  for (const kind of KINDS) {
    const value = req[kind];
    if (value === undefined) continue;
    const where = explain && `${at}.${kind}`;
    const r = (CHECKS[kind] as Check<typeof kind>)(value as never, ctx, explain, where ?? '');
    if (explain !== undefined && !SELF_EXPLAINED.has(kind)) {
      explain({ check: where!, ok: r.ok, detail: r.ok ? 'holds' : r.error ? `cannot be decided: ${r.message}` : r.message });
    }
    first = and(first, r);
  }
  return first ?? OK;
}

/**
 * AND of two results, order-independent for errors: an error anywhere in a requirement tree is the answer (403
 * `requirement_not_met`), whatever holds or fails beside it and whatever `not` surrounds it. So nothing
 * short-circuits: every condition is evaluated (trees are small), and a hostile token cannot hide an ambiguous
 * claim behind a condition that happens to come first. Otherwise the first failure is the answer.
 */
function and(first: RequirementResult | undefined, r: RequirementResult): RequirementResult | undefined {
  if (r.ok) return first;
  if (first === undefined || first.ok) return r;
  return r.error && !first.error ? r : first;
}
