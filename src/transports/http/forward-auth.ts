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
 * once, or the method is not an HTTP token, we cannot know what is being authorized: the adapter answers a 403
 * `original_request_missing` deny itself and never calls the authorizer.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { Config, OriginalRequestHeaders } from '../../config/types.ts';
import type { AuthRequest, Authorizer, Decision, Deny, IdentityHeader } from '../../core/types.ts';
import { Reasons } from '../../core/reasons.ts';
import { clientAddressOf, headerMap, single } from './headers.ts';
import { bearerChallenge } from '../../core/deny.ts';

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

/** Options the forward-auth handler needs, taken from `Config`. */
export interface ForwardAuthOptions {
  readonly authorizer: Authorizer;
  readonly originalRequest: OriginalRequestHeaders;
  /** Lower-cased names of every configured identity header (`config.identityHeaders[].header`). */
  readonly identityHeaders: readonly string[];
  /** `forward_auth.redirect_status`: 401 answers a login redirect as 401 + Location (nginx). Default 302. */
  readonly redirectStatus?: 302 | 401;
  /** Realm for the challenge of a redirect answered as 401. Default "portcullis". */
  readonly realm?: string;
}

/** The identity header names the adapter must clear on answers it builds itself. */
export function identityHeaderNames(config: Pick<Config, 'identityHeaders'>): readonly string[] {
  return config.identityHeaders.map((h) => h.header.toLowerCase());
}

/**
 * Reads the original request from `family` only. Returns `undefined` when the method or URI cannot be known
 * (missing, repeated, empty, or a method that is not a token); the caller answers `original_request_missing`.
 */
export function toAuthRequest(req: IncomingMessage, family: OriginalRequestHeaders): AuthRequest | undefined {
  const names = FAMILIES[family];
  const headers = headerMap(req);
  const method = single(headers, names.method)?.trim();
  const path = single(headers, names.uri);
  if (method === undefined || !TOKEN.test(method) || path === undefined) return undefined;

  const hostHeader = !headers.has(names.host) && names.hostFallback !== undefined ? names.hostFallback : names.host;
  const proto = single(headers, names.proto)?.trim().toLowerCase() ?? '';
  const clientAddress = clientAddressOf(req, headers);
  return {
    transport: 'http',
    method: method.toUpperCase(),
    host: single(headers, hostHeader)?.trim() ?? '',
    scheme: SCHEME.test(proto) ? proto : '',
    path,
    headers,
    contextExtensions: new Map(),
    ...(clientAddress === undefined ? {} : { clientAddress }),
  };
}

function jsonDeny(status: 403 | 503, reason: Deny['reason'], error: string, message: string, identity: readonly string[]): Deny {
  return {
    kind: 'deny',
    status,
    reason,
    message,
    headers: [['content-type', 'application/json']],
    body: JSON.stringify({ error, reason }),
    identity: identity.map((name): IdentityHeader => ({ name, value: undefined })),
  };
}

/** The deny the adapter answers when the proxy did not (or not unambiguously) say which request to authorize. */
export function originalRequestMissing(identityHeaders: readonly string[]): Deny {
  return jsonDeny(403, Reasons.originalRequestMissing, 'forbidden',
    'The proxy did not send the original request method and URI.', identityHeaders);
}

/** The deny answered when anything throws: still a deny, never a crash, never an allow. */
export function internalError(identityHeaders: readonly string[]): Deny {
  return jsonDeny(503, Reasons.internalError, 'internal_error', 'Internal error.', identityHeaders);
}

/**
 * A login redirect answered as 401 (`forward_auth.redirect_status: 401`): nginx's auth_request passes only 2xx, 401
 * and 403, so the 302 is built by nginx from our Location (deploy/nginx/nginx.conf, `@portcullis_login`). The 401
 * keeps the Location and adds the RFC 6750 challenge a 401 must carry (with error="invalid_token" when a token was
 * sent and failed); every other decision is returned unchanged.
 */
export function redirectAsUnauthorized(decision: Decision, realm = 'portcullis'): Decision {
  if (decision.kind !== 'deny' || decision.status !== 302) return decision;
  const challenge = bearerChallenge(realm, decision.reason === Reasons.tokenMissing ? undefined : { code: 'invalid_token', description: decision.message });
  const headers = decision.headers.filter(([name]) => name.toLowerCase() !== 'www-authenticate');
  return { ...decision, status: 401, headers: [...headers, ['www-authenticate', challenge]] };
}

/**
 * node writes header strings as latin1, one char per byte; re-encode so UTF-8 values reach the wire as UTF-8 bytes.
 */
function wire(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1');
}

export interface RenderedDecision {
  readonly status: number;
  /** Flat name/value list for `writeHead` (values already in node's latin1 wire form). */
  readonly headers: string[];
  readonly body: string;
}

/** Headers owned by this adapter; a Decision's copies of these are dropped. */
const OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'cache-control']);

/**
 * The status, headers and body for a Decision. Every identity header (the Decision's and `identityHeaders`) is always
 * present: set on allow (empty when the decision leaves it unset), empty on deny, so a proxy that copies headers from
 * our answer can never pass through a client's own value. Throws if a name or value cannot be written.
 */
/** Allow answers depend only on the identity array, which the authorizer shares per token and rule: render once. */
const allowCache = new WeakMap<readonly IdentityHeader[], { readonly names: readonly string[]; readonly rendered: RenderedDecision }>();

export function renderDecision(decision: Decision, identityHeaders: readonly string[]): RenderedDecision {
  if (decision.kind === 'allow') {
    const hit = allowCache.get(decision.identity);
    if (hit !== undefined && hit.names === identityHeaders) return hit.rendered;
    const rendered = renderUncached(decision, identityHeaders);
    if (Object.isFrozen(decision.identity)) allowCache.set(decision.identity, { names: identityHeaders, rendered });
    return rendered;
  }
  return renderUncached(decision, identityHeaders);
}

function renderUncached(decision: Decision, identityHeaders: readonly string[]): RenderedDecision {
  const identity = new Map<string, string>();
  for (const name of identityHeaders) identity.set(name.toLowerCase(), '');
  for (const { name, value } of decision.identity) {
    identity.set(name.toLowerCase(), decision.kind === 'allow' ? (value ?? '') : '');
  }

  const pairs: [string, string][] = [];
  let body = '';
  let status = 200;
  if (decision.kind === 'deny') {
    status = decision.status;
    body = decision.body;
    const own = decision.headers.filter(([name]) => {
      const lower = name.toLowerCase();
      return !OWNED.has(lower) && !identity.has(lower);
    });
    if (!own.some(([name]) => name.toLowerCase() === 'content-type')) pairs.push(['content-type', 'application/json']);
    pairs.push(...own.map(([n, v]): [string, string] => [n.toLowerCase(), v]));
  }
  for (const [name, value] of identity) pairs.push([name, value]);
  pairs.push(['cache-control', 'no-store'], ['content-length', String(Buffer.byteLength(body))]);

  const headers: string[] = [];
  for (const [name, value] of pairs) {
    validateHeaderName(name);
    const encoded = wire(value);
    validateHeaderValue(name, encoded);
    headers.push(name, encoded);
  }
  return { status, headers, body };
}

/** Answers `decision`, or the internal-error deny if it cannot be written. Never throws. */
export function writeDecision(res: ServerResponse, decision: Decision, identityHeaders: readonly string[]): void {
  try {
    if (res.headersSent) return;
    let rendered: RenderedDecision;
    try {
      rendered = renderDecision(decision, identityHeaders);
    } catch {
      rendered = renderDecision(internalError(identityHeaders), identityHeaders);
    }
    res.writeHead(rendered.status, rendered.headers);
    res.end(rendered.body);
  } catch {
    res.destroy();
  }
}

/**
 * Handles one forward-auth subrequest end to end: trust rule, authorizer, answer. Never rejects; an exception
 * anywhere (including a throwing or rejecting authorizer) becomes a 503 `internal_error` deny.
 */
export async function handleForwardAuth(req: IncomingMessage, res: ServerResponse, opts: ForwardAuthOptions): Promise<void> {
  // The subrequest's body (if any) is irrelevant; drain it so the connection can be reused.
  req.resume();
  let decision: Decision;
  try {
    const request = toAuthRequest(req, opts.originalRequest);
    decision = request === undefined
      ? originalRequestMissing(opts.identityHeaders)
      : await opts.authorizer.check(request);
    if (opts.redirectStatus === 401) decision = redirectAsUnauthorized(decision, opts.realm);
  } catch {
    decision = internalError(opts.identityHeaders);
  }
  writeDecision(res, decision, opts.identityHeaders);
}
