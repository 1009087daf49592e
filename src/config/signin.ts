/**
 * `login.oidc`: the schema of browser sign-in and the checks that span keys (issuer known, cookie names, session
 * keys readable and strong, secret from a file or PORTCULLIS_OIDC_CLIENT_SECRET). `login.url` and `login.oidc` are
 * alternatives: both end up as the one login redirect of core/policy/login.ts.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { array, boolean, def, duration, integer, INVALID, object, oneOf, opt, req, string, withSchema, type Parser } from './kit.ts';
import { hostPattern, login, type RawLogin } from './policy-schema.ts';
import type { SignInConfig } from '../core/signin/types.ts';
import type { LoginRedirect } from '../core/policy/types.ts';
import { readSecretFile } from './secret-file.ts';

export const START_PATH = '/oauth2/start';
export const SIGN_OUT_PATH = '/oauth2/sign_out';
export const SESSION_COOKIE = 'portcullis_session';
export const STATE_COOKIE = 'portcullis_signin';
/** Shortest accepted session secret (characters of the file line); 32 random characters or more. */
const MIN_KEY_CHARS = 32;

const nonEmpty = string((s) => (s === '' ? 'must not be empty' : null));
const pathKey = string((s) => (/^(\/[A-Za-z0-9._~-]+)+$/.test(s) && !/\/\.\.?(?:\/|$)/.test(s) ? null : `"${s}" must be a path like "/oauth2/callback"`));
const scope = string((s) => (/^[\x21\x23-\x5b\x5d-\x7e]+$/.test(s) ? null : `"${s}" is not a valid scope token`));
/** A registrable-looking domain: at least two labels (a bare TLD would hand the cookie to every site under it). */
const cookieDomain = string((s) => {
  const d = s.replace(/^\./, '');
  return /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/.test(d) ? null : `"${s}" must be a lower-case domain with at least two labels`;
});
const many = array(nonEmpty, { min: 1, unique: true });
const oneOrMany: Parser<string[]> = withSchema(
  (v, path, errors) => (typeof v === 'string' ? (nonEmpty(v, path, errors) === INVALID ? INVALID : [v]) : many(v, path, errors)),
  (ref, path) => ({ anyOf: [ref(nonEmpty, path), ref(many, path)] }),
);

const COOKIE_DEFAULTS = { domain: undefined, secure: true, same_site: 'lax' as const };

export const oidcSchema = object({
  issuer: req(nonEmpty, 'must be one of issuers[]: its keys also verify the ID token'),
  client_id: req(nonEmpty, 'the OAuth client id'),
  client_secret_file: opt(nonEmpty, 'file holding the client secret; or env PORTCULLIS_OIDC_CLIENT_SECRET; neither = public client'),
  scopes: def(array(scope, { min: 1, unique: true }), ['openid'], 'requested scopes; must include openid (offline_access for a refresh token)'),
  redirect_path: def(pathKey, '/oauth2/callback', 'callback path; register <origin><redirect_path> at the provider for each host'),
  cookie: def(
    object({
      domain: opt(cookieDomain, 'share the sign-in across subdomains (leading dot ignored)'),
      secure: def(boolean, true, 'false only for a local test over http'),
      same_site: def(oneOf(['lax', 'strict', 'none'] as const), 'lax', 'lax, strict or none (none needs secure)'),
    }),
    COOKIE_DEFAULTS,
    'attributes of the access-token and session cookies',
  ),
  session_key_file: req(oneOrMany, 'file(s) of session secrets, one per line, newest first (at least 32 characters)'),
  return_hosts: def(array(hostPattern, { unique: true }), [] as string[], 'hosts that may sign in and be returned to (exact or *.example.com)'),
  refresh_before: def(duration(0), 60_000, 'refresh when the access token expires within this window'),
  session_max_age: def(duration(60_000), 30 * 86_400_000, 'Max-Age of the session cookie'),
  state_max_age: def(duration(10_000), 600_000, 'how long a started sign-in may take'),
  /** Default: tokens.max_bytes (the finder's bound on a joined cookie token). */
  max_cookie_bytes: opt(integer(1024, 1_048_576), 'the access token\'s cookies, all chunks together; default tokens.max_bytes'),
});

const oidcLogin = object({ oidc: req(oidcSchema, 'Portcullis runs the OIDC sign-in itself (docs/sign-in.md)') });

export type RawOidc = Exclude<ReturnType<typeof oidcSchema>, typeof INVALID>;
export type RawGlobalLogin = RawLogin | { oidc: RawOidc };

/** Top-level `login`: `{ url, return_hosts }` or `{ oidc: {...} }`, never both. */
export const globalLogin: Parser<RawGlobalLogin> = withSchema((v, path, errors) => {
  if (typeof v === 'object' && v !== null && !Array.isArray(v) && 'oidc' in v) {
    const extra = Object.keys(v).filter((k) => k !== 'oidc');
    if (extra.length > 0) {
      errors.push(`${path}: login.oidc and ${extra.join(', ')} are alternatives (give return_hosts under login.oidc)`);
      return INVALID;
    }
    return oidcLogin(v, path, errors) as RawGlobalLogin | typeof INVALID;
  }
  return login(v, path, errors);
}, (ref, path) => ({ anyOf: [ref(login, path), ref(oidcLogin, path)] }));

/** Where a browser navigation without a usable token is sent: our own start endpoint, on the request's origin. */
export function signInLogin(oidc: RawOidc): LoginRedirect {
  return { url: `${START_PATH}?rd={return_url}`, returnHosts: oidc.return_hosts };
}

export interface SignInContext {
  readonly issuers: readonly { readonly issuer: string; readonly discoveryUrl?: string; readonly allowInsecureHttp: boolean }[];
  readonly tokenCookies: readonly string[];
  /** tokens.max_bytes: the finder refuses a joined cookie token above it. */
  readonly tokenMaxBytes: number;
  readonly reservedPaths: readonly string[];
  /** envoy_http.path_prefix: everything under it is an Envoy authorization request. */
  readonly envoyPrefix?: string;
  readonly baseDir: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** config/schema.ts insecureUrlProblem (passed in: schema.ts imports this file). */
  readonly urlProblem: (url: string, allowInsecureHttp: boolean) => string | null;
}

export function toSignInConfig(raw: RawOidc, ctx: SignInContext, problems: string[]): SignInConfig {
  const at = 'login.oidc';
  const issuer = ctx.issuers.find((i) => i.issuer === raw.issuer);
  if (!issuer) problems.push(`${at}.issuer: ${JSON.stringify(raw.issuer)} must be one of issuers[] (its keys verify the ID token)`);
  const accessName = ctx.tokenCookies[0];
  if (accessName === undefined) problems.push(`${at}: tokens.cookies is empty, so there is no cookie to put the access token in`);
  if (raw.max_cookie_bytes !== undefined && raw.max_cookie_bytes > ctx.tokenMaxBytes) problems.push(`${at}.max_cookie_bytes: ${raw.max_cookie_bytes} exceeds tokens.max_bytes (${ctx.tokenMaxBytes}): such a cookie would be refused when read`);
  if (!raw.scopes.includes('openid')) problems.push(`${at}.scopes: must include "openid"`);
  if (raw.cookie.same_site === 'none' && !raw.cookie.secure) problems.push(`${at}.cookie.same_site: none needs secure: true (browsers drop it otherwise)`);
  if (raw.return_hosts.length === 0) problems.push(`${at}.return_hosts: must list the hosts that may sign in (e.g. ["app.example.com"])`);
  for (const path of [START_PATH, raw.redirect_path, SIGN_OUT_PATH]) {
    if (ctx.reservedPaths.includes(path)) problems.push(`${at}.redirect_path: ${path} is already served on the HTTP listener`);
    if (ctx.envoyPrefix !== undefined && (path === ctx.envoyPrefix || path.startsWith(`${ctx.envoyPrefix}/`))) problems.push(`envoy_http.path_prefix: ${ctx.envoyPrefix} would take over the sign-in path ${path}`);
  }
  if (raw.redirect_path === START_PATH || raw.redirect_path === SIGN_OUT_PATH) problems.push(`${at}.redirect_path: ${raw.redirect_path} is the start or sign-out endpoint`);

  const sessionKeys: string[] = [];
  raw.session_key_file.forEach((file, i) => {
    const where = typeof raw.session_key_file === 'string' || raw.session_key_file.length === 1 ? `${at}.session_key_file` : `${at}.session_key_file[${i}]`;
    const full = resolve(ctx.baseDir, file);
    let text: string;
    try {
      text = readFileSync(full, 'utf8');
    } catch (e) {
      problems.push(`${where}: cannot read ${full}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
      return;
    }
    const keys = parseKeyLines(text);
    if (keys.length === 0) problems.push(`${where}: ${full} holds no key (one secret of at least ${MIN_KEY_CHARS} characters per line, newest first)`);
    keys.forEach((k, n) => {
      if (k.length < MIN_KEY_CHARS) problems.push(`${where}: key on line ${n + 1} of ${full} is shorter than ${MIN_KEY_CHARS} characters`);
      else sessionKeys.push(k);
    });
  });

  let clientSecret: string | undefined;
  if (raw.client_secret_file !== undefined) {
    clientSecret = readSecretFile(raw.client_secret_file, `${at}.client_secret_file`, ctx.baseDir, problems);
  } else if (ctx.env['PORTCULLIS_OIDC_CLIENT_SECRET']) {
    clientSecret = ctx.env['PORTCULLIS_OIDC_CLIENT_SECRET'];
  }

  const base = raw.issuer.replace(/\/+$/, '');
  const discoveryUrl = issuer?.discoveryUrl ?? `${base}/.well-known/openid-configuration`;
  const urlProblem = issuer ? ctx.urlProblem(discoveryUrl, issuer.allowInsecureHttp) : null;
  if (urlProblem) problems.push(`${at}.issuer: discovery at ${discoveryUrl} ${urlProblem}`);
  return {
    issuer: raw.issuer,
    discoveryUrl,
    allowInsecureHttp: issuer?.allowInsecureHttp ?? false,
    clientId: raw.client_id,
    clientSecret,
    scopes: raw.scopes,
    startPath: START_PATH,
    redirectPath: raw.redirect_path,
    signOutPath: SIGN_OUT_PATH,
    cookie: {
      domain: raw.cookie.domain?.replace(/^\./, ''),
      secure: raw.cookie.secure,
      sameSite: raw.cookie.same_site,
      accessName: accessName ?? 'access_token',
      sessionName: SESSION_COOKIE,
      stateName: STATE_COOKIE,
    },
    sessionKeys,
    returnHosts: raw.return_hosts,
    refreshBeforeMs: raw.refresh_before,
    sessionMaxAgeMs: raw.session_max_age,
    stateMaxAgeMs: raw.state_max_age,
    maxCookieBytes: raw.max_cookie_bytes ?? ctx.tokenMaxBytes,
  };
}

/** One secret per line, newest first; blank lines and `#` comments are skipped. */
export function parseKeyLines(text: string): string[] {
  return text.split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}
