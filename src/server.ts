/**
 * Starts Portcullis: the core, then the HTTP listener (forward auth, health) and the gRPC listener (ext_authz,
 * health). Keys are loaded after the listeners are up so that /readyz and gRPC health can report "not ready"
 * while they load (and so the demo issuer can serve its own JWKS).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from './config/types.ts';
import { createCore, keysView, type Core, type Runtime } from './app.ts';
import { startGrpcServer } from './transports/grpc/server.ts';
import { startHttpServer } from './transports/http/server.ts';

export interface StartOptions {
  /** Extra routes on the HTTP listener (the demo serves its JWKS here). `/keys` is always there. */
  readonly routes?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>;
}

export interface Running {
  readonly core: Core;
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly httpUrl: string;
  close(): Promise<void>;
}

export async function startPortcullis(config: Config, runtime: Runtime, options: StartOptions = {}): Promise<Running> {
  const core = createCore(config, runtime);
  const routes = new Map(options.routes);
  routes.set('/keys', (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method_not_allowed"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(keysView(core)));
  });
  const http = await startHttpServer({
    address: config.listen.http,
    config,
    authorizer: core.authorizer,
    readiness: core.readiness,
    routes,
  });
  let grpc;
  try {
    grpc = await startGrpcServer(config.listen.grpc, core.authorizer, core.readiness);
  } catch (e) {
    await http.close();
    throw e;
  }
  await core.start();
  return {
    core,
    grpcAddress: grpc.address,
    httpAddress: http.address,
    httpUrl: http.url,
    async close() {
      core.stop();
      await Promise.all([grpc.close(), http.close()]);
    },
  };
}
