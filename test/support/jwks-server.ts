/**
 * A real JWKS HTTP server on port 0 whose behaviour a test changes while Portcullis runs:
 * serve keys, rotate, fail with a status, hang, return garbage; and it counts the fetches.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Behaviour =
  | { kind: 'serve'; body: unknown; cacheControl?: string }
  | { kind: 'status'; status: number; body?: string; contentType?: string }
  | { kind: 'raw'; body: string; contentType: string }
  | { kind: 'hang' };

export interface JwksServer {
  readonly url: string;
  /** Base URL without a path, for documents served at other paths. */
  readonly origin: string;
  fetches: number;
  behaviour: Behaviour;
  /** Behaviour for other paths (discovery documents); `behaviour` answers everything else. */
  readonly paths: Map<string, Behaviour>;
  /** Requests per path. */
  readonly hits: Map<string, number>;
  close(): Promise<void>;
}

export async function startJwksServer(initial: Behaviour): Promise<JwksServer> {
  const hanging = new Set<import('node:http').ServerResponse>();
  const state: { fetches: number; behaviour: Behaviour } = { fetches: 0, behaviour: initial };
  const paths = new Map<string, Behaviour>();
  const hits = new Map<string, number>();
  const server: Server = createServer((req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const b = paths.get(path) ?? state.behaviour;
    if (!paths.has(path)) state.fetches++;
    if (b.kind === 'serve') {
      res.writeHead(200, { 'content-type': 'application/json', ...(b.cacheControl ? { 'cache-control': b.cacheControl } : {}) });
      res.end(JSON.stringify(b.body));
    } else if (b.kind === 'status') {
      res.writeHead(b.status, { 'content-type': b.contentType ?? 'text/plain' }).end(b.body ?? '');
    } else if (b.kind === 'raw') {
      res.writeHead(200, { 'content-type': b.contentType }).end(b.body);
    } else {
      hanging.add(res);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/jwks.json`,
    origin: `http://127.0.0.1:${port}`,
    paths,
    hits,
    get fetches() { return state.fetches; },
    set fetches(n) { state.fetches = n; },
    get behaviour() { return state.behaviour; },
    set behaviour(b) { state.behaviour = b; },
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
