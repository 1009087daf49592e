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
import { signerRoutes } from './transports/http/signer-routes.ts';
import { denyContextOf } from './core/deny.ts';
import { jwksMaxAgeSeconds } from './signing.ts';
import { signInRoutes } from './transports/http/signin.ts';
import { createTelemetry, instrumentAuthorizer, startAdminServer, type AdminServer, type TelemetryOptions } from './telemetry/index.ts';

export interface StartOptions {
  /** Extra routes on the HTTP listener (the demo serves its JWKS here). `/keys` is always there. */
  readonly routes?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>;
  /** Traces, metrics and decision logs (main passes its OpenTelemetry SDK and log writer). Default: metrics only. */
  readonly telemetry?: TelemetryOptions;
}

export interface Running {
  readonly core: Core;
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly httpUrl: string;
  /** The listen.admin listener (/metrics), when configured. */
  readonly adminUrl?: string;
  close(): Promise<void>;
}

export async function startPortcullis(config: Config, runtime: Runtime, options: StartOptions = {}): Promise<Running> {
  const telemetry = createTelemetry(config, { now: runtime.now, ...options.telemetry });
  const core = createCore(config, {
    ...runtime,
    onKeyEvent: (event) => {
      telemetry.onKeyEvent(event);
      runtime.onKeyEvent?.(event);
    },
  });
  telemetry.observe(core);
  const authorizer = instrumentAuthorizer(core.authorizer, telemetry);
  const routes = new Map(options.routes);
  if (telemetry.metricsRoute !== undefined && config.listen.admin === undefined) routes.set('/metrics', telemetry.metricsRoute);
  if (core.signIn !== undefined) for (const [path, handler] of signInRoutes(core.signIn)) routes.set(path, handler);
  routes.set('/keys', (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method_not_allowed"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(keysView(core)));
  });
  const signing = core.signing;
  if (config.signer !== undefined && signing !== undefined) {
    const extra = signerRoutes({
      signer: config.signer,
      authorizer,
      deny: denyContextOf(config),
      jwks: () => signing.source.jwks(),
      maxAgeSeconds: jwksMaxAgeSeconds(config.signer),
    });
    for (const [path, handler] of extra) routes.set(path, handler);
  }
  const http = await startHttpServer({
    address: config.listen.http,
    config,
    authorizer,
    readiness: core.readiness,
    routes,
  });
  let grpc;
  try {
    grpc = await startGrpcServer(config.listen.grpc, authorizer, core.readiness, { maxRequestBytes: config.grpc.maxRequestBytes });
  } catch (e) {
    await http.close();
    throw e;
  }
  let admin: AdminServer | undefined;
  if (config.listen.admin !== undefined && telemetry.metricsRoute !== undefined) {
    try {
      admin = await startAdminServer(config.listen.admin, new Map([['/metrics', telemetry.metricsRoute]]));
    } catch (e) {
      await Promise.all([grpc.close(), http.close()]);
      throw e;
    }
  }
  try {
    await core.start();
  } catch (e) {
    core.stop();
    await Promise.all([grpc.close(), http.close(), admin?.close()]);
    await telemetry.shutdown();
    throw e;
  }
  return {
    core,
    grpcAddress: grpc.address,
    httpAddress: http.address,
    httpUrl: http.url,
    ...(admin !== undefined ? { adminUrl: admin.url } : {}),
    async close() {
      core.stop();
      await Promise.all([grpc.close(), http.close(), admin?.close()]);
      await telemetry.shutdown();
    },
  };
}
