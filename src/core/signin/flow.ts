/**
 * The sign-in endpoints' protocol, transport-free: /oauth2/start, the callback and /oauth2/sign_out take a
 * `SignInRequest` and answer a `SignInAnswer` (a redirect or an error, with Set-Cookie values). The HTTP adapter
 * (transports/http/signin.ts) only translates.
 *
 * The browser binding: start seals state, nonce, PKCE verifier, callback URL and return URL into a short-lived
 * host-only cookie named after the state; the callback accepts only a state whose cookie this browser holds, and
 * clears it (one use). Return URLs go through `checkedReturnUrl`, the login redirect's own rule.
 */
import { timingSafeEqual } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import type { HeaderMap } from '../types.ts';
import { SignInReasons as Reasons, type SignInReason } from '../reasons.ts';
import { checkedReturnUrl } from '../policy/login.ts';
import type { Verifier } from '../verify.ts';
import type { SignInConfig } from './types.ts';
import { Idp, SignInError } from './idp.ts';
import type { Sealer } from './seal.ts';
import { accessTokenCookies, CHUNK_BYTES, clearCookie, requestCookies, setCookie, signOutCookies } from './cookies.ts';

export interface SignInRequest {
  /** Host the browser addressed (host[:port]). */
  readonly host: string;
  /** 'https' or 'http' as the proxy reports it; '' when unknown (treated as not https). */
  readonly scheme: string;
  readonly query: URLSearchParams;
  readonly headers: HeaderMap;
}

export interface SignInAnswer {
  readonly status: 302 | 400 | 502 | 503;
  readonly reason: SignInReason;
  /** Safe to show and log: never token material. */
  readonly message: string;
  readonly location?: string;
  readonly setCookies: readonly string[];
}

export type RefreshResult = { readonly ok: true; readonly accessToken: string; readonly setCookies: readonly string[] } | { readonly ok: false; readonly message: string };

const STATE_SYNTAX = /^[A-Za-z0-9_-]{16,128}$/;

export interface SignInOptions {
  readonly config: SignInConfig;
  readonly idp: Idp;
  readonly sealer: Sealer;
  readonly verifier: Verifier;
}

export class SignIn {
  readonly #o: SignInOptions;
  readonly #c: SignInConfig;

  constructor(options: SignInOptions) {
    this.#o = options;
    this.#c = options.config;
  }

  get config(): SignInConfig {
    return this.#c;
  }

  async start(req: SignInRequest): Promise<SignInAnswer> {
    const origin = this.#origin(req);
    if ('status' in origin) return origin;
    const rd = checkedReturnUrl(req.query.get('rd') ?? '/', origin, this.#c.returnHosts) || `${origin.origin}/`;
    const state = oauth.generateRandomState();
    const nonce = oauth.generateRandomNonce();
    const verifier = oauth.generateRandomCodeVerifier();
    const callback = `${origin.origin}${this.#c.redirectPath}`;
    let location: string;
    try {
      location = await this.#o.idp.authorizationUrl(callback, state, nonce, verifier);
    } catch (e) {
      return fail(503, Reasons.signinUnavailable, `the identity provider is unavailable: ${(e as Error).message}`.slice(0, 200));
    }
    const sealed = await this.#o.sealer.seal('signin', { st: state, n: nonce, v: verifier, cb: callback, rd }, this.#c.stateMaxAgeMs);
    // Strict would keep the cookie off the provider's redirect back (a cross-site navigation): the state cookie is Lax at least.
    const sameSite = this.#c.cookie.sameSite === 'strict' ? 'lax' : this.#c.cookie.sameSite;
    const cookie = setCookie(this.#c.cookie, this.#stateCookie(state), sealed, { hostOnly: true, sameSite, maxAgeS: this.#c.stateMaxAgeMs / 1000 });
    return { status: 302, reason: Reasons.signinStarted, message: 'sign-in started', location, setCookies: [cookie] };
  }

  async callback(req: SignInRequest): Promise<SignInAnswer> {
    const origin = this.#origin(req);
    if ('status' in origin) return origin;
    const state = req.query.get('state') ?? '';
    if (!STATE_SYNTAX.test(state)) return fail(400, Reasons.signinStateMissing, 'the callback has no valid state');
    const name = this.#stateCookie(state);
    const value = requestCookies(req.headers).get(name);
    if (value === undefined) return fail(400, Reasons.signinStateMissing, 'this browser did not start this sign-in (no sign-in cookie for its state)');
    const clear = [clearCookie(this.#c.cookie, name, { hostOnly: true })];
    const opened = await this.#o.sealer.open('signin', value);
    if (!opened.ok) return fail(400, Reasons.signinStateInvalid, `the sign-in cookie is ${opened.why === 'expired' ? 'expired' : 'not valid'}`, clear);
    const p = opened.payload;
    const callback = `${origin.origin}${this.#c.redirectPath}`;
    if (typeof p['st'] !== 'string' || !same(p['st'], state) || p['cb'] !== callback) {
      return fail(400, Reasons.signinStateInvalid, 'the sign-in cookie belongs to another sign-in', clear);
    }
    let tokens;
    try {
      tokens = await this.#o.idp.exchange(req.query, state, callback, String(p['v']), String(p['n']));
    } catch (e) {
      if (e instanceof SignInError) return fail(400, Reasons.signinFailed, `sign-in failed: ${e.message}`, clear);
      return fail(503, Reasons.signinUnavailable, 'the identity provider is unavailable', clear);
    }
    const issued = await this.#issue(tokens.accessToken, tokens.refreshToken, tokens.idToken, requestCookies(req.headers));
    if (!issued.ok) return fail(502, Reasons.signinTokenRejected, issued.message, clear);
    return { status: 302, reason: Reasons.signinComplete, message: 'signed in', location: String(p['rd']), setCookies: [...clear, ...issued.setCookies] };
  }

  async signOut(req: SignInRequest): Promise<SignInAnswer> {
    const origin = this.#origin(req);
    if ('status' in origin) return origin;
    const rd = checkedReturnUrl(req.query.get('rd') ?? '/', origin, this.#c.returnHosts) || `${origin.origin}/`;
    const cookies = requestCookies(req.headers);
    let idToken: string | undefined;
    const session = cookies.get(this.#c.cookie.sessionName);
    if (session !== undefined) {
      const opened = await this.#o.sealer.open('session', session);
      if (opened.ok && typeof opened.payload['idt'] === 'string') idToken = opened.payload['idt'];
    }
    const end = await this.#o.idp.endSessionUrl(idToken, rd);
    return { status: 302, reason: Reasons.signedOut, message: 'signed out', location: end ?? rd, setCookies: signOutCookies(this.#c.cookie, new Set(cookies.keys())) };
  }

  /** A new access token from the session cookie's refresh token, with the cookies that store the result. */
  async refresh(cookies: ReadonlyMap<string, string>): Promise<RefreshResult> {
    const session = cookies.get(this.#c.cookie.sessionName);
    if (session === undefined) return { ok: false, message: 'no session cookie' };
    const opened = await this.#o.sealer.open('session', session);
    if (!opened.ok || typeof opened.payload['rt'] !== 'string') return { ok: false, message: 'the session cookie is not valid or holds no refresh token' };
    let tokens;
    try {
      tokens = await this.#o.idp.refresh(opened.payload['rt']);
    } catch (e) {
      return { ok: false, message: (e as Error).message };
    }
    const idToken = tokens.idToken ?? (typeof opened.payload['idt'] === 'string' ? opened.payload['idt'] : undefined);
    const issued = await this.#issue(tokens.accessToken, tokens.refreshToken, idToken, cookies);
    return issued.ok ? { ok: true, accessToken: tokens.accessToken, setCookies: issued.setCookies } : issued;
  }

  /** Verifies the provider's access token with our own verifier (a token we would refuse must not start a loop). */
  async #issue(accessToken: string, refreshToken: string | undefined, idToken: string | undefined, present: ReadonlyMap<string, string>): Promise<{ ok: true; setCookies: string[] } | { ok: false; message: string }> {
    const verified = await this.#o.verifier.verify(accessToken);
    if (!verified.ok) return { ok: false, message: `the provider's access token is not accepted here: ${verified.reason}` };
    const access = accessTokenCookies(this.#c.cookie, accessToken, this.#c.maxCookieBytes, new Set(present.keys()));
    if (access === null) return { ok: false, message: `the access token is larger than login.oidc.max_cookie_bytes (${this.#c.maxCookieBytes})` };
    const out = [...access];
    if (refreshToken !== undefined || idToken !== undefined) {
      const maxAgeS = this.#c.sessionMaxAgeMs / 1000;
      let sealed = await this.#o.sealer.seal('session', { ...(refreshToken ? { rt: refreshToken } : {}), ...(idToken ? { idt: idToken } : {}) }, this.#c.sessionMaxAgeMs);
      // The ID token is only a logout hint: drop it rather than overflow the cookie.
      if (sealed.length > CHUNK_BYTES && refreshToken) sealed = await this.#o.sealer.seal('session', { rt: refreshToken }, this.#c.sessionMaxAgeMs);
      if (sealed.length <= CHUNK_BYTES) out.push(setCookie(this.#c.cookie, this.#c.cookie.sessionName, sealed, { maxAgeS }));
    }
    return { ok: true, setCookies: out };
  }

  /** The origin the browser used, when it may sign in: https (unless cookies are not Secure), an allowed host, inside cookie.domain. */
  #origin(req: SignInRequest): { origin: string; host: string; scheme: string } | SignInAnswer {
    const scheme = req.scheme.toLowerCase();
    if (scheme !== 'https' && this.#c.cookie.secure) return fail(400, Reasons.signinInsecure, 'sign-in needs https (cookies are Secure)');
    const base = checkedReturnUrl('/', { host: req.host, scheme: scheme === 'https' ? 'https' : 'http' }, this.#c.returnHosts);
    if (base === '') return fail(400, Reasons.signinHostNotAllowed, 'this host may not sign in (login.oidc.return_hosts)');
    const url = new URL(base);
    const domain = this.#c.cookie.domain;
    if (domain !== undefined && url.hostname !== domain && !url.hostname.endsWith(`.${domain}`)) {
      return fail(400, Reasons.signinHostNotAllowed, 'this host is outside login.oidc.cookie.domain: the browser would refuse the cookie');
    }
    return { origin: url.origin, host: url.host, scheme: url.protocol.slice(0, -1) };
  }

  #stateCookie(state: string): string {
    return `${this.#c.cookie.stateName}_${state.slice(0, 16)}`;
  }
}

function fail(status: SignInAnswer['status'], reason: SignInReason, message: string, setCookies: readonly string[] = []): SignInAnswer {
  return { status, reason, message, setCookies };
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
