/**
 * The cookies sign-in writes: Set-Cookie values (HttpOnly, Secure, SameSite, Path=/, Domain when configured), the
 * access token split into `<name>_0`, `<name>_1`, … when it does not fit one cookie, and the clearing of all of
 * them. Reading the access token (chunks joined) belongs to the token extractor; reading our own sealed cookies is
 * here.
 */
import type { HeaderMap } from '../types.ts';
import type { SignInCookieConfig } from './types.ts';

/** Browsers keep at least 4096 bytes per cookie (name, value and attributes); stay well below. */
export const CHUNK_BYTES = 3800;
/** Chunks we clear when signing out (a bound, so a hostile Cookie header cannot make us write thousands). */
export const MAX_CHUNKS = 16;

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

/** Cookie name → first value, from every Cookie header (RFC 6265 `name=value; …`; a quoted value is unquoted). */
export function requestCookies(headers: HeaderMap): Map<string, string> {
  const out = new Map<string, string>();
  for (const header of headers.get('cookie') ?? []) {
    for (const pair of header.split(';')) {
      const eq = pair.indexOf('=');
      if (eq === -1) continue;
      const name = pair.slice(0, eq).trim();
      let value = pair.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
      if (name !== '' && !out.has(name)) out.set(name, value);
    }
  }
  return out;
}

/** The Cookie header with the access token (plain and chunks) replaced by `token`, as a browser would now send it. */
export function withAccessToken(headers: HeaderMap, accessName: string, token: string): string {
  const kept: string[] = [];
  for (const header of headers.get('cookie') ?? []) {
    for (const pair of header.split(';')) {
      const name = pair.slice(0, Math.max(pair.indexOf('='), 0)).trim();
      if (name === accessName || new RegExp(`^${accessName.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}_\\d+$`).test(name)) continue;
      if (pair.trim() !== '') kept.push(pair.trim());
    }
  }
  return [...kept, `${accessName}=${token}`].join('; ');
}
