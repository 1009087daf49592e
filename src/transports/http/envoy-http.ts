/**
 * Envoy ext_authz in HTTP mode (`http_service`), served on the HTTP listener under `envoy_http.path_prefix`.
 *
 * What Envoy sends (checked against envoyproxy/envoy source/extensions/filters/common/ext_authz/ext_authz_http_impl.cc,
 * RawHttpClientImpl::check / toResponse, and the ext_authz filter docs):
 *   - the ORIGINAL method, and `:path` = path_prefix + the original path (raw, query included);
 *   - `:authority` (Host) = the original authority;
 *   - only Authorization, Method, Path and Host, plus what `authorization_request.allowed_headers` adds (Cookie for
 *     cookie tokens, Accept for login redirects, X-Forwarded-Proto for the return URL's scheme, traceparent, …);
 *     repeated headers arrive comma-merged; Content-Length 0 unless `with_request_body` is set.
 * What Envoy does with the answer:
 *   - ONLY 200 allows. Response headers named in `authorization_response.allowed_upstream_headers` overwrite the
 *     upstream request's headers; `x-envoy-auth-headers-to-remove` (comma-separated names, 200 only) removes request
 *     headers before the upstream sees them.
 *   - 5xx is an error, not a deny: the client gets `status_on_error` (default 403) and our body is dropped.
 *   - Any other status denies: status, body, and the headers `allowed_client_headers` lists (when that list is set,
 *     Envoy always adds WWW-Authenticate and Location to it; when empty, every header but Host goes to the client).
 *
 * The trust rule here is simpler than forward auth's: the method, path and host are our own request line and Host,
 * which Envoy builds from what it parsed; no forwarding header says what is being authorized. A client cannot set
 * them, because the client never talks to this prefix through Envoy (keep the HTTP listener off public networks).
 *
 * So an allow answers 200 with every identity header that has a value, and names every identity header without one
 * (and, with `upstream.forward_token: false`, the token's headers) in x-envoy-auth-headers-to-remove, so a client's
 * own copy never reaches the upstream. A deny answers the core's status, headers and body, and no identity headers.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { clientAddressOf, headerMap, single } from './headers.ts';
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { AuthRequest, Authorizer, Decision } from '../../core/types.ts';
import { internalError, type RenderedDecision } from './forward-auth.ts';

/** Envoy removes these request headers from the upstream request when a 200 names them (ext_authz HTTP mode). */
export const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

export interface EnvoyHttpOptions {
  readonly authorizer: Authorizer;
  /** `envoy_http.path_prefix`, e.g. "/envoy" (no trailing slash). */
  readonly pathPrefix: string;
  /** Lower-cased names of every configured global identity header. */
  readonly identityHeaders: readonly string[];
}

/**
 * The original request target of a request under `pathPrefix`, or `undefined` when the request is not under it.
 * Envoy appends the original `:path` (which starts with "/", or is "*") to the prefix; the rest is kept raw.
 */
export function envoyOriginalPath(url: string, pathPrefix: string): string | undefined {
  if (!url.startsWith(pathPrefix)) return undefined;
  const rest = url.slice(pathPrefix.length);
  return rest.startsWith('/') || rest === '*' ? rest : undefined;
}

/** The AuthRequest an Envoy HTTP-mode authorization request describes; `undefined` when not under the prefix. */
export function toEnvoyAuthRequest(req: IncomingMessage, pathPrefix: string): AuthRequest | undefined {
  const path = envoyOriginalPath(req.url ?? '', pathPrefix);
  if (path === undefined) return undefined;
  const headers = headerMap(req);
  // Envoy sanitizes X-Forwarded-Proto (set from the downstream connection unless the downstream is trusted);
  // it only reaches us when allowed_headers lists it, and only decides http vs https in a login return URL.
  const proto = single(headers, 'x-forwarded-proto')?.trim().toLowerCase();
  const clientAddress = clientAddressOf(req, headers);
  return {
    transport: 'http',
    method: (req.method ?? '').toUpperCase(),
    host: single(headers, 'host')?.trim() ?? '',
    scheme: proto === 'http' || proto === 'https' ? proto : '',
    path,
    headers,
    contextExtensions: new Map(),
    ...(clientAddress !== undefined ? { clientAddress } : {}),
  };
}

/** Headers owned by this adapter; a Decision's copies of these are dropped. */
const OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'cache-control', HEADERS_TO_REMOVE]);

/** Status, headers and body Envoy's HTTP mode understands (see the file comment). Throws if a header cannot be written. */
export function renderEnvoyDecision(decision: Decision, identityHeaders: readonly string[]): RenderedDecision {
  const pairs: [string, string][] = [];
  let status = 200;
  let body = '';
  if (decision.kind === 'allow') {
    const identity = new Map<string, string | undefined>(identityHeaders.map((name) => [name.toLowerCase(), undefined]));
    for (const { name, value } of decision.identity) identity.set(name.toLowerCase(), value);
    const remove: string[] = [];
    for (const [name, value] of identity) {
      if (value === undefined) remove.push(name);
      else pairs.push([name, value]);
    }
    for (const name of decision.stripHeaders ?? []) if (!remove.includes(name)) remove.push(name);
    // The Cookie header without the token cookie (forward_token: false); applied when allowed_upstream_headers has cookie.
    for (const [name, value] of decision.setHeaders ?? []) pairs.push([name.toLowerCase(), value]);
    if (remove.length > 0) pairs.push([HEADERS_TO_REMOVE, remove.join(', ')]);
  } else {
    status = decision.status;
    body = decision.body;
    const own = decision.headers.filter(([name]) => !OWNED.has(name.toLowerCase()));
    if (!own.some(([name]) => name.toLowerCase() === 'content-type')) pairs.push(['content-type', 'application/json']);
    pairs.push(...own.map(([n, v]): [string, string] => [n.toLowerCase(), v]));
  }
  pairs.push(['cache-control', 'no-store'], ['content-length', String(Buffer.byteLength(body))]);

  const headers: string[] = [];
  for (const [name, value] of pairs) {
    validateHeaderName(name);
    // node writes header strings as latin1; re-encode so UTF-8 values reach the wire as UTF-8 bytes.
    const encoded = Buffer.from(value, 'utf8').toString('latin1');
    validateHeaderValue(name, encoded);
    headers.push(name, encoded);
  }
  return { status, headers, body };
}

/**
 * Handles one Envoy HTTP-mode authorization request end to end. Never rejects: an exception anywhere becomes the
 * 503 internal_error deny, which Envoy turns into `status_on_error` (never an allow unless failure_mode_allow).
 */
export async function handleEnvoyHttp(req: IncomingMessage, res: ServerResponse, opts: EnvoyHttpOptions): Promise<void> {
  req.resume(); // with_request_body may send the body; it is never used
  let decision: Decision;
  try {
    const request = toEnvoyAuthRequest(req, opts.pathPrefix);
    if (request === undefined) throw new Error('not an Envoy authorization request');
    decision = await opts.authorizer.check(request);
  } catch {
    decision = internalError(opts.identityHeaders);
  }
  try {
    if (res.headersSent) return;
    let rendered: RenderedDecision;
    try {
      rendered = renderEnvoyDecision(decision, opts.identityHeaders);
    } catch {
      rendered = renderEnvoyDecision(internalError(opts.identityHeaders), opts.identityHeaders);
    }
    res.writeHead(rendered.status, rendered.headers);
    res.end(rendered.body);
  } catch {
    res.destroy();
  }
}
