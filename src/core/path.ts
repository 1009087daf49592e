/**
 * One safe normalization of the original request path, used to match `excludes` (and later, routes).
 *
 * Steps: cut query and fragment, strictly percent-decode, merge duplicate slashes, remove dot segments.
 * A path that cannot be normalized unambiguously returns `null`: callers must then treat it as matching
 * nothing that grants access (a `null` path is never excluded). Ambiguous means some server behind the proxy
 * could read it differently from us:
 *   - an encoded `/` or `\` (`%2F`, `%5C`) or a raw `\` (IIS, some routers treat it as a separator);
 *   - NUL or any control character, raw or encoded;
 *   - invalid percent-encoding or bytes that are not UTF-8;
 *   - a `%` that survives decoding (double encoding: `%252e` is `%2e` to us and `.` to a decoding backend);
 *   - a `;` (path parameters: Tomcat/Spring read `/public/..;/admin` as `/admin`);
 *   - anything that is not origin-form (`*`, absolute-form, empty).
 * Never parse with `new URL(path, base)`: `//healthz/../admin` would become host `healthz`.
 */
const utf8 = new TextDecoder('utf-8', { fatal: true });
const HEX = /^[0-9A-Fa-f]{2}$/;

export function normalizePath(raw: string): string | null {
  let end = raw.length;
  const q = raw.indexOf('?');
  if (q !== -1) end = q;
  const h = raw.indexOf('#');
  if (h !== -1 && h < end) end = h;
  const target = raw.slice(0, end);
  if (!target.startsWith('/')) return null;

  const decoded = percentDecode(target);
  if (decoded === null) return null;
  for (let i = 0; i < decoded.length; i++) {
    const c = decoded.charCodeAt(i);
    if (c < 0x20 || c === 0x7f || c === 0x5c /* \ */ || c === 0x25 /* % */ || c === 0x3b /* ; */) return null;
  }
  return removeDotSegments(decoded.replace(/\/{2,}/g, '/'));
}

/** Strict decoding: every `%` must start a valid escape, the bytes must be UTF-8, and `/` or `\` must not be encoded. */
function percentDecode(s: string): string | null {
  if (!s.includes('%')) return s;
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const ch = s.charCodeAt(i);
    if (ch === 0x25) {
      const hex = s.slice(i + 1, i + 3);
      if (!HEX.test(hex)) return null;
      const b = parseInt(hex, 16);
      if (b === 0x2f || b === 0x5c) return null;
      bytes.push(b);
      i += 2;
    } else if (ch < 0x80) {
      bytes.push(ch);
    } else {
      // Raw non-ASCII in a request target is not valid HTTP; re-encode it so decoding stays exact.
      bytes.push(...Buffer.from(s[i]!, 'utf8'));
    }
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return null;
  }
}

/** RFC 3986 section 5.2.4, on a path that starts with '/' and has no empty segments left. */
function removeDotSegments(path: string): string {
  const segments = path.split('/');
  const out: string[] = [];
  // segments[0] is '' (leading slash).
  for (let i = 1; i < segments.length; i++) {
    const seg = segments[i]!;
    const last = i === segments.length - 1;
    if (seg === '.') {
      if (last) out.push('');
    } else if (seg === '..') {
      out.pop();
      if (last) out.push('');
    } else {
      out.push(seg);
    }
  }
  return '/' + out.join('/');
}
