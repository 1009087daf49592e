/**
 * The HTTP listener: forward auth for Caddy / nginx / Traefik, health endpoints, and optional extra routes
 * (the demo serves its JWKS there). Routing is by path only; our own query string is ignored.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Config } from '../../core/config.ts';
import type { Authorizer, Readiness } from '../../core/types.ts';
import { denyContextOf } from '../../core/deny.ts';
import { listenTarget, type ListenTarget } from '../../config/listen.ts';
import { listen } from '../listen.ts';
import { forwardAuthHeaderNames, redirectAsUnauthorized, toAuthRequest } from './forward-auth.ts';
import { envoyOriginalPath, toEnvoyAuthRequest } from './envoy-http.ts';
import { authorizationHandler, type AuthorizationHandler } from './authorize.ts';
import { HTTP_LISTENER_OPTIONS } from './listener-options.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface HttpServerOptions {
  /** "host:port" (port 0 picks a free one; IPv6 as "[::1]:port") or "unix:/path/to.sock". */
  readonly address: string;
  /**
   * Only forwardAuth, envoyHttp, realm, identityHeaders, policy, clientCertificate and tokens are read; a whole Config
   * fits. Without tokens, the token's headers are found by walking the raw list (the same answer, a little slower).
   */
  readonly config: Pick<Config, 'forwardAuth' | 'envoyHttp' | 'realm' | 'identityHeaders' | 'policy' | 'clientCertificate'> & Partial<Pick<Config, 'tokens'>>;
  readonly authorizer: Authorizer;
  readonly readiness: Readiness;
  /** Extra exact-path routes (any method), consulted after the built-in ones. */
  readonly routes?: ReadonlyMap<string, RouteHandler>;
}

export interface RunningHttpServer {
  /** The bound address: "host:port" with the real port, or "unix:/path". */
  readonly address: string;
  /** "http://host:port", or "http+unix://<percent-encoded socket path>" for a unix socket. */
  readonly url: string;
  /**
   * Stops accepting and closes idle connections at once; busy ones close after their response (answer with
   * `connection: close` meanwhile). Connections still busy after `timeoutMs` (default: none) are cut.
   */
  close(timeoutMs?: number): Promise<void>;
}

function json(res: ServerResponse, status: number, body: unknown, extra: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...extra,
  });
  res.end(text);
}

function failed(res: ServerResponse): void {
  if (!res.headersSent) json(res, 500, { error: 'internal_error' });
  else res.destroy();
}

function pathOf(url: string | undefined): string {
  const raw = url ?? '';
  const q = raw.indexOf('?');
  return q === -1 ? raw : raw.slice(0, q);
}

export async function startHttpServer(opts: HttpServerOptions): Promise<RunningHttpServer> {
  listenTarget(opts.address);
  return startHttpListener(opts.address, httpRequestHandler(opts));
}

/** The request handler of the HTTP listener, built from one config (a reload builds a new one). */
export function httpRequestHandler(opts: Omit<HttpServerOptions, 'address'>): RouteHandler {
  const deny = denyContextOf(opts.config);
  const { authorizer } = opts;
  // client_certificate.header: the one header read as the client certificate; none without the section.
  const certificateHeader = opts.config.clientCertificate?.header;
  // One handler per forward-auth endpoint, each reading only its own header family (forward-auth.ts).
  const endpoints = new Map<string, AuthorizationHandler>(opts.config.forwardAuth.endpoints.map((e) => {
    const expected = forwardAuthHeaderNames(e.originalRequest, opts.config.tokens, certificateHeader);
    return [e.path, authorizationHandler({
      authorizer,
      deny,
      mode: 'forward_auth',
      translate: (req) => toAuthRequest(req, e.originalRequest, e.path, certificateHeader, expected),
      ...(e.redirectStatus === 401 ? { adjust: (d) => redirectAsUnauthorized(d, opts.config.realm) } : {}),
    })];
  }));
  // Envoy ext_authz HTTP mode: every request under the prefix is an authorization request (envoy-http.ts).
  const prefix = opts.config.envoyHttp?.pathPrefix;
  const envoyHttp = prefix === undefined
    ? undefined
    : authorizationHandler({ authorizer, deny, mode: 'envoy_http', translate: (req) => toEnvoyAuthRequest(req, prefix, certificateHeader) });

  const health = (req: IncomingMessage, res: ServerResponse, ok: boolean, body: unknown): void => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      json(res, 405, { error: 'method_not_allowed' }, { allow: 'GET, HEAD' });
      return;
    }
    json(res, ok ? 200 : 503, body);
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    try {
      const path = pathOf(req.url);
      const endpoint = endpoints.get(path);
      if (endpoint !== undefined) {
        endpoint(req, res)?.catch(() => res.destroy());
        return;
      }
      if (envoyHttp !== undefined && envoyOriginalPath(req.url ?? '', prefix!) !== undefined) {
        envoyHttp(req, res)?.catch(() => res.destroy());
        return;
      }
      if (path === '/healthz') return health(req, res, true, { status: 'ok' });
      if (path === '/readyz') {
        const ready = opts.readiness.isReady();
        return health(req, res, ready, { status: ready ? 'ready' : 'not_ready', ...opts.readiness.details?.() });
      }
      const route = opts.routes?.get(path);
      if (route !== undefined) {
        // Handlers are typed as sync, but an async one must not become an unhandled rejection.
        const result: unknown = route(req, res);
        if (result instanceof Promise) result.catch(() => failed(res));
        return;
      }
      json(res, 404, { error: 'not_found' });
    } catch {
      failed(res);
    }
  };
  return onRequest;
}

/** Binds the HTTP listener (HTTP_LISTENER_OPTIONS) with `handler`. */
export function startHttpListener(address: string, handler: RouteHandler): Promise<RunningHttpServer> {
  const target = listenTarget(address);
  const server = createServer(HTTP_LISTENER_OPTIONS, handler);
  // No 'clientError' listener on purpose: node's default answers 400 / 408 / 431 and closes the socket, and a
  // socket error never reaches the process.

  return serveOn(server, target);
}

/** Binds `server` to a listen address ("host:port", port 0 allowed, or "unix:/path"); close() drains idle connections. */
export async function serveOn(server: Server, address: string | ListenTarget): Promise<RunningHttpServer> {
  const target = typeof address === 'string' ? listenTarget(address) : address;
  await listen(server, target);
  return {
    ...boundAddress(server, target),
    close: (timeoutMs?: number) => new Promise<void>((resolve, reject) => {
      const cut = timeoutMs === undefined ? undefined : setTimeout(() => server.closeAllConnections(), timeoutMs);
      cut?.unref();
      server.close((err) => {
        if (cut) clearTimeout(cut);
        if (err) reject(err);
        else resolve();
      });
      server.closeIdleConnections();
    }),
  };
}

function boundAddress(server: Server, target: ListenTarget): { address: string; url: string } {
  if ('path' in target) {
    return { address: `unix:${target.path}`, url: `http+unix://${encodeURIComponent(target.path)}` };
  }
  const info = server.address() as AddressInfo;
  const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
  return { address: `${host}:${info.port}`, url: `http://${host}:${info.port}` };
}
