/**
 * The validated, frozen configuration the core consumes, and every other module receives. Built only by
 * `config/load.ts`; the types live with the core so that configuration flows one way (config → core).
 */
import type { PolicyConfig } from './policy/types.ts';
import type { SigningAlgorithm } from './sign/keyfile.ts';
import type { SignInConfig } from './signin/types.ts';
import type { X5cRoot } from './keys/x5c-trust.ts';
import type { Secret } from './secret.ts';
import type { KeyObject } from 'node:crypto';

export type Algorithm =
  | 'RS256' | 'RS384' | 'RS512'
  | 'PS256' | 'PS384' | 'PS512'
  | 'ES256' | 'ES384' | 'ES512'
  | 'EdDSA' | 'Ed25519';

export interface IssuerConfig {
  /** Exact `iss` value this issuer's tokens carry. */
  readonly issuer: string;
  /** Exactly one key source. */
  readonly jwksUri?: string;
  readonly jwksFile?: string;
  /** Inline JWKS (demo and tests). */
  readonly jwks?: { readonly keys: readonly Record<string, unknown>[] };
  /** OpenID Provider Configuration URL (`discovery: true` or `openid_configuration`): jwks_uri is read from it. */
  readonly discoveryUrl?: string;
  /** Keys come from the token's x5c chain, validated to these roots (docs/x5c.md); `kid` is then ignored. */
  readonly x5c?: X5cIssuerConfig;
  /** x5c issuers: headers for the leaf certificate's subject and SANs. */
  readonly identityHeadersFromCert?: CertIdentityHeaders;
  /** Plain-http key URLs beyond loopback were explicitly allowed. */
  readonly allowInsecureHttp: boolean;
  /** A token's `aud` must contain at least one of these. */
  readonly audiences: readonly string[];
  readonly algorithms: readonly Algorithm[];
  readonly leewayMs: number;
  /** Longest allowed `exp - iat`; undefined = unlimited. */
  readonly maxTtlMs?: number;
  readonly requiredClaims: readonly string[];
  /** Every token of this issuer is single-use (needs a jti, consumed once). Always set by config/load.ts. */
  readonly replay?: boolean;
  /**
   * `sender_constraint`: `required` refuses a token without `cnf` (token_not_sender_constrained); `optional` (the
   * default, also when absent) checks the binding of a bound token and lets a plain bearer token through.
   */
  readonly senderConstraint?: 'optional' | 'required';
  /** OAuth 2.0 token introspection (RFC 7662, docs/introspection.md). Absent = off. */
  readonly introspection?: IntrospectionConfig;
}

/** `dpop`: RFC 9449 proofs (docs/sender-constrained.md). */
export interface DpopConfig {
  /** Proof algorithms accepted (asymmetric only). */
  readonly algorithms: readonly Algorithm[];
  /** How old a proof's iat may be. */
  readonly maxAgeMs: number;
  /** How far in the future a proof's iat may be. */
  readonly leewayMs: number;
  /** Server nonces (RFC 9449 §8), derived from the secret file. */
  readonly nonce: boolean;
  /** Absolute path of the shared nonce secret (read by app.ts at every core build, never kept here). */
  readonly nonceSecretFile?: string;
}

/** `issuers[].introspection`: how this issuer's tokens are introspected, and which ones. */
export interface IntrospectionConfig {
  /** Configured endpoint; undefined = read `introspection_endpoint` from the issuer's discovery document. */
  readonly endpoint?: string;
  readonly clientId: string;
  readonly authMethod: 'client_secret_basic' | 'client_secret_post' | 'private_key_jwt';
  /** client_secret_basic / client_secret_post: from client_secret_file (read again on every reload). */
  readonly clientSecret?: Secret;
  /** private_key_jwt: from private_key_file (PEM PKCS#8, read again on every reload). */
  readonly privateKey?: Secret<KeyObject>;
  /** private_key_jwt: the `kid` of a JWK private_key_file (the IdP picks the client's key by it). */
  readonly privateKeyId?: string;
  /** This issuer answers for tokens that are not compact JWS (at most one issuer). */
  readonly opaqueTokens: boolean;
  /** A JWT of this issuer that verified locally is introspected too (revocation). */
  readonly jwtTokens: boolean;
  /** An active answer is cached until min(exp, maxTtl). */
  readonly maxTtlMs: number;
  /** An inactive answer is cached this long. */
  readonly inactiveTtlMs: number;
  readonly timeoutMs: number;
}

/** `replay`: where consumed jti values live and what a store failure means. */
export interface ReplayConfig {
  /** memory: one process only; redis: shared by every worker and replica. */
  readonly store: 'memory' | 'redis';
  readonly redis: {
    /** redis:// or rediss:// (TLS); credentials in the URL or PORTCULLIS_REDIS_PASSWORD. */
    readonly url: string;
    /** Redis Sentinel instead of `url`: the master named `masterName`, found through these Sentinels. */
    readonly sentinel?: {
      readonly masterName: string;
      readonly nodes: readonly { readonly host: string; readonly port: number }[];
      /** The environment variable holding the Sentinels' own password (their requirepass). */
      readonly passwordEnv?: string;
    };
    /** Redis Cluster instead of `url`: any reachable nodes; the rest is discovered. */
    readonly cluster?: { readonly nodes: readonly { readonly host: string; readonly port: number }[] };
    readonly keyPrefix: string;
    /** Per-command timeout; past it the check counts as a store error. */
    readonly timeoutMs: number;
    /** WAIT for this many replicas after each consuming SET (0: do not wait); fewer in time is a store error. */
    readonly waitReplicas: number;
  };
  /** deny: 503 replay_store_unavailable; allow: allowed, logged and counted. */
  readonly onStoreError: 'deny' | 'allow';
}

export interface TokenHeaderSource {
  /** Lower-cased header name. */
  readonly name: string;
  /** Prefix before the token, compared case-insensitively ('' = whole value). */
  readonly prefix: string;
}

export interface IdentityHeaderMapping {
  readonly claim: string;
  /** Lower-cased header name. */
  readonly header: string;
}

export type OriginalRequestHeaders = 'x-forwarded' | 'x-original';

export interface ForwardAuthEndpoint {
  /** Path of the endpoint on the HTTP listener. */
  readonly path: string;
  /** Which header family carries the original request; the other family is ignored. */
  readonly originalRequest: OriginalRequestHeaders;
  /**
   * Status of a login redirect: 302, or 401 with the Location header for nginx, whose auth_request only passes
   * 2xx/401/403 (nginx.conf builds the 302).
   */
  readonly redirectStatus: 302 | 401;
}

export interface TelemetryConfig {
  /** Put the token subject (`sub`) on server spans and allow log lines. Off: it is personal data. */
  readonly recordSubject: boolean;
  /** Decision log level: denies log at info (503 keys_unavailable at warn, internal_error at error), allows at debug. */
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  /** Share of allows that get a log line whatever the level: 0 (default) … 1 (`log_allows: true`). */
  readonly logAllows: number;
  /** Prometheus /metrics (on listen.admin, else on the HTTP listener). */
  readonly metrics: boolean;
}

export interface Config {
  /** `admin`: a separate listener for /metrics; without it /metrics is served on the HTTP listener. */
  readonly listen: { readonly grpc: string; readonly http: string; readonly admin?: string };
  readonly realm: string;
  readonly issuers: readonly IssuerConfig[];
  readonly tokens: {
    readonly headers: readonly TokenHeaderSource[];
    readonly cookies: readonly string[];
    readonly maxBytes: number;
  };
  readonly skipPreflight: boolean;
  readonly excludes: readonly string[];
  readonly identityHeaders: readonly IdentityHeaderMapping[];
  readonly identityHeaderMaxBytes: number;
  readonly forwardAuth: {
    /** One or more forward-auth endpoints on the HTTP listener, each reading only its own header family. */
    readonly endpoints: readonly ForwardAuthEndpoint[];
  };
  readonly grpc: {
    /** A larger CheckRequest is denied 413 request_too_large. */
    readonly maxRequestBytes: number;
  };
  /** Envoy ext_authz HTTP mode on the HTTP listener: requests under `pathPrefix` are authorization requests. Absent = off. */
  readonly envoyHttp?: { readonly pathPrefix: string };
  readonly jwks: {
    readonly refreshIntervalMs: number;
    readonly minRefreshMs: number;
    readonly cooldownMs: number;
    readonly timeoutMs: number;
    readonly maxStaleMs: number;
    readonly maxBytes: number;
  };
  /** Browser sign-in (`login.oidc`): the OIDC code flow that sets the access-token cookie. Absent = off. */
  readonly signIn?: SignInConfig;
  /** Routes, named policies, login redirect, upstream shaping. */
  readonly policy: PolicyConfig;
  readonly cache: {
    /** 0 disables the verified-token cache. */
    readonly maxEntries: number;
    readonly maxBytes: number;
    /** How long a token that failed for good is remembered; 0 disables. */
    readonly negativeTtlMs: number;
  };
  readonly telemetry: TelemetryConfig;
  /** SIGTERM: how long answers continue while not ready, then how long in-flight requests get to finish. */
  readonly shutdown: { readonly drainMs: number; readonly timeoutMs: number };
  /** Server processes sharing the listeners (default: available parallelism). */
  readonly workers: number;
  /** Single-use token store. Always set by config/load.ts; optional only so partial test configs stay valid. */
  readonly replay?: ReplayConfig;
  /** DPoP proofs. Always set by config/load.ts; optional only so partial test configs stay valid (defaults apply). */
  readonly dpop?: DpopConfig;
  /** `signer:` Portcullis mints tokens (outbound calls, token exchange) and publishes its JWKS. Absent = off. */
  readonly signer?: SignerConfig;
  /** `client_certificate:` (certificate-bound tokens). Absent = no header is read as a certificate. */
  readonly clientCertificate?: ClientCertificateConfig;
  /** True only for the built-in demo (no config given). */
  readonly demo: boolean;
}

/** `signer:` (docs/signing.md). */
export interface SignerConfig {
  /** `iss` of minted tokens; discovery and the JWKS are served for it. */
  readonly issuer: string;
  readonly algorithm: SigningAlgorithm;
  /** `allowGroupRead`: group-readable key files are accepted (a Secret volume with fsGroup). */
  readonly keys: { readonly dir: string; readonly allowGroupRead: boolean } | { readonly generate: { readonly rotateEveryMs: number } };
  readonly ttlMs: number;
  /** nbf = now − max_skew; also the verifiers' leeway assumed when a retired key stops being published. */
  readonly maxSkewMs: number;
  /** A fixed `aud`; null = the destination origin (scheme://host[:port]). */
  readonly fixedAudience: string | null;
  /** Lower-cased header whose value becomes `sub`; null = no sub (outbound signing). */
  readonly subjectHeader: string | null;
  readonly claims: Readonly<Record<string, unknown>>;
  /** Only these audiences are ever signed for; null = any valid destination. */
  readonly allowedAudiences: readonly string[] | null;
  /** Overwrite an authorization header the request already carries (default: refuse it). */
  readonly replaceExisting: boolean;
  /** How long a new key is published before it may sign. */
  readonly publishLeadMs: number;
  /** Path of the forward-auth signing endpoint on the HTTP listener. */
  readonly endpoint: string;
  /** Named policy the signing endpoint applies (built in as `{ sign: true }` unless configured). */
  readonly endpointPolicy: string;
}

export interface X5cIssuerConfig {
  readonly roots: readonly X5cRoot[];
  /** OIDs. Empty = not checked. */
  readonly extendedKeyUsage: readonly string[];
}

/** Lower-cased header names for a certificate's subject, SANs and (client certificates) thumbprint. */
export interface CertIdentityHeaders {
  readonly subject?: string;
  readonly sans?: string;
  readonly thumbprint?: string;
}

/**
 * `client_certificate` (docs/certificate-bound.md): where forward auth and Envoy HTTP mode read the client
 * certificate, whether gRPC also reads x-forwarded-client-cert, and identity headers from it. Absent: forward auth
 * and Envoy HTTP mode see no certificate at all; gRPC reads only the CheckRequest's source.certificate.
 */
export interface ClientCertificateConfig {
  readonly from: 'header';
  /** Lower-cased; a header the proxy overwrites from its own TLS state on every request. */
  readonly header: string;
  /** gRPC also reads x-forwarded-client-cert (from a trusted Envoy that sanitizes it); it wins over source.certificate. */
  readonly xfcc: boolean;
  readonly identityHeaders?: CertIdentityHeaders;
}
