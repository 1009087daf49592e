/**
 * One safe normalization of the original request path, used to match `excludes` (and later, routes).
 *
 * Steps: cut the query, strictly percent-decode, merge duplicate slashes.
 * A path that cannot be normalized unambiguously returns `null`: callers must then treat it as matching
 * nothing that grants access (a `null` path is never excluded). Ambiguous means some server behind the proxy
 * could read it differently from us:
 *   - an encoded `/` or `\` (`%2F`, `%5C`) or a raw `\` (IIS, some routers treat it as a separator);
 *   - text that is not safe path text (core/text.ts): any control character (C0, DEL, C1), invalid UTF-8,
 *     overlong forms, surrogates or U+FFFD, raw or percent-encoded;
 *   - invalid percent-encoding;
 *   - a `%` that survives decoding (double encoding: `%252e` is `%2e` to us and `.` to a decoding backend);
 *   - a `;` (path parameters: Tomcat/Spring read `/public/..;/admin` as `/admin`);
 *   - a `.` or `..` segment, raw or encoded (backends disagree on resolving them: see below);
 *   - a raw `#` before the query (a fragment is never sent; a backend may treat it as a path character);
 *   - anything that is not origin-form (`*`, absolute-form, empty).
 * Never parse with `new URL(path, base)`: `//healthz/../admin` would become host `healthz`.
 */
import { decodeUtf8, isSafePathText } from './text.ts';

const HEX = /^[0-9A-Fa-f]{2}$/;

export function normalizePath(raw: string): string | null {
  const q = raw.indexOf('?');
  const target = q === -1 ? raw : raw.slice(0, q);
  return isPlainPath(target) ? target : normalizeTarget(target);
}

/**
 * A target the steps below return as it is, found in one pass (nearly every request): `/` first, then printable
 * ASCII without `%`, `\`, `;` or `#`, and no `/` followed by `/` or `.` (so no dot segment and nothing to merge).
 * Anything else, including what would still normalize (`//a`, `/.well-known`, `%41`), takes the full steps.
 * test/core/path.test.ts pins this to `normalizeTarget` over generated targets.
 */
export function isPlainPath(target: string): boolean {
  if (target.charCodeAt(0) !== 0x2f) return false;
  let previous = 0x2f;
  for (let i = 1; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x25 || c === 0x5c || c === 0x3b || c === 0x23) return false;
    if (previous === 0x2f && (c === 0x2f || c === 0x2e)) return false;
    previous = c;
  }
  return true;
}

/** The full steps for a target without its query: null when it cannot be normalized unambiguously. */
export function normalizeTarget(target: string): string | null {
  // Clients never send a fragment; a raw '#' in a request target is something a backend may read as part of
  // the path (`/public/x#/../../admin` is `/admin` to it), so it is ambiguous, not cut (GHSA-pxq7-h93f-9jrg).
  if (target.includes('#')) return null;
  if (!target.startsWith('/')) return null;

  const decoded = percentDecode(target);
  if (decoded === null) return null;
  if (!isSafePathText(decoded) || /[\\%;]/.test(decoded)) return null;
  const merged = decoded.includes('//') ? decoded.replace(/\/{2,}/g, '/') : decoded;
  // Dot segments: a backend that resolves them and one that routes them literally read `/admin/../public/x` as
  // different paths (Express routes it under /admin). Browsers never send them, so such a path is ambiguous.
  if (/\/\.\.?(?:\/|$)/.test(merged)) return null;
  return merged;
}

/**
 * Strict decoding: every `%` must start a valid escape, the bytes must be UTF-8, and `/` or `\` must not be encoded.
 * A target without `%` is returned as it is; the safe-text check after decoding covers it like any other.
 */
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
      // Raw non-ASCII (already text: adapters decode wire bytes with core/text.ts fromWire); re-encode it so
      // decoding stays exact. A lone surrogate encodes as U+FFFD, which the safe-text check then refuses.
      const cp = s.codePointAt(i)!;
      const char = String.fromCodePoint(cp);
      bytes.push(...Buffer.from(char.isWellFormed() ? char : '\ufffd', 'utf8'));
      if (cp > 0xffff) i++;
    }
  }
  return decodeUtf8(Uint8Array.from(bytes));
}
