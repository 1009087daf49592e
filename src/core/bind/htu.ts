/**
 * RFC 9449 §4.3 step 9: a proof's `htu` must equal the request's URI without query and fragment, compared after
 * syntax-based normalization (RFC 3986 §6.2.2) plus the scheme-based step every HTTP client does (§6.2.3: default
 * port dropped, empty path is "/"). Both sides go through the same function, so they can only disagree on meaning.
 *
 * - scheme and host are case-normalized; userinfo is refused (a proof has no business naming credentials);
 * - percent-encodings get upper-case hex, those of unreserved characters are decoded, bytes a URI may not hold
 *   (space, non-ASCII, `"<>\^`{|}`) are percent-encoded as UTF-8; a `%` that starts no encoding makes it invalid;
 * - dot segments are removed (§5.2.4).
 *
 * Never `new URL(path, base)` on the request side: `//healthz/../admin` would become host `healthz`.
 */

const ABSOLUTE = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(?:\?[^#]*)?(?:#[\s\S]*)?$/;
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~!$&'()*+,;=-]*)$/;
const DEFAULT_PORT: Readonly<Record<string, string>> = { http: '80', https: '443' };
/** unreserved / sub-delims / ":" / "@" / "/" (RFC 3986 pchar and the path separator): kept as they are. */
const PATH_CHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@/]/;
const UNRESERVED = /^[A-Za-z0-9\-._~]$/;
/** Paths already in normal form, the usual case: PATH_CHARs only (no "%", nothing to encode), no "." or ".." segment. */
const PLAIN_PATH = /^[A-Za-z0-9\-._~!$&'()*+,;=:@/]*$/;
const DOT_SEGMENT = /(?:^|\/)\.\.?(?:\/|$)/;
/** A host name in normal form without a port: nothing for authorityOf to lower-case or drop. */
const PLAIN_HOST = /^[a-z0-9.-]+$/;

/** The normalized `scheme://host[:port]/path` of an absolute http(s) URI, query and fragment dropped; null = invalid. */
export function normalizeHttpUri(uri: string): string | null {
  const m = ABSOLUTE.exec(uri);
  if (m === null) return null;
  const scheme = m[1]!.toLowerCase();
  if (DEFAULT_PORT[scheme] === undefined) return null;
  const authority = authorityOf(m[2]!, scheme);
  if (authority === null) return null;
  const path = normalizePath(m[3]!);
  return path === null ? null : `${scheme}://${authority}${path}`;
}

/** The request's own URI as the proxy reported it (AuthRequest scheme, host and raw path); null when incomplete. */
export function requestUri(scheme: string, host: string, rawPath: string): string | null {
  if (scheme === '' || host === '' || !rawPath.startsWith('/') || rawPath.startsWith('//')) return null;
  // The host is an authority and nothing else: a '/', '?', '#' or '@' in it would move the path (api.test/evil + /x
  // spells https://api.test/evil/x), so such a request has no URI a proof could name.
  if (/[/?#@\\]/.test(host)) return null;
  // Already normal, the usual request: what normalizeHttpUri would give back unchanged (htu.test.ts holds both to it).
  if ((scheme === 'https' || scheme === 'http') && PLAIN_HOST.test(host) && PLAIN_PATH.test(rawPath) && !DOT_SEGMENT.test(rawPath)) return `${scheme}://${host}${rawPath}`;
  const end = rawPath.search(/[?#]/);
  return normalizeHttpUri(`${scheme}://${host}${end === -1 ? rawPath : rawPath.slice(0, end)}`);
}

function authorityOf(authority: string, scheme: string): string | null {
  if (authority.includes('@') || authority === '') return null;
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d*))?$/.exec(authority);
  if (m === null || !HOST.test(m[1]!) || m[1] === '') return null;
  const host = m[1]!.toLowerCase();
  let port = m[2] ?? '';
  if (port !== '') {
    port = port.replace(/^0+(?=\d)/, '');
    if (Number(port) > 65_535) return null;
  }
  return port === '' || port === DEFAULT_PORT[scheme] ? host : `${host}:${port}`;
}

function normalizePath(path: string): string | null {
  // The loop below would copy such a path char by char and removeDotSegments would give it back unchanged.
  if (PLAIN_PATH.test(path) && !DOT_SEGMENT.test(path)) return path === '' ? '/' : path;
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path[i]!;
    if (c === '%') {
      const hex = path.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      const decoded = String.fromCharCode(parseInt(hex, 16));
      out += UNRESERVED.test(decoded) ? decoded : `%${hex.toUpperCase()}`;
      i += 2;
    } else if (PATH_CHAR.test(c)) {
      out += c;
    } else {
      const code = path.codePointAt(i)!;
      if (code > 0xffff) i++;
      if (code >= 0xd800 && code <= 0xdfff) return null; // a lone surrogate is not text
      for (const byte of Buffer.from(String.fromCodePoint(code), 'utf8')) out += `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  const normalized = removeDotSegments(out);
  return normalized === '' ? '/' : normalized;
}

/** RFC 3986 §5.2.4. */
function removeDotSegments(path: string): string {
  const output: string[] = [];
  let input = path;
  while (input !== '') {
    if (input.startsWith('../')) input = input.slice(3);
    else if (input.startsWith('./')) input = input.slice(2);
    else if (input.startsWith('/./')) input = input.slice(2);
    else if (input === '/.') input = '/';
    else if (input.startsWith('/../')) { input = input.slice(3); output.pop(); }
    else if (input === '/..') { input = '/'; output.pop(); }
    else if (input === '.' || input === '..') input = '';
    else {
      const next = input.indexOf('/', input.startsWith('/') ? 1 : 0);
      const segment = next === -1 ? input : input.slice(0, next);
      output.push(segment);
      input = next === -1 ? '' : input.slice(next);
    }
  }
  return output.join('');
}
