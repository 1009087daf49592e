/**
 * The OpenID Provider as sign-in talks to it, through panva's oauth4webapi: discovery (cached, retried after a
 * failure), the authorization URL (PKCE S256, state, nonce), the code exchange with ID token validation (issuer,
 * audience = client_id, nonce, expiry — by oauth4webapi — and the signature with the issuer's configured keys —
 * here), refresh, and the end-session URL. Network and clock are injected.
 */
import * as oauth from 'oauth4webapi';
import type { Algorithm } from '../config.ts';
import type { KeySource } from '../keys/source.ts';
import { parseCompactJws } from '../jws.ts';
import { verifySignature } from '../signature.ts';
import type { SignInConfig } from './types.ts';

export type HttpFetch = (url: string, init: RequestInit) => Promise<Response>;

export interface IdpOptions {
  readonly config: SignInConfig;
  readonly fetch: HttpFetch;
  readonly now: () => number;
  readonly timeoutMs: number;
  /** The sign-in issuer's key source (its `issuers[]` entry): verifies ID token signatures. */
  readonly keys: KeySource;
  readonly algorithms: readonly Algorithm[];
}

export interface Tokens {
  readonly accessToken: string;
  readonly refreshToken: string | undefined;
  readonly idToken: string | undefined;
}

/** A failure the browser is told about in general terms; `detail` is for logs (never token material). */
export class SignInError extends Error {
  readonly code: string;
  constructor(code: string, detail: string) {
    super(detail);
    this.code = code;
  }
}

export class Idp {
  readonly #o: IdpOptions;
  #server: Promise<oauth.AuthorizationServer> | undefined;

  constructor(options: IdpOptions) {
    this.#o = options;
  }

  // Typed loosely on purpose: oauth4webapi's per-request option types differ only in the custom fetch's method/body.
  #http(): any {
    return {
      [oauth.customFetch]: (url: string, init: RequestInit) => this.#o.fetch(url, init),
      [oauth.allowInsecureRequests]: this.#o.config.allowInsecureHttp || isLoopbackHttp(this.#o.config.discoveryUrl),
      signal: () => AbortSignal.timeout(this.#o.timeoutMs),
    };
  }

  #client(): oauth.Client {
    // oauth4webapi checks iat/exp against Date.now() + clockSkew: align it with the injected clock.
    return { client_id: this.#o.config.clientId, [oauth.clockSkew]: Math.round((this.#o.now() - Date.now()) / 1000) };
  }

  #auth(): oauth.ClientAuth {
    return this.#o.config.clientSecret === undefined ? oauth.None() : oauth.ClientSecretBasic(this.#o.config.clientSecret);
  }

  /** The provider metadata; a failed discovery is retried on the next call. */
  server(): Promise<oauth.AuthorizationServer> {
    if (this.#server === undefined) {
      const issuer = new URL(this.#o.config.issuer);
      const p = (async () => {
        const response = await oauth.discoveryRequest(issuer, { ...this.#http(), algorithm: 'oidc' });
        return oauth.processDiscoveryResponse(issuer, response);
      })();
      this.#server = p;
      p.catch(() => {
        if (this.#server === p) this.#server = undefined;
      });
    }
    return this.#server;
  }

  async authorizationUrl(callbackUrl: string, state: string, nonce: string, verifier: string): Promise<string> {
    const as = await this.server();
    if (as.authorization_endpoint === undefined) throw new SignInError('signin_failed', 'the provider publishes no authorization_endpoint');
    const url = new URL(as.authorization_endpoint);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', this.#o.config.clientId);
    url.searchParams.set('redirect_uri', callbackUrl);
    url.searchParams.set('scope', this.#o.config.scopes.join(' '));
    url.searchParams.set('state', state);
    url.searchParams.set('nonce', nonce);
    url.searchParams.set('code_challenge', await oauth.calculatePKCECodeChallenge(verifier));
    url.searchParams.set('code_challenge_method', 'S256');
    if (this.#o.config.scopes.includes('offline_access')) url.searchParams.set('prompt', 'consent');
    return url.href;
  }

  /** Validates the callback parameters (state, RFC 9207 iss, error), exchanges the code, validates the ID token. */
  async exchange(params: URLSearchParams, expectedState: string, callbackUrl: string, verifier: string, nonce: string): Promise<Tokens> {
    const as = await this.server();
    const client = this.#client();
    let tokens: oauth.TokenEndpointResponse;
    try {
      const checked = oauth.validateAuthResponse(as, client, params, expectedState);
      const response = await oauth.authorizationCodeGrantRequest(as, client, this.#auth(), checked, callbackUrl, verifier, this.#http());
      tokens = await oauth.processAuthorizationCodeResponse(as, client, response, { expectedNonce: nonce, requireIdToken: true });
    } catch (e) {
      throw new SignInError('signin_failed', describe(e));
    }
    await this.#verifySignature(tokens.id_token!);
    return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token, idToken: tokens.id_token };
  }

  async refresh(refreshToken: string): Promise<Tokens> {
    const as = await this.server();
    const client = this.#client();
    let tokens: oauth.TokenEndpointResponse;
    try {
      const response = await oauth.refreshTokenGrantRequest(as, client, this.#auth(), refreshToken, this.#http());
      tokens = await oauth.processRefreshTokenResponse(as, client, response);
    } catch (e) {
      throw new SignInError('refresh_failed', describe(e));
    }
    if (tokens.id_token !== undefined) await this.#verifySignature(tokens.id_token);
    return { accessToken: tokens.access_token, refreshToken: tokens.refresh_token ?? refreshToken, idToken: tokens.id_token };
  }

  /** RP-initiated logout URL, or undefined when the provider publishes no end_session_endpoint. */
  async endSessionUrl(idTokenHint: string | undefined, postLogoutRedirectUri: string): Promise<string | undefined> {
    let as: oauth.AuthorizationServer;
    try {
      as = await this.server();
    } catch {
      return undefined;
    }
    if (typeof as.end_session_endpoint !== 'string') return undefined;
    const url = new URL(as.end_session_endpoint);
    url.searchParams.set('client_id', this.#o.config.clientId);
    if (idTokenHint !== undefined) url.searchParams.set('id_token_hint', idTokenHint);
    url.searchParams.set('post_logout_redirect_uri', postLogoutRedirectUri);
    return url.href;
  }

  /** The ID token's signature, with a key from the issuer's configured key source and an allowed algorithm. */
  async #verifySignature(idToken: string): Promise<void> {
    const parsed = parseCompactJws(idToken);
    if (!parsed.ok) throw new SignInError('signin_failed', `ID token: ${parsed.message}`);
    const alg = parsed.jws.alg as Algorithm;
    if (!this.#o.algorithms.includes(alg)) throw new SignInError('signin_failed', `ID token algorithm ${parsed.jws.alg.slice(0, 16)} is not allowed`);
    const found = await this.#o.keys.lookup(parsed.jws.kid, alg);
    if (found.kind !== 'found') throw new SignInError('signin_failed', `ID token key: ${found.message}`);
    if (!(await verifySignature(parsed.jws, alg, found.entry.key))) throw new SignInError('signin_failed', 'ID token signature is invalid');
  }
}

function isLoopbackHttp(url: string): boolean {
  const u = new URL(url);
  return u.protocol === 'http:' && ['localhost', '127.0.0.1', '[::1]'].includes(u.hostname);
}

function describe(e: unknown): string {
  if (e instanceof oauth.ResponseBodyError) return `${e.error}${e.error_description ? `: ${e.error_description}` : ''}`.slice(0, 200);
  if (e instanceof oauth.AuthorizationResponseError) return `${e.error}${e.error_description ? `: ${e.error_description}` : ''}`.slice(0, 200);
  return ((e as Error)?.message ?? String(e)).slice(0, 200);
}
