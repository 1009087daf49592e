/**
 * The cookies sign-in writes: Set-Cookie values (HttpOnly, Secure, SameSite, Path=/, Domain when configured), the
 * access token split into `<name>_0`, `<name>_1`, … when it does not fit one cookie, and the clearing of all of
 * them. Reading the access token (chunks joined) and stripping it belong to the token sources (core/sources.ts),
 * whose tokenizer also reads our own sealed cookies.
 */
import type { HeaderMap } from '../types.ts';
import type { SignInCookieConfig } from './types.ts';
import { cookieValues, removeTokens } from '../sources.ts';

/** Browsers keep at least 4096 bytes per cookie (name, value and attributes); stay well below. */
export const CHUNK_BYTES = 3800;
/** Chunks we clear when present (the finder's bound in core/sources.ts; a hostile Cookie header cannot make us write more). */
export const MAX_CHUNKS = 32;

export interface CookieOptions {
  readonly maxAgeS?: number;
  /** Host-only even when a Domain is configured (state cookies stay on the origin that started sign-in). */
  readonly hostOnly?: boolean;
  /** Overrides cookie.same_site (the sign-in cookie must come back on the provider's cross-site redirect). */
  readonly sameSite?: SignInCookieConfig['sameSite'];
}

export function setCookie(cfg: SignInCookieConfig, name: string, value: string, opts: CookieOptions = {}): string {
  const sameSite = opts.sameSite ?? cfg.sameSite;
  const attrs = [`${name}=${value}`, 'Path=/', 'HttpOnly', `SameSite=${sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None'}`];
  if (cfg.secure) attrs.push('Secure');
  if (cfg.domain !== undefined && !opts.hostOnly) attrs.push(`Domain=${cfg.domain}`);
  if (opts.maxAgeS !== undefined) attrs.push(`Max-Age=${Math.max(0, Math.floor(opts.maxAgeS))}`);
  return attrs.join('; ');
}

export function clearCookie(cfg: SignInCookieConfig, name: string, opts: Pick<CookieOptions, 'hostOnly'> = {}): string {
  return setCookie(cfg, name, '', { ...opts, maxAgeS: 0 });
}

/**
 * Set-Cookie values for the access token: one cookie when it fits, else chunks `<name>_0…` (and the plain cookie
 * cleared), with every chunk index the browser may still hold from a bigger token cleared. `null` when the token is
 * larger than `maxBytes` in total.
 */
export function accessTokenCookies(cfg: SignInCookieConfig, token: string, maxBytes: number, present: ReadonlySet<string>): string[] | null {
  if (token.length > maxBytes) return null;
  const name = cfg.accessName;
  const out: string[] = [];
  let used = 0;
  if (token.length <= CHUNK_BYTES) {
    out.push(setCookie(cfg, name, token));
  } else {
    out.push(clearCookie(cfg, name));
    for (let i = 0; i * CHUNK_BYTES < token.length; i++) {
      out.push(setCookie(cfg, `${name}_${i}`, token.slice(i * CHUNK_BYTES, (i + 1) * CHUNK_BYTES)));
      used = i + 1;
    }
  }
  for (let i = used; i < MAX_CHUNKS; i++) if (present.has(`${name}_${i}`)) out.push(clearCookie(cfg, `${name}_${i}`));
  return out;
}

/** Set-Cookie values that remove the access token (all chunks present), the session cookie, and nothing else. */
export function signOutCookies(cfg: SignInCookieConfig, present: ReadonlySet<string>): string[] {
  const out = [clearCookie(cfg, cfg.accessName), clearCookie(cfg, cfg.sessionName)];
  for (let i = 0; i < MAX_CHUNKS; i++) if (present.has(`${cfg.accessName}_${i}`)) out.push(clearCookie(cfg, `${cfg.accessName}_${i}`));
  return out;
}

/** Cookie name → first value (the token finder's tokenizer, core/sources.ts). */
export function requestCookies(headers: HeaderMap): Map<string, string> {
  return cookieValues(headers);
}

/**
 * The Cookie header as the browser will send it after a refresh: the access token and all its chunks removed by the
 * token stripper of core/sources.ts, the new token added.
 */
export function withAccessToken(headers: HeaderMap, accessName: string, token: string): string {
  const removal = removeTokens(headers, { headers: [], cookies: [accessName], maxBytes: Number.MAX_SAFE_INTEGER });
  const rewritten = removal.set.find(([name]) => name === 'cookie')?.[1];
  const rest = rewritten ?? (removal.strip.includes('cookie') ? '' : (headers.get('cookie') ?? []).join('; '));
  return rest === '' ? `${accessName}=${token}` : `${rest}; ${accessName}=${token}`;
}
