/**
 * Starts Portcullis: the core, then the HTTP listener (forward auth, health) and the gRPC listener (ext_authz,
 * health). Keys are loaded after the listeners are up so that /readyz and gRPC health can report "not ready"
 * while they load (and so the demo issuer can serve its own JWKS).
 *
 * The server owns one swappable snapshot {config, core, authorizer, HTTP handler}: the listeners, health and
 * telemetry read through it, so a reload is one assignment. A request holds the snapshot it started with, so
 * in-flight requests finish under the old config and the next ones use the new one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from './core/config.ts';
import type { Authorizer, Readiness } from './core/types.ts';
import { createCore, keysView, retire, type Core, type Runtime } from './app.ts';
import { startGrpcServer } from './transports/grpc/server.ts';
import { httpRequestHandler, startHttpListener, type RouteHandler } from './transports/http/server.ts';
import { signerRoutes } from './transports/http/signer-routes.ts';
import { denyContextOf } from './core/deny.ts';
import { jwksMaxAgeSeconds } from './signing.ts';
import { signInRoutes } from './transports/http/signin.ts';
import { createTelemetry, instrumentAuthorizer, startAdminServer, type AdminServer, type Telemetry, type TelemetryOptions } from './telemetry/index.ts';

export interface StartOptions {
  /** Extra routes on the HTTP listener (the demo serves its JWKS here). `/keys` is always there. */
  readonly routes?: ReadonlyMap<string, (req: IncomingMessage, res: ServerResponse) => void>;
  /** Traces, metrics and decision logs (main passes its OpenTelemetry SDK and log writer). Default: metrics only. */
  readonly telemetry?: TelemetryOptions;
}

/** The last reload, as /readyz shows it. */
export interface ReloadStatus {
  readonly outcome: 'ok' | 'error';
  readonly at: string;
  readonly problems?: readonly string[];
}

export interface Running {
  /** The current core (changes on reload). */
  readonly core: Core;
  /** The current config (changes on reload). */
  readonly config: Config;
  readonly grpcAddress: string;
  readonly httpAddress: string;
  readonly httpUrl: string;
  /** The listen.admin listener (/metrics), when configured. */
  readonly adminUrl?: string;
  /**
   * Switches to `next` (already validated; restart-only settings are the caller's to refuse): builds the new core
   * reusing unchanged issuers' key sources, loads new issuers' keys, swaps, stops what is no longer used, and
   * counts the reload. Never rejects.
   */
  reload(next: Config): Promise<void>;
  /** Records a reload that was refused (invalid config, restart-only change): counted and shown on /readyz. */
  reloadFailed(problems: readonly string[]): void;
  /** Not ready from now on (/readyz 503, gRPC health NOT_SERVING); answers continue. */
  beginDrain(): void;
  /** This process's Prometheus text (workers: the primary merges these). Rejects when metrics are off. */
  scrapeLocalMetrics(): Promise<string>;
  /** Stops accepting, closes idle connections, lets in-flight requests finish within `timeoutMs` (default shutdown.timeout). */
  close(timeoutMs?: number): Promise<void>;
}

interface Snapshot {
  readonly config: Config;
  readonly core: Core;
  readonly authorizer: Authorizer;
  readonly http: RouteHandler;
}

export async function startPortcullis(config: Config, runtime: Runtime, options: StartOptions = {}): Promise<Running> {
  const telemetry = createTelemetry(config, { now: runtime.now, ...options.telemetry });
  const coreRuntime: Runtime = {
    ...runtime,
    onKeyEvent: (event) => {
      telemetry.onKeyEvent(event);
      runtime.onKeyEvent?.(event);
    },
    onIntrospectionEvent: (event) => {
      telemetry.onIntrospectionEvent(event);
      runtime.onIntrospectionEvent?.(event);
    },
  };
  let draining = false;
  let closing = false;
  let closeTimeoutMs: number | undefined;
  let lastReload: ReloadStatus | undefined;
  const listeners = new Set<() => void>();
  const changed = (): void => listeners.forEach((l) => l());

  // Health reads through the snapshot: whatever core is current, and "not ready" once draining.
  const readiness: Readiness = {
    isReady: () => !draining && current.core.readiness.isReady(),
    details: () => ({
      ...current.core.readiness.details?.(),
      ...(draining ? { draining: true } : {}),
      ...(lastReload !== undefined ? { last_reload: lastReload } : {}),
    }),
    onChange(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };

  const snapshot = (cfg: Config, core: Core, instrumentation = telemetry as Parameters<typeof instrumentAuthorizer>[1]): Snapshot => {
    const authorizer = instrumentAuthorizer(core.authorizer, instrumentation);
    const routes = new Map(options.routes);
    if (telemetry.metricsRoute !== undefined && cfg.listen.admin === undefined) routes.set('/metrics', telemetry.metricsRoute);
    routes.set('/keys', (req, res) => {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method_not_allowed"}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify(keysView(core)));
    });
    if (core.signIn !== undefined) for (const [path, handler] of signInRoutes(core.signIn)) routes.set(path, handler);
    const signing = core.signing;
    if (cfg.signer !== undefined && signing !== undefined) {
      const extra = signerRoutes({
        signer: cfg.signer,
        authorizer,
        deny: denyContextOf(cfg),
        jwks: () => signing.source.jwks(),
        maxAgeSeconds: jwksMaxAgeSeconds(cfg.signer),
      });
      for (const [path, handler] of extra) routes.set(path, handler);
    }
    return { config: cfg, core, authorizer, http: httpRequestHandler({ config: cfg, authorizer, readiness, routes }) };
  };

  const firstCore = createCore(config, coreRuntime);
  let current = snapshot(config, firstCore);
  let unsubscribe = firstCore.readiness.onChange(changed);
  telemetry.observe({
    get sources() {
      return current.core.sources;
    },
    get verifier() {
      return current.core.verifier;
    },
    get replay() {
      return current.core.replay;
    },
    introspecting: config.issuers.filter((i) => i.introspection !== undefined).map((i) => i.issuer),
  });

  const authorizer: Authorizer = { check: (request) => current.authorizer.check(request) };
  const http = await startHttpListener(config.listen.http, (req, res) => {
    // Closing: answer, then close the connection (a keep-alive client must not send more to a closing listener).
    if (closing) res.setHeader('connection', 'close');
    current.http(req, res);
  });
  let grpc;
  try {
    grpc = await startGrpcServer(config.listen.grpc, authorizer, readiness, {
      maxRequestBytes: config.grpc.maxRequestBytes,
      drainTimeoutMs: () => closeTimeoutMs ?? current.config.shutdown.timeoutMs,
      xfcc: () => current.config.clientCertificate?.xfcc === true,
    });
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
    await firstCore.start();
  } catch (e) {
    firstCore.stop();
    await Promise.all([grpc.close(), http.close(), admin?.close()]);
    await telemetry.shutdown();
    throw e;
  }

  let reloads = Promise.resolve();
  const reload = async (next: Config): Promise<void> => {
    const previous = current;
    const core = createCore(next, coreRuntime, previous.core);
    await core.start();
    if (closing) return retire(core, previous.core); // stops only what the new core added
    current = snapshot(next, core, telemetry.reconfigure(next));
    unsubscribe();
    unsubscribe = core.readiness.onChange(changed);
    retire(previous.core, core);
    lastReload = { outcome: 'ok', at: new Date(runtime.now()).toISOString() };
    telemetry.configReload('ok');
    changed();
  };

  return {
    get core() {
      return current.core;
    },
    get config() {
      return current.config;
    },
    grpcAddress: grpc.address,
    httpAddress: http.address,
    httpUrl: http.url,
    ...(admin !== undefined ? { adminUrl: admin.url } : {}),
    reload(next) {
      // One reload at a time, in the order they were asked for.
      reloads = reloads.then(() => reload(next)).catch((e: unknown) => {
        lastReload = { outcome: 'error', at: new Date(runtime.now()).toISOString(), problems: [String((e as Error)?.message ?? e)] };
        telemetry.configReload('error');
      });
      return reloads;
    },
    reloadFailed(problems) {
      lastReload = { outcome: 'error', at: new Date(runtime.now()).toISOString(), problems };
      telemetry.configReload('error');
    },
    beginDrain() {
      if (draining) return;
      draining = true;
      changed();
    },
    scrapeLocalMetrics: () => telemetry.scrapeLocal(),
    async close(timeoutMs = current.config.shutdown.timeoutMs) {
      closing = true;
      closeTimeoutMs = timeoutMs;
      draining = true;
      changed();
      await Promise.all([grpc.close(), http.close(timeoutMs), admin?.close(timeoutMs)]);
      current.core.stop();
      await telemetry.shutdown();
    },
  };
}

export type { Telemetry };
