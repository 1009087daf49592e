/**
 * `upstream.forward_token: false`: the token never reaches the upstream. Its headers are removed and the Cookie
 * header is rewritten without the token cookies. Expressed as header operations, which Envoy applies; forward-auth
 * proxies cannot remove request headers from an auth answer (strip them in the proxy config instead).
 */
import type { HeaderMap } from './types.ts';
import type { Config } from '../config/types.ts';

export interface TokenRemoval {
  readonly strip: readonly string[];
  readonly set: readonly (readonly [string, string])[];
}

export function upstreamTokenRemoval(headers: HeaderMap, tokens: Config['tokens']): TokenRemoval {
  const strip = tokens.headers.map((h) => h.name).filter((name) => headers.has(name));
  const set: [string, string][] = [];
  const cookies = headers.get('cookie');
  if (cookies && tokens.cookies.length > 0) {
    const kept: string[] = [];
    let removed = false;
    for (const header of cookies) {
      for (const pair of header.split(';')) {
        const name = pair.slice(0, Math.max(pair.indexOf('='), 0)).trim();
        if (tokens.cookies.includes(name)) removed = true;
        else if (pair.trim() !== '') kept.push(pair.trim());
      }
    }
    if (removed) {
      if (kept.length > 0) set.push(['cookie', kept.join('; ')]);
      else strip.push('cookie');
    }
  }
  return { strip, set };
}
