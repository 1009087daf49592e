/**
 * Child spans where time goes (token verification, JWKS fetch, policy evaluation), through the OpenTelemetry API
 * only. Without an SDK registered (tracing not configured) the API hands out no-op spans; the SDK, exporters and the
 * server span live outside the core. Attributes never carry a token, a signature or key material.
 */
import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('portcullis');

/** A span of its own (or a child of the active one): for rare work such as key fetches, which may run in the background. */
export async function inSpan<T>(name: string, attributes: Attributes, fn: (span: Span) => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(name, { attributes }, async (span) => {
    try {
      return await fn(span);
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      span.end();
    }
  });
}

/**
 * A child of the active span, only when that span is recording (tracing on and the request sampled). Otherwise `fn`
 * runs with no span at all: the per-request hot path pays nothing for tracing it does not use.
 */
export function inChildSpan<T>(name: string, attributes: Attributes, fn: (span: Span | undefined) => Promise<T>): Promise<T> {
  return tracingActive() ? inSpan(name, attributes, fn) : fn(undefined);
}

/** The active span records (tracing on and the request sampled): only then do child spans exist. */
export function tracingActive(): boolean {
  return trace.getActiveSpan()?.isRecording() === true;
}

/** inChildSpan for synchronous work. */
export function inChildSpanSync<T>(name: string, attributes: Attributes, fn: () => T): T {
  if (!tracingActive()) return fn();
  return tracer.startActiveSpan(name, { attributes }, (span) => {
    try {
      return fn();
    } catch (e) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (e as Error).message });
      throw e;
    } finally {
      span.end();
    }
  });
}
