/**
 * The floors Portcullis is measured against, each in its own process: `node bench/floors.ts KIND OPTIONS_JSON_FILE`.
 *
 *   grpc  an empty grpc-js server with the same Authorization service definition (same proto, same proto-loader
 *         options, so the same CheckRequest decoding), answering a fixed CheckResponse: the bytes Portcullis itself
 *         answered for the same request, decoded once and re-encoded by grpc-js on every call, as any server does.
 *         With `nodelay`, the same server behind a listener that sets TCP_NODELAY (for the latency scenario).
 *   http  an empty node:http handler (same server options as Portcullis' listener) answering the status, headers and
 *         body Portcullis answered for the same request.
 *   jose  a bare node:http server that only runs jose `jwtVerify` (local JWKS, issuer, audience, algorithms) on the
 *         Authorization bearer token: 200 with the subject header, 401 otherwise. No cache, no routing, no checks.
 *   crypto  the same with the raw node:crypto verifier (verify + exp/iss/aud, bench/verifiers.ts).
 *   grpc-jose, grpc-crypto  the empty grpc-js server of `grpc`, verifying the CheckRequest's authorization bearer
 *         token with that verifier first: the fixed answer when it verifies, status UNAUTHENTICATED (16) otherwise.
 *
 * Prints one JSON line `{"ready":true,...}` when listening; SIGTERM exits 0.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { createServer as createH2Server } from 'node:http2';
import { Server, ServerCredentials, type sendUnaryData, type ServerUnaryCall } from '@grpc/grpc-js';
import type { JSONWebKeySet } from 'jose';
import { loadSync } from '@grpc/proto-loader';
import { authorizationService, LOADER_OPTIONS } from '../src/transports/grpc/protos.ts';
import { makeVerifier, type Verifier } from './verifiers.ts';
import { grpcFrame } from './fixtures.ts';
import { HTTP_LISTENER_OPTIONS } from '../src/transports/http/listener-options.ts';

export interface GrpcFloorOptions {
  readonly port: number;
  /** base64 of the protobuf CheckResponse to answer. */
  readonly response: string;
  /**
   * Accept on our own net.Server with TCP_NODELAY and hand each socket to grpc-js (createConnectionInjector).
   * grpc-js' own listener leaves Nagle on, which with the client's delayed ACK stalls small responses at low rates.
   */
  readonly nodelay?: boolean;
}
export interface HttpFloorOptions {
  readonly port: number;
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}
export interface JoseFloorOptions {
  readonly port: number;
  readonly jwks: JSONWebKeySet;
  readonly issuer: string;
  readonly audience: string;
  readonly algorithms: string[];
  readonly subjectHeader: string;
}
/** The unique-token floors (jose, crypto, grpc-jose, grpc-crypto); `response` only for the gRPC ones. */
export type VerifyFloorOptions = JoseFloorOptions & { readonly response?: string };
export type FloorKind = 'grpc' | 'grpc-h2' | 'http' | 'jose' | 'crypto' | 'grpc-jose' | 'grpc-crypto';

const verifierOf = (kind: string, o: VerifyFloorOptions): Verifier => makeVerifier(kind.endsWith('crypto') ? 'crypto' : 'jose', o);


const [kind, file] = process.argv.slice(2);
if (kind === undefined || file === undefined) {
  process.stderr.write('usage: node bench/floors.ts grpc|http|jose|crypto|grpc-jose|grpc-crypto OPTIONS_JSON_FILE\n');
  process.exit(2);
}
const options: unknown = JSON.parse(readFileSync(file, 'utf8'));
let close: () => void;

if (kind === 'grpc' || kind === 'grpc-jose' || kind === 'grpc-crypto') {
  const o = options as GrpcFloorOptions;
  // Decoded without defaults, so grpc-js re-encodes exactly the bytes Portcullis sent (defaults: true would add
  // explicit empty fields); served by the real service definition.
  const plain = loadSync(['envoy/service/auth/v3/external_auth.proto'], { ...LOADER_OPTIONS, defaults: false, oneofs: false });
  const check = (plain['envoy.service.auth.v3.Authorization'] as unknown as Record<string, { responseDeserialize(b: Buffer): unknown }>)['Check']!;
  const answer = check.responseDeserialize(Buffer.from(o.response, 'base64'));
  const server = new Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  const denied = { status: { code: 16 } };
  const verifier = kind === 'grpc' ? undefined : verifierOf(kind, options as VerifyFloorOptions);
  type Check = { attributes?: { request?: { http?: { headers?: Record<string, string> } } } };
  server.addService(authorizationService, {
    Check(call: ServerUnaryCall<Check, unknown>, callback: sendUnaryData<unknown>): void {
      if (verifier === undefined) return callback(null, answer);
      const auth = call.request.attributes?.request?.http?.headers?.authorization ?? '';
      const r = verifier(auth.startsWith('Bearer ') ? auth.slice(7) : '');
      if (r instanceof Promise) r.then((sub) => callback(null, sub === undefined ? denied : answer), () => callback(null, denied));
      else callback(null, r === undefined ? denied : answer);
    },
  });
  if (o.nodelay) {
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    const listener = createNetServer({ noDelay: true }, (socket) => {
      socket.setNoDelay(true);
      injector.injectConnection(socket);
    });
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(o.port, '127.0.0.1', resolve);
    });
    close = () => {
      listener.close();
      injector.destroy();
      server.forceShutdown();
    };
  } else {
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(`127.0.0.1:${o.port}`, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
    close = () => server.forceShutdown();
  }
} else if (kind === 'grpc-h2') {
  // The transport Portcullis answers gRPC with (src/transports/grpc/h2-call.ts), with nothing above it: read the
  // request to its end, answer headers, the same response message, trailers grpc-status 0.
  const o = options as GrpcFloorOptions;
  const frame = grpcFrame(Buffer.from(o.response, 'base64'));
  const server = createH2Server();
  server.on('stream', (stream) => {
    stream.on('error', () => {});
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc+proto' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(frame);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port, '127.0.0.1', resolve);
  });
  close = () => server.close();
} else if (kind === 'http' || kind === 'jose' || kind === 'crypto') {
  let handler: (req: IncomingMessage, res: ServerResponse) => void;
  if (kind === 'http') {
    const o = options as HttpFloorOptions;
    const headers = { ...o.headers, 'content-length': String(Buffer.byteLength(o.body)) };
    handler = (_req, res) => {
      res.writeHead(o.status, headers);
      res.end(o.body);
    };
  } else {
    const o = options as VerifyFloorOptions;
    const verifier = verifierOf(kind, o);
    const allow = (sub: string | undefined, res: ServerResponse): void => {
      if (sub === undefined) res.writeHead(401, { 'www-authenticate': 'Bearer', 'content-length': '0' });
      else res.writeHead(200, { [o.subjectHeader]: sub, 'content-length': '0' });
      res.end();
    };
    handler = (req, res) => {
      const auth = req.headers.authorization ?? '';
      const r = verifier(auth.startsWith('Bearer ') ? auth.slice(7) : '');
      if (r instanceof Promise) r.then((sub) => allow(sub, res), () => allow(undefined, res));
      else allow(r, res);
    };
  }
  const port = (options as { port: number }).port;
  const server = createServer(HTTP_LISTENER_OPTIONS, handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', resolve);
  });
  close = () => {
    server.close();
    server.closeAllConnections();
  };
} else {
  process.stderr.write(`unknown floor ${kind}\n`);
  process.exit(2);
}

process.on('message', (m: { type?: string; gc?: boolean }) => {
  if (m?.type !== 'stats') return;
  // With --expose-gc (the flood does that) a full collection first, so heapUsed is the live heap, not garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (m.gc && gc) gc();
  process.send?.({ type: 'stats', memory: process.memoryUsage(), collected: Boolean(m.gc && gc) });
});
process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, kind })}\n`);
const stop = (): void => {
  close();
  process.exit(0);
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
