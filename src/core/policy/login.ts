/**
 * Browser login redirects. Only navigations are redirected (APIs keep their 401), and the return URL is built only
 * from the normalized original request on an allowed host, so it can never point anywhere else (open redirect).
 */
import type { AuthRequest } from '../types.ts';
import type { LoginRedirect } from './types.ts';
import { bareHost, hostMatcher } from './routes.ts';
import { normalizePath } from '../path.ts';

/** GET/HEAD that asks for HTML (or says it is a navigation) and is not a script's XHR. */
export function isBrowserNavigation(request: AuthRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return false;
  const h = (name: string) => (request.headers.get(name) ?? []).join(',').toLowerCase();
  if (h('x-requested-with') === 'xmlhttprequest') return false;
  const mode = h('sec-fetch-mode');
  if (mode !== '' && mode !== 'navigate') return false;
  return mode === 'navigate' || h('accept').includes('text/html');
}

/** RFC 3986 query characters only; anything else (controls, spaces, quotes, backslashes) drops the query. */
const SAFE_QUERY = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/?%]*$/;
const HOST_SYNTAX = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

/**
 * The URL to send the browser back to after login, or '' when it cannot be built safely: the host must be a
 * plain DNS name in the allow list, the scheme http or https, the path the normalized (decoded, dot-free, single
 * slash) path re-encoded, the query kept only if it is made of plain query characters.
 */
export function returnUrl(request: AuthRequest, normalizedPath: string | null, returnHosts: readonly string[]): string {
  if (normalizedPath === null) return '';
  const rawHost = request.host.trim().toLowerCase();
  const host = bareHost(rawHost);
  if (!HOST_SYNTAX.test(host) || !hostMatcher(returnHosts)(host)) return '';
  const port = rawHost.slice(host.length);
  if (port !== '' && !(/^:\d{1,5}$/.test(port) && Number(port.slice(1)) >= 1 && Number(port.slice(1)) <= 65535)) return '';
  const scheme = request.scheme === 'http' ? 'http' : 'https';
  const path = normalizedPath.split('/').map(encodeURIComponent).join('/');
  const q = request.path.indexOf('?');
  const hash = request.path.indexOf('#');
  let query = q === -1 ? '' : request.path.slice(q + 1, hash > q ? hash : undefined);
  if (!SAFE_QUERY.test(query)) query = '';
  return `${scheme}://${host}${port}${path}${query ? `?${query}` : ''}`;
}

export function loginLocation(login: LoginRedirect, request: AuthRequest, normalizedPath: string | null): string {
  return login.url.replaceAll('{return_url}', encodeURIComponent(returnUrl(request, normalizedPath, login.returnHosts)));
}

/**
 * A return URL handed to us as a parameter (`rd` of sign-in and sign-out): an absolute http(s) URL, or an absolute
 * path on `origin`. It is rebuilt by `returnUrl` from its parts, so it passes exactly the checks a login redirect's
 * return URL passes (allowed host, normalized path, plain query); a switch from https to http is refused too.
 * '' when it cannot be used.
 */
export function checkedReturnUrl(rd: string, origin: { readonly host: string; readonly scheme: string }, returnHosts: readonly string[]): string {
  let scheme: string;
  let host: string;
  let target: string;
  const absolute = /^(https?):\/\/([^/?#\\@]*)(\/[^#]*)?$/i.exec(rd);
  if (absolute) {
    scheme = absolute[1]!.toLowerCase();
    host = absolute[2]!;
    target = absolute[3] ?? '/';
    if (origin.scheme !== 'http' && scheme === 'http') return '';
  } else if (/^\/(?![/\\])[^#]*$/.test(rd)) {
    scheme = origin.scheme === 'http' ? 'http' : 'https';
    host = origin.host;
    target = rd;
  } else {
    return '';
  }
  const request: AuthRequest = { transport: 'http', method: 'GET', host, scheme, path: target, headers: new Map(), contextExtensions: new Map() };
  return returnUrl(request, normalizePath(target), returnHosts);
}
