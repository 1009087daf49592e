/**
 * Where a token travels, in one place: every token source (configured headers with an optional scheme prefix, and
 * cookies) knows how to FIND its token, REMOVE it for the upstream (`upstream.forward_token: false`) and MASK it in
 * explain output. Extraction, stripping and masking all walk the same parsed pieces, so a token the finder accepts
 * is a token the stripper removes (a finder that split the Cookie header on ',' and a stripper that split only on
 * ';' let `theme=dark, access_token=…` through to the upstream).
 *
 * Never the URL. Offering two different tokens is ambiguous and denied (which one would the upstream use?).
 *
 * DPoP (RFC 9449): a header source whose prefix is `Bearer ` also takes `DPoP <token>`, and the result says which
 * scheme was used; the proof comes from the `DPoP` header (`findProof`), which the remover strips and the masker
 * hides like a token header.
 *
 * Big tokens may be split over numbered cookies (`access_token_0`, `access_token_1`, …, contiguous from 0, as
 * oauth2-proxy does past 4 KB): the finder joins them, bounded by `tokens.max_bytes`; the stripper removes every
 * chunk whether or not it was used.
 */
import { createHash } from 'node:crypto';
import type { HeaderMap } from './types.ts';
import type { Config } from './config.ts';
import { Reasons, type ReasonCode } from './reasons.ts';

export type TokenSources = Config['tokens'];

export type TokenResult =
  | { readonly kind: 'none' }
  /** `dpop`: sent as `Authorization: DPoP <token>` (RFC 9449 §7.1) rather than Bearer, a bare header or a cookie. */
  | { readonly kind: 'token'; readonly token: string; readonly source: string; readonly dpop: boolean }
  | { readonly kind: 'error'; readonly reason: ReasonCode; readonly message: string };

/** Header operations that keep the token from the upstream (Envoy applies them; see core/upstream docs in README). */
export interface TokenRemoval {
  /** Request headers to remove. */
  readonly strip: readonly string[];
  /** Request headers to overwrite (the Cookie header without the token cookies). */
  readonly set: readonly (readonly [string, string])[];
}

/** One `name=value` piece of a Cookie header, with the separator that preceded it (kept when rewriting). */
interface CookiePiece {
  readonly separator: string;
  readonly raw: string;
  readonly name: string;
  /** Unquoted value; `undefined` for a piece without '='. */
  readonly value: string | undefined;
}

const MAX_CHUNKS = 32;
const CHUNK = /^(.+)_(\d{1,2})$/;

/**
 * RFC 6265 cookie-string. Proxies that merge repeated headers may use ';' or ',' (Envoy's `headers` map
 * comma-joins), so both separate pieces; a value in double quotes is unquoted.
 */
function cookiePieces(header: string): CookiePiece[] {
  const pieces: CookiePiece[] = [];
  const re = /([;,]?)([^;,]*)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(header)) !== null && m[0] !== '') {
    const raw = m[2]!;
    const eq = raw.indexOf('=');
    let value = eq === -1 ? undefined : raw.slice(eq + 1).trim();
    if (value !== undefined && value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    pieces.push({ separator: m[1]!, raw, name: (eq === -1 ? raw : raw.slice(0, eq)).trim(), value });
  }
  return pieces;
}

/** Which configured cookie a piece belongs to: the cookie itself, or one of its numbered chunks. */
function tokenCookieOf(name: string, cookies: readonly string[]): { readonly cookie: string; readonly chunk?: number } | undefined {
  if (cookies.includes(name)) return { cookie: name };
  const m = CHUNK.exec(name);
  if (m && cookies.includes(m[1]!) && (m[2] === '0' || !m[2]!.startsWith('0'))) return { cookie: m[1]!, chunk: Number(m[2]) };
  return undefined;
}

/** `Bearer <token>`: scheme compared case-insensitively (RFC 7235), one or more spaces after it. */
function stripPrefix(value: string, prefix: string): string | null {
  if (prefix === '') return value === '' ? null : value;
  const scheme = prefix.trimEnd();
  if (value.length < scheme.length || !startsWithIgnoringCase(value, scheme)) return null;
  if (scheme.length === prefix.length) return value.slice(scheme.length); // prefix without a separator, e.g. "jwt="
  let start = scheme.length;
  if (start < value.length && value.charCodeAt(start) !== 0x20) return null; // "Bearerx..." is another scheme
  while (start < value.length && value.charCodeAt(start) === 0x20) start++;
  return value.slice(start);
}

/** ASCII case-insensitive prefix test, without copying (this runs on every request). */
function startsWithIgnoringCase(value: string, prefix: string): boolean {
  for (let i = 0; i < prefix.length; i++) {
    const a = value.charCodeAt(i);
    const b = prefix.charCodeAt(i);
    if (a === b) continue;
    const lower = a | 0x20; // only ASCII letters may differ, and only in case
    if (lower !== (b | 0x20) || lower < 0x61 || lower > 0x7a) return false;
  }
  return true;
}

const NO_SOURCE: readonly [string, string] = Object.freeze(['', '']) as readonly [string, string];

/**
 * The distinct tokens offered, in the order found. A request nearly always offers one, once: no Map and no source
 * text are made until a second distinct token appears or the answer is built (this runs on every request).
 */
class Offered {
  #token: string | undefined;
  #from: readonly [string, string] = NO_SOURCE;
  #more: Map<string, readonly [string, string]> | undefined;
  #dpop = false;
  /** The one token came both with the DPoP scheme and without it: which binding rules would apply? */
  #schemeClash = false;

  add(token: string, kind: string, name: string, dpop = false): void {
    if (this.#token === undefined) {
      this.#token = token;
      this.#from = [kind, name];
      this.#dpop = dpop;
    } else if (token !== this.#token) {
      (this.#more ??= new Map()).has(token) || this.#more.set(token, [kind, name]);
    } else if (dpop !== this.#dpop) {
      this.#schemeClash = true;
    }
  }

  result(maxBytes: number): TokenResult {
    if (this.#token === undefined) return { kind: 'none' };
    // The common case, one token: a UTF-16 unit is at most 3 UTF-8 bytes, so short tokens need no byte count.
    if (this.#schemeClash) return { kind: 'error', reason: Reasons.tokenAmbiguous, message: 'the token is offered both with the DPoP scheme and without it' };
    if (this.#more === undefined && (this.#token.length * 3 <= maxBytes || Buffer.byteLength(this.#token) <= maxBytes)) {
      return { kind: 'token', token: this.#token, source: `${this.#from[0]} ${this.#from[1]}`, dpop: this.#dpop };
    }
    const all: [string, readonly [string, string]][] = [[this.#token, this.#from], ...(this.#more ?? [])];
    for (const [token] of all) if (Buffer.byteLength(token) > maxBytes) return tooLarge(maxBytes);
    if (all.length > 1) {
      const where = [...new Set(all.map(([, [kind, name]]) => `${kind} ${name}`))].join(', ');
      return { kind: 'error', reason: Reasons.tokenAmbiguous, message: `more than one distinct token offered (${where})` };
    }
    return { kind: 'token', token: this.#token, source: `${this.#from[0]} ${this.#from[1]}`, dpop: this.#dpop };
  }
}

/** RFC 9449 §7.1: the DPoP authentication scheme, accepted wherever a source takes `Bearer `. */
const DPOP_PREFIX = 'DPoP ';
const takesDpop = (prefix: string): boolean => prefix.length === 7 && startsWithIgnoringCase(prefix, 'Bearer ') && prefix.endsWith(' ');

/** One header value piece → the token it offers with its scheme, if any. */
function offerPiece(offered: Offered, piece: string, prefix: string, name: string): void {
  const token = stripPrefix(piece, prefix);
  if (token !== null) {
    offered.add(token, 'header', name);
    return;
  }
  if (!takesDpop(prefix)) return;
  const bound = stripPrefix(piece, DPOP_PREFIX);
  if (bound !== null) offered.add(bound, 'header', name, true);
}

/** The one token a request offers, or why there is none that can be used. */
export function findToken(headers: HeaderMap, sources: TokenSources): TokenResult {
  const offered = new Offered();
  for (const { name, prefix } of sources.headers) {
    const values = headers.get(name);
    if (values === undefined) continue;
    for (const value of values) {
      // A JWT never contains a comma, so comma-merged repeats (Envoy's `headers` map) split safely.
      if (!value.includes(',')) {
        offerPiece(offered, value.trim(), prefix, name);
        continue;
      }
      for (const part of value.split(',')) offerPiece(offered, part.trim(), prefix, name);
    }
  }
  const cookieHeaders = sources.cookies.length > 0 ? headers.get('cookie') : undefined;
  if (cookieHeaders !== undefined) {
    let chunks: Map<string, Map<number, string[]>> | undefined;
    for (const value of cookieHeaders) {
      for (const piece of cookiePieces(value)) {
        const of = piece.value === undefined ? undefined : tokenCookieOf(piece.name, sources.cookies);
        if (of === undefined) continue;
        if (of.chunk === undefined) {
          offered.add(piece.value!, 'cookie', of.cookie);
          continue;
        }
        let byIndex = (chunks ??= new Map()).get(of.cookie);
        if (!byIndex) chunks.set(of.cookie, (byIndex = new Map()));
        byIndex.set(of.chunk, [...(byIndex.get(of.chunk) ?? []), piece.value!]);
      }
    }
    for (const [cookie, byIndex] of chunks ?? []) {
      const joined = joinChunks(cookie, byIndex, sources.maxBytes);
      if (typeof joined !== 'string') return joined;
      offered.add(joined, 'cookie', `${cookie} (${byIndex.size} chunks)`);
    }
  }
  return offered.result(sources.maxBytes);
}

function tooLarge(maxBytes: number): TokenResult {
  return { kind: 'error', reason: Reasons.tokenTooLarge, message: `token is larger than ${maxBytes} bytes` };
}

/** Chunks 0..n-1, each exactly once: anything else (a gap, a repeat, too many) is ambiguous, not guessed at. */
function joinChunks(cookie: string, byIndex: ReadonlyMap<number, readonly string[]>, maxBytes: number): string | Extract<TokenResult, { kind: 'error' }> {
  const ambiguous = { kind: 'error', reason: Reasons.tokenAmbiguous, message: `the chunks of cookie ${cookie} are not numbered 0 to n-1 exactly once` } as const;
  if (byIndex.size > MAX_CHUNKS) return tooLarge(maxBytes) as Extract<TokenResult, { kind: 'error' }>;
  let joined = '';
  for (let i = 0; i < byIndex.size; i++) {
    const values = byIndex.get(i);
    if (values === undefined || values.length !== 1) return ambiguous;
    joined += values[0];
    if (joined.length > maxBytes) return tooLarge(maxBytes) as Extract<TokenResult, { kind: 'error' }>;
  }
  return joined;
}

/**
 * `upstream.forward_token: false`: every token header is removed and the Cookie header is rewritten without any
 * token cookie or chunk (other cookies keep their bytes and separators), or removed when nothing else is left.
 */
export function removeTokens(headers: HeaderMap, sources: TokenSources): TokenRemoval {
  const strip = sources.headers.map((h) => h.name).filter((name) => headers.has(name));
  // The DPoP proof is bound to this request and this token: the upstream has no use for it.
  if (headers.has(PROOF_HEADER) && !strip.includes(PROOF_HEADER)) strip.push(PROOF_HEADER);
  const set: [string, string][] = [];
  const cookies = headers.get('cookie');
  if (cookies && sources.cookies.length > 0) {
    const kept: string[] = [];
    let removed = false;
    for (const header of cookies) {
      let rest = '';
      for (const piece of cookiePieces(header)) {
        if (tokenCookieOf(piece.name, sources.cookies) !== undefined) removed = true;
        else if (piece.raw.trim() !== '') rest += rest === '' ? piece.raw.trim() : `${piece.separator}${piece.raw}`;
      }
      if (rest !== '') kept.push(rest);
    }
    if (removed) {
      if (kept.length > 0) set.push(['cookie', kept.join('; ')]);
      else strip.push('cookie');
    }
  }
  return { strip, set };
}

/**
 * The request headers a rule condition may read (CEL `request.headers`): one value per lower-case name, repeats
 * joined by ", ", without the token's own header and without the token cookies. Built on removeTokens, so it leaves
 * out exactly what the stripper removes.
 */
export function headersWithoutTokens(headers: HeaderMap, sources: TokenSources): Map<string, string> {
  const { strip, set } = removeTokens(headers, sources);
  const out = new Map<string, string>();
  for (const [name, values] of headers) if (!strip.includes(name)) out.set(name, values.join(', '));
  for (const [name, value] of set) out.set(name, value);
  return out;
}

/**
 * A request header value as explain may print it: token headers only by size, the Cookie header with every token
 * cookie's value replaced by its size, everything else as it is.
 */
export function maskHeader(name: string, value: string, sources: TokenSources): string {
  const hidden = (v: string) => `(${Buffer.byteLength(v)} bytes, not shown)`;
  if (name === PROOF_HEADER || sources.headers.some((h) => h.name === name)) return hidden(value);
  if (name !== 'cookie') return value;
  return cookiePieces(value)
    .map((p) => `${p.separator}${p.value !== undefined && tokenCookieOf(p.name, sources.cookies) !== undefined ? `${p.raw.slice(0, p.raw.indexOf('=') + 1)}${hidden(p.value)}` : p.raw}`)
    .join('');
}

/** The request header that carries a DPoP proof (RFC 9449 §4.1), lower-cased. */
export const PROOF_HEADER = 'dpop';

export type ProofResult =
  | { readonly kind: 'none' }
  | { readonly kind: 'proof'; readonly proof: string }
  | { readonly kind: 'error'; readonly message: string };

/**
 * The one DPoP proof a request carries. RFC 9449 §4.3: exactly one `DPoP` header holding one JWT; repeats (also
 * comma-merged by Envoy: a JWT never contains a comma) are refused, even when equal.
 */
export function findProof(headers: HeaderMap): ProofResult {
  const values = headers.get(PROOF_HEADER);
  if (values === undefined) return { kind: 'none' };
  if (values.length === 1 && !values[0]!.includes(',')) {
    // The usual request: one header, one proof (the general split below would allocate two arrays for it).
    const proof = values[0]!.trim();
    return proof === '' ? { kind: 'none' } : { kind: 'proof', proof };
  }
  const parts = values.length === 1 && !values[0]!.includes(',') ? [values[0]!.trim()] : values.flatMap((v) => v.split(',')).map((p) => p.trim());
  const proofs = parts.filter((p) => p !== '');
  if (proofs.length === 0) return { kind: 'none' };
  if (proofs.length > 1) return { kind: 'error', message: `the request carries ${proofs.length} DPoP proofs; exactly one is allowed` };
  return { kind: 'proof', proof: proofs[0]! };
}

/** Cookie name → its first value, read with the finder's own tokenizer (sign-in reads its sealed cookies with it). */
export function cookieValues(headers: HeaderMap): Map<string, string> {
  const out = new Map<string, string>();
  for (const header of headers.get('cookie') ?? []) {
    for (const piece of cookiePieces(header)) if (piece.value !== undefined && piece.name !== '' && !out.has(piece.name)) out.set(piece.name, piece.value);
  }
  return out;
}

/** First 12 hex digits of SHA-256(token): enough to tell tokens apart in logs, useless to replay or reverse. */
export function tokenFingerprint(token: string): string {
  return createHash('sha256').update(token).digest('hex').slice(0, 12);
}
