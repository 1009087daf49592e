/**
 * `listen.admin`: a listener of its own for /metrics, so scrapes need not share the forward-auth port (which a proxy
 * may expose more widely). Nothing else is served there.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { serveOn } from '../transports/http/server.ts';

export interface AdminServer {
  /** "host:port" with the bound port, or "unix:/path". */
  readonly address: string;
  /** "http://host:port", or "http+unix://<percent-encoded path>". */
  readonly url: string;
  /** As the HTTP listener's: busy connections are cut after `timeoutMs` (default: never). */
  close(timeoutMs?: number): Promise<void>;
}

export async function startAdminServer(address: string, routes: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>): Promise<AdminServer> {
  const server = createServer({ headersTimeout: 10_000, requestTimeout: 30_000 }, (req, res) => {
    const raw = req.url ?? '';
    const q = raw.indexOf('?');
    const route = routes.get(q === -1 ? raw : raw.slice(0, q));
    if (route === undefined) {
      res.writeHead(404, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end('{"error":"not_found"}');
      return;
    }
    try {
      route(req, res);
    } catch {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal_error"}');
      else res.destroy();
    }
  });
  return serveOn(server, address);
}
