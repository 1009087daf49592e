/**
 * The one schema of the YAML config: every key, its type and its default. README "Configuration" mirrors it.
 */
import { anything, array, boolean, def, duration, integer, INVALID, object, oneOf, opt, record, req, section, string, withSchema, type Parser } from './kit.ts';
import { parseListenAddress } from './listen.ts';
import { patternProblem } from '../core/glob.ts';
import { HEADER_NAME, identityHeaderProblem } from './identity-headers.ts';
import { policy, route, upstream } from './policy-schema.ts';
import { replaySection } from './replay.ts';
import { dpopSection } from './dpop.ts';
import { globalLogin } from './signin.ts';
import type { Algorithm } from '../core/config.ts';
import { signerSchema } from './signer-schema.ts';
import { certIdentitySection, x5cSection } from './x5c.ts';
import { clientCertificateSection } from './client-certificate.ts';
import { introspectionSection } from './introspection.ts';

export const ASYMMETRIC_ALGORITHMS: readonly Algorithm[] = [
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519',
];

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);

/** Plain http to anything but loopback lets anyone on the path replace the keys. */
export function insecureUrlProblem(url: string, allowInsecureHttp: boolean): string | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol === 'https:') return null;
  if (u.protocol !== 'http:') return 'must be an http(s) URL';
  return LOOPBACK.has(u.hostname) || allowInsecureHttp ? null : 'plain http lets anyone on the path replace the keys; use https (or set allow_insecure_http: true)';
}

/**
 * `forward_auth.redirect_status`: how a login redirect is answered on the forward-auth endpoint. 302 (Caddy,
 * Traefik pass it to the browser); 401 + Location for nginx, whose auth_request turns anything but 2xx/401/403 into
 * a 500 (deploy/nginx/nginx.conf then builds the 302 itself).
 */
const redirectStatus: Parser<302 | 401> = withSchema((v, path, errors) => {
  if (v === 302 || v === 401) return v;
  errors.push(`${path}: must be 302 or 401, got ${JSON.stringify(v)}`);
  return INVALID;
}, () => ({ enum: [302, 401] }));

/** `envoy_http.path_prefix`: a plain absolute path without a trailing slash (Envoy sends prefix + original path). */
function pathPrefixProblem(s: string): string | null {
  if (!/^(\/[A-Za-z0-9._~-]+)+$/.test(s)) return `"${s}" must be a path like "/envoy": segments of letters, digits, "-", ".", "_", "~", no trailing "/"`;
  if (/\/\.\.?(?:\/|$)/.test(s)) return `"${s}" must not contain "." or ".." segments`;
  return null;
}

const headerName = string((s) => (HEADER_NAME.test(s) ? null : `"${s}" is not a valid header name`));

function url(): Parser<string> {
  return string((s) => {
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      return `"${s}" is not a valid URL`;
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') return 'must be an http(s) URL';
    if (u.username || u.password) return 'must not contain credentials';
    return null;
  });
}

const listenAddress = string((s) => {
  const target = parseListenAddress(s);
  return 'problem' in target ? target.problem : null;
});

/** Paths the HTTP listener serves itself; no forward-auth endpoint or Envoy HTTP prefix may take them. */
export const RESERVED_PATHS: readonly string[] = ['/healthz', '/readyz', '/keys', '/metrics'];

const endpointPath = string((s) => {
  if (!s.startsWith('/') || s.includes('?')) return 'must be a path starting with "/"';
  return RESERVED_PATHS.includes(s) ? `${s} is reserved` : null;
});

/** One forward-auth endpoint: where it is served, which header family it reads, how it answers a login redirect. */
const endpointFields = {
  original_request: def(oneOf(['x-forwarded', 'x-original'] as const), 'x-forwarded', 'which header family carries the original request: x-forwarded (Caddy, Traefik) or x-original (nginx)'),
  redirect_status: def(redirectStatus, 302, 'how a login redirect is answered: 302, or 401 + Location for nginx'),
};

/** `true` / `false`, or the share of cases from 0 to 1. */
const sampleRate: Parser<boolean | number> = withSchema((v, path, errors) => {
  if (typeof v === 'boolean' || (typeof v === 'number' && v >= 0 && v <= 1)) return v;
  errors.push(`${path}: must be true, false or a rate from 0 to 1, got ${JSON.stringify(v)}`);
  return INVALID;
}, () => ({ anyOf: [{ type: 'boolean' }, { type: 'number', minimum: 0, maximum: 1 }] }));

const issuer = object({
  issuer: req(string((s) => (s === '' ? 'must not be empty' : null)), 'the exact iss value of this issuer\'s tokens'),
  jwks_uri: opt(url(), 'JWKS URL; https (plain http only to loopback unless allow_insecure_http)'),
  jwks_file: opt(string(), 'JWKS file (relative to the config file), re-read when it changes (mounted secrets)'),
  discovery: def(boolean, false, 'read jwks_uri from <issuer>/.well-known/openid-configuration; the document\'s issuer must equal issuer'),
  openid_configuration: opt(url(), 'explicit OpenID discovery document URL'),
  jwks: opt(object({ keys: req(array(record(anything), { min: 1 }), 'the JWKs (public members)') }), 'inline JWKS ({keys: [...]}) for tests and demos'),
  /** Keys from certificate chains in the token's x5c header, to these roots (docs/x5c.md). */
  x5c: opt(x5cSection, 'keys from the token\'s x5c certificate chain, validated to roots (docs/x5c.md)'),
  identity_headers_from_cert: opt(certIdentitySection, 'x5c issuers: header names for the leaf certificate\'s subject and SANs'),
  allow_insecure_http: def(boolean, false, 'permit plain-http key URLs beyond loopback'),
  audiences: req(array(string((s) => (s === '' ? 'must not be empty' : null)), { min: 1, unique: true }), 'the token\'s aud (string or array) must contain one of these'),
  algorithms: def(array(oneOf(ASYMMETRIC_ALGORITHMS), { min: 1, unique: true }), [...ASYMMETRIC_ALGORITHMS], 'allowed signature algorithms; none and HS* are not accepted values'),
  leeway: def(duration(), 60_000, 'clock skew allowed on exp, nbf and iat'),
  max_ttl: opt(duration(1000), 'longest exp - iat (then iat is required); default unlimited'),
  required_claims: def(array(string(), { unique: true }), [] as string[], 'claims that must be present and non-null (exp and aud always are)'),
  replay: def(boolean, false, 'every token of this issuer is single-use: needs a jti, consumed once (docs/replay.md)'),
  sender_constraint: def(oneOf(['optional', 'required'] as const), 'optional', 'DPoP and certificate-bound tokens (docs/sender-constrained.md): required refuses a token without cnf (401 token_not_sender_constrained)'),
  introspection: opt(introspectionSection, 'OAuth 2.0 token introspection: opaque tokens, and JWT revocation (docs/introspection.md)'),
});

export const configSchema = object({
  /** `admin` (optional): a separate listener for /metrics. */
  listen: section({
    grpc: def(listenAddress, '127.0.0.1:9001', 'ext_authz gRPC and grpc.health.v1.Health: host:port, [v6]:port or unix:/path'),
    http: def(listenAddress, '127.0.0.1:9002', 'forward auth, /healthz, /readyz, /keys, /metrics'),
    admin: opt(listenAddress, 'optional separate listener for /metrics'),
  }, 'listen addresses (a change needs a restart)'),
  realm: def(string((s) => (/^[\x20-\x7e]+$/.test(s) && !/["\\]/.test(s) ? null : 'must be printable ASCII without quotes or backslashes')), 'portcullis', 'realm in WWW-Authenticate'),
  // Required unless `signer` is configured (an instance may sign only): checked in load.ts.
  issuers: opt(array(issuer), 'trusted issuers, at least one (may be left out when signer is set); a token\'s iss selects exactly one'),
  signer: opt(signerSchema, 'minting tokens for outbound calls and token exchange, and the published JWKS (docs/signing.md)'),
  tokens: section({
    headers: def(array(object({
      name: req(headerName, 'header name'),
      prefix: def(string(), '', 'scheme prefix before the token, case-insensitive; "" = the whole value'),
    }), {}), [{ name: 'authorization', prefix: 'Bearer ' }], 'headers carrying the token'),
    cookies: def(array(string((s) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s) ? null : `"${s}" is not a valid cookie name`)), { unique: true }), ['access_token'], 'cookies carrying the token (a large token may be split over numbered chunks NAME_0, NAME_1, ...)'),
    max_bytes: def(integer(256, 1_048_576), 16_384, 'larger tokens are denied token_too_large'),
  }, 'where the token is read from'),
  skip_preflight: def(boolean, true, 'let CORS preflights through without a token (and without identity)'),
  excludes: def(array(string(patternProblem), { unique: true }), [] as string[], 'paths that need no token: exact, * within a segment, ** for any number of segments'),
  identity_headers: def(record(string(identityHeaderProblem)), { sub: 'x-auth-subject' } as Record<string, string>, 'claim (a name or dotted path) -> header for the upstream'),
  identity_header_max_bytes: def(integer(16, 65_536), 4096, 'a longer identity header value is withheld (never truncated)'),
  routes: def(array(route), [], 'ordered rules: the first route whose hosts, paths and methods all match decides (docs/policies.md)'),
  policies: def(record(policy), {}, 'named rules; Envoy picks one with context_extensions: { policy: NAME }'),
  login: opt(globalLogin, 'login redirect for browser navigations without a usable token: { url, return_hosts } or { oidc: {...} }'),
  upstream: section(upstream, 'what the upstream receives besides identity headers'),
  /**
   * The single endpoint (`path`, `original_request`, `redirect_status`), or `endpoints` for several, each reading
   * only its own header family (a mixed fleet: `/auth` for Caddy and Traefik, `/auth/nginx` for nginx).
   */
  forward_auth: section({
    path: def(endpointPath, '/auth', 'forward-auth endpoint on the HTTP listener'),
    ...endpointFields,
    endpoints: opt(array(object({ path: req(endpointPath, 'forward-auth endpoint on the HTTP listener'), ...endpointFields }), { min: 1 }), 'instead of path, original_request and redirect_status: several endpoints, each reading only its own header family'),
  }, 'the forward-auth endpoint(s) for Caddy, nginx and Traefik (docs/forward-auth.md)'),
  envoy_http: opt(object({ path_prefix: req(string(pathPrefixProblem), 'requests under this prefix are authorization requests, e.g. /envoy') }), 'Envoy ext_authz HTTP mode on the HTTP listener (default off)'),
  cache: section({
    max_entries: def(integer(0, 10_000_000), 100_000, 'verified-token cache entries (0 disables)'),
    max_bytes: def(integer(0, 4_294_967_296), 67_108_864, 'verified-token cache size bound'),
    negative_ttl: def(duration(0), 10_000, 'how long a token that failed for good is remembered (0 disables)'),
  }, 'the verified-token cache'),
  telemetry: section({
    record_subject: def(boolean, false, 'put the token\'s sub on server spans and allow log lines'),
    log_level: def(oneOf(['debug', 'info', 'warn', 'error'] as const), 'info', 'decision log level'),
    log_allows: def(sampleRate, false, 'log allows whatever the level: true, or a share such as 0.01'),
    metrics: def(boolean, true, 'Prometheus /metrics (on listen.admin, else on the HTTP listener)'),
  }, 'decision logs and metrics (docs/observability.md)'),
  workers: opt(integer(1, 256), 'server processes sharing the listeners; default the available parallelism'),
  jwks: section({
    refresh_interval: def(duration(1000), 300_000, 'background key refresh period (upper bound for Cache-Control max-age)'),
    min_refresh: def(duration(1000), 30_000, 'lower bound for Cache-Control max-age'),
    cooldown: def(duration(0), 30_000, 'at most one on-demand key load (unknown kid, no keys) per window'),
    timeout: def(duration(100), 5_000, 'key fetch timeout'),
    max_stale: def(duration(1000), 86_400_000, 'keep using the last good key set this long while the IdP fails'),
    max_bytes: def(integer(1024, 16_777_216), 1_048_576, 'largest JWKS or discovery document'),
  }, 'how remote key sets are fetched and kept'),
  /** The gRPC listener: a CheckRequest larger than this is denied 413 request_too_large (never a gRPC error). */
  grpc: section({
    max_request_bytes: def(integer(65_536, 67_108_864), 4_194_304, 'a larger CheckRequest is denied 413 request_too_large'), // hard cap 128 MiB: check-service.ts
  }, 'the gRPC listener'),
  replay: replaySection,
  /** RFC 9449 proofs (docs/sender-constrained.md). */
  dpop: dpopSection,
  // SIGTERM: not ready at once, keep answering for `drain`, then close and let in-flight requests finish within `timeout`.
  shutdown: section({
    drain: def(duration(0), 5_000, 'after SIGTERM: not ready at once, answers continue this long'),
    timeout: def(duration(0), 20_000, 'then the listeners close and in-flight requests get this long'),
  }, 'drain on SIGTERM (docs/operations.md)'),
  client_certificate: opt(clientCertificateSection, 'where a certificate-bound token\'s client certificate comes from (docs/certificate-bound.md); absent: forward auth and Envoy HTTP mode read none, gRPC only source.certificate'),
});

export type RawConfig = Exclude<ReturnType<typeof configSchema>, typeof INVALID>;
