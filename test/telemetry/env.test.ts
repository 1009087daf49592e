/** The OTEL_* variables the service honours, and "off unless configured". */
import { describe, expect, it } from 'vitest';
import { trace } from '@opentelemetry/api';
import { readTelemetryEnv } from '../../src/telemetry/env.ts';
import { startOpenTelemetry } from '../../src/telemetry/index.ts';

describe('readTelemetryEnv', () => {
  it('turns nothing on without configuration', () => {
    expect(readTelemetryEnv({})).toEqual({ traces: undefined, otlpMetrics: undefined, resourceAttributes: {}, diagLevel: 'warn', warnings: [] });
  });

  it('turns traces and OTLP metrics on with OTEL_EXPORTER_OTLP_ENDPOINT, with the spec defaults', () => {
    const env = readTelemetryEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318/' });
    expect(env.traces).toEqual({
      exporter: 'otlp',
      protocol: 'http/protobuf',
      url: 'http://collector:4318/v1/traces',
      sampler: 'parentbased_always_on',
      samplerRatio: 1,
      batch: { scheduledDelayMillis: 5000, exportTimeoutMillis: 30_000, maxQueueSize: 2048, maxExportBatchSize: 512 },
    });
    expect(env.otlpMetrics).toEqual({ protocol: 'http/protobuf', url: 'http://collector:4318/v1/metrics', exportIntervalMillis: 60_000, exportTimeoutMillis: 30_000 });
  });

  it('uses a signal endpoint as given and only for its signal', () => {
    const env = readTelemetryEnv({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://traces.example/custom' });
    expect(env.traces?.url).toBe('https://traces.example/custom');
    expect(env.otlpMetrics).toBeUndefined();
    expect(readTelemetryEnv({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://m:4318/x' })).toMatchObject({ traces: undefined, otlpMetrics: { url: 'http://m:4318/x' } });
  });

  it('follows OTEL_TRACES_EXPORTER, OTEL_METRICS_EXPORTER and OTEL_SDK_DISABLED', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(readTelemetryEnv({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).traces).toBeUndefined();
    expect(readTelemetryEnv({ OTEL_TRACES_EXPORTER: 'otlp' }).traces).toMatchObject({ exporter: 'otlp', url: undefined });
    expect(readTelemetryEnv({ OTEL_TRACES_EXPORTER: 'console' }).traces?.exporter).toBe('console');
    expect(readTelemetryEnv({ ...endpoint, OTEL_METRICS_EXPORTER: 'prometheus' }).otlpMetrics).toBeUndefined();
    expect(readTelemetryEnv({ OTEL_METRICS_EXPORTER: 'otlp,prometheus' }).otlpMetrics).toBeDefined();
    expect(readTelemetryEnv({ ...endpoint, OTEL_SDK_DISABLED: 'true' })).toMatchObject({ traces: undefined, otlpMetrics: undefined });
    expect(readTelemetryEnv({ OTEL_TRACES_EXPORTER: 'zipkin' }).warnings).toEqual(['OTEL_TRACES_EXPORTER: "zipkin" is not supported (otlp, console, none)']);
  });

  it('reads the protocol, per signal first', () => {
    const env = readTelemetryEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json', OTEL_EXPORTER_OTLP_METRICS_PROTOCOL: 'http/protobuf' });
    expect([env.traces?.protocol, env.otlpMetrics?.protocol]).toEqual(['http/json', 'http/protobuf']);
    const grpc = readTelemetryEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' });
    expect(grpc.traces?.protocol).toBe('http/protobuf');
    expect(grpc.warnings).toEqual(['OTEL_EXPORTER_OTLP_PROTOCOL=grpc is not supported (http/protobuf, http/json); using http/protobuf']);
  });

  it('reads the sampler, its ratio and the batch processor settings', () => {
    const env = readTelemetryEnv({
      OTEL_TRACES_EXPORTER: 'otlp',
      OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
      OTEL_TRACES_SAMPLER_ARG: '0.25',
      OTEL_BSP_SCHEDULE_DELAY: '200',
      OTEL_BSP_EXPORT_TIMEOUT: '1000',
      OTEL_BSP_MAX_QUEUE_SIZE: '100',
      OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '500',
    });
    expect(env.traces).toMatchObject({
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      batch: { scheduledDelayMillis: 200, exportTimeoutMillis: 1000, maxQueueSize: 100, maxExportBatchSize: 100 },
    });
    const bad = readTelemetryEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'sometimes', OTEL_TRACES_SAMPLER_ARG: '2', OTEL_BSP_SCHEDULE_DELAY: 'soon' });
    expect(bad.traces).toMatchObject({ sampler: 'parentbased_always_on', samplerRatio: 1, batch: { scheduledDelayMillis: 5000 } });
    expect(bad.warnings).toHaveLength(2);
    const ratio = readTelemetryEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '2' });
    expect(ratio.warnings).toEqual(['OTEL_TRACES_SAMPLER_ARG=2 is not a ratio from 0 to 1; using 1']);
  });

  it('keeps the metric export timeout within the interval', () => {
    expect(readTelemetryEnv({ OTEL_METRICS_EXPORTER: 'otlp', OTEL_METRIC_EXPORT_INTERVAL: '10000' }).otlpMetrics).toMatchObject({ exportIntervalMillis: 10_000, exportTimeoutMillis: 10_000 });
  });

  it('reads OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME (which wins for service.name)', () => {
    const env = readTelemetryEnv({ OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=prod,service.name=x,team=auth%20edge,broken', OTEL_SERVICE_NAME: 'edge-auth' });
    expect(env.resourceAttributes).toEqual({ 'deployment.environment.name': 'prod', 'service.name': 'edge-auth', team: 'auth edge' });
    expect(env.warnings).toEqual(['OTEL_RESOURCE_ATTRIBUTES: ignored "broken" (expected key=value)']);
  });
});

describe('startOpenTelemetry', () => {
  it('registers no tracer provider when tracing is not configured', async () => {
    const sdk = await startOpenTelemetry({});
    try {
      expect(sdk.tracer).toBeUndefined();
      expect(sdk.metricReaders()).toEqual([]);
      expect(trace.getTracer('probe').startSpan('probe').isRecording()).toBe(false);
      expect(sdk.summary).toMatchObject({ tracing: false, otlp_metrics: false, service_name: 'portcullis' });
    } finally {
      await sdk.shutdown();
    }
  });
});
