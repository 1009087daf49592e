/**
 * Strict compact-JWS parsing, done before any key lookup or signature check.
 * jose decodes base64url leniently (padding, non-zero trailing bits), so several strings can carry the same
 * signature; we accept exactly one spelling so that a token string identifies one token (cache keys, replay).
 * Header and payload are strict UTF-8 JSON whose strings are Unicode text (core/text.ts `parseJsonObject`): a payload
 * with a lone surrogate is 401 claim_invalid, so no claim can collide with another once it is encoded as UTF-8.
 */
import { Reasons, type ReasonCode } from './reasons.ts';
import { parseJsonObject, type JsonObjectResult } from './text.ts';
import { deepFreeze } from './freeze.ts';

export interface ParsedJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
  readonly alg: string;
  readonly kid: string | undefined;
  /** The raw `x5c` header (undefined when absent). Read only for x5c issuers (docs/x5c.md); others ignore it. */
  readonly x5c: unknown;
  /** `header.payload`, the bytes the signature covers (ASCII). */
  readonly signingInput: string;
  /** The signature segment (canonical base64url). */
  readonly signature: string;
}

/**
 * Decoded headers by their exact segment, for a caller that meets one header again and again (a DPoP client signs
 * every proof under the same typ, alg and jwk). The parser remembers a header only once the whole JWS parsed, deep
 * frozen, since every later hit shares it; a hit skips only the segment's decoding: every check on the header's
 * members still runs. The caller bounds it (an LRU); an LRUCache fits this interface as it is.
 */
export interface HeaderMemo {
  get(segment: string): Readonly<Record<string, unknown>> | undefined;
  set(segment: string, header: Readonly<Record<string, unknown>>): unknown;
}

export type ParseResult =
  | { readonly ok: true; readonly jws: ParsedJws }
  | { readonly ok: false; readonly reason: ReasonCode; readonly message: string };

const SEGMENT = /^[A-Za-z0-9_-]+$/;
const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

const NOT_UNICODE = 'holds a string that is not Unicode text (an unpaired surrogate such as U+D800)';

function malformed(message: string): ParseResult {
  return { ok: false, reason: Reasons.tokenMalformed, message };
}

/** True when `s` is the one canonical unpadded base64url spelling of its bytes. */
export function isCanonicalBase64url(s: string): boolean {
  if (!SEGMENT.test(s)) return false;
  const rem = s.length % 4;
  if (rem === 1) return false;
  if (rem === 0) return true;
  const last = B64URL.indexOf(s[s.length - 1]!);
  // 2 chars carry 8 bits (4 unused), 3 chars carry 16 bits (2 unused): unused bits must be zero.
  return rem === 2 ? (last & 0x0f) === 0 : (last & 0x03) === 0;
}

/** RFC 7515 §5.2 / RFC 7519 §7.2: the segment's bytes must be strict UTF-8 before they are JSON, and its strings text. */
const decodeJsonObject = (segment: string): JsonObjectResult => parseJsonObject(Buffer.from(segment, 'base64url'));

/** `memo`: remembers decoded headers by their segment (see HeaderMemo); the verdict is the same with or without it. */
export function parseCompactJws(token: string, memo?: HeaderMemo): ParseResult {
  // Two dots, found without splitting (a split allocates an array on every request); anything else is counted.
  const d1 = token.indexOf('.');
  const d2 = d1 === -1 ? -1 : token.indexOf('.', d1 + 1);
  if (d2 === -1 || token.includes('.', d2 + 1)) {
    if (token.split('.').length === 5) return malformed('encrypted tokens (JWE) are not accepted');
    return malformed('not a compact JWS (three base64url segments separated by dots)');
  }
  const h = token.slice(0, d1);
  const p = token.slice(d1 + 1, d2);
  const s = token.slice(d2 + 1);
  // Only a segment that passed every check below is ever remembered, so a remembered one is canonical.
  const known = memo?.get(h);
  if ((known === undefined && !isCanonicalBase64url(h)) || !isCanonicalBase64url(p) || !isCanonicalBase64url(s)) {
    return malformed('segments must be unpadded canonical base64url');
  }
  const header = known ?? decodeJsonObject(h);
  if (header === 'not_utf8') return malformed('header is not valid UTF-8');
  if (header === 'not_object') return malformed('header is not a JSON object');
  if (header === 'not_unicode') return malformed(`header ${NOT_UNICODE}`);
  const payload = decodeJsonObject(p);
  if (payload === 'not_utf8') return malformed('payload is not valid UTF-8');
  if (payload === 'not_object') return malformed('payload is not a JSON object');
  // Claims are Unicode text: a jti or sub with a lone surrogate would share its replay key or identity with another.
  if (payload === 'not_unicode') return { ok: false, reason: Reasons.claimInvalid, message: `payload ${NOT_UNICODE}` };
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') return malformed('header has no "alg"');
  if (header.kid !== undefined && typeof header.kid !== 'string') return malformed('"kid" must be a string');
  // RFC 7797 unencoded payloads and any critical extension: we understand none, so we must reject (RFC 7515 4.1.11).
  if (header.b64 !== undefined) return malformed('"b64" header is not accepted');
  if (header.crit !== undefined) return malformed('"crit" header names extensions that are not supported');
  // jku, x5u and jwk are deliberately ignored: keys come only from the issuer's configured key source. x5c is carried
  // through raw: an x5c issuer validates it against its configured roots; every other issuer ignores it.
  if (memo !== undefined && known === undefined) memo.set(h, deepFreeze(header));
  return { ok: true, jws: { header, payload, alg, kid: header.kid as string | undefined, x5c: header.x5c, signingInput: token.slice(0, h.length + 1 + p.length), signature: s } };
}
