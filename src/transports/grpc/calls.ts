/**
 * Routes one HTTP/2 stream to its gRPC method: envoy.service.auth.v3.Authorization/Check and
 * grpc.health.v1.Health/{Check,Watch,List}. A request that is not a gRPC call (not POST, or a content-type that is
 * not application/grpc[+...]) gets a plain HTTP answer (415, as PROTOCOL-HTTP2.md says, or 405); an unknown method
 * gets a trailers-only UNIMPLEMENTED.
 */
import type { IncomingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { Authorizer } from '../../core/types.ts';
import { answerCheck, decodeCheckRequest, framedCheckResponse, metadataHeaders, type ErrorReporter } from './check-service.ts';
import type { HealthService } from './health.ts';
import { openResponseStream, receiveMessage, sendFramed, sendHttpStatus, sendStatus, sendUnary, type RequestDeadlines } from './h2-call.ts';
import { methodCodec } from './codecs.ts';
import { internalErrorResponse } from './ext-authz.ts';

/** google.rpc.Code / grpc-status values this server answers with outside a CheckResponse. */
const GrpcCode = { notFound: 5, resourceExhausted: 8, unimplemented: 12, internal: 13 } as const;

export interface CallContext {
  readonly authorizer: Authorizer;
  readonly health: HealthService;
  readonly maxRequestBytes: number;
  readonly report: ErrorReporter;
  /** Requests still incomplete after the server's request timeout are answered as malformed (h2-call.ts). */
  readonly deadlines?: RequestDeadlines;
  /** client_certificate.xfcc of the current config (read per call: a reload may change it). */
  readonly xfcc?: () => boolean;
}

type Handler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: CallContext) => void;

const health = {
  Check: methodCodec('grpc.health.v1.Health', 'Check'),
  Watch: methodCodec('grpc.health.v1.Health', 'Watch'),
  List: methodCodec('grpc.health.v1.Health', 'List'),
};

const checkCall: Handler = (stream, headers, context) => {
  receiveMessage(stream, encodingOf(headers), context.maxRequestBytes, (received) => {
    if (received.kind === 'gone') return;
    try {
      const message = received.kind === 'message' ? decodeCheckRequest(received.bytes, context.report) : undefined;
      const invalid = received.kind === 'invalid' ? received.problem : undefined; // the reason codes of the same names
      const response = answerCheck(context.authorizer, message, context.report, metadataHeaders(headers), invalid, context.xfcc?.() === true);
      const send = (value: unknown): void => sendFramed(stream, framedCheckResponse(value, context.report));
      if (response instanceof Promise) response.then(send).catch(failed(stream, context));
      else send(response);
    } catch (error) {
      // A bug on our side: still a CheckResponse (the internal-error deny), never a reset Envoy could turn into an allow.
      context.report(error, 'ext_authz call (answered deny internal_error)');
      sendFramed(stream, framedCheckResponse(internalErrorResponse(), context.report));
    }
  }, context.deadlines);
};

/** The health request's service name; undefined when the call carried no usable request (already answered). */
function healthRequest(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: CallContext, method: 'Check' | 'Watch' | 'List'): Promise<string | undefined> {
  return new Promise((resolve) => receiveMessage(stream, encodingOf(headers), context.maxRequestBytes, (received) => {
    if (received.kind === 'message') {
      try {
        return resolve((health[method].requestDeserialize(received.bytes) as { service?: string | null }).service ?? '');
      } catch {
        // answered below
      }
    }
    resolve(undefined);
    if (received.kind === 'gone') return;
    if (received.kind === 'invalid' && received.problem === 'request_too_large') sendStatus(stream, GrpcCode.resourceExhausted, 'request larger than grpc.max_request_bytes');
    else sendStatus(stream, GrpcCode.internal, 'the call must carry exactly one complete request message');
  }, context.deadlines));
}

const healthCheck: Handler = (stream, headers, context) => {
  void healthRequest(stream, headers, context, 'Check').then((service) => {
    if (service === undefined) return;
    const answer = context.health.check(service);
    if (answer === undefined) sendStatus(stream, GrpcCode.notFound, `unknown service ${JSON.stringify(service)}`);
    else sendUnary(stream, health.Check.responseSerialize(answer));
  }).catch(failed(stream, context));
};

const healthList: Handler = (stream, headers, context) => {
  void healthRequest(stream, headers, context, 'List').then((service) => {
    if (service !== undefined) sendUnary(stream, health.List.responseSerialize(context.health.list()));
  }).catch(failed(stream, context));
};

const healthWatch: Handler = (stream, headers, context) => {
  void healthRequest(stream, headers, context, 'Watch').then((service) => {
    if (service === undefined) return;
    const out = openResponseStream(stream);
    if (out === undefined) return;
    const finish = context.health.watch(service, {
      send: (response) => out.write(health.Watch.responseSerialize(response)),
      end: () => out.end(),
    });
    if (stream.closed) finish();
    else stream.once('close', finish);
  }).catch(failed(stream, context));
};

const METHODS: ReadonlyMap<string, Handler> = new Map([
  ['/envoy.service.auth.v3.Authorization/Check', checkCall],
  ['/grpc.health.v1.Health/Check', healthCheck],
  ['/grpc.health.v1.Health/Watch', healthWatch],
  ['/grpc.health.v1.Health/List', healthList],
]);

export function handleStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, context: CallContext): void {
  stream.on('error', () => {}); // a reset or a broken session: the call is over, nothing to answer
  if (headers[':method'] !== 'POST') return sendHttpStatus(stream, 405, { allow: 'POST' });
  const type = headers['content-type'];
  if (type === undefined || !(type === 'application/grpc' || type.startsWith('application/grpc+') || type.startsWith('application/grpc;'))) {
    return sendHttpStatus(stream, 415);
  }
  const handler = METHODS.get(headers[':path'] ?? '');
  if (handler === undefined) return sendStatus(stream, GrpcCode.unimplemented, `unknown method ${headers[':path'] ?? ''}`);
  try {
    handler(stream, headers, context);
  } catch (error) {
    failed(stream, context)(error);
  }
}

/** A bug in answering a call: reported, and the stream reset (never an unhandled rejection). */
function failed(stream: ServerHttp2Stream, context: CallContext): (error: unknown) => void {
  return (error) => {
    context.report(error, 'gRPC call');
    stream.destroy();
  };
}

function encodingOf(headers: IncomingHttpHeaders): string | undefined {
  const value = headers['grpc-encoding'];
  return typeof value === 'string' ? value : undefined;
}
