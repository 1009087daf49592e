/**
 * The gRPC listener Envoy calls: envoy.service.auth.v3.Authorization and grpc.health.v1.Health, plaintext HTTP/2
 * with prior knowledge (h2c; Envoy reaches it on localhost, a unix socket or a private network; put TLS in front if
 * it must cross one). Our own node:http2 server, not grpc-js's: every Check call gets a CheckResponse, whatever the
 * framing, size or compression (calls.ts, h2-call.ts), and a call costs only node:http2 plus our own work.
 */
import { createServer, type Http2Server, type ServerHttp2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { Authorizer, Readiness } from '../../core/types.ts';
import type { ErrorReporter } from './check-service.ts';
import { listenTarget } from '../../config/listen.ts';
import { listen } from '../listen.ts';
import { createHealthService } from './health.ts';
import { handleStream, type CallContext } from './calls.ts';
import { RequestDeadlines } from './h2-call.ts';
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
  /**
   * A call whose request has not arrived whole after this long is answered as malformed (Check: a 400
   * request_malformed deny), so a stalled client cannot hold streams and their buffers. Default 30 s, as the HTTP
   * listener's requestTimeout; Envoy sends a CheckRequest at once and gives up on its own after `timeout` (200 ms).
   */
  readonly requestTimeoutMs?: number;
  /**
   * `client_certificate.xfcc` of the current config, read per call (the listener outlives reloads): x-forwarded-client-cert
   * is read as the client certificate (ext-authz.ts toAuthRequest). Default: never.
   */
  readonly xfcc?: () => boolean;
}

export interface GrpcServerHandle {
  /** "host:port" with the bound port, or the "unix:..." address as given. */
  readonly address: string;
  close(): Promise<void>;
}

const DEFAULT_MAX_REQUEST = 4 * 1024 * 1024;
const DEFAULT_DRAIN_MS = 2000;
const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

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
  const health = createHealthService(readiness);
  const deadlines = new RequestDeadlines(options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS);
  const context: CallContext = {
    authorizer,
    health,
    maxRequestBytes: options.maxRequestBytes ?? DEFAULT_MAX_REQUEST,
    report: options.onError ?? stderrReporter,
    deadlines,
    ...(options.xfcc !== undefined ? { xfcc: options.xfcc } : {}),
  };
  const sessions = new Set<ServerHttp2Session>();
  let closing: Promise<void> | undefined;

  const server = createServer();
  server.on('stream', (stream, headers) => handleStream(stream, headers, context));
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => {}); // a broken connection ends that session only
    session.once('close', () => sessions.delete(session));
    if (closing !== undefined) session.close(); // accepted while close() began: GOAWAY at once
  });
  server.on('sessionError', () => {}); // e.g. a client that sends garbage instead of the HTTP/2 preface
  server.on('unknownProtocol', (socket: Socket) => socket.destroy());

  server.once('close', () => deadlines.stop());

  const socketPath = unixSocketPath(address);
  if (socketPath !== undefined) await removeStaleSocket(socketPath);
  try {
    await listen(server, socketPath !== undefined ? { path: socketPath } : listenTarget(address));
  } catch (error) {
    deadlines.stop();
    throw error;
  }
  server.on('error', () => {}); // after listening, a server error must not crash the process

  return {
    address: socketPath !== undefined ? address : boundAddress(address, server),
    close(): Promise<void> {
      const timeout = options.drainTimeoutMs;
      closing ??= drain(server, sessions, health.shutdown, (typeof timeout === 'function' ? timeout() : timeout) ?? DEFAULT_DRAIN_MS);
      return closing;
    },
  };
}

/**
 * Stop accepting, end health watches, send GOAWAY on every connection and let in-flight checks finish; after
 * `timeoutMs`, cut what is left.
 */
function drain(server: Http2Server, sessions: Set<ServerHttp2Session>, endWatches: () => void, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      for (const session of sessions) session.destroy();
      resolve();
    }, timeoutMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    endWatches();
    for (const session of sessions) session.close();
  });
}

/** "127.0.0.1:0" → "127.0.0.1:<port>", "[::1]:0" → "[::1]:<port>". */
function boundAddress(address: string, server: Http2Server): string {
  const target = listenTarget(address);
  const bound = server.address();
  if ('path' in target || bound === null || typeof bound === 'string') return address;
  return `${target.host.includes(':') ? `[${target.host}]` : target.host}:${bound.port}`;
}
