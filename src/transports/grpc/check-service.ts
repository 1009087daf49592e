/**
 * envoy.service.auth.v3.Authorization/Check. Every call gets a CheckResponse: neither odd input nor an Authorizer or
 * encoding failure may end in a gRPC error, because Envoy counts an error as a failed check, which its
 * failure_mode_allow turns into an allow and status_on_error into a status we did not choose.
 *
 * Our own HTTP/2 server (server.ts, h2-call.ts) reads the call, so size, framing and compression are decided here:
 *   - a call with no message, a truncated frame (no complete message) or a second message is denied 400
 *     request_malformed;
 *   - a message over `grpc.max_request_bytes` (announced by its prefix, or once inflated) is denied 413
 *     request_too_large, without buffering more than the limit (Envoy sends one when max_request_headers_kb is
 *     raised or with a request body);
 *   - a compressed message (grpc-encoding gzip or deflate) is inflated with the same cap, so a zip bomb is 413;
 *     one that does not inflate, or that uses an unknown grpc-encoding, is denied 400 request_malformed. Envoy does
 *     not compress ext_authz requests, but a gRPC client may.
 *   - bytes that are not a CheckRequest are treated as an empty request, which the Authorizer denies.
 */
import type { IncomingHttpHeaders } from 'node:http2';
import type { AuthRequest, Authorizer, Decision, HeaderMap, InvalidRequestReason } from '../../core/types.ts';
import type { Later } from '../../core/sync.ts';
import { methodCodec } from './codecs.ts';
import { decodeCheckRequestFast } from './request-decoder.ts';
import { frameMessage } from './h2-call.ts';
import { internalErrorResponse, toAuthRequest, toCheckResponse } from './ext-authz.ts';
import type { WireCheckResponse } from './wire.ts';

export type ErrorReporter = (error: unknown, context: string) => void;

type FramingReason = Extract<InvalidRequestReason, 'request_malformed' | 'request_too_large'>;

const INVALID_MESSAGE: Readonly<Record<FramingReason, string>> = {
  request_malformed: 'the Check call must carry exactly one complete CheckRequest',
  request_too_large: 'the CheckRequest is larger than grpc.max_request_bytes',
};

const check = methodCodec('envoy.service.auth.v3.Authorization', 'Check');

/**
 * The CheckResponse for one call: now when the Authorizer decides synchronously (a cached token), else a promise
 * (which never rejects). A throw, a rejection or an answer that is not a Decision becomes the internal-error deny.
 */
export function answerCheck(authorizer: Authorizer, message: unknown, report: ErrorReporter, transportHeaders?: HeaderMap, invalid?: FramingReason, xfcc = false): Later<WireCheckResponse> {
  let decision: Later<Decision>;
  try {
    let request: AuthRequest = toAuthRequest(invalid === undefined ? message : {}, xfcc);
    if (invalid !== undefined) request = { ...request, invalid: { reason: invalid, message: INVALID_MESSAGE[invalid] } };
    decision = authorizer.check(transportHeaders === undefined ? request : { ...request, transportHeaders });
  } catch (error) {
    return internalError(error, report);
  }
  if (decision instanceof Promise) return decision.then((d) => translate(d, report), (error: unknown) => internalError(error, report));
  return translate(decision, report);
}

function translate(decision: Decision, report: ErrorReporter): WireCheckResponse {
  try {
    return toCheckResponse(decision);
  } catch (error) {
    return internalError(error, report);
  }
}

function internalError(error: unknown, report: ErrorReporter): WireCheckResponse {
  report(error, 'ext_authz check (answered deny internal_error)');
  return internalErrorResponse();
}

/**
 * CheckRequest bytes → the decoded message: by the fast decoder (request-decoder.ts) where it can, else by
 * protobufjs; bytes that do not decode become an empty request (which is denied).
 */
export function decodeCheckRequest(bytes: Buffer, report: ErrorReporter): unknown {
  try {
    const fast = decodeCheckRequestFast(bytes);
    if (fast !== undefined) return fast;
  } catch (error) {
    report(error, 'ext_authz fast request decode (decoded with protobufjs instead)');
  }
  try {
    return check.requestDeserialize(bytes);
  } catch (error) {
    report(error, 'ext_authz request decode (answered as an empty request, which is denied)');
    return {};
  }
}

/** CheckResponse → bytes; a response that does not encode is replaced by the internal-error deny. */
export function encodeCheckResponse(value: unknown, report: ErrorReporter): Buffer {
  try {
    return check.responseSerialize(value);
  } catch (error) {
    report(error, 'ext_authz response encode (answered deny internal_error)');
    return check.responseSerialize(internalErrorResponse());
  }
}

/** The framed bytes of frozen responses (ext-authz.ts shares one per cached token and rule): encoded and framed once. */
const framed = new WeakMap<object, Buffer>();

/** CheckResponse → the length-prefixed message a unary answer carries (h2-call.ts sendFramed). */
export function framedCheckResponse(value: unknown, report: ErrorReporter): Buffer {
  if (typeof value !== 'object' || value === null || !Object.isFrozen(value)) return frameMessage(encodeCheckResponse(value, report));
  let bytes = framed.get(value);
  if (bytes === undefined) framed.set(value, (bytes = frameMessage(encodeCheckResponse(value, report))));
  return bytes;
}

/** Trace-context entries a caller (Envoy's tracer) may put in the call's metadata. */
const TRACE_METADATA = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'];

/** The call's own trace-context metadata (its HTTP/2 request headers) as a HeaderMap; undefined when it carries none. */
export function metadataHeaders(headers: IncomingHttpHeaders): HeaderMap | undefined {
  let found: Map<string, string[]> | undefined;
  for (const name of TRACE_METADATA) {
    const value = headers[name];
    if (value === undefined) continue;
    const text = (Array.isArray(value) ? value : [value]).filter((v): v is string => typeof v === 'string');
    if (text.length > 0) (found ??= new Map()).set(name, text);
  }
  return found;
}
