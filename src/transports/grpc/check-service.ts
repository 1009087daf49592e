/**
 * envoy.service.auth.v3.Authorization/Check. Every call gets a CheckResponse: neither odd input nor an Authorizer or
 * encoding failure may end in a gRPC error, because Envoy counts an error as a failed check, which its
 * failure_mode_allow turns into an allow and status_on_error into a status we did not choose.
 *
 * Size and framing are decided here, not by grpc-js, wherever grpc-js lets us answer:
 *   - the method is registered as client-streaming (the wire format of a unary call is the same), so a call with no
 *     message, a truncated frame (no complete message) or a second message reaches us and is denied 400
 *     request_malformed instead of grpc-js's UNIMPLEMENTED / INTERNAL;
 *   - grpc-js's own receive limit is a hard cap far above `grpc.max_request_bytes`; a message over our limit is
 *     denied 413 request_too_large (Envoy sends one when max_request_headers_kb is raised or with a request body).
 * Left to grpc-js, with no hook to answer instead: messages over the hard cap (RESOURCE_EXHAUSTED), compressed
 * messages that do not inflate (INTERNAL) or use an unknown grpc-encoding (UNIMPLEMENTED). Envoy does not compress
 * ext_authz requests.
 */
import type { Metadata, ServiceDefinition, UntypedServiceImplementation, sendUnaryData, ServerReadableStream } from '@grpc/grpc-js';
import type { AuthRequest, Authorizer, HeaderMap, InvalidRequestReason } from '../../core/types.ts';
import { Reasons } from '../../core/reasons.ts';
import { authorizationService } from './protos.ts';
import { internalErrorResponse, toAuthRequest, toCheckResponse } from './ext-authz.ts';
import type { WireCheckResponse } from './wire.ts';

export type ErrorReporter = (error: unknown, context: string) => void;

/** grpc-js's own receive limit: far above any `grpc.max_request_bytes`, so that our limit is the one that answers. */
export const HARD_MAX_MESSAGE_BYTES = 128 * 1024 * 1024;

/** What the deserializer hands over for a message over `grpc.max_request_bytes` (never decoded). */
const TOO_LARGE = Symbol('too large');

type FramingReason = Extract<InvalidRequestReason, 'request_malformed' | 'request_too_large'>;

const INVALID_MESSAGE: Readonly<Record<FramingReason, string>> = {
  request_malformed: 'the Check call must carry exactly one complete CheckRequest',
  request_too_large: 'the CheckRequest is larger than grpc.max_request_bytes',
};

export async function answerCheck(authorizer: Authorizer, message: unknown, report: ErrorReporter, transportHeaders?: HeaderMap, invalid?: FramingReason): Promise<WireCheckResponse> {
  try {
    let request: AuthRequest = toAuthRequest(invalid === undefined ? message : {});
    if (invalid !== undefined) request = { ...request, invalid: { reason: invalid, message: INVALID_MESSAGE[invalid] } };
    return toCheckResponse(await authorizer.check(transportHeaders === undefined ? request : { ...request, transportHeaders }));
  } catch (error) {
    report(error, 'ext_authz check (answered deny internal_error)');
    return internalErrorResponse();
  }
}

/**
 * The Authorization service definition with guarded (de)serializers: bytes that do not decode are treated as an
 * empty CheckRequest (which the Authorizer denies), and a response that does not encode is replaced by the
 * internal-error deny. Without this grpc-js would answer INTERNAL.
 */
export function guardedAuthorizationService(report: ErrorReporter, maxRequestBytes = Number.POSITIVE_INFINITY): ServiceDefinition {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(authorizationService)) {
    guarded[name] = {
      ...method,
      // Same bytes on the wire as unary; lets the handler see zero or several messages and answer them.
      requestStream: true,
      requestDeserialize(bytes: Buffer): unknown {
        if (bytes.length > maxRequestBytes) return TOO_LARGE;
        try {
          return method.requestDeserialize(bytes);
        } catch (error) {
          report(error, 'ext_authz request decode (answered as an empty request, which is denied)');
          return {};
        }
      },
      responseSerialize(value: unknown): Buffer {
        try {
          return method.responseSerialize(value);
        } catch (error) {
          report(error, 'ext_authz response encode (answered deny internal_error)');
          return method.responseSerialize(internalErrorResponse());
        }
      },
    };
  }
  return guarded as ServiceDefinition;
}

export function checkImplementation(authorizer: Authorizer, report: ErrorReporter): UntypedServiceImplementation {
  return {
    Check(call: ServerReadableStream<unknown, WireCheckResponse>, callback: sendUnaryData<WireCheckResponse>): void {
      const messages: unknown[] = [];
      call.on('data', (message: unknown) => {
        if (messages.length < 2) messages.push(message);
      });
      call.on('error', () => {}); // a cancelled call: grpc-js has ended it, nothing to answer
      call.on('end', () => {
        const invalid: FramingReason | undefined = messages.length !== 1
          ? Reasons.requestMalformed
          : messages[0] === TOO_LARGE ? Reasons.requestTooLarge : undefined;
        void answerCheck(authorizer, messages[0], report, metadataHeaders(call.metadata), invalid).then((response) => callback(null, response));
      });
    },
  };
}

/** Trace-context entries a caller (Envoy's tracer) may put in the call's metadata. */
const TRACE_METADATA = ['traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags'];

/** The call's own trace-context metadata (text values) as a HeaderMap; undefined when it carries none. */
function metadataHeaders(metadata: Metadata | undefined): HeaderMap | undefined {
  let headers: Map<string, string[]> | undefined;
  for (const name of TRACE_METADATA) {
    const values = metadata?.get(name);
    if (values === undefined || values.length === 0) continue;
    const text = values.filter((v): v is string => typeof v === 'string');
    if (text.length > 0) (headers ??= new Map()).set(name, text);
  }
  return headers;
}
