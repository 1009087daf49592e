/**
 * One gRPC call on a node:http2 stream, the wire part only (https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md):
 * read the one length-prefixed request message under a byte cap, inflate it if compressed, and answer with one
 * message, a stream of messages, or a trailers-only status. No protobuf and no rules here.
 *
 * A request never makes us buffer more than `maxBytes` + 5 bytes: a prefix that announces more, or bytes past the
 * first message, are answered at once, without waiting for the rest of the body, and the stream is then reset
 * with NO_ERROR so the client stops sending (HTTP/2 §8.1: a complete response before the request ended).
 */
import { constants, type ServerHttp2Stream } from 'node:http2';
import { gunzip, inflate, type InputType, type ZlibOptions } from 'node:zlib';

/** Why a call's request is not one usable message. */
export type FramingProblem = 'request_malformed' | 'request_too_large';

export type Received =
  | { readonly kind: 'message'; readonly bytes: Buffer }
  | { readonly kind: 'invalid'; readonly problem: FramingProblem }
  /** The client reset the stream or the session went away: nobody to answer. */
  | { readonly kind: 'gone' };

const PREFIX = 5;

type Inflater = (input: InputType, options: ZlibOptions, callback: (error: Error | null, result: Buffer) => void) => void;

/** grpc-encoding values we inflate; "deflate" is the zlib format (RFC 1950), as grpc-js and grpc-go send it. */
const INFLATERS: Readonly<Record<string, Inflater>> = { gzip: gunzip, deflate: inflate };

/**
 * Streams still reading their request, each with the time it began. A slow or stalled client (a slowloris holding
 * streams open with up to `maxBytes` buffered each) gets its answer once `timeoutMs` has passed: the caller's
 * answer to a request that never completed (for Check, a deny; never a reset, which Envoy's failure_mode_allow would
 * turn into an allow). One sweep per server, as node:http's requestTimeout, rather than a timer per call.
 */
export class RequestDeadlines {
  readonly #open = new Map<ServerHttp2Stream, { readonly since: number; readonly expire: () => void }>();
  readonly #timeoutMs: number;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(timeoutMs: number, now: () => number = Date.now, sweepMs = Math.min(1000, Math.max(10, timeoutMs / 4))) {
    this.#timeoutMs = timeoutMs;
    this.#now = now;
    this.#timer = setInterval(() => this.sweep(), sweepMs);
    this.#timer.unref();
  }

  add(stream: ServerHttp2Stream, expire: () => void): void {
    this.#open.set(stream, { since: this.#now(), expire });
  }

  remove(stream: ServerHttp2Stream): void {
    this.#open.delete(stream);
  }

  /** Expires every stream older than the timeout (the map keeps arrival order: the oldest come first). */
  sweep(): void {
    const limit = this.#now() - this.#timeoutMs;
    for (const [stream, open] of this.#open) {
      if (open.since > limit) break;
      this.#open.delete(stream);
      open.expire();
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/**
 * Reads the request stream of a unary call and hands the outcome to `done`, once: in the same tick as the stream's
 * end for an uncompressed message (no promise: a cached token is answered without a microtask turn). With
 * `deadlines`, a request still incomplete when its deadline passes is `request_malformed` (it never carried one
 * complete message).
 */
export function receiveMessage(stream: ServerHttp2Stream, encoding: string | undefined, maxBytes: number, done: (received: Received) => void, deadlines?: RequestDeadlines): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let expected = -1; // total bytes of the first message with its prefix, once the prefix is read
  let compressed = false;
  let settled = false;

  const settle = (result: Received): void => {
    if (settled) return;
    settled = true;
    deadlines?.remove(stream);
    stream.off('data', onData);
    stream.off('end', onEnd);
    stream.off('close', onClose);
    done(result);
  };
  const invalid = (problem: FramingProblem): void => settle({ kind: 'invalid', problem });

  function onData(chunk: Buffer): void {
    chunks.push(chunk);
    size += chunk.length;
    if (expected < 0 && size >= PREFIX) {
      const head = chunks[0]!.length >= PREFIX ? chunks[0]! : Buffer.concat(chunks);
      const flag = head[0]!;
      const length = head.readUInt32BE(1);
      if (flag > 1) return invalid('request_malformed');
      if (length > maxBytes) return invalid('request_too_large');
      compressed = flag === 1;
      expected = PREFIX + length;
    }
    if (expected >= 0 && size > expected) invalid('request_malformed'); // a second message, or bytes after the first
  }

  function onEnd(): void {
    if (expected < 0 || size < expected) return invalid('request_malformed'); // no message, or a truncated one
    const whole = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
    const message = whole.subarray(PREFIX);
    if (!compressed) return settle({ kind: 'message', bytes: message });
    const inflater = encoding === undefined ? undefined : INFLATERS[encoding];
    if (inflater === undefined) return invalid('request_malformed'); // compressed with identity, none or an unknown encoding
    // One byte over the cap proves "too large" without inflating a zip bomb any further.
    inflater(message, { maxOutputLength: maxBytes + 1 }, (error, inflated) => {
      if (error !== null) invalid((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' ? 'request_too_large' : 'request_malformed');
      else if (inflated.length > maxBytes) invalid('request_too_large');
      else settle({ kind: 'message', bytes: inflated });
    });
  }

  function onClose(): void {
    settle({ kind: 'gone' });
  }

  stream.on('data', onData);
  stream.once('end', onEnd);
  stream.once('close', onClose);
  deadlines?.add(stream, () => invalid('request_malformed'));
}

/** A length-prefixed, uncompressed message. */
export function frameMessage(message: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(PREFIX + message.length);
  out[0] = 0;
  out.writeUInt32BE(message.length, 1);
  out.set(message, PREFIX);
  return out;
}

/**
 * grpc-js sends these plus `grpc-encoding: identity` and an empty `grpc-message` trailer; both are optional
 * (PROTOCOL-HTTP2.md: no grpc-encoding means identity) and every header costs HPACK work on every call.
 * grpc-accept-encoding tells a client which compressions it may use. One frozen object for every answer:
 * node:http2's respond() copies the headers it is given.
 */
const RESPONSE_HEADERS: Readonly<Record<string, string | number>> = Object.freeze({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip' });
const WAIT_FOR_TRAILERS = Object.freeze({ waitForTrailers: true });

function usable(stream: ServerHttp2Stream): boolean {
  return !stream.destroyed && !stream.closed && !stream.headersSent;
}

/**
 * Runs an answer; if node:http2 refuses it (a stream that went away in between), the stream is destroyed instead.
 * These run from stream events: a throw there would end the process.
 */
function answer(stream: ServerHttp2Stream, write: () => void): void {
  if (!usable(stream)) return;
  try {
    write();
  } catch {
    stream.destroy();
  }
}

/** How often, and how long at most, stopReading waits for our answer to leave before it resets the stream. */
const FLUSH_POLL_MS = 10;
const FLUSH_WAIT_MS = 5000;

/**
 * After our complete answer: a client still sending is told to stop with RST_STREAM NO_ERROR. Only once our
 * END_STREAM has left (nghttp2 sends a queued RST_STREAM ahead of queued DATA, which would lose the answer);
 * meanwhile what still arrives is discarded.
 */
function stopReading(stream: ServerHttp2Stream): void {
  if (stream.readableEnded || stream.closed) return;
  stream.resume();
  const deadline = Date.now() + FLUSH_WAIT_MS;
  const poll = (): void => {
    if (stream.closed || stream.destroyed || stream.readableEnded) return;
    if (stream.state.localClose === 1 || Date.now() > deadline) stream.close(constants.NGHTTP2_NO_ERROR);
    else setTimeout(poll, FLUSH_POLL_MS).unref();
  };
  setImmediate(poll);
}

function sendOkTrailers(stream: ServerHttp2Stream): void {
  try {
    stream.sendTrailers({ 'grpc-status': '0' });
    stopReading(stream);
  } catch {
    stream.destroy();
  }
}

/** Headers, one message, trailers grpc-status 0. */
export function sendUnary(stream: ServerHttp2Stream, message: Uint8Array): void {
  sendFramed(stream, frameMessage(message));
}

/**
 * sendUnary for a message already framed (frameMessage), so a cached answer is framed once. It runs on every Check,
 * so it allocates nothing of its own: shared headers and options, and a trailers listener that reads its stream from `this`.
 */
export function sendFramed(stream: ServerHttp2Stream, framed: Buffer): void {
  if (!usable(stream)) return;
  try {
    stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    stream.once('wantTrailers', onWantTrailers);
    stream.end(framed);
  } catch {
    stream.destroy();
  }
}

function onWantTrailers(this: ServerHttp2Stream): void {
  sendOkTrailers(this);
}

/** A trailers-only answer: the status in the one HEADERS frame, no message. */
export function sendStatus(stream: ServerHttp2Stream, code: number, message: string): void {
  answer(stream, () => {
    stream.respond({ ...RESPONSE_HEADERS, 'grpc-status': String(code), 'grpc-message': encodeURI(message) }, { endStream: true });
    stopReading(stream);
  });
}

/** A plain HTTP answer to a request that is not a gRPC call at all (wrong method or content-type). */
export function sendHttpStatus(stream: ServerHttp2Stream, status: number, headers: Record<string, string> = {}): void {
  answer(stream, () => {
    stream.respond({ ':status': status, ...headers }, { endStream: true });
    stopReading(stream);
  });
}

/** A server-streaming answer: headers now, then messages, then trailers grpc-status 0 at end(). */
export function openResponseStream(stream: ServerHttp2Stream): { write(message: Uint8Array): void; end(): void } | undefined {
  if (!usable(stream)) return undefined;
  let opened = false;
  answer(stream, () => {
    stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
    stream.once('wantTrailers', onWantTrailers);
    opened = true;
  });
  if (!opened) return undefined;
  const open = (): boolean => !stream.destroyed && !stream.closed && !stream.writableEnded;
  return {
    write(message) {
      if (open()) stream.write(frameMessage(message));
    },
    end() {
      if (open()) stream.end();
    },
  };
}
