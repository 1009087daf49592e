/**
 * Child spans where time goes (token verification, JWKS fetch, policy evaluation), through the OpenTelemetry API
 * only. Without an SDK registered (tracing not configured) the API hands out no-op spans, so this costs next to
 * nothing; the SDK, exporters and the server span live outside the core.
 * Attributes never carry a token, a signature or key material.
 */
import { SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';

const tracer = trace.getTracer('portcullis');

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
