/**
 * The transport-free contract of Portcullis: an `AuthRequest` goes in, a `Decision` comes out.
 * The gRPC ext_authz adapter and the HTTP forward_auth adapter only translate to and from these types.
 */
import type { ReasonCode } from './reasons.ts';
import type { ReplayCheck } from './replay.ts';
import type { ClientCertificate } from './client-certificate.ts';

/** Lower-cased header names; every value the transport received, unmerged where it can tell them apart. */
export type HeaderMap = ReadonlyMap<string, readonly string[]>;

export interface AuthRequest {
  /**
   * Which adapter produced the request (for logs, spans and metrics only; never changes a decision): `grpc` = Envoy
   * ext_authz over gRPC, `http` = forward auth (Caddy, nginx, Traefik), `envoy_http` = Envoy ext_authz HTTP mode.
   */
  readonly transport: Transport;
  /** Original request method, as the proxy reported it (upper-cased by the adapter). */
  readonly method: string;
  /** Original authority (host[:port]); '' when unknown. */
  readonly host: string;
  /** Original scheme ('http' / 'https'); '' when unknown. */
  readonly scheme: string;
  /** Original request target exactly as the proxy sent it: raw, undecoded, query included. */
  readonly path: string;
  /** Original request headers. */
  readonly headers: HeaderMap;
  /** Envoy per-route `context_extensions`; empty for other transports. */
  readonly contextExtensions: ReadonlyMap<string, string>;
  /** Peer address of the original client as reported by the proxy, for logs only. */
  readonly clientAddress?: string;
  /**
   * Trace-context headers of the transport call itself when they differ from the original request's (the gRPC
   * metadata of a Check: traceparent, tracestate, b3, x-b3-*), lower-cased. For telemetry only (continuing the
   * caller's trace); never changes a decision. Absent when the call carried none.
   */
  readonly transportHeaders?: HeaderMap;
  /**
   * Set when the adapter could not read the original request unambiguously (the proxy left out the original method
   * or URI, the CheckRequest was too large or its framing broken). The core answers the deny this names without
   * looking further, so such answers are built, counted, traced and logged like every other decision.
   */
  readonly invalid?: { readonly reason: InvalidRequestReason; readonly message: string };
  /** The adapter endpoint that received it (forward-auth path, Envoy HTTP prefix); for telemetry only. */
  readonly endpoint?: string;
  /**
   * The client certificate of the original request, as received and not yet read (core/client-certificate.ts):
   * gRPC from Envoy's `source.certificate` (or, with `client_certificate.xfcc`, x-forwarded-client-cert); forward
   * auth and Envoy HTTP mode from the one `client_certificate.header`, and never without that section. Absent when
   * none was sent. Certificate-bound tokens, certificate identity headers and rules read it.
   */
  readonly clientCertificate?: ClientCertificate;
}

/** An AuthRequest while a transport builds it field by field (optional fields set only when there is something to say). */
export type AuthRequestDraft = { -readonly [K in keyof AuthRequest]: AuthRequest[K] };

export type Transport = 'grpc' | 'http' | 'envoy_http';

/** Why an adapter could not read the original request (see AuthRequest.invalid). */
export type InvalidRequestReason = 'original_request_missing' | 'request_too_large' | 'request_malformed';

/** One configured identity header and the value this decision gives it; `undefined` = not set by this decision. */
export interface IdentityHeader {
  readonly name: string;
  readonly value: string | undefined;
}

export interface Allow {
  readonly kind: 'allow';
  readonly reason: ReasonCode;
  /** Every configured identity header, in configuration order. Adapters must set or clear each one. */
  readonly identity: readonly IdentityHeader[];
  /**
   * True when `identity` and `claims` are the same objects for every request that gets this answer (a cached token,
   * or the constant empty identity of an anonymous allow): what an adapter derives from them may be memoized by
   * them. Otherwise they are this request's own, and memoizing would only fill weak maps (a flood of unique tokens).
   */
  readonly shared?: boolean;
  /** Verified claims (only when a token was verified). */
  readonly claims?: Readonly<Record<string, unknown>>;
  readonly issuer?: string;
  readonly kid?: string;
  /** Size of the token that was checked (metrics: cookie/header bloat). */
  readonly tokenBytes?: number;
  /** Name of the rule that decided (route name, `policy NAME`, `default`). */
  readonly rule?: string;
  /** Request headers to remove before the upstream sees the request (forward_token: false). Envoy only. */
  readonly stripHeaders?: readonly string[];
  /** Request headers to overwrite for the upstream (a Cookie header without the token cookie). Envoy only. */
  readonly setHeaders?: readonly (readonly [string, string])[];
  /** Outcome of the single-use check, when the token was single-use (metrics, logs). */
  readonly replay?: ReplayCheck;
  /**
   * A minted token (core/sign): this header and value, also in setHeaders (Envoy overwrites with it). Forward-auth
   * answers carry it for the proxy to copy (Caddy copy_headers Authorization).
   */
  readonly signed?: readonly [string, string];
  /**
   * Headers for the client's response (`set-cookie` of a silent refresh, login.oidc), lower-cased names, repeats
   * kept. Envoy gRPC: ok_response.response_headers_to_add; forward auth and Envoy HTTP mode: on the 200 answer.
   */
  readonly responseHeaders?: readonly (readonly [string, string])[];
}

export interface Deny {
  readonly kind: 'deny';
  /**
   * HTTP status the client should see: 302 login redirect, 400 unreadable authorization request, 401 missing/invalid
   * token, 403 not permitted, 413 authorization request too large, 503 keys unavailable or internal error.
   */
  readonly status: DenyStatus;
  readonly reason: ReasonCode;
  /** Human readable, safe to show to the client and to log (never contains token material). */
  readonly message: string;
  /** Response headers for the client (WWW-Authenticate, content-type), lower-cased names. */
  readonly headers: readonly (readonly [string, string])[];
  /** Response body for the client (small JSON). */
  readonly body: string;
  /** Every configured identity header name: a deny never lets one through. */
  readonly identity: readonly IdentityHeader[];
  readonly issuer?: string;
  readonly tokenBytes?: number;
  readonly rule?: string;
  /** Outcome of the single-use check, when it refused the token (metrics, logs). */
  readonly replay?: ReplayCheck;
}

export type DenyStatus = 302 | 400 | 401 | 403 | 413 | 503;

export type Decision = Allow | Deny;

/**
 * What every transport calls. Deny is a normal answer; `check` never rejects for bad input. A decision that needs no
 * I/O (a cached token, a deny before verification) comes back as is, without a promise: callers handle both
 * (`await` does, or `andThen` in core/sync.ts), which saves the microtask turns on the hot path.
 */
export interface Authorizer {
  check(request: AuthRequest): Decision | Promise<Decision>;
}

/** Readiness as the health endpoints see it: ready once every issuer's keys have loaded once. */
export interface Readiness {
  isReady(): boolean;
  /** Why (not) ready, for the /readyz body: per-issuer key state. Never key material. */
  details?(): Record<string, unknown>;
  /** Called whenever readiness may have changed. Returns an unsubscribe function. */
  onChange(listener: () => void): () => void;
}
