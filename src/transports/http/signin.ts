/**
 * The sign-in endpoints on the HTTP listener (/oauth2/start, the callback, /oauth2/sign_out), reached through the
 * proxy on the application's own origin: node:http → `SignInRequest`, `SignInAnswer` → a 302 or an error page.
 * The origin is the Host header the proxy passes on (Caddy keeps it; nginx needs `proxy_set_header Host $http_host`)
 * and X-Forwarded-Proto as the proxy sets it; the core checks both (allowed host, https).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { SignIn, SignInAnswer, SignInRequest } from '../../core/signin/flow.ts';
import { headerMap, single } from './headers.ts';
import { SignInReasons } from '../../core/reasons.ts';

export type SignInRoute = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Path → handler for the three endpoints of `signIn`. */
export function signInRoutes(signIn: SignIn, onAnswer?: (answer: SignInAnswer) => void): Map<string, SignInRoute> {
  const c = signIn.config;
  const route = (step: 'start' | 'callback' | 'signOut'): SignInRoute => async (req, res) => {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{"error":"method_not_allowed"}');
      return;
    }
    let answer: SignInAnswer;
    try {
      answer = await signIn[step](toSignInRequest(req));
    } catch {
      answer = { status: 503, reason: SignInReasons.internalError, message: 'internal error', setCookies: [] };
    }
    onAnswer?.(answer);
    write(res, answer);
  };
  return new Map([[c.startPath, route('start')], [c.redirectPath, route('callback')], [c.signOutPath, route('signOut')]]);
}

export function toSignInRequest(req: IncomingMessage): SignInRequest {
  const headers = headerMap(req);
  const url = req.url ?? '';
  const q = url.indexOf('?');
  return {
    host: single(headers, 'host')?.trim() ?? '',
    scheme: single(headers, 'x-forwarded-proto')?.trim().toLowerCase() ?? 'http',
    query: new URLSearchParams(q === -1 ? '' : url.slice(q + 1)),
    headers,
  };
}

function write(res: ServerResponse, answer: SignInAnswer): void {
  if (res.headersSent) return;
  const body = answer.status === 302 ? '' : JSON.stringify({ error: answer.status === 400 ? 'bad_request' : 'unavailable', reason: answer.reason, message: answer.message });
  const headers: [string, string][] = [
    ['cache-control', 'no-store'],
    ['content-type', 'application/json'],
    ['content-length', String(Buffer.byteLength(body))],
    ...answer.setCookies.map((c): [string, string] => ['set-cookie', c]),
  ];
  if (answer.location !== undefined) headers.push(['location', answer.location]);
  try {
    res.writeHead(answer.status, headers.flat());
    res.end(body);
  } catch {
    res.destroy();
  }
}
