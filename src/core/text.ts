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

const NON_ASCII = /[^\x00-\x7f]/;

/**
 * A header value as node's HTTP parser hands it over (one char per byte, latin1) → the text its bytes spell in UTF-8.
 * Bytes that are not strict UTF-8 become U+FFFD, which `safePathText` (and every later check) refuses.
 * ASCII, which is nearly every value, is returned as it is.
 */
export function fromWire(latin1: string): string {
  if (!NON_ASCII.test(latin1)) return latin1;
  return decodeUtf8(Buffer.from(latin1, 'latin1')) ?? '\ufffd';
}

/**
 * Text → the header value node's HTTP writer sends as those bytes (it writes strings as latin1, one char per byte):
 * the inverse of `fromWire`. ASCII is returned as it is; anything else becomes its UTF-8 bytes.
 */
export function toWire(text: string): string {
  if (!NON_ASCII.test(text)) return text;
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
