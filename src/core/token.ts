/**
 * Finds the one token a request offers: configured headers (with an optional scheme prefix) and cookies,
 * never the URL. Offering two different tokens is ambiguous and denied (which one would the upstream use?).
 */
import type { HeaderMap } from './types.ts';
import type { Config } from '../config/types.ts';
import { Reasons, type ReasonCode } from './reasons.ts';

export type TokenResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'token'; readonly token: string; readonly source: string }
  | { readonly kind: 'error'; readonly reason: ReasonCode; readonly message: string };

type TokenSources = Config['tokens'];

export function extractToken(headers: HeaderMap, sources: TokenSources): TokenResult {
  const found = new Map<string, string>(); // token -> where it came from
  for (const { name, prefix } of sources.headers) {
    for (const value of headers.get(name) ?? []) {
      // A JWT never contains a comma, so comma-merged repeats (Envoy's `headers` map) split safely.
      for (const part of value.split(',')) {
        const token = stripPrefix(part.trim(), prefix);
        if (token !== null && !found.has(token)) found.set(token, `header ${name}`);
      }
    }
  }
  if (sources.cookies.length > 0) {
    for (const value of headers.get('cookie') ?? []) {
      for (const [name, token] of cookiePairs(value)) {
        if (sources.cookies.includes(name) && !found.has(token)) found.set(token, `cookie ${name}`);
      }
    }
  }
  if (found.size === 0) return { kind: 'none' };
  for (const token of found.keys()) {
    if (Buffer.byteLength(token) > sources.maxBytes) {
      return { kind: 'error', reason: Reasons.tokenTooLarge, message: `token is larger than ${sources.maxBytes} bytes` };
    }
  }
  if (found.size > 1) {
    const where = [...new Set(found.values())].join(', ');
    return { kind: 'error', reason: Reasons.tokenAmbiguous, message: `more than one distinct token offered (${where})` };
  }
  const [[token, source]] = found as unknown as [[string, string]];
  return { kind: 'token', token, source };
}

/** `Bearer <token>`: scheme compared case-insensitively (RFC 7235), one or more spaces after it. */
function stripPrefix(value: string, prefix: string): string | null {
  if (prefix === '') return value === '' ? null : value;
  const scheme = prefix.trimEnd();
  if (value.length < scheme.length || value.slice(0, scheme.length).toLowerCase() !== scheme.toLowerCase()) return null;
  const rest = value.slice(scheme.length);
  if (scheme.length === prefix.length) return rest; // prefix without a separator, e.g. "jwt="
  if (rest !== '' && rest[0] !== ' ') return null; // "Bearerx..." is another scheme
  return rest.replace(/^ +/, '');
}

/** RFC 6265 cookie-string; a value in double quotes is unquoted. Merged headers may use ';' or ','. */
function* cookiePairs(header: string): Generator<[string, string]> {
  for (const pair of header.split(/[;,]/)) {
    const eq = pair.indexOf('=');
    if (eq === -1) continue;
    const name = pair.slice(0, eq).trim();
    let value = pair.slice(eq + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    yield [name, value];
  }
}
