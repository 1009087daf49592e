/**
 * The one HTTP rendering of a Decision, for forward auth (Caddy, nginx, Traefik) and Envoy's ext_authz HTTP mode.
 * Both answer 200 to allow and the core's status, headers and body to deny; they differ only in how an allow tells
 * the proxy what to do with identity headers:
 *
 *   forward_auth: every identity header is always present — the value on allow, empty when unset and on deny — so a
 *                 proxy that copies headers from our answer (copy_headers, auth_request_set, authResponseHeaders) can
 *                 never pass a client's own value through.
 *   envoy_http:   identity headers with a value are answered (Envoy copies those named in allowed_upstream_headers);
 *                 those without one, and the token's headers under forward_token: false, are named in
 *                 x-envoy-auth-headers-to-remove; the rewritten Cookie header is answered too. A deny carries no
 *                 identity headers (Envoy does not copy from a deny to the upstream).
 *
 * A silent refresh's Set-Cookie lines (`Allow.responseHeaders`, login.oidc) go on the 200 in both modes; forward
 * auth also repeats each as x-portcullis-set-cookie-<i>, because nginx 1.22's $upstream_http_set_cookie keeps only
 * the first line (deploy/nginx/nginx.signin.conf captures them one by one). Envoy passes them on with
 * allowed_client_headers_on_success.
 *
 * Header names and values are validated, and values written as their UTF-8 bytes (node writes strings as latin1).
 */
import { validateHeaderName, validateHeaderValue } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { Decision, IdentityHeader } from '../../core/types.ts';
import { toWire } from '../../core/text.ts';

export type RenderMode = 'forward_auth' | 'envoy_http';

/** Envoy removes these request headers from the upstream request when a 200 names them (ext_authz HTTP mode). */
export const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';

export interface RenderedDecision {
  readonly status: number;
  /** Flat name/value list for `writeHead` (values already in node's latin1 wire form). */
  readonly headers: string[];
  readonly body: string;
}

/** Prefix of the numbered copies of Set-Cookie lines on a forward-auth allow (for nginx's auth_request_set). */
export const SET_COOKIE_COPY = 'x-portcullis-set-cookie-';

/** Headers owned by the renderer; a Decision's copies of these are dropped. */
const OWNED = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'cache-control', HEADERS_TO_REMOVE]);

/** Allow answers depend only on the identity array, which the authorizer shares per token and rule: render once. */
const allowCache: Record<RenderMode, WeakMap<readonly IdentityHeader[], { readonly names: readonly string[]; readonly rendered: RenderedDecision }>> = {
  forward_auth: new WeakMap(),
  envoy_http: new WeakMap(),
};

/**
 * The status, headers and body for `decision`. `identityHeaders` names every identity header any answer can set
 * (so the answer covers them even when the decision does not). Throws if a name or value cannot be written.
 */
export function renderDecision(decision: Decision, identityHeaders: readonly string[], mode: RenderMode): RenderedDecision {
  // Forward auth renders no header operations; Envoy HTTP mode's depend on the request, so only plain allows are shared.
  const cacheable = decision.kind === 'allow' && decision.signed === undefined && decision.responseHeaders === undefined
    && (mode === 'forward_auth' || (decision.stripHeaders === undefined && decision.setHeaders === undefined));
  if (!cacheable) return renderUncached(decision, identityHeaders, mode);
  const cache = allowCache[mode];
  const hit = cache.get(decision.identity);
  if (hit !== undefined && hit.names === identityHeaders) return hit.rendered;
  const rendered = renderUncached(decision, identityHeaders, mode);
  if (decision.shared === true) cache.set(decision.identity, { names: identityHeaders, rendered });
  return rendered;
}

function renderUncached(decision: Decision, identityHeaders: readonly string[], mode: RenderMode): RenderedDecision {
  const identity = new Map<string, string | undefined>();
  for (const name of identityHeaders) identity.set(name.toLowerCase(), undefined);
  for (const { name, value } of decision.identity) identity.set(name.toLowerCase(), decision.kind === 'allow' ? value : undefined);

  const pairs: [string, string][] = [];
  let status = 200;
  let body = '';
  if (decision.kind === 'deny') {
    status = decision.status;
    body = decision.body;
    const own = decision.headers.filter(([name]) => !OWNED.has(name.toLowerCase()) && !identity.has(name.toLowerCase()));
    if (!own.some(([name]) => name.toLowerCase() === 'content-type')) pairs.push(['content-type', 'application/json']);
    pairs.push(...own.map(([n, v]): [string, string] => [n.toLowerCase(), v]));
    if (mode === 'forward_auth') for (const name of identity.keys()) pairs.push([name, '']);
  } else if (mode === 'forward_auth') {
    for (const [name, value] of identity) pairs.push([name, value ?? '']);
    // A minted token (core/sign) for the proxy to copy onto the request (Caddy copy_headers Authorization).
    if (decision.signed !== undefined) pairs.push([decision.signed[0].toLowerCase(), decision.signed[1]]);
  } else {
    const remove: string[] = [];
    for (const [name, value] of identity) {
      if (value === undefined) remove.push(name);
      else pairs.push([name, value]);
    }
    for (const name of decision.stripHeaders ?? []) if (!remove.includes(name)) remove.push(name);
    // The Cookie header without the token cookies (forward_token: false); applied when allowed_upstream_headers has cookie.
    for (const [name, value] of decision.setHeaders ?? []) pairs.push([name.toLowerCase(), value]);
    if (remove.length > 0) pairs.push([HEADERS_TO_REMOVE, remove.join(', ')]);
  }
  if (decision.kind === 'allow' && decision.responseHeaders !== undefined) {
    const own = decision.responseHeaders.map(([n, v]): [string, string] => [n.toLowerCase(), v]).filter(([n]) => !OWNED.has(n) && !identity.has(n) && !n.startsWith(SET_COOKIE_COPY));
    pairs.push(...own);
    if (mode === 'forward_auth') own.filter(([n]) => n === 'set-cookie').forEach(([, v], i) => pairs.push([`${SET_COOKIE_COPY}${i}`, v]));
  }
  pairs.push(['cache-control', 'no-store'], ['content-length', String(Buffer.byteLength(body))]);

  const headers: string[] = [];
  for (const [name, value] of pairs) {
    validateHeaderName(name);
    const encoded = toWire(value);
    validateHeaderValue(name, encoded);
    headers.push(name, encoded);
  }
  return { status, headers, body };
}

/**
 * Answers `decision`, or `fallback` (the internal-error deny) if it cannot be rendered. Never throws; a response
 * that cannot be written at all is destroyed.
 */
export function writeDecision(res: ServerResponse, decision: Decision, fallback: Decision, identityHeaders: readonly string[], mode: RenderMode): void {
  try {
    if (res.headersSent) return;
    let rendered: RenderedDecision;
    try {
      rendered = renderDecision(decision, identityHeaders, mode);
    } catch {
      rendered = renderDecision(fallback, identityHeaders, mode);
    }
    res.writeHead(rendered.status, rendered.headers);
    res.end(rendered.body);
  } catch {
    res.destroy();
  }
}
