/**
 * Evaluates a route's requirement against verified claims. Pure and precompiled; the result names what was
 * missing so the 403 can say it (RFC 6750 `insufficient_scope` with the scope attribute).
 */
import type { ClaimCondition, Requirement } from './types.ts';
import type { AuthRequest } from '../types.ts';
import { describe } from '../claims.ts';
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
  return values.some((v) => isScalar(v) && v === cond.contains);
}

function describeCondition(name: string, cond: ClaimCondition): string {
  if ('present' in cond) return `claim "${name}" must be present`;
  if ('equals' in cond) return `claim "${name}" must equal ${JSON.stringify(cond.equals)}`;
  if ('one_of' in cond) return `claim "${name}" must be one of ${JSON.stringify(cond.one_of)}`;
  return `claim "${name}" must contain ${JSON.stringify(cond.contains)}`;
}

type Check<K extends keyof Requirement> = (value: NonNullable<Requirement[K]>, ctx: RuleContext) => RequirementResult;

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
  claims: (conditions, { claims }) => {
    for (const [name, cond] of Object.entries(conditions)) {
      if (!conditionHolds(claims[name], cond)) return { ok: false, message: describeCondition(name, cond), missingScopes: [] };
    }
    return OK;
  },
  all: (all, ctx) => {
    for (const sub of all) {
      const r = evaluate(sub, ctx);
      if (!r.ok) return r;
    }
    return OK;
  },
  any: (any, ctx) => {
    if (any.length === 0) return OK;
    const failures: RequirementResult[] = [];
    for (const sub of any) {
      const r = evaluate(sub, ctx);
      if (!r.ok && r.error) return r;
      if (r.ok) return OK;
      failures.push(r);
    }
    const reasons = failures.map((f) => (f.ok ? '' : f.message));
    return {
      ok: false,
      message: `none of the alternatives holds: ${reasons.join('; or ')}`,
      missingScopes: [...new Set(failures.flatMap((f) => (f.ok ? [] : f.missingScopes)))],
    };
  },
  when: (when, ctx) => {
    const r = when.evaluate(ctx);
    return r.ok ? OK : { ...r, missingScopes: [] };
  },
};

const KINDS = Object.keys(CHECKS) as (keyof Requirement)[];

/** Every kind the requirement names must hold (AND), checked in the table's order; the first failure is answered. */
export function evaluate(req: Requirement, ctx: RuleContext): RequirementResult {
  for (const kind of KINDS) {
    const value = req[kind];
    if (value === undefined) continue;
    const r = (CHECKS[kind] as Check<typeof kind>)(value as never, ctx);
    if (!r.ok) return r;
  }
  return OK;
}
