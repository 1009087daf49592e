/**
 * A raw gRPC client over node:http2 for the Check method: sends exactly the bytes given (any framing, any size) and
 * reads back what the server really answered (HTTP status, grpc-status, every response message). Also a hand-written
 * CheckRequest encoder, so a test can put bytes that are not UTF-8 into string fields, as a proxy could.
 */
import { connect } from 'node:http2';
import { upstreamDefinitions } from './envoy-client.ts';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

const upstreamCheck = (upstreamDefinitions['envoy.service.auth.v3.Authorization'] as unknown as Record<string, {
  responseDeserialize(bytes: Buffer): unknown;
  requestSerialize(value: unknown): Buffer;
}>).Check!;

export interface RawGrpcAnswer {
  readonly httpStatus: number;
  /** grpc-status from the trailers (or the headers of a trailers-only answer). */
  readonly grpcStatus: string | undefined;
  /** Decoded CheckResponse messages. */
  readonly messages: any[];
}

/** One length-prefixed gRPC message frame (uncompressed unless `compressed`). */
export function frame(message: Uint8Array, compressed = false): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(message.length, 1);
  Buffer.from(message).copy(out, 5);
  return out;
}

/** The length-prefixed messages of a response body, each with its compressed flag; a truncated tail is dropped. */
export function unframe(data: Buffer): { readonly flag: number; readonly message: Buffer }[] {
  const out: { flag: number; message: Buffer }[] = [];
  for (let at = 0; at + 5 <= data.length;) {
    const length = data.readUInt32BE(at + 1);
    out.push({ flag: data[at]!, message: data.subarray(at + 5, at + 5 + length) });
    at += 5 + length;
  }
  return out;
}

export function encodeCheckRequest(value: unknown): Buffer {
  return upstreamCheck.requestSerialize(value);
}

/** Sends `body` as the request stream of one Check call and collects the answer. */
export function rawCheck(address: string, body: Buffer, headers: Record<string, string> = {}): Promise<RawGrpcAnswer> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers', ...headers });
    let httpStatus = 0;
    let grpcStatus: string | undefined;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => {
      httpStatus = Number(h[':status']);
      if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
    });
    stream.on('trailers', (t) => {
      if (t['grpc-status'] !== undefined) grpcStatus = String(t['grpc-status']);
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', reject);
    stream.on('close', () => {
      session.close();
      const messages = unframe(Buffer.concat(chunks)).map(({ message }) => upstreamCheck.responseDeserialize(message));
      resolve({ httpStatus, grpcStatus, messages });
    });
    stream.end(body);
  });
}

// ---- a minimal protobuf writer for CheckRequest with raw bytes in its string fields

function varint(n: number): number[] {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
}

function field(number: number, bytes: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([...varint((number << 3) | 2), ...varint(bytes.length)]), Buffer.from(bytes)]);
}

/** CheckRequest{attributes{request{http{method, headers, path}}}} with every string given as raw bytes. */
export function rawCheckRequest(method: Uint8Array, path: Uint8Array, headers: readonly (readonly [string, Uint8Array])[] = []): Buffer {
  const http = Buffer.concat([
    field(2, method),
    ...headers.map(([name, value]) => field(3, Buffer.concat([field(1, Buffer.from(name)), field(2, value)]))),
    field(4, path),
  ]);
  return field(1, field(4, field(2, http)));
}

// ---- any HTTP/2 request to the gRPC listener, for the routing and framing tests

export interface RawCallAnswer {
  readonly headers: Record<string, unknown>;
  readonly trailers: Record<string, unknown>;
  /** HTTP :status. */
  readonly status: number;
  /** grpc-status from the trailers, or from the headers of a trailers-only answer. */
  readonly grpcStatus: string | undefined;
  /** The response messages, each without its 5-byte prefix. */
  readonly messages: Buffer[];
  /** Each response message's compressed-flag byte. */
  readonly compressedFlags: number[];
  /** Whether the client had finished sending its body when the answer was complete. */
  readonly answeredBeforeRequestEnded: boolean;
}

/**
 * One request: `body` is sent in full and the stream ended, unless `send` drives the request stream itself
 * (writing slowly, never ending, resetting). Resolves when the response is complete or the stream closes.
 */
export function rawCall(
  address: string,
  request: { headers?: Record<string, string>; body?: Buffer; send?: (stream: import('node:http2').ClientHttp2Stream) => void },
): Promise<RawCallAnswer> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    session.on('error', reject);
    const stream = session.request({ ':method': 'POST', ':path': CHECK_PATH, 'content-type': 'application/grpc', te: 'trailers', ...request.headers });
    let headers: Record<string, unknown> = {};
    let trailers: Record<string, unknown> = {};
    let answeredBeforeRequestEnded = false;
    const chunks: Buffer[] = [];
    stream.on('response', (h) => (headers = { ...h }));
    stream.on('trailers', (t) => (trailers = { ...t }));
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', () => {}); // a reset after the answer (the server telling us to stop sending)
    const done = (): void => {
      session.destroy();
      const frames = unframe(Buffer.concat(chunks));
      const messages = frames.map((f) => f.message);
      const compressedFlags = frames.map((f) => f.flag);
      const grpcStatus = trailers['grpc-status'] ?? headers['grpc-status'];
      resolve({ headers, trailers, status: Number(headers[':status'] ?? 0), grpcStatus: grpcStatus === undefined ? undefined : String(grpcStatus), messages, compressedFlags, answeredBeforeRequestEnded });
    };
    stream.on('end', () => {
      answeredBeforeRequestEnded = !stream.writableEnded;
      done();
    });
    stream.on('close', done);
    if (request.send !== undefined) request.send(stream);
    else stream.end(request.body ?? Buffer.alloc(0));
  });
}

export function decodeCheckResponse(bytes: Buffer): any {
  return upstreamCheck.responseDeserialize(bytes);
}
