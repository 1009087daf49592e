/**
 * `instrumentAuthorizer(authorizer, telemetry)`: the Authorizer both transports call, with the server span, the
 * decision metrics and the decision log around the core's. The core stays free of SDK code; its own child spans
 * (portcullis.verify_token, portcullis.jwks_fetch) join the server span through the active context.
 *
 * Which variant runs is decided once, here: with tracing off the wrapper never extracts a context nor starts a span
 * (a clock read, a counter, one or two histogram records, a level check); with nothing configured at all the core's
 * authorizer is returned as it is.
 *
 * Span: SERVER kind, continuing the caller's trace (propagation.ts), named after the RPC for ext_authz
 * (`envoy.service.auth.v3.Authorization/Check`, rpc.* semantic conventions), `portcullis.forward_auth` for forward
 * auth and `portcullis.envoy_http` for Envoy's HTTP mode (http.route = the endpoint path or prefix,
 * http.response.status_code). Attributes: portcullis.decision, .reason, .status, .issuer, .kid,
 * .route (when the decision names one), .token.bytes, the original request (portcullis.request.method / .host /
 * .path without query), client.address; user.id only with telemetry.record_subject. Never a token or a signature.
 * A deny is a normal answer (status unset); internal_error sets the span status to ERROR.
 */
// The module's binding, not the global: node defines globalThis.performance lazily, and reading that global twice per
// decision showed up in profiles of the cached path (a global-object load each time).
import { performance } from 'node:perf_hooks';
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import {
  ATTR_CLIENT_ADDRESS, ATTR_CLIENT_PORT, ATTR_ERROR_TYPE, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_HTTP_ROUTE, ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE, ATTR_RPC_SYSTEM_NAME,
} from '@opentelemetry/semantic-conventions';
import type { AuthRequest, Authorizer, Decision, Deny, Transport } from '../core/types.ts';
import type { Later } from '../core/sync.ts';
import { Reasons } from '../core/reasons.ts';
import { internalErrorDeny } from '../core/deny.ts';
import type { PortcullisMetrics } from './metrics.ts';
import type { DecisionLog } from './decision-log.ts';
import { pathOnly, routeOf } from './decision-log.ts';
import { clip } from '../core/text.ts';
import { extractParent, extractSpanContext } from './propagation.ts';

/** What the decorator needs from createTelemetry (index.ts). */
export interface Instrumentation {
  /** undefined = tracing off. */
  readonly tracer: Tracer | undefined;
  readonly metrics: PortcullisMetrics | undefined;
  readonly decisionLog: DecisionLog | undefined;
  readonly recordSubject: boolean;
}

export const CHECK_METHOD = 'envoy.service.auth.v3.Authorization/Check';
export const FORWARD_AUTH_SPAN = 'portcullis.forward_auth';
export const ENVOY_HTTP_SPAN = 'portcullis.envoy_http';

/** Server span name per transport. */
const SPAN_NAME: Readonly<Record<Transport, string>> = { grpc: CHECK_METHOD, http: FORWARD_AUTH_SPAN, envoy_http: ENVOY_HTTP_SPAN };

/** What an authorizer that threw is counted and logged as: the deny the transports answer (core/deny.ts). */
const FAILED: Deny = internalErrorDeny({ realm: '', cleared: [] });

export function instrumentAuthorizer(inner: Authorizer, telemetry: Instrumentation): Authorizer {
  const { tracer, metrics, decisionLog } = telemetry;
  if (tracer === undefined && metrics === undefined && decisionLog === undefined) return inner;

  /** Metrics and the log line. Never throws: telemetry must not change or fail a decision. */
  const record = (request: AuthRequest, decision: Decision, start: number, span: Span | undefined): void => {
    try {
      const seconds = (performance.now() - start) / 1000;
      metrics?.decision(request.transport, decision, seconds);
      if (decisionLog !== undefined) {
        const level = decisionLog.levelFor(decision);
        // Tracing off: the caller's ids are extracted only for the lines that are written.
        if (level !== undefined) decisionLog.write(level, request, decision, seconds, span !== undefined ? span.spanContext() : extractSpanContext(request));
      }
    } catch {
      // ignored on purpose
    }
  };

  if (tracer === undefined) {
    // No span: a decision the core answered synchronously is recorded and answered synchronously too.
    return {
      check(request) {
        const start = performance.now();
        let decision: Later<Decision>;
        try {
          decision = inner.check(request);
        } catch (error) {
          record(request, FAILED, start, undefined);
          return Promise.reject(error);
        }
        if (decision instanceof Promise) {
          return decision.then(
            (d) => {
              record(request, d, start, undefined);
              return d;
            },
            (error: unknown) => {
              record(request, FAILED, start, undefined);
              throw error;
            },
          );
        }
        record(request, decision, start, undefined);
        return decision;
      },
    };
  }

  return {
    async check(request) {
      const start = performance.now();
      const parent = extractParent(request);
      const span = tracer.startSpan(
        SPAN_NAME[request.transport] ?? FORWARD_AUTH_SPAN,
        { kind: SpanKind.SERVER, attributes: requestAttributes(request) },
        parent,
      );
      let decision: Decision;
      try {
        decision = await context.with(trace.setSpan(parent, span), () => inner.check(request));
      } catch (error) {
        finish(span, request, FAILED, telemetry.recordSubject, error);
        record(request, FAILED, start, span);
        span.end();
        throw error;
      }
      finish(span, request, decision, telemetry.recordSubject, undefined);
      record(request, decision, start, span);
      span.end();
      return decision;
    },
  };
}

function requestAttributes(request: AuthRequest): Attributes {
  const attributes: Attributes = request.transport === 'grpc'
    ? { [ATTR_RPC_SYSTEM_NAME]: 'grpc', [ATTR_RPC_METHOD]: CHECK_METHOD }
    : request.endpoint !== undefined ? { [ATTR_HTTP_ROUTE]: request.endpoint } : {};
  attributes['portcullis.transport'] = request.transport;
  if (request.method !== '') attributes['portcullis.request.method'] = clip(request.method, 32);
  if (request.host !== '') attributes['portcullis.request.host'] = clip(request.host, 256);
  if (request.path !== '') attributes['portcullis.request.path'] = pathOnly(request.path);
  if (request.clientAddress !== undefined) {
    const { address, port } = splitAddress(request.clientAddress);
    attributes[ATTR_CLIENT_ADDRESS] = clip(address, 256);
    if (port !== undefined) attributes[ATTR_CLIENT_PORT] = port;
  }
  return attributes;
}

function finish(span: Span, request: AuthRequest, decision: Decision, recordSubject: boolean, error: unknown): void {
  if (!span.isRecording()) return;
  const status = decision.kind === 'allow' ? 200 : decision.status;
  const attributes: Attributes = {
    'portcullis.decision': decision.kind,
    'portcullis.reason': decision.reason,
    'portcullis.status': status,
  };
  if (request.transport === 'grpc') attributes[ATTR_RPC_STATUS_CODE] = error === undefined ? 'OK' : 'INTERNAL';
  else attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = status;
  if (decision.issuer !== undefined) attributes['portcullis.issuer'] = decision.issuer;
  if (decision.kind === 'allow' && decision.kid !== undefined) attributes['portcullis.kid'] = decision.kid;
  const route = routeOf(decision);
  if (route !== undefined) attributes['portcullis.route'] = route;
  if (decision.tokenBytes !== undefined) attributes['portcullis.token.bytes'] = decision.tokenBytes;
  if (recordSubject && decision.kind === 'allow' && typeof decision.claims?.sub === 'string') attributes['user.id'] = decision.claims.sub;
  if (decision.reason === Reasons.internalError) {
    attributes[ATTR_ERROR_TYPE] = error instanceof Error ? error.name : Reasons.internalError;
    span.setStatus({ code: SpanStatusCode.ERROR, message: Reasons.internalError });
  }
  span.setAttributes(attributes);
}

/** "ip:port", "[v6]:port", a bare address or a socket path → address and port. */
function splitAddress(value: string): { address: string; port?: number } {
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(value);
  if (v6) return { address: v6[1]!, port: Number(v6[2]) };
  const v4 = /^([^:]+):(\d+)$/.exec(value);
  if (v4) return { address: v4[1]!, port: Number(v4[2]) };
  return { address: value };
}
