/**
 * envoy.service.auth.v3.Authorization/Check. Every call gets a CheckResponse: neither odd input nor an Authorizer or
 * encoding failure may end in a gRPC error, because Envoy counts an error as a failed check, which its
 * failure_mode_allow turns into an allow and status_on_error into a status we did not choose.
 */
import type { Metadata, ServiceDefinition, UntypedServiceImplementation, sendUnaryData, ServerUnaryCall } from '@grpc/grpc-js';
import type { Authorizer, HeaderMap } from '../../core/types.ts';
import { authorizationService } from './protos.ts';
import { internalErrorResponse, toAuthRequest, toCheckResponse } from './ext-authz.ts';
import type { WireCheckResponse } from './wire.ts';

export type ErrorReporter = (error: unknown, context: string) => void;

export async function answerCheck(authorizer: Authorizer, message: unknown, report: ErrorReporter, transportHeaders?: HeaderMap): Promise<WireCheckResponse> {
  try {
    const request = toAuthRequest(message);
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
export function guardedAuthorizationService(report: ErrorReporter): ServiceDefinition {
  const guarded: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(authorizationService)) {
    guarded[name] = {
      ...method,
      requestDeserialize(bytes: Buffer): unknown {
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
    Check(call: ServerUnaryCall<unknown, WireCheckResponse>, callback: sendUnaryData<WireCheckResponse>): void {
      void answerCheck(authorizer, call.request, report, metadataHeaders(call.metadata)).then((response) => callback(null, response));
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
