/** Schema of `signer:` (docs/signing.md) and of a rule's `sign:`, and the checks that span several keys. */
import { anything, array, boolean, def, duration, INVALID, object, oneOf, opt, record, req, string, withSchema, type Parser } from './kit.ts';
import { HEADER_NAME, identityHeaderProblem } from './identity-headers.ts';
import { SIGNING_ALGORITHMS } from '../core/sign/keyfile.ts';
import { MINTED_CLAIMS } from '../core/sign/mint.ts';
import type { SignerConfig } from '../core/config.ts';
import type { PolicyConfig, Rule, SignRule } from '../core/policy/types.ts';
import { readKeyDir } from '../core/sign/key-dir.ts';

/** Default lead of a new key (also `portcullis keys generate --activate-in`): ≥ Envoy jwt_authn's 10 min JWKS cache + our max-age. */
export const DEFAULT_PUBLISH_LEAD = '15m';
export const DEFAULT_PUBLISH_LEAD_MS = 15 * 60_000;

const reservedClaim = (k: string): string | null =>
  (MINTED_CLAIMS as readonly string[]).includes(k) ? `"${k}" is set by the signer itself` : null;

const claimName = string((s) => (s === '' ? 'must not be empty' : reservedClaim(s)));

const keyFields = object({
  dir: opt(string((s) => (s === '' ? 'must not be empty' : null)), 'directory of signing key files (portcullis keys generate), shared by every replica'),
  allow_group_read: def(boolean, false, 'accept key files readable by the group (0440: a Secret volume with fsGroup)'),
  generate: opt(object({
    rotate_every: def(duration(60_000), 43_200_000, 'a new key this often'),
  }), 'keys made in memory (one instance only; refused with workers > 1)'),
});

const keys: Parser<{ dir?: string; allow_group_read: boolean; generate?: { rotate_every: number } }> = withSchema((v, path, errors) => {
  const parsed = keyFields(v, path, errors);
  if (parsed === INVALID) return INVALID;
  if ((parsed.dir === undefined) === (parsed.generate === undefined)) {
    errors.push(`${path}: needs exactly one of dir, generate`);
    return INVALID;
  }
  return parsed;
}, (ref, path) => ({ ...ref(keyFields, path), oneOf: [{ required: ['dir'] }, { required: ['generate'] }] }));

export const signerSchema = object({
  issuer: req(string((s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `"${s}" is not a valid URL`;
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL (discovery is served from it)';
    return u.search || u.hash || u.username ? 'must not have a query, fragment or credentials' : null;
  }), 'iss of minted tokens; discovery and the JWKS are served under its path'),
  algorithm: def(oneOf(SIGNING_ALGORITHMS), 'ES256', 'signing algorithm; key files must match'),
  keys: req(keys, 'where signing keys come from: exactly one of dir, generate'),
  ttl: def(duration(1000), 300_000, 'exp = now + ttl'),
  max_skew: def(duration(0), 60_000, 'nbf = now - max_skew; also the verifiers\' assumed leeway'),
  audience: def(string((s) => (s === '' ? 'must not be empty ("origin" or a fixed audience)' : null)), 'origin', 'origin: aud = the destination scheme://host[:port]; any other string is a fixed aud'),
  subject_header: def(string((s) => (s === '' || HEADER_NAME.test(s) ? null : `"${s}" is not a valid header name`)), '', 'outbound signing: sub from this request header; "" = no sub'),
  claims: def(record(anything, reservedClaim), {} as Record<string, unknown>, 'static claims in every minted token (iss, aud, iat, nbf, exp, jti are refused)'),
  allowed_audiences: opt(array(string((s) => (s === '' ? 'must not be empty' : null)), { min: 1, unique: true }), 'never sign for any other audience'),
  replace_existing: def(boolean, false, 'true: overwrite an Authorization the request already has (default: 403 authorization_present)'),
  publish_lead: def(duration(0), DEFAULT_PUBLISH_LEAD_MS, 'a new key is published this long before it may sign'),
  endpoint: def(string((s) => (/^\/[A-Za-z0-9._~/-]*$/.test(s) ? null : 'must be a path starting with "/"')), '/sign', 'the forward-auth signing endpoint on the HTTP listener'),
  endpoint_policy: def(string((s) => (s === '' ? 'must not be empty' : null)), 'sign', 'the named policy the endpoint applies; built in as { sign: true } unless defined'),
});

export type RawSigner = Exclude<ReturnType<typeof signerSchema>, typeof INVALID>;

/** `sign: true` or `sign: { claims_from_token: [...], header: authorization }` on a route or policy. */
const signRuleObject = object({
  claims_from_token: opt(array(claimName, { unique: true }), 'token exchange: these claims of the verified token go into the minted one'),
  // authorization, or a header an identity claim could use (never framing, cookies or the proxies' trust headers).
  header: def(string((s) => (s.toLowerCase() === 'authorization' ? null : identityHeaderProblem(s))), 'authorization', 'the header the minted token is set in (authorization gets Bearer)'),
});

export const signRule: Parser<RawSignRule | false> = withSchema((v, path, errors) => {
  if (v === true) return { header: 'authorization' };
  if (v === false) return false;
  return signRuleObject(v, path, errors);
}, (ref, path) => ({ anyOf: [{ type: 'boolean' }, ref(signRuleObject, path)] }));

export interface RawSignRule {
  claims_from_token?: string[];
  header: string;
}

export function toSignRule(raw: RawSignRule | false | undefined): SignRule | undefined {
  if (raw === undefined || raw === false) return undefined;
  return { header: raw.header.toLowerCase(), claimsFromToken: raw.claims_from_token ?? null };
}

/** Builds SignerConfig; cross-key problems go to `problems`. `baseDir` resolves a relative keys.dir. */
export function toSignerConfig(raw: RawSigner, resolveDir: (dir: string) => string, workers: number, problems: string[]): SignerConfig {
  if (raw.keys.generate !== undefined && raw.keys.allow_group_read) problems.push('signer.keys.allow_group_read: applies to keys.dir only');
  if (raw.keys.generate !== undefined && workers > 1) {
    problems.push(`signer.keys.generate: keys made in memory differ per process; with workers: ${workers} use signer.keys.dir (or workers: 1)`);
  }
  if (raw.keys.generate !== undefined && raw.keys.generate.rotate_every <= raw.publish_lead) {
    problems.push('signer.keys.generate.rotate_every: must be longer than signer.publish_lead (each key is published a lead before it signs)');
  }
  return {
    issuer: raw.issuer,
    algorithm: raw.algorithm,
    keys: raw.keys.dir !== undefined ? { dir: resolveDir(raw.keys.dir), allowGroupRead: raw.keys.allow_group_read } : { generate: { rotateEveryMs: raw.keys.generate!.rotate_every } },
    ttlMs: raw.ttl,
    maxSkewMs: raw.max_skew,
    fixedAudience: raw.audience === 'origin' ? null : raw.audience,
    subjectHeader: raw.subject_header === '' ? null : raw.subject_header.toLowerCase(),
    claims: raw.claims,
    allowedAudiences: raw.allowed_audiences ?? null,
    replaceExisting: raw.replace_existing,
    publishLeadMs: raw.publish_lead,
    endpoint: raw.endpoint,
    endpointPolicy: raw.endpoint_policy,
  };
}

/** A rule's `sign` against the rest of the rule and the config. */
export function signRuleProblems(r: { sign?: RawSignRule | false; require?: unknown; anonymous: string; login?: unknown }, hasSigner: boolean, at: string): string[] {
  if (r.sign === undefined || r.sign === false) return [];
  const problems: string[] = [];
  if (!hasSigner) problems.push(`${at}.sign: needs a signer: section`);
  if (r.sign.claims_from_token === undefined && (r.require !== undefined || r.anonymous !== 'required' || r.login !== undefined)) {
    problems.push(`${at}.sign: an outbound signing rule verifies no token, so require, anonymous and login do not apply (token exchange: sign: { claims_from_token: [...] })`);
  }
  return problems;
}

/** Checks of a built SignerConfig against the rest: endpoint paths, and a key directory that must load now. */
export function signerProblems(signer: SignerConfig, takenPaths: readonly string[], envoyPrefix: string | undefined): string[] {
  const problems: string[] = [];
  const paths = [signer.endpoint, '/.well-known/jwks.json', '/.well-known/openid-configuration'];
  for (const p of paths) {
    if (takenPaths.includes(p)) problems.push(`signer.endpoint: ${p} is already used by another endpoint`);
    if (envoyPrefix !== undefined && (p === envoyPrefix || p.startsWith(`${envoyPrefix}/`))) problems.push(`envoy_http.path_prefix: ${envoyPrefix} would take over ${p}`);
  }
  if ('dir' in signer.keys) {
    const result = readKeyDir(signer.keys.dir, { allowGroupRead: signer.keys.allowGroupRead });
    if (!result.ok) problems.push(...result.problems.map((p) => `signer.keys.dir: ${p}`));
    else {
      for (const key of result.keys) {
        if (key.alg !== signer.algorithm) problems.push(`signer.keys.dir: key ${key.kid} is ${key.alg}, signer.algorithm is ${signer.algorithm}`);
      }
    }
  }
  return problems;
}

/** The signing endpoint's policy: the configured one (which must sign), else a built-in `{ sign: true }`. */
export function withEndpointPolicy(policy: PolicyConfig, signer: SignerConfig, problems: string[]): PolicyConfig {
  const existing = policy.policies.get(signer.endpointPolicy);
  if (existing !== undefined) {
    if (existing.sign === undefined) problems.push(`policies.${signer.endpointPolicy}: is the signer.endpoint_policy, so it needs sign`);
    return policy;
  }
  const builtIn: Rule = { name: `policy ${signer.endpointPolicy}`, anonymous: 'required', login: null, identityHeaders: [], sign: { header: 'authorization', claimsFromToken: null } };
  return { ...policy, policies: new Map([...policy.policies, [signer.endpointPolicy, builtIn]]) };
}
