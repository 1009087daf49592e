/**
 * The gRPC listener Envoy calls: envoy.service.auth.v3.Authorization and grpc.health.v1.Health, plaintext
 * (Envoy reaches it on localhost, a unix socket or a private network; put TLS in front if it must cross one).
 */
import { Server, ServerCredentials, type ServerOptions } from '@grpc/grpc-js';
import type { Authorizer, Readiness } from '../../core/types.ts';
import { checkImplementation, guardedAuthorizationService, HARD_MAX_MESSAGE_BYTES, type ErrorReporter } from './check-service.ts';
import { listenTarget } from '../../config/listen.ts';
import { createHealthService } from './health.ts';
import { healthService } from './protos.ts';
import { removeStaleSocket, unixSocketPath } from './unix-socket.ts';

export interface GrpcServerOptions {
  /**
   * `grpc.max_request_bytes`: a larger CheckRequest is denied 413 request_too_large (a deny, not a gRPC error, which
   * Envoy's failure_mode_allow would turn into an allow). Default 4 MiB. Envoy caps request headers at 60 KiB unless
   * max_request_headers_kb raises it (up to 8 MiB), and with_request_body adds up to max_request_bytes of body.
   */
  readonly maxRequestBytes?: number;
  /** How long close() lets in-flight calls finish before it cuts connections (read at close). Default 2000 ms. */
  readonly drainTimeoutMs?: number | (() => number);
  /** Told about bugs that were answered with the internal-error deny. Default: one line on stderr. */
  readonly onError?: ErrorReporter;
}

export interface GrpcServerHandle {
  /** "host:port" with the bound port, or the "unix:..." address as given. */
  readonly address: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_REQUEST = 4 * 1024 * 1024;
const DEFAULT_DRAIN_MS = 2000;

const stderrReporter: ErrorReporter = (error, context) => {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`portcullis: ${context} failed: ${detail}\n`);
};

export async function startGrpcServer(
  address: string,
  authorizer: Authorizer,
  readiness: Readiness,
  options: GrpcServerOptions = {},
): Promise<GrpcServerHandle> {
  const report = options.onError ?? stderrReporter;
  const serverOptions: ServerOptions = {
    // Our own limit answers (check-service.ts); grpc-js's is only the hard cap beyond which it errors itself.
    'grpc.max_receive_message_length': HARD_MAX_MESSAGE_BYTES,
    // Responses are small (headers, a short body, the claims): no reason to cap them below the default (unlimited).
  };
  const server = new Server(serverOptions);
  server.addService(guardedAuthorizationService(report, options.maxRequestBytes ?? DEFAULT_MAX_REQUEST), checkImplementation(authorizer, report));
  const health = createHealthService(readiness);
  server.addService(healthService, health.implementation);

  const socketPath = unixSocketPath(address);
  if (socketPath !== undefined) await removeStaleSocket(socketPath);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(address, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound)));
  });

  let closing: Promise<void> | undefined;
  return {
    address: socketPath !== undefined ? address : boundAddress(address, port),
    close(): Promise<void> {
      const timeout = options.drainTimeoutMs;
      closing ??= drain(server, health.shutdown, (typeof timeout === 'function' ? timeout() : timeout) ?? DEFAULT_DRAIN_MS);
      return closing;
    },
  };
}

/** Stop accepting, end health watches, let in-flight checks finish; after `timeoutMs`, cut what is left. */
function drain(server: Server, endWatches: () => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, timeoutMs);
    timer.unref();
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
    endWatches();
  });
}

/** "127.0.0.1:0" → "127.0.0.1:<port>", "[::1]:0" → "[::1]:<port>". */
function boundAddress(address: string, port: number): string {
  const target = listenTarget(address);
  if ('path' in target) return address;
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${port}`;
}
