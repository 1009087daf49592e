/** Browser sign-in (`login.oidc`) as the core sees it once config validation has built it (config/signin.ts). */

export interface SignInCookieConfig {
  /** `Domain` attribute (e.g. "example.com" to share across subdomains); undefined = host-only cookies. */
  readonly domain: string | undefined;
  /** `Secure`, and sign-in refused on plain http. false only for local tests over http. */
  readonly secure: boolean;
  readonly sameSite: 'lax' | 'strict' | 'none';
  /** The access-token cookie Portcullis writes and its verifier reads (`tokens.cookies[0]`). */
  readonly accessName: string;
  /** The encrypted session cookie (refresh token, ID token for logout). */
  readonly sessionName: string;
  /** Prefix of the short-lived, encrypted cookies that carry state, nonce, PKCE verifier and return URL. */
  readonly stateName: string;
}

export interface SignInConfig {
  /** Exact issuer identifier; one of `issuers[]`, whose keys verify the ID token. */
  readonly issuer: string;
  /** OpenID Provider Configuration URL (issuer + /.well-known/openid-configuration). */
  readonly discoveryUrl: string;
  /** Plain http to the IdP is allowed (loopback, or the issuer's allow_insecure_http). */
  readonly allowInsecureHttp: boolean;
  readonly clientId: string;
  /** undefined = public client (PKCE only). Never logged. */
  readonly clientSecret: string | undefined;
  readonly scopes: readonly string[];
  readonly startPath: string;
  readonly redirectPath: string;
  readonly signOutPath: string;
  readonly cookie: SignInCookieConfig;
  /** Secrets for the session and state cookies, newest first: the first encrypts, all decrypt (rotation overlap). */
  readonly sessionKeys: readonly string[];
  /** Hosts the browser may be sent back to (and that may start a sign-in), as for `login.url`. */
  readonly returnHosts: readonly string[];
  /** Refresh when the access token expires within this window (ms). */
  readonly refreshBeforeMs: number;
  /** Max-Age of the session cookie (ms). */
  readonly sessionMaxAgeMs: number;
  /** How long a started sign-in may take (ms): the state cookie's lifetime. */
  readonly stateMaxAgeMs: number;
  /** Total bytes the access-token cookie may take over all its chunks. */
  readonly maxCookieBytes: number;
}
