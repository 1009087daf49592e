/**
 * One issuer's introspection endpoint (RFC 7662): `POST` form-encoded `token` + `token_type_hint=access_token`,
 * authenticated with the configured client credentials (oauth4webapi builds the request: Basic, form body or a
 * private_key_jwt assertion), bounded by a timeout and a size limit on the answer.
 *
 * The answer is JSON (parsed by the same strict function as JWS payloads), or an RFC 9701
 * `application/token-introspection+jwt` that the issuer's own keys must verify (the same signature path as access
 * tokens). Anything else, and every network or HTTP failure, is `unavailable`: the caller denies 503 and never allows.
 * A refusal of our client credentials is reported as an event at most once per interval, with the IdP's error (never
 * our secret). I/O comes in through the injected fetch, time through the injected clock.
 */
import * as oauth from 'oauth4webapi';
import type { KeyObject, webcrypto } from 'node:crypto';
import type { IntrospectionConfig, IssuerConfig } from '../config.ts';
import { parseCompactJws } from '../jws.ts';
import { parseJsonObject } from '../text.ts';
import { causeOf, discover, readLimitedBytes, type FetchLike } from '../keys/loaders.ts';
import { inChildSpan } from '../tracing.ts';
import { clip } from '../text.ts';
import { verifyJws, type TrustedIssuer } from '../verify.ts';

/** What the endpoint said about one token. */
export type IntrospectionAnswer =
  | { readonly kind: 'active'; readonly claims: Readonly<Record<string, unknown>>; readonly bytes: number }
  | { readonly kind: 'inactive' }
  | { readonly kind: 'unavailable'; readonly message: string };

export type IntrospectionOutcome = 'active' | 'inactive' | 'error' | 'client_auth_refused';
export const INTROSPECTION_OUTCOMES: readonly IntrospectionOutcome[] = ['active', 'inactive', 'error', 'client_auth_refused'];

export type IntrospectionEvent =
  /** Every call: its outcome and how long it took. */
  | { readonly type: 'introspection_call'; readonly issuer: string; readonly outcome: IntrospectionOutcome; readonly seconds: number }
  /** Our client credentials were refused: at most once per REFUSAL_LOG_INTERVAL_MS per issuer. */
  | { readonly type: 'introspection_client_refused'; readonly issuer: string; readonly status: number; readonly error: string };

/** The largest answer read; a bigger one is a failure (an answer is a few hundred bytes). */
export const MAX_ANSWER_BYTES = 65_536;
export const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** The POST the endpoint needs: the runtime's fetch is the global fetch (or a test's stand-in for it). */
export type PostFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface IntrospectorOptions {
  readonly issuer: IssuerConfig & { readonly introspection: IntrospectionConfig };
  /** The issuer's key source: verifies RFC 9701 signed answers. */
  readonly keys: TrustedIssuer['keys'];
  readonly fetch: PostFetch;
  readonly now: () => number;
  /** Is this discovered endpoint acceptable (https, or http where the config allows it)? The problem, or null. */
  readonly checkUrl: (url: string) => string | null;
  readonly onEvent?: (event: IntrospectionEvent) => void;
}

class Unavailable extends Error {
  readonly outcome: IntrospectionOutcome;
  constructor(message: string, outcome: IntrospectionOutcome = 'error') {
    super(message);
    this.outcome = outcome;
  }
}

export class Introspector {
  readonly #o: IntrospectorOptions;
  readonly #config: IntrospectionConfig;
  #endpoint: Promise<string> | undefined;
  #lastRefusalAt = Number.NEGATIVE_INFINITY;
  #auth: oauth.ClientAuth | undefined;

  constructor(options: IntrospectorOptions) {
    this.#o = options;
    this.#config = options.issuer.introspection;
    if (this.#config.endpoint !== undefined) this.#endpoint = Promise.resolve(this.#config.endpoint);
  }

  get issuer(): string {
    return this.#o.issuer.issuer;
  }

  /** Never rejects. */
  introspect(token: string): Promise<IntrospectionAnswer> {
    const issuer = this.#o.issuer.issuer;
    return inChildSpan('portcullis.introspection', { 'portcullis.issuer': issuer }, async (span) => {
      const started = performance.now();
      let answer: IntrospectionAnswer;
      let outcome: IntrospectionOutcome;
      try {
        answer = await this.#call(token);
        outcome = answer.kind === 'active' ? 'active' : 'inactive';
      } catch (e) {
        outcome = e instanceof Unavailable ? e.outcome : 'error';
        answer = { kind: 'unavailable', message: `introspection at ${issuer} failed: ${(e as Error).message}` };
      }
      span?.setAttribute('portcullis.introspection.outcome', outcome);
      this.#o.onEvent?.({ type: 'introspection_call', issuer, outcome, seconds: (performance.now() - started) / 1000 });
      return answer;
    });
  }

  async #call(token: string): Promise<IntrospectionAnswer> {
    const endpoint = await this.#endpointUrl();
    const c = this.#config;
    const signal = AbortSignal.timeout(c.timeoutMs);
    const as: oauth.AuthorizationServer = { issuer: this.#o.issuer.issuer, introspection_endpoint: endpoint };
    // oauth4webapi dates client assertions by Date.now() + clockSkew: align it with the injected clock.
    const client: oauth.Client = { client_id: c.clientId, [oauth.clockSkew]: Math.round((this.#o.now() - Date.now()) / 1000) };
    let res: Response;
    try {
      res = await oauth.introspectionRequest(as, client, this.#clientAuth(), token, {
        additionalParameters: { token_type_hint: 'access_token' },
        // JSON, or a signed answer (RFC 9701) when the IdP signs them for this client.
        headers: {},
        [oauth.customFetch]: (url: string, init: RequestInit) => {
          const headers = new Headers(init.headers);
          headers.set('accept', 'application/token-introspection+jwt, application/json;q=0.9');
          return this.#o.fetch(url, { ...init, headers, redirect: 'error' });
        },
        // The URL was checked already (config, or checkUrl for a discovered one): http only where allowed.
        [oauth.allowInsecureRequests]: true,
        signal,
      } as oauth.IntrospectionRequestOptions);
    } catch (e) {
      throw new Unavailable(signal.aborted ? `no answer within ${c.timeoutMs}ms` : `request failed: ${causeOf(e)}`);
    }
    const body = await readLimitedBytes(res, MAX_ANSWER_BYTES, signal).catch((e: Error) => {
      throw new Unavailable(signal.aborted ? `no answer within ${c.timeoutMs}ms` : e.message);
    });
    if (res.status !== 200) throw this.#refusal(res.status, body);
    const type = (res.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    let answer: Readonly<Record<string, unknown>>;
    if (type === 'application/json') {
      const decoded = parseJsonObject(body);
      if (typeof decoded === 'string') throw new Unavailable(`the answer is not a JSON object of text (${decoded === 'not_utf8' ? 'not UTF-8' : decoded === 'not_unicode' ? 'a string with a lone surrogate' : 'not an object'})`);
      answer = decoded;
    } else if (type === 'application/token-introspection+jwt') {
      answer = await this.#signedAnswer(body.toString('latin1'));
    } else {
      throw new Unavailable(`the answer has content-type ${JSON.stringify(clip(type || 'none'))}, not application/json`);
    }
    if (answer.active !== true) {
      if (answer.active !== false) throw new Unavailable('the answer has no boolean "active"');
      return { kind: 'inactive' };
    }
    return { kind: 'active', claims: answer, bytes: body.length };
  }

  /** RFC 9701: the JWT's own checks (typ, iss, aud = our client_id), then its `token_introspection` member. */
  async #signedAnswer(text: string): Promise<Readonly<Record<string, unknown>>> {
    const parsed = parseCompactJws(text);
    if (!parsed.ok) throw new Unavailable(`the signed answer is malformed: ${parsed.message}`);
    const typ = parsed.jws.header.typ;
    if (typeof typ !== 'string' || typ.toLowerCase().replace(/^application\//, '') !== 'token-introspection+jwt') {
      throw new Unavailable('the signed answer\'s typ is not token-introspection+jwt');
    }
    const signed = await verifyJws({ config: this.#o.issuer, keys: this.#o.keys }, parsed.jws, () => {});
    if (!signed.ok) throw new Unavailable(`the signed answer does not verify with the issuer's keys: ${signed.message}`);
    const { iss, aud, token_introspection: inner } = parsed.jws.payload;
    if (iss !== this.#o.issuer.issuer) throw new Unavailable('the signed answer names another issuer');
    const auds = typeof aud === 'string' ? [aud] : Array.isArray(aud) ? aud : [];
    if (!auds.includes(this.#config.clientId)) throw new Unavailable('the signed answer is not addressed to our client_id');
    if (typeof inner !== 'object' || inner === null || Array.isArray(inner)) throw new Unavailable('the signed answer has no token_introspection object');
    return inner as Record<string, unknown>;
  }

  /** A non-200 answer: our credentials refused (reported once per interval), or the endpoint failing. */
  #refusal(status: number, body: Buffer): Unavailable {
    const decoded = parseJsonObject(body);
    const error = typeof decoded === 'object' && typeof decoded.error === 'string' ? decoded.error : undefined;
    const description = typeof decoded === 'object' && typeof decoded.error_description === 'string' ? decoded.error_description : undefined;
    const said = error === undefined ? '' : `: ${clip(error, 64)}${description !== undefined ? ` (${clip(description, 200)})` : ''}`;
    if (status === 401 || status === 403 || error === 'invalid_client' || error === 'unauthorized_client') {
      const now = this.#o.now();
      if (now - this.#lastRefusalAt >= REFUSAL_LOG_INTERVAL_MS) {
        this.#lastRefusalAt = now;
        this.#o.onEvent?.({ type: 'introspection_client_refused', issuer: this.#o.issuer.issuer, status, error: `HTTP ${status}${said}` });
      }
      return new Unavailable(`the endpoint refused our client credentials (HTTP ${status}${said})`, 'client_auth_refused');
    }
    return new Unavailable(`HTTP ${status}${said}`);
  }

  #clientAuth(): oauth.ClientAuth {
    if (this.#auth !== undefined) return this.#auth;
    const c = this.#config;
    if (c.authMethod === 'private_key_jwt') {
      const key = assertionKey(c.privateKey!.reveal());
      this.#auth = oauth.PrivateKeyJwt(c.privateKeyId !== undefined ? { key, kid: c.privateKeyId } : key);
    } else {
      const secret = c.clientSecret!.reveal();
      this.#auth = c.authMethod === 'client_secret_post' ? oauth.ClientSecretPost(secret) : oauth.ClientSecretBasic(secret);
    }
    return this.#auth;
  }

  /** The configured endpoint, or the discovered one (a failed discovery is tried again on the next call). */
  #endpointUrl(): Promise<string> {
    if (this.#endpoint === undefined) {
      const i = this.#o.issuer;
      const p = discover({ discoveryUrl: i.discoveryUrl!, issuer: i.issuer, fetch: this.#o.fetch as FetchLike, timeoutMs: this.#config.timeoutMs, maxBytes: MAX_ANSWER_BYTES }).then(
        (meta) => {
          const url = meta.introspection_endpoint;
          if (typeof url !== 'string') throw new Unavailable('the discovery document has no introspection_endpoint');
          const problem = this.#o.checkUrl(url);
          if (problem) throw new Unavailable(`discovered introspection_endpoint ${JSON.stringify(clip(url, 200))}: ${problem}`);
          return url;
        },
        (e: Error) => {
          throw e instanceof Unavailable ? e : new Unavailable(`discovery failed: ${e.message}`);
        },
      );
      this.#endpoint = p;
      p.catch(() => {
        if (this.#endpoint === p) this.#endpoint = undefined;
      });
    }
    return this.#endpoint;
  }
}

/** The WebCrypto form oauth4webapi signs client assertions with; the algorithm follows from the key. */
function assertionKey(key: KeyObject): webcrypto.CryptoKey {
  const d = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
      return key.toCryptoKey({ name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, false, ['sign']);
    case 'ec':
      return key.toCryptoKey({ name: 'ECDSA', namedCurve: d?.namedCurve === 'secp384r1' ? 'P-384' : d?.namedCurve === 'secp521r1' ? 'P-521' : 'P-256' }, false, ['sign']);
    default:
      return key.toCryptoKey({ name: 'Ed25519' }, false, ['sign']);
  }
}
