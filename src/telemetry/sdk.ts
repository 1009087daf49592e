/**
 * The OpenTelemetry SDK, set up once per process by the composition root (src/main.ts) before the server starts.
 *
 * Tracing exists only when the environment asks for it (OTEL_TRACES_EXPORTER, OTEL_EXPORTER_OTLP_ENDPOINT or
 * OTEL_EXPORTER_OTLP_TRACES_ENDPOINT): otherwise no tracer provider is registered, no trace SDK module is even
 * loaded, and the core's child spans stay the API's no-ops. When on: a global tracer provider (sampler from
 * OTEL_TRACES_SAMPLER, batch processor from OTEL_BSP_*), the AsyncLocalStorage context manager (so spans started in
 * the core become children of the server span) and an OTLP/HTTP exporter in the protocol OTEL_EXPORTER_OTLP_PROTOCOL
 * names (http/protobuf by default, http/json).
 *
 * Metrics readers for OTLP push are handed to each MeterProvider the server creates (see metrics.ts); the
 * Prometheus /metrics reader is not here because it is configured in the YAML, not the environment.
 */
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { context, diag, DiagLogLevel, trace, type DiagLogger, type Tracer } from '@opentelemetry/api';
import { diagLogLevelFromString } from '@opentelemetry/core';
import { defaultResource, resourceFromAttributes, type Resource } from '@opentelemetry/resources';
import { AggregationTemporality, InstrumentType, PeriodicExportingMetricReader, type IMetricReader, type MetricProducer, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import type { Sampler, Span, SpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { readTelemetryEnv, type Env, type MetricsSettings, type TracesSettings } from './env.ts';

export const SERVICE_VERSION: string = (() => {
  try {
    return String((JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown }).version ?? 'unknown');
  } catch {
    return 'unknown';
  }
})();

export const INSTRUMENTATION_SCOPE = 'portcullis';

export interface OpenTelemetrySdk {
  /** The tracer for server spans; undefined = tracing is off (the decorator then never touches trace context). */
  readonly tracer: Tracer | undefined;
  readonly resource: Resource;
  /**
   * New OTLP push readers for one MeterProvider; none when OTLP metrics are off. `producerFor` adds a producer of
   * metrics recorded outside the SDK (histograms.ts), in the temporality the reader's exporter asks for.
   */
  metricReaders(producerFor?: (temporality: AggregationTemporality) => MetricProducer): IMetricReader[];
  /** jwks_fetch spans whose loader did not name the issuer get it from the fetched URL. */
  nameJwksUrl(url: string, issuer: string): void;
  /** What the environment asked for, for the start log line. */
  readonly summary: Readonly<Record<string, string | number | boolean>>;
  /** OTEL_* values that were not understood (each fell back to its default). */
  readonly warnings: readonly string[];
  /** Exports what is buffered. */
  forceFlush(): Promise<void>;
  /** Exports what is buffered, then unregisters the global provider and context manager. Never rejects. */
  shutdown(): Promise<void>;
}

/** Tracing off, no OTLP metrics: what the server uses when it is not given an SDK (tests, embedding). */
export const NO_SDK: OpenTelemetrySdk = {
  tracer: undefined,
  resource: baseResource({}),
  metricReaders: () => [],
  nameJwksUrl: () => {},
  summary: { tracing: false, otlp_metrics: false },
  warnings: [],
  forceFlush: async () => {},
  shutdown: async () => {},
};

export interface StartOptions {
  /** Where the SDK's own diagnostics go (export failures): one line each. Default: stderr. */
  readonly diagWrite?: (line: string) => void;
}

export async function startOpenTelemetry(env: Env = process.env, options: StartOptions = {}): Promise<OpenTelemetrySdk> {
  const settings = readTelemetryEnv(env);
  const warnings = [...settings.warnings];
  const resource = baseResource(settings.resourceAttributes);
  const diagWrite = options.diagWrite ?? ((line: string) => process.stderr.write(line));
  const usesDiag = settings.traces !== undefined || settings.otlpMetrics !== undefined;
  if (usesDiag) {
    diag.setLogger(lineDiagLogger(diagWrite), {
      logLevel: diagLogLevelFromString(settings.diagLevel) ?? DiagLogLevel.WARN,
      suppressOverrideMessage: true,
    });
  }

  const jwksIssuers = new Map<string, string>();
  let provider: TracerProvider | undefined;
  let tracer: Tracer | undefined;
  let contextManager: { disable(): unknown } | undefined;
  if (settings.traces !== undefined) {
    provider = await tracerProvider(settings.traces, resource, jwksIssuers);
    const { AsyncLocalStorageContextManager } = await import('@opentelemetry/context-async-hooks');
    const manager = new AsyncLocalStorageContextManager().enable();
    const registered = context.setGlobalContextManager(manager) && trace.setGlobalTracerProvider(provider);
    if (!registered) {
      warnings.push('a global tracer provider or context manager was already registered: core child spans may not join the server span');
    }
    contextManager = manager;
    tracer = provider.getTracer(INSTRUMENTATION_SCOPE, SERVICE_VERSION);
  }

  const metricExporter = settings.otlpMetrics === undefined ? undefined : await metricExporterFactory(settings.otlpMetrics);
  const otlpMetrics = settings.otlpMetrics;

  return {
    tracer,
    resource,
    metricReaders: (producerFor) => {
      if (metricExporter === undefined || otlpMetrics === undefined) return [];
      const exporter = metricExporter();
      const temporality = exporter.selectAggregationTemporality?.(InstrumentType.HISTOGRAM) ?? AggregationTemporality.CUMULATIVE;
      return [new PeriodicExportingMetricReader({
        exporter,
        exportIntervalMillis: otlpMetrics.exportIntervalMillis,
        exportTimeoutMillis: otlpMetrics.exportTimeoutMillis,
        ...(producerFor !== undefined ? { metricProducers: [producerFor(temporality)] } : {}),
      })];
    },
    nameJwksUrl: (url, issuer) => {
      jwksIssuers.set(url, issuer);
    },
    summary: {
      tracing: settings.traces !== undefined,
      ...(settings.traces !== undefined
        ? {
            traces_exporter: settings.traces.exporter,
            traces_protocol: settings.traces.protocol,
            traces_endpoint: settings.traces.url ?? 'default',
            sampler: settings.traces.sampler,
            ...(settings.traces.sampler.endsWith('traceidratio') ? { sampler_ratio: settings.traces.samplerRatio } : {}),
          }
        : {}),
      otlp_metrics: otlpMetrics !== undefined,
      ...(otlpMetrics !== undefined ? { metrics_protocol: otlpMetrics.protocol, metrics_endpoint: otlpMetrics.url ?? 'default' } : {}),
      service_name: String(resource.attributes['service.name']),
    },
    warnings,
    forceFlush: async () => {
      await provider?.forceFlush();
    },
    // Never rejects: spans that cannot be exported at shutdown (collector down, export limit) are reported, and the
    // service still stops cleanly.
    shutdown: async () => {
      try {
        await provider?.shutdown();
      } catch (e) {
        diagWrite(`${JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'opentelemetry: spans not exported at shutdown', detail: (e as Error).message })}\n`);
      } finally {
        if (provider !== undefined) {
          trace.disable();
          contextManager?.disable();
          context.disable();
        }
        if (usesDiag) diag.disable();
      }
    },
  };
}

function baseResource(attributes: Readonly<Record<string, string>>): Resource {
  return defaultResource()
    .merge(resourceFromAttributes({ 'service.name': 'portcullis', 'service.version': SERVICE_VERSION, 'service.instance.id': randomUUID() }))
    .merge(resourceFromAttributes(attributes));
}

async function tracerProvider(settings: TracesSettings, resource: Resource, jwksIssuers: ReadonlyMap<string, string>): Promise<TracerProvider> {
  const sdk = await import('@opentelemetry/sdk-trace');
  let exporter;
  if (settings.exporter === 'console') exporter = new sdk.ConsoleSpanExporter();
  else {
    const config = settings.url === undefined ? {} : { url: settings.url };
    exporter = settings.protocol === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter(config)
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter(config);
  }
  const ratio = (): Sampler => new sdk.TraceIdRatioBasedSampler(settings.samplerRatio);
  const samplers: Record<TracesSettings['sampler'], () => Sampler> = {
    always_on: () => new sdk.AlwaysOnSampler(),
    always_off: () => new sdk.AlwaysOffSampler(),
    traceidratio: ratio,
    parentbased_always_on: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOnSampler() }),
    parentbased_always_off: () => new sdk.ParentBasedSampler({ root: new sdk.AlwaysOffSampler() }),
    parentbased_traceidratio: () => new sdk.ParentBasedSampler({ root: ratio() }),
  };
  const export_: SpanProcessor = settings.exporter === 'console'
    ? new sdk.SimpleSpanProcessor({ exporter })
    : new sdk.BatchSpanProcessor({ exporter, ...settings.batch });
  return new sdk.TracerProvider({
    resource,
    sampler: samplers[settings.sampler](),
    spanProcessors: [jwksIssuerProcessor(jwksIssuers), export_],
  });
}

/**
 * Fills portcullis.issuer on a jwks_fetch span from its url.full when the loader could not name it (a direct
 * jwks_uri loader is not told its issuer); the configured key URLs are registered by the server at start.
 */
function jwksIssuerProcessor(issuers: ReadonlyMap<string, string>): SpanProcessor {
  return {
    onStart(span: Span) {
      if (span.name !== 'portcullis.jwks_fetch' || span.attributes['portcullis.issuer'] !== undefined) return;
      const url = span.attributes['url.full'];
      const issuer = typeof url === 'string' ? issuers.get(url) : undefined;
      if (issuer !== undefined) span.setAttribute('portcullis.issuer', issuer);
    },
    onEnd() {},
    forceFlush: async () => {},
    shutdown: async () => {},
  };
}

async function metricExporterFactory(settings: MetricsSettings): Promise<() => PushMetricExporter> {
  const config = settings.url === undefined ? {} : { url: settings.url };
  if (settings.protocol === 'http/json') {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
    return () => new OTLPMetricExporter(config);
  }
  const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-proto');
  return () => new OTLPMetricExporter(config);
}

/** The SDK's diagnostics as JSON lines (export failures must be visible, but must not look like decision logs). */
function lineDiagLogger(write: (line: string) => void): DiagLogger {
  const at = (level: string) => (message: string, ...args: unknown[]) => {
    const detail = args.map((a) => (a instanceof Error ? a.message : typeof a === 'string' ? a : safeJson(a))).join(' ');
    write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: `opentelemetry: ${message}`, ...(detail ? { detail } : {}) })}\n`);
  };
  return { error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug'), verbose: at('debug') };
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}
