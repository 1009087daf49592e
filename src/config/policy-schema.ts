/** Schema of the route-policy keys: `routes`, `policies`, `login`, `upstream`. Defaults live here. */
import { array, boolean, def, exactlyOne, INVALID, literal, object, oneOf, opt, record, recursive, req, section, string, withSchema, type Parser } from './kit.ts';
import { patternProblem } from '../core/glob.ts';
import { identityHeaderProblem } from './identity-headers.ts';
import { signRule } from './signer-schema.ts';
import { compileCel } from '../core/policy/cel.ts';

type Scalar = string | number | boolean;
export type RawCondition = { equals: Scalar } | { one_of: Scalar[] } | { contains: Scalar } | { present: true } | { prefix: string };
export interface RawRequirement {
  issuers?: string[];
  audiences?: string[];
  scopes?: string[];
  claims?: Record<string, RawCondition>;
  any?: RawRequirement[];
  all?: RawRequirement[];
  /** Holds when the inner requirement does not (an error inside stays an error). */
  not?: RawRequirement;
  /** A CEL expression (core/policy/cel.ts); validated here, compiled again into the frozen config by config/policy.ts. */
  when?: string;
  /** Only directly under a rule's `require` (config/policy.ts refuses it inside any/all). */
  single_use?: boolean;
  /** Only directly under a rule's `require`, like single_use: the token must be DPoP- or certificate-bound. */
  sender_constrained?: boolean;
}
export interface RawLogin {
  url: string;
  return_hosts: string[];
}

const scalar: Parser<Scalar> = withSchema((v, path, errors) => {
  if (typeof v === 'string' || typeof v === 'boolean' || (typeof v === 'number' && Number.isFinite(v))) return v;
  errors.push(`${path}: must be a string, number or boolean`);
  return INVALID;
}, () => ({ type: ['string', 'number', 'boolean'] }));

const condition = exactlyOne({
  equals: req(scalar, 'the claim equals this value'),
  one_of: req(array(scalar, { min: 1 }), 'the claim equals one of these values'),
  contains: req(scalar, 'the array claim contains this value'),
  present: req(literal(true), 'the claim is present and not null'),
  prefix: req(string((p) => (p === '' ? 'must not be empty (an empty prefix matches every string)' : null)), 'a string claim, or any string element of an array claim, starts with this'),
}, 'must be exactly one of { equals: V }, { one_of: [V, …] }, { contains: V }, { present: true }, { prefix: "…" }') as Parser<RawCondition>;

const nonEmpty = string((s) => (s === '' ? 'must not be empty' : null));
/** A `when` expression: a string to the schema, parsed and type-checked here so a bad one stops the start. */
const celExpression = string((s) => {
  const compiled = compileCel(s);
  return 'problem' in compiled ? compiled.problem : null;
});
const scopeToken = string((s) => (/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s) ? null : `"${s}" is not a valid scope token`));

export const requirement: Parser<RawRequirement> = recursive('requirement', () => object({
  issuers: opt(array(nonEmpty, { min: 1, unique: true }), 'the token\'s issuer must be one of these (configured issuers)'),
  audiences: opt(array(nonEmpty, { min: 1, unique: true }), 'the token\'s aud must contain one of these'),
  scopes: opt(array(scopeToken, { min: 1, unique: true }), 'all of these must be in scope (space-separated) or scp; else 403 scope_missing'),
  claims: opt(record(condition), 'claim name (a dotted path: realm_access.roles, kubernetes.io.namespace) -> condition; every one must hold'),
  any: opt(array(requirement, { min: 1 }), 'one of these requirements must hold'),
  all: opt(array(requirement, { min: 1 }), 'every one of these requirements must hold'),
  not: opt(requirement, 'holds when this requirement does not; an error inside (an ambiguous claim path) is never a pass'),
  when: opt(celExpression, 'a CEL expression over claims, issuer and request (docs/cel.md); only true holds, an evaluation error is a 403'),
  single_use: opt(boolean, 'true: every token this rule allows is single-use (a jti consumed once); only directly under require'),
  sender_constrained: opt(boolean, 'true: only a DPoP- or certificate-bound token (cnf) passes, else 401 token_not_sender_constrained; only directly under require'),
}) as Parser<RawRequirement>);

export const hostPattern = string((s) =>
  /^(\*\.)?(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(s) ? null : `"${s}" must be a lower-case host name or *.domain`,
);

const loginUrl = string((s) => {
  let u: URL;
  try {
    u = new URL(s.replaceAll('{return_url}', 'x'));
  } catch {
    return `"${s}" is not a valid URL`;
  }
  return u.protocol === 'https:' || u.protocol === 'http:' ? null : 'must be an http(s) URL';
});

export const login = object({
  url: req(loginUrl, 'login page; {return_url} is replaced by the percent-encoded URL of the original request'),
  return_hosts: def(array(hostPattern, { unique: true }), [] as string[], 'hosts the return URL may point at (exact or *.example.com)'),
});

/** `login: false` switches a global login redirect off for one rule. */
const ruleLogin: Parser<RawLogin | false> = withSchema(
  (v, path, errors) => (v === false ? false : login(v, path, errors)),
  (ref, path) => ({ anyOf: [{ const: false }, ref(login, path)] }),
);

export const ruleFields = {
  require: opt(requirement, 'what the token must satisfy beyond being valid (docs/policies.md)'),
  anonymous: def(oneOf(['required', 'optional'] as const), 'required', 'optional: no token is allowed without identity; a token that is sent must be valid'),
  login: opt(ruleLogin, 'a login redirect for this rule, or false for none; default the global login'),
  identity_headers: def(record(string(identityHeaderProblem)), {} as Record<string, string>, 'extra claim -> header mappings on top of identity_headers'),
  sign: opt(signRule, 'true: sign the outbound call; { claims_from_token: [...] }: token exchange (docs/signing.md)'),
};

const method = string((s) => (/^[A-Z]+$/.test(s) ? null : `"${s}" must be an upper-case HTTP method`));

export const route = object({
  name: opt(nonEmpty, 'shown in explain, logs and metrics; default routes[N]'),
  match: section({
    hosts: def(array(hostPattern, { unique: true }), [] as string[], 'exact lower-case hosts or *.example.com; [] = any'),
    paths: def(array(string(patternProblem), { unique: true }), [] as string[], 'exact paths or globs (same syntax as excludes); [] = any'),
    methods: def(array(method, { unique: true }), [] as string[], 'upper-case methods (GET also covers HEAD); [] = any'),
  }, 'which requests this route takes: every listed part must match'),
  policy: opt(nonEmpty, 'use the named policy as this route\'s rule (then give no rule fields)'),
  ...ruleFields,
});

export const policy = object(ruleFields);

export const upstream = {
  forward_token: def(boolean, true, 'false: remove the token header and cookie before the upstream sees the request (Envoy)'),
  payload_header: opt(string(identityHeaderProblem), 'forward the verified payload as base64url JSON in this header'),
};
