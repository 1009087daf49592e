/**
 * `listen.admin`: a listener of its own for /metrics, so scrapes need not share the forward-auth port (which a proxy
 * may expose more widely). Nothing else is served there.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseListenAddress } from '../transports/http/server.ts';

export interface AdminServer {
  /** "host:port" with the bound port, or "unix:/path". */
  readonly address: string;
  /** "http://host:port", or "http+unix://<percent-encoded path>". */
  readonly url: string;
  close(): Promise<void>;
}

export async function startAdminServer(address: string, routes: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>): Promise<AdminServer> {
  const target = parseListenAddress(address);
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if ('path' in target) server.listen(target.path, done);
    else server.listen(target.port, target.host, done);
  });
  let bound: { address: string; url: string };
  if ('path' in target) bound = { address: `unix:${target.path}`, url: `http+unix://${encodeURIComponent(target.path)}` };
  else {
    const info = server.address() as AddressInfo;
    const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
    bound = { address: `${host}:${info.port}`, url: `http://${host}:${info.port}` };
  }
  return {
    ...bound,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
      }),
  };
}
