/**
 * Which trace a decision continues. Carriers and formats are tried in a fixed order and the FIRST valid span context
 * wins:
 *   1. the transport call's own headers (gRPC metadata of the Check: Envoy's ext_authz client span), W3C then B3;
 *   2. the original request's headers (inside the CheckRequest, or the forward_auth request's own headers, which
 *      Caddy / nginx / Traefik copy from the client request), W3C `traceparent`/`tracestate`, then B3 (the single
 *      `b3` header or `x-b3-traceid`/`x-b3-spanid`/`x-b3-sampled`, Envoy's Zipkin default).
 * The parsing is the SDK's: W3CTraceContextPropagator (@opentelemetry/core) and B3Propagator
 * (@opentelemetry/propagator-b3, single and multi header). A CompositePropagator is not used because it lets the LAST
 * propagator that finds something win; here the order above decides.
 * Baggage is not extracted: nothing a client sends ends up on our spans except the trace position.
 */
import { isSpanContextValid, ROOT_CONTEXT, trace, type Context, type SpanContext, type TextMapGetter, type TextMapPropagator } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { B3Propagator } from '@opentelemetry/propagator-b3';
import type { AuthRequest, HeaderMap } from '../core/types.ts';

const getter: TextMapGetter<HeaderMap> = {
  keys: (carrier) => [...carrier.keys()],
  // The propagators read the first value of a list (tracestate: all, comma-joined); they never modify it.
  get: (carrier, key) => carrier.get(key) as string[] | undefined,
};

const PROPAGATORS: readonly TextMapPropagator[] = [new W3CTraceContextPropagator(), new B3Propagator()];

/** The parent context for the server span: the caller's remote span context, or the root context (a new trace). */
export function extractParent(request: AuthRequest): Context {
  for (const carrier of [request.transportHeaders, request.headers]) {
    if (carrier === undefined || carrier.size === 0) continue;
    for (const propagator of PROPAGATORS) {
      const extracted = propagator.extract(ROOT_CONTEXT, carrier, getter);
      const span = trace.getSpanContext(extracted);
      if (span !== undefined && isSpanContextValid(span)) return extracted;
    }
  }
  return ROOT_CONTEXT;
}

/** The caller's span context alone (decision logs when tracing is off), or undefined. */
export function extractSpanContext(request: AuthRequest): SpanContext | undefined {
  return trace.getSpanContext(extractParent(request));
}
