/**
 * Forward-auth translation: a proxy's auth subrequest (node:http) → `AuthRequest`, and a `Decision` → the HTTP answer
 * the proxy understands (2xx allows; anything else is shown to the client).
 *
 * THE TRUST RULE (the security core of this file; oauth2-proxy GHSA-7x63-xv5r-3p2x, Traefik GHSA-6384-m2mw-rf54,
 * Oathkeeper #1003): the original request is read ONLY from the configured header family, which the proxy must
 * overwrite on every subrequest so a client can never choose it:
 *   'x-forwarded' (Caddy, Traefik): X-Forwarded-Method, X-Forwarded-Uri, X-Forwarded-Host, X-Forwarded-Proto
 *   'x-original'  (nginx):          X-Original-Method, X-Original-URI, X-Original-Host (else Host), X-Original-Proto
 * The other family is ignored entirely, and so is everything about our own request line (its method, path and query:
 * Caddy appends the client's query to the auth uri). If the method or URI header is missing, empty, sent more than
 * once, or the method is not an HTTP token, we cannot know what is being authorized: the request is handed to the core
 * marked invalid, and the core answers a 403 `original_request_missing` deny without looking further.
 *
 * The client certificate (certificate-bound tokens) is read from `client_certificate.header` only, and only when
 * that section is configured: like the X-Forwarded-* family it must be a header the proxy overwrites from its own TLS
 * state on every subrequest (deploy/caddy/Caddyfile.mtls, deploy/nginx/nginx.mtls.conf). Without the section, no
 * header is a certificate, whatever a client sends.
 *
 * Several endpoints may each read their own family (`forward_auth.endpoints`: `/auth` for Caddy and Traefik,
 * `/auth/nginx` for nginx); a header of the other family changes nothing on either.
 */
import type { IncomingMessage } from 'node:http';
import type { OriginalRequestHeaders } from '../../core/config.ts';
import type { AuthRequest, AuthRequestDraft, Decision } from '../../core/types.ts';
import { Reasons } from '../../core/reasons.ts';
import { bearerChallenge } from '../../core/deny.ts';
import { fromWire } from '../../core/text.ts';
import { certificateFromHeader } from '../../core/client-certificate.ts';
import { PROOF_HEADER, type TokenSources } from '../../core/sources.ts';
import { HeaderNames } from '../raw-header-map.ts';
import { clientAddressOf, headerMap, single } from './headers.ts';

interface FamilyHeaders {
  readonly method: string;
  readonly uri: string;
  readonly host: string;
  readonly proto: string;
  /** Header read for the host when `host` is absent (x-original only: nginx may leave X-Original-Host out). */
  readonly hostFallback?: string;
}

const FAMILIES: Readonly<Record<OriginalRequestHeaders, FamilyHeaders>> = {
  'x-forwarded': {
    method: 'x-forwarded-method',
    uri: 'x-forwarded-uri',
    host: 'x-forwarded-host',
    proto: 'x-forwarded-proto',
  },
  'x-original': {
    method: 'x-original-method',
    uri: 'x-original-uri',
    host: 'x-original-host',
    proto: 'x-original-proto',
    hostFallback: 'host',
  },
};

/** RFC 9110 `token`: what a request method must look like. */
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const SCHEME = /^[a-z][a-z0-9+.-]*$/;

const NO_EXTENSIONS: ReadonlyMap<string, string> = new Map();

/**
 * The method header's value, trimmed and upper-cased, when it is an RFC 9110 token; undefined otherwise. A method
 * of upper-case letters (nearly every request) is answered without a regex or a copy.
 */
export function methodOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  let upper = value.length > 0;
  for (let i = 0; i < value.length && upper; i++) {
    const c = value.charCodeAt(i);
    upper = c >= 0x41 && c <= 0x5a;
  }
  if (upper) return value;
  const method = value.trim();
  return TOKEN.test(method) ? method.toUpperCase() : undefined;
}

/**
 * The headers a forward-auth request is read by on every request, found in one pass: the family, the client address,
 * the client certificate header, the token's headers and cookie, and the DPoP proof.
 */
export function forwardAuthHeaderNames(
  family: OriginalRequestHeaders,
  tokens: TokenSources | undefined,
  certificateHeader?: string,
): HeaderNames {
  const f = FAMILIES[family];
  const names = [f.method, f.uri, f.host, f.proto, 'x-forwarded-for', PROOF_HEADER];
  if (f.hostFallback !== undefined) names.push(f.hostFallback);
  if (certificateHeader !== undefined) names.push(certificateHeader);
  for (const source of tokens?.headers ?? []) names.push(source.name);
  if (tokens !== undefined && tokens.cookies.length > 0) names.push('cookie');
  return new HeaderNames(names);
}

/**
 * Reads the original request from `family` only. When the method or URI cannot be known (missing, repeated, empty,
 * or a method that is not a token) the request is marked `invalid`: the core answers `original_request_missing`.
 * Header bytes are read as UTF-8 (core/text.ts fromWire): invalid bytes can never look like a valid path. `expected`
 * (forwardAuthHeaderNames) only makes reading faster: the request read is the same without it.
 */
export function toAuthRequest(
  req: IncomingMessage,
  family: OriginalRequestHeaders,
  endpoint?: string,
  certificateHeader?: string,
  expected?: HeaderNames,
): AuthRequest {
  const names = FAMILIES[family];
  const headers = headerMap(req, expected);
  const method = methodOf(single(headers, names.method));
  const path = single(headers, names.uri);
  const hostHeader = names.hostFallback !== undefined && !headers.has(names.host) ? names.hostFallback : names.host;
  const proto = single(headers, names.proto)?.trim().toLowerCase() ?? '';
  const clientAddress = clientAddressOf(req, headers);
  const known = method !== undefined && path !== undefined;
  const clientCertificate = certificateHeader === undefined ? undefined : certificateFromHeader(headers, certificateHeader);
  // Built field by field: optional fields are absent (not undefined) when there is nothing to say, and no spread
  // copies the object once per optional field on every request.
  const request: AuthRequestDraft = {
    transport: 'http',
    method: known ? method : '',
    host: fromWire(single(headers, hostHeader)?.trim() ?? ''),
    scheme: proto === 'https' || proto === 'http' || SCHEME.test(proto) ? proto : '',
    path: known ? fromWire(path) : '',
    headers,
    contextExtensions: NO_EXTENSIONS,
  };
  if (clientAddress !== undefined) request.clientAddress = clientAddress;
  if (endpoint !== undefined) request.endpoint = endpoint;
  if (clientCertificate !== undefined) request.clientCertificate = clientCertificate;
  if (!known) request.invalid = UNKNOWN_REQUEST;
  return request;
}

const UNKNOWN_REQUEST: NonNullable<AuthRequest['invalid']> = Object.freeze({ reason: Reasons.originalRequestMissing, message: 'The proxy did not send the original request method and URI.' });

/**
 * A login redirect answered as 401 (`redirect_status: 401`): nginx's auth_request passes only 2xx, 401 and 403, so the
 * 302 is built by nginx from our Location (deploy/nginx/nginx.conf, `@portcullis_login`). The 401 keeps the Location
 * and adds the RFC 6750 challenge a 401 must carry (with error="invalid_token" when a token was sent and failed);
 * every other decision is returned unchanged.
 */
export function redirectAsUnauthorized(decision: Decision, realm = 'portcullis'): Decision {
  if (decision.kind !== 'deny' || decision.status !== 302) return decision;
  const challenge = bearerChallenge(realm, decision.reason === Reasons.tokenMissing ? undefined : { code: 'invalid_token', description: decision.message });
  const headers = decision.headers.filter(([name]) => name.toLowerCase() !== 'www-authenticate');
  return { ...decision, status: 401, headers: [...headers, ['www-authenticate', challenge]] };
}
