/**
 * The one schema of the YAML config: every key, its type and its default. README "Configuration" mirrors it.
 */
import { anything, array, boolean, def, duration, integer, INVALID, object, oneOf, opt, record, req, section, string, type Parser } from './kit.ts';
import { parseListenAddress } from './listen.ts';
import { patternProblem } from '../core/glob.ts';
import { HEADER_NAME, identityHeaderProblem } from './identity-headers.ts';
import { policy, route, upstream } from './policy-schema.ts';
import { replaySection } from './replay.ts';
import { globalLogin } from './signin.ts';
import type { Algorithm } from '../core/config.ts';
import { signerSchema } from './signer-schema.ts';
import { certIdentitySection, x5cSection } from './x5c.ts';
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
const redirectStatus: Parser<302 | 401> = (v, path, errors) => {
  if (v === 302 || v === 401) return v;
  errors.push(`${path}: must be 302 or 401, got ${JSON.stringify(v)}`);
  return INVALID;
};

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
  original_request: def(oneOf(['x-forwarded', 'x-original'] as const), 'x-forwarded'),
  redirect_status: def(redirectStatus, 302),
};

/** `true` / `false`, or the share of cases from 0 to 1. */
const sampleRate: Parser<boolean | number> = (v, path, errors) => {
  if (typeof v === 'boolean' || (typeof v === 'number' && v >= 0 && v <= 1)) return v;
  errors.push(`${path}: must be true, false or a rate from 0 to 1, got ${JSON.stringify(v)}`);
  return INVALID;
};

const issuer = object({
  issuer: req(string((s) => (s === '' ? 'must not be empty' : null))),
  jwks_uri: opt(url()),
  jwks_file: opt(string()),
  discovery: def(boolean, false),
  openid_configuration: opt(url()),
  jwks: opt(object({ keys: req(array(record(anything), { min: 1 })) })),
  /** Keys from certificate chains in the token's x5c header, to these roots (docs/x5c.md). */
  x5c: opt(x5cSection),
  identity_headers_from_cert: opt(certIdentitySection),
  allow_insecure_http: def(boolean, false),
  audiences: req(array(string((s) => (s === '' ? 'must not be empty' : null)), { min: 1, unique: true })),
  algorithms: def(array(oneOf(ASYMMETRIC_ALGORITHMS), { min: 1, unique: true }), [...ASYMMETRIC_ALGORITHMS]),
  leeway: def(duration(), 60_000),
  max_ttl: opt(duration(1000)),
  required_claims: def(array(string(), { unique: true }), [] as string[]),
  replay: def(boolean, false),
  /** OAuth 2.0 token introspection: opaque tokens, and JWT revocation (docs/introspection.md). */
  introspection: opt(introspectionSection),
});

export const configSchema = object({
  /** `admin` (optional): a separate listener for /metrics. */
  listen: section({ grpc: def(listenAddress, '127.0.0.1:9001'), http: def(listenAddress, '127.0.0.1:9002'), admin: opt(listenAddress) }),
  realm: def(string((s) => (/^[\x20-\x7e]+$/.test(s) && !/["\\]/.test(s) ? null : 'must be printable ASCII without quotes or backslashes')), 'portcullis'),
  // Required unless `signer` is configured (an instance may sign only): checked in load.ts.
  issuers: opt(array(issuer)),
  signer: opt(signerSchema),
  tokens: section({
    headers: def(array(object({ name: req(headerName), prefix: def(string(), '') }), {}), [{ name: 'authorization', prefix: 'Bearer ' }]),
    cookies: def(array(string((s) => (/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(s) ? null : `"${s}" is not a valid cookie name`)), { unique: true }), ['access_token']),
    max_bytes: def(integer(256, 1_048_576), 16_384),
  }),
  skip_preflight: def(boolean, true),
  excludes: def(array(string(patternProblem), { unique: true }), [] as string[]),
  identity_headers: def(record(string(identityHeaderProblem)), { sub: 'x-auth-subject' } as Record<string, string>),
  identity_header_max_bytes: def(integer(16, 65_536), 4096),
  routes: def(array(route), []),
  policies: def(record(policy), {}),
  login: opt(globalLogin),
  upstream: section(upstream),
  /**
   * The single endpoint (`path`, `original_request`, `redirect_status`), or `endpoints` for several, each reading
   * only its own header family (a mixed fleet: `/auth` for Caddy and Traefik, `/auth/nginx` for nginx).
   */
  forward_auth: section({
    path: def(endpointPath, '/auth'),
    ...endpointFields,
    endpoints: opt(array(object({ path: req(endpointPath), ...endpointFields }), { min: 1 })),
  }),
  envoy_http: opt(object({ path_prefix: req(string(pathPrefixProblem)) })),
  cache: section({
    max_entries: def(integer(0, 10_000_000), 100_000),
    max_bytes: def(integer(0, 4_294_967_296), 67_108_864),
    negative_ttl: def(duration(0), 10_000),
  }),
  telemetry: section({
    record_subject: def(boolean, false),
    log_level: def(oneOf(['debug', 'info', 'warn', 'error'] as const), 'info'),
    log_allows: def(sampleRate, false),
    metrics: def(boolean, true),
  }),
  workers: opt(integer(1, 256)),
  jwks: section({
    refresh_interval: def(duration(1000), 300_000),
    min_refresh: def(duration(1000), 30_000),
    cooldown: def(duration(0), 30_000),
    timeout: def(duration(100), 5_000),
    max_stale: def(duration(1000), 86_400_000),
    max_bytes: def(integer(1024, 16_777_216), 1_048_576),
  }),
  /** The gRPC listener: a CheckRequest larger than this is denied 413 request_too_large (never a gRPC error). */
  grpc: section({ max_request_bytes: def(integer(65_536, 67_108_864), 4_194_304) }), // hard cap 128 MiB: check-service.ts
  replay: replaySection,
  // SIGTERM: not ready at once, keep answering for `drain`, then close and let in-flight requests finish within `timeout`.
  shutdown: section({ drain: def(duration(0), 5_000), timeout: def(duration(0), 20_000) }),
});

export type RawConfig = Exclude<ReturnType<typeof configSchema>, typeof INVALID>;
