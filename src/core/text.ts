/**
 * What text Portcullis accepts, in one place: every caller (path normalization, identity headers, token decoding,
 * the HTTP adapters' view of header bytes) uses these rules, so two parsers can never disagree about a byte.
 *
 * - Text is Unicode scalar values: UTF-8 is decoded strictly (no overlong forms, no encoded surrogates, no bytes
 *   that are not UTF-8), and a JS string with an unpaired surrogate (legal in JSON as "\ud800") is not text.
 * - No control characters anywhere we compare, route or forward: C0 (U+0000–U+001F), DEL (U+007F) and C1
 *   (U+0080–U+009F). U+0085 (NEL) is a line break to some parsers; U+009B (CSI) drives terminals.
 * - U+FFFD in a request path is refused: a transport that met invalid UTF-8 may have put it there, and what the
 *   backend sees (the raw bytes) is then not what we compared.
 * - JSON that becomes claims (a JWS header and payload, a DPoP proof, an introspection answer) is Unicode text
 *   throughout (I-JSON, RFC 7493 §2.1): every string and member name. `parseJsonObject` is the one entry for it, so a
 *   jti, sub or identity value is always text, and turning it into UTF-8 (a replay key, a header) is exact:
 *   `"N\ud800"` and `"N\udfff"` would otherwise both hash as `N\ufffd`.
 */

/** Text that came from a request or a token, bounded before it goes into a message, a log line or a span. */
export function clip(text: string, max = 64): string {
  return text.length > max ? `${text.slice(0, max)}…` : text;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Bytes → text, or `null` when they are not strict UTF-8. */
export function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** A JSON object parsed by `parseJsonObject`, or why it is not one. */
export type JsonObjectResult = Record<string, unknown> | 'not_utf8' | 'not_object' | 'not_unicode';

/**
 * A `\uD800`–`\uDFFF` escape somewhere in JSON text. Strict UTF-8 decoding already refused encoded surrogates, so
 * only an escape can make a surrogate; most JSON has none and skips the walk. A hit may be a well-formed pair (an
 * emoji from an ASCII-only encoder) or an escaped backslash followed by "ud800": the walk decides.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/** True when every string and member name in a parsed JSON value is well-formed (no unpaired surrogate). */
function isUnicodeJson(root: unknown): boolean {
  const pending: unknown[] = [root]; // a stack, not recursion: nesting depth is the sender's choice
  while (pending.length > 0) {
    const value = pending.pop();
    if (typeof value === 'string') {
      if (!value.isWellFormed()) return false;
    } else if (Array.isArray(value)) {
      for (const item of value) pending.push(item);
    } else if (typeof value === 'object' && value !== null) {
      for (const [name, member] of Object.entries(value)) {
        if (!name.isWellFormed()) return false;
        pending.push(member);
      }
    }
  }
  return true;
}

/**
 * JSON bytes → a JSON object whose strings are all Unicode text. The one entry for JSON that becomes claims: the JWS
 * header and payload (jws.ts), and whatever else turns JSON into claims (introspection answers, DPoP proofs) calls
 * this too. It takes bytes, not a string: a lenient decoder (`response.text()`) would already have turned distinct
 * invalid bytes into one U+FFFD. 'not_unicode' is a lone surrogate written as a JSON escape.
 */
export function parseJsonObject(bytes: Uint8Array): JsonObjectResult {
  const text = decodeUtf8(bytes);
  if (text === null) return 'not_utf8';
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'not_object';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not_object';
  if (SURROGATE_ESCAPE.test(text) && !isUnicodeJson(value)) return 'not_unicode';
  return value as Record<string, unknown>;
}

/** No char above U+007F. A loop: it runs on short header values on every request, where a regex call costs more. */
function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

/**
 * A header value as node's HTTP parser hands it over (one char per byte, latin1) → the text its bytes spell in UTF-8.
 * Bytes that are not strict UTF-8 become U+FFFD, which `safePathText` (and every later check) refuses.
 * ASCII, which is nearly every value, is returned as it is.
 */
export function fromWire(latin1: string): string {
  if (isAscii(latin1)) return latin1;
  return decodeUtf8(Buffer.from(latin1, 'latin1')) ?? '\ufffd';
}

/**
 * Text → the header value node's HTTP writer sends as those bytes (it writes strings as latin1, one char per byte):
 * the inverse of `fromWire`. ASCII is returned as it is; anything else becomes its UTF-8 bytes.
 */
export function toWire(text: string): string {
  if (isAscii(text)) return text;
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** C0, DEL or C1 control character. */
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Well-formed Unicode (no unpaired surrogate) without any control character. */
export function isSafeText(text: string): boolean {
  return !CONTROL.test(text) && text.isWellFormed();
}

/** A header value we may give the upstream: safe text (no CR/LF, no other control, no lone surrogate). */
export function isSafeHeaderValue(text: string): boolean {
  return isSafeText(text);
}

/** Decoded path text we may compare with excludes and routes: safe text and no U+FFFD (see the file comment). */
export function isSafePathText(text: string): boolean {
  return isSafeText(text) && !text.includes('\ufffd');
}
