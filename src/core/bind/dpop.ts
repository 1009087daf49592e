/**
 * A DPoP proof checked exactly as RFC 9449 §4.3 says, against the request it came with and the verified token it
 * claims to hold. Transport-free: the store, the nonces and the clock are injected.
 *
 * Order: the strict JWS parser (core/jws.ts: one spelling per proof, strict UTF-8 JSON) → typ → alg in
 * dpop.algorithms → the embedded jwk (public members only, a private member refused) → claims present → htm → htu →
 * iat window → ath → signature under the jwk (core/signature.ts, the token verifier's own WebCrypto parameters) →
 * thumbprint == cnf.jkt → nonce → jti consumed once per key thumbprint. Every cheap check runs before the signature,
 * and the jti is consumed last, so a proof refused for any other reason burns nothing.
 *
 * The token cache never holds a proof: this runs on every request, cached token or not. What a client repeats is
 * remembered, never a verdict: its header by the exact segment (with the jwk's thumbprint and key), and a cached
 * token's ath beside the token string. Every step above still runs on every proof.
 */
import { createPublicKey, hash, type KeyObject } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { Algorithm, DpopConfig, ReplayConfig } from '../config.ts';
import type { AuthRequest } from '../types.ts';
import type { DpopChallenge } from '../deny.ts';
import type { Explain } from '../explain.ts';
import { parseCompactJws, type HeaderMemo } from '../jws.ts';
import { indexOf } from '../cache.ts';
import { verifySignature } from '../signature.ts';
import { fits, PUBLIC_MEMBERS, type KeyEntry } from '../keys/keyset.ts';
import { Reasons } from '../reasons.ts';
import { consumeOnce, replayKey, replayTtlMs, type ReplayStore } from '../replay.ts';
import { clip } from '../text.ts';
import { normalizeHttpUri, requestUri } from './htu.ts';
import type { DpopNonces } from './nonce.ts';
import { BOUND, type BindResult } from './types.ts';

/** RFC 7517 / 7518 private and symmetric members: a proof's jwk with any of them is refused. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
/** A jti longer than this is refused (it is hashed into the store key, but a client needs no more). */
const MAX_JTI = 512;

/** What the bind step knows when it asks for a proof check. */
export interface ProofInput {
  readonly request: AuthRequest;
  readonly proof: string;
  readonly token: string;
  /** The token's cnf.jkt. */
  readonly jkt: string;
  /**
   * An object that lives as long as the verified token (the token cache hands the same one out on every hit): the
   * token's hash (ath) is remembered on it, beside the token string it was computed from, and used only for that string.
   */
  readonly holder?: object;
}

export class DpopProofs {
  readonly #config: DpopConfig;
  readonly #store: ReplayStore | null;
  readonly #onStoreError: ReplayConfig['onStoreError'];
  readonly #nonces: DpopNonces | null;
  readonly #now: () => number;
  /**
   * A client signs every proof under one header (typ, alg, jwk): decoded headers by their exact segment (the parser's
   * HeaderMemo), bounded in count and in characters, so a flood of distinct jwks only evicts. What a header's jwk
   * gives (its public members, thumbprint, KeyObject) hangs off the remembered header object and goes with it.
   */
  readonly #headers: HeaderCache;
  readonly #keys = new WeakMap<object, ProofKey>();
  /** The access token's SHA-256 by its holder (ProofInput.holder), with the token string it is the hash of. */
  readonly #aths = new WeakMap<object, { readonly token: string; readonly ath: string }>();

  constructor(opts: { config: DpopConfig; store: ReplayStore | null; onStoreError: ReplayConfig['onStoreError']; nonces: DpopNonces | null; now: () => number; cache?: { maxEntries: number; maxChars: number } }) {
    this.#headers = new HeaderCache(opts.cache ?? HEADER_CACHE);
    this.#config = opts.config;
    this.#store = opts.store;
    this.#onStoreError = opts.onStoreError;
    this.#nonces = opts.nonces;
    this.#now = opts.now;
  }

  /** The challenge of a deny of this kind (algs from the config; the current nonce with use_dpop_nonce). */
  challenge(error: DpopChallenge['error']): DpopChallenge {
    return {
      algs: this.#config.algorithms,
      ...(error !== undefined ? { error } : {}),
      ...(error === 'use_dpop_nonce' && this.#nonces !== null ? { nonce: this.#nonces.current() } : {}),
    };
  }

  /** With `explain` the jti is never consumed: explaining a request must not use up its proof. */
  async check(input: ProofInput, explain?: Explain): Promise<BindResult> {
    const step = explain === undefined ? undefined : (ok: boolean, detail: string) => explain({ check: 'dpop proof', ok, detail });
    const invalid = (message: string): BindResult => this.#invalid(message, step);

    const parsed = parseCompactJws(input.proof, this.#headers);
    if (!parsed.ok) return invalid(parsed.message);
    const { header, payload } = parsed.jws;
    if (header.typ !== 'dpop+jwt') return invalid('typ must be "dpop+jwt"');
    const alg = parsed.jws.alg;
    if (!(this.#config.algorithms as readonly string[]).includes(alg)) {
      return invalid(`alg ${JSON.stringify(clip(alg, 16))} is not accepted (dpop.algorithms: ${this.#config.algorithms.join(', ')})`);
    }
    const proofKey = this.#proofKey(header);
    const jwk = proofKey.jwk;
    if (typeof jwk === 'string') return invalid(jwk);
    if (!fits(jwk, alg as Algorithm)) return invalid(`the jwk (${jwk.kty}${jwk.crv !== undefined ? ` ${jwk.crv}` : ''}) cannot make ${alg} signatures`);

    const { jti, htm, htu, iat, ath } = payload;
    if (typeof jti !== 'string' || jti === '' || jti.length > MAX_JTI) return invalid(`jti must be a string of 1 to ${MAX_JTI} characters`);
    if (typeof htm !== 'string') return invalid('htm is missing');
    if (typeof htu !== 'string') return invalid('htu is missing');
    if (typeof iat !== 'number' || !Number.isFinite(iat)) return invalid('iat must be a number');
    if (typeof ath !== 'string') return invalid('ath is missing (a proof sent with an access token must carry its hash)');

    if (htm !== input.request.method) return invalid(`htm ${JSON.stringify(clip(htm, 16))} is not this request's method ${input.request.method}`);
    const target = requestUri(input.request.scheme, input.request.host, input.request.path);
    if (target === null) return invalid('the original scheme, host or path is unknown, so htu cannot be checked (the proxy must send them)');
    // A client that sends htu already normalized sends the target itself: normalizing is idempotent (htu.test.ts).
    if (htu !== target && normalizeHttpUri(htu) !== target) return invalid(`htu ${JSON.stringify(clip(htu, 128))} is not this request's URI ${target}`);

    const now = this.#now();
    if (now / 1000 - iat > this.#config.maxAgeMs / 1000) return invalid(`iat is more than dpop.max_age (${this.#config.maxAgeMs / 1000}s) in the past`);
    if (iat - now / 1000 > this.#config.leewayMs / 1000) return invalid(`iat is more than dpop.leeway (${this.#config.leewayMs / 1000}s) in the future`);
    if (ath !== this.#athOf(input)) return invalid('ath is not the hash of this access token: the proof was made for another token');

    const thumbprint = (proofKey.thumbprint ??= jwkThumbprint(jwk));
    const key = proofKey.key === undefined ? (proofKey.key = importKey(jwk)) : proofKey.key;
    if (key === null) return invalid('the jwk is not a valid public key');
    if (!(await verifySignature(parsed.jws, alg as Algorithm, key))) return invalid('signature verification failed under its jwk');
    if (thumbprint !== input.jkt) {
      const message = 'the proof is signed with another key than the one the token is bound to (cnf.jkt)';
      step?.(false, message);
      return { ok: false, status: 401, reason: Reasons.dpopBindingMismatch, message, dpop: this.challenge('invalid_token') };
    }

    let fresherNonce: string | undefined;
    if (this.#nonces !== null) {
      const nonce = payload.nonce;
      if (typeof nonce !== 'string' || !this.#nonces.accepts(nonce)) {
        const message = nonce === undefined ? 'the proof has no nonce; dpop.nonce requires the server nonce from DPoP-Nonce' : 'the proof nonce is not current; use the one in DPoP-Nonce';
        step?.(false, message);
        return { ok: false, status: 401, reason: Reasons.dpopNonceRequired, message, dpop: this.challenge('use_dpop_nonce') };
      }
      if (this.#nonces.isPrevious(nonce)) fresherNonce = this.#nonces.current();
    }

    const fresh: BindResult = fresherNonce !== undefined ? { ok: true, responseHeaders: [['dpop-nonce', fresherNonce]] } : BOUND;
    if (step !== undefined) {
      step(true, `valid ${alg} proof for ${htm} ${target} by key ${thumbprint}; jti ${JSON.stringify(clip(jti, 64))} would be consumed now (explain never consumes it)`);
      return fresh;
    }
    const ttl = replayTtlMs(iat, this.#config.maxAgeMs, now);
    const used = await consumeOnce(this.#store, replayKey(`dpop jkt ${thumbprint}`, jti), ttl, this.#onStoreError);
    if (used === 'fresh' || used === 'store_error_allowed') return fresh;
    if (used === 'replayed') return { ok: false, status: 401, reason: Reasons.dpopProofReplayed, message: 'this DPoP proof (its jti) was already used', dpop: this.challenge('invalid_dpop_proof') };
    return { ok: false, status: 503, reason: Reasons.replayStoreUnavailable, message: 'the replay store cannot be reached; DPoP proofs are refused until it is back' };
  }

  #invalid(message: string, step: ((ok: boolean, detail: string) => void) | undefined): BindResult {
    step?.(false, message);
    return { ok: false, status: 401, reason: Reasons.dpopProofInvalid, message: `DPoP proof: ${message}`, dpop: this.challenge('invalid_dpop_proof') };
  }

  /** RFC 9449 §4.2 ath: base64url(SHA-256(token)), once per cached token and only ever for that exact string. */
  #athOf({ token, holder }: ProofInput): string {
    if (holder === undefined) return hash('sha256', token, 'base64url');
    const known = this.#aths.get(holder);
    if (known !== undefined && known.token === token) return known.ath;
    const ath = hash('sha256', token, 'base64url');
    this.#aths.set(holder, { token, ath });
    return ath;
  }

  /** Remembered headers in the cache now (tests: a flood of distinct jwks stays bounded). */
  get cachedHeaders(): number {
    return this.#headers.size;
  }

  /**
   * What `header.jwk` gives, once per header object: a remembered header is deep frozen, so its jwk cannot change
   * under the entry. The thumbprint and KeyObject are filled in only when a proof gets that far (every cheap check
   * first), then reused by the client's next proofs (and signature.ts keeps the CryptoKey with the KeyObject).
   */
  #proofKey(header: Readonly<Record<string, unknown>>): ProofKey {
    let entry = this.#keys.get(header);
    if (entry === undefined) this.#keys.set(header, (entry = { jwk: publicJwk(header.jwk) }));
    return entry;
  }
}

/** Default bounds of the header cache: 10 000 clients, 8 Mi characters of header segments. */
const HEADER_CACHE = { maxEntries: 10_000, maxChars: 8 * 1024 * 1024 };

/**
 * The parser's HeaderMemo over a bounded LRU, indexed like the token cache (cache.ts `indexOf`): by the segment's last
 * characters, so a lookup does not hash the whole fresh segment, and a hit only when the whole segment is equal. Two
 * headers that share a tail share a slot (the later replaces the earlier); neither is ever answered for the other.
 */
class HeaderCache implements HeaderMemo {
  readonly #slots: LRUCache<string, { readonly segment: string; readonly header: Readonly<Record<string, unknown>> }>;

  constructor({ maxEntries, maxChars }: { maxEntries: number; maxChars: number }) {
    this.#slots = new LRUCache({ max: maxEntries, maxSize: maxChars, sizeCalculation: (slot) => Math.max(1, slot.segment.length) });
  }

  get(segment: string): Readonly<Record<string, unknown>> | undefined {
    const slot = this.#slots.get(indexOf(segment));
    return slot !== undefined && slot.segment === segment ? slot.header : undefined;
  }

  set(segment: string, header: Readonly<Record<string, unknown>>): void {
    this.#slots.set(indexOf(segment), { segment, header });
  }

  get size(): number {
    return this.#slots.size;
  }
}

/** A header's jwk, as far as the proofs under it needed it (undefined: not computed yet). */
interface ProofKey {
  readonly jwk: ProofJwk | string;
  thumbprint?: string;
  /** null: the members do not make a public key. */
  key?: KeyObject | null;
}

function importKey(jwk: ProofJwk): KeyObject | null {
  try {
    return createPublicKey({ key: jwk.members, format: 'jwk' });
  } catch {
    return null;
  }
}

interface ProofJwk extends Pick<KeyEntry, 'kty' | 'crv'> {
  /** The public members only (the thumbprint's members). */
  readonly members: Readonly<Record<string, string>>;
}

/** The proof's `jwk` header, public members only; a message when it is missing, private, symmetric or broken. */
function publicJwk(raw: unknown): ProofJwk | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'the header has no jwk object';
  const jwk = raw as Record<string, unknown>;
  if (PRIVATE_MEMBERS.some((m) => jwk[m] !== undefined)) return 'the jwk holds private or symmetric key material';
  const kty = jwk.kty;
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP') return `jwk kty ${JSON.stringify(clip(String(kty), 16))} is not an asymmetric signing key type`;
  const members: Record<string, string> = {};
  for (const m of PUBLIC_MEMBERS[kty]) {
    if (typeof jwk[m] !== 'string' || jwk[m] === '') return `jwk member ${m} is missing`;
    members[m] = jwk[m] as string;
  }
  return { kty, crv: members.crv, members };
}

/** RFC 7638: SHA-256 over the required members, sorted, without whitespace; base64url. */
export function jwkThumbprint(jwk: ProofJwk): string {
  const canonical = `{${Object.keys(jwk.members).sort().map((m) => `${JSON.stringify(m)}:${JSON.stringify(jwk.members[m])}`).join(',')}}`;
  return hash('sha256', canonical, 'base64url');
}
