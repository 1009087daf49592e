/**
 * Silent refresh, as a decorator around the authorizer: when the request carries our session cookie and its access
 * token has expired (or is missing, or expires within `refresh_before`), the refresh token gets a new access token,
 * the request is decided again with it, and the allow carries the Set-Cookie values in `responseHeaders` for each
 * adapter to render. A failed refresh changes nothing: a still-valid token is still allowed, an expired one gets the
 * deny it had (login redirect for navigations, 401 for APIs).
 *
 * Concurrent refreshes from one browser: providers rotate refresh tokens and may revoke a grant when an old one is
 * reused, so requests carrying the same refresh token share one refresh (single flight), and its result is reused
 * for a short while for requests that were already on their way with the old cookie. This is per process; across
 * replicas, a lost race leaves the losing request with its still-valid token or a login redirect, never a crash.
 */
import { createHash } from 'node:crypto';
import type { Allow, AuthRequest, Authorizer, Decision } from '../types.ts';
import { Reasons } from '../reasons.ts';
import type { Explain } from '../explain.ts';
import type { RefreshResult, SignIn } from './flow.ts';
import { requestCookies, withAccessToken } from './cookies.ts';
import { andThen, type Later } from '../sync.ts';

/** Denies a refresh can cure: the token is missing (the browser dropped it) or expired. Tampering is not cured. */
const CURABLE = new Set<string>([Reasons.tokenMissing, Reasons.tokenExpired]);
const REUSE_MS = 30_000;
const REUSE_MAX = 10_000;

export interface RefreshOptions {
  readonly forwardToken: boolean;
  readonly now: () => number;
}

type Checker = Authorizer & { check(request: AuthRequest, explain?: Explain): Later<Decision> };

export class RefreshingAuthorizer implements Authorizer {
  readonly #inner: Checker;
  readonly #signIn: SignIn;
  readonly #o: RefreshOptions;
  readonly #inflight = new Map<string, Promise<RefreshResult>>();
  readonly #recent = new Map<string, { readonly result: RefreshResult; readonly until: number }>();

  constructor(inner: Checker, signIn: SignIn, options: RefreshOptions) {
    this.#inner = inner;
    this.#signIn = signIn;
    this.#o = options;
  }

  /** Synchronous like the inner authorizer's answer unless a refresh is due. */
  check(request: AuthRequest, explain?: Explain): Later<Decision> {
    return andThen(this.#inner.check(request, explain), (decision) => {
      const cookies = requestCookies(request.headers);
      const session = cookies.get(this.#signIn.config.cookie.sessionName);
      if (session === undefined || !this.#due(decision)) return decision;
      return this.#refresh(request, explain, decision, session, cookies);
    });
  }

  async #refresh(request: AuthRequest, explain: Explain | undefined, decision: Decision, session: string, cookies: ReturnType<typeof requestCookies>): Promise<Decision> {
    let result: RefreshResult;
    try {
      result = await this.#shared(session, cookies);
    } catch {
      return decision;
    }
    explain?.({ check: 'refresh', ok: result.ok, detail: result.ok ? 'the session cookie got a new access token' : result.message });
    if (!result.ok) return decision;
    const cookieHeader = withAccessToken(request.headers, this.#signIn.config.cookie.accessName, result.accessToken);
    const headers = new Map(request.headers);
    headers.set('cookie', [cookieHeader]);
    const again = await this.#inner.check({ ...request, headers }, explain);
    if (again.kind !== 'allow') return decision;
    const refreshed: Allow = {
      ...again,
      reason: Reasons.tokenRefreshed,
      responseHeaders: [...(again.responseHeaders ?? []), ...result.setCookies.map((c) => ['set-cookie', c] as const)],
      // Envoy: the upstream sees the new token, as the browser will send it from now on.
      ...(this.#o.forwardToken && again.setHeaders === undefined ? { setHeaders: [['cookie', cookieHeader] as const] } : {}),
    };
    return refreshed;
  }

  #due(decision: Decision): boolean {
    if (decision.kind === 'deny') return (decision.status === 401 || decision.status === 302) && CURABLE.has(decision.reason);
    const exp = decision.claims?.['exp'];
    return decision.reason === Reasons.tokenValid && typeof exp === 'number' && exp * 1000 - this.#o.now() <= this.#signIn.config.refreshBeforeMs;
  }

  #shared(session: string, cookies: ReadonlyMap<string, string>): Promise<RefreshResult> {
    const key = createHash('sha256').update(session).digest('base64url');
    const now = this.#o.now();
    const recent = this.#recent.get(key);
    if (recent !== undefined && recent.until > now) return Promise.resolve(recent.result);
    let p = this.#inflight.get(key);
    if (p === undefined) {
      p = this.#signIn.refresh(cookies).then((result) => {
        if (result.ok) {
          if (this.#recent.size >= REUSE_MAX) this.#recent.clear();
          this.#recent.set(key, { result, until: this.#o.now() + REUSE_MS });
        }
        return result;
      });
      this.#inflight.set(key, p);
      const done = (): void => void this.#inflight.delete(key);
      p.then(done, done);
    }
    return p;
  }
}
