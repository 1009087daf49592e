/**
 * The standard OTEL_* environment variables, read once at start. Pure: a plain object in, a plain object out, with a
 * list of warnings for values that are not understood (they fall back to the default, never stop the service).
 *
 * The 3.x JS SDK packages no longer read the SDK-level variables themselves (sampler, batch processor, service name,
 * which exporter), so they are read here; the OTLP exporters still read their own OTEL_EXPORTER_OTLP_* headers,
 * timeout, compression and certificate variables from process.env.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export type SamplerName =
  | 'always_on' | 'always_off' | 'traceidratio'
  | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

export interface TracesSettings {
  readonly exporter: 'otlp' | 'console';
  readonly protocol: OtlpProtocol;
  /** Full URL of the traces endpoint; undefined = the exporter's default (http://localhost:4318/v1/traces). */
  readonly url: string | undefined;
  readonly sampler: SamplerName;
  /** Ratio for the traceidratio samplers, 0 … 1. */
  readonly samplerRatio: number;
  readonly batch: {
    readonly scheduledDelayMillis: number;
    readonly exportTimeoutMillis: number;
    readonly maxQueueSize: number;
    readonly maxExportBatchSize: number;
  };
}

export interface MetricsSettings {
  readonly protocol: OtlpProtocol;
  readonly url: string | undefined;
  readonly exportIntervalMillis: number;
  readonly exportTimeoutMillis: number;
}

export interface TelemetryEnv {
  /** undefined = tracing off: no provider, no spans, no context extraction. */
  readonly traces: TracesSettings | undefined;
  /** undefined = no OTLP metrics push (Prometheus /metrics is configured in the YAML, not here). */
  readonly otlpMetrics: MetricsSettings | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES, then OTEL_SERVICE_NAME as service.name (default service.name: portcullis). */
  readonly resourceAttributes: Readonly<Record<string, string>>;
  /** OTEL_LOG_LEVEL for the SDK's own diagnostics (export failures); default warn. */
  readonly diagLevel: string;
  readonly warnings: readonly string[];
}

const SAMPLERS: readonly SamplerName[] = [
  'always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio',
];

export function readTelemetryEnv(env: Env): TelemetryEnv {
  const warnings: string[] = [];
  const get = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  const list = (name: string): string[] | undefined => get(name)?.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s !== '');
  const int = (name: string, fallback: number, min: number): number => {
    const raw = get(name);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (Number.isInteger(n) && n >= min) return n;
    warnings.push(`${name}=${raw} is not a whole number >= ${min}; using ${fallback}`);
    return fallback;
  };
  const protocol = (signal: 'TRACES' | 'METRICS'): OtlpProtocol => {
    const name = get(`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`) !== undefined ? `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL` : 'OTEL_EXPORTER_OTLP_PROTOCOL';
    const raw = get(name);
    if (raw === undefined || raw === 'http/protobuf' || raw === 'http/json') return raw ?? 'http/protobuf';
    warnings.push(`${name}=${raw} is not supported (http/protobuf, http/json); using http/protobuf`);
    return 'http/protobuf';
  };
  // OTLP/HTTP endpoint rules: a signal-specific endpoint is used as given, the generic one gets /v1/<signal> appended.
  const url = (signal: 'TRACES' | 'METRICS', path: string): string | undefined => {
    const specific = get(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`);
    if (specific !== undefined) return specific;
    const generic = get('OTEL_EXPORTER_OTLP_ENDPOINT');
    return generic === undefined ? undefined : `${generic.replace(/\/+$/, '')}/${path}`;
  };
  const endpointSet = (signal: 'TRACES' | 'METRICS') =>
    get('OTEL_EXPORTER_OTLP_ENDPOINT') !== undefined || get(`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`) !== undefined;

  const disabled = get('OTEL_SDK_DISABLED')?.toLowerCase() === 'true';

  // Traces: on when OTEL_TRACES_EXPORTER names an exporter, or (unset) when an OTLP endpoint is configured.
  let traces: TracesSettings | undefined;
  const tracesExporters = list('OTEL_TRACES_EXPORTER');
  let tracesExporter: 'otlp' | 'console' | undefined;
  if (tracesExporters === undefined) tracesExporter = endpointSet('TRACES') ? 'otlp' : undefined;
  else if (tracesExporters.includes('none')) tracesExporter = undefined;
  else {
    for (const name of tracesExporters) if (name !== 'otlp' && name !== 'console') warnings.push(`OTEL_TRACES_EXPORTER: "${name}" is not supported (otlp, console, none)`);
    tracesExporter = tracesExporters.includes('otlp') ? 'otlp' : tracesExporters.includes('console') ? 'console' : undefined;
  }
  if (!disabled && tracesExporter !== undefined) {
    let sampler: SamplerName = 'parentbased_always_on';
    const rawSampler = get('OTEL_TRACES_SAMPLER')?.toLowerCase();
    if (rawSampler !== undefined) {
      if ((SAMPLERS as readonly string[]).includes(rawSampler)) sampler = rawSampler as SamplerName;
      else warnings.push(`OTEL_TRACES_SAMPLER=${rawSampler} is not supported (${SAMPLERS.join(', ')}); using parentbased_always_on`);
    }
    let samplerRatio = 1;
    const rawArg = get('OTEL_TRACES_SAMPLER_ARG');
    if (rawArg !== undefined && sampler.endsWith('traceidratio')) {
      const n = Number(rawArg);
      if (Number.isFinite(n) && n >= 0 && n <= 1) samplerRatio = n;
      else warnings.push(`OTEL_TRACES_SAMPLER_ARG=${rawArg} is not a ratio from 0 to 1; using 1`);
    }
    const maxQueueSize = int('OTEL_BSP_MAX_QUEUE_SIZE', 2048, 1);
    traces = {
      exporter: tracesExporter,
      protocol: protocol('TRACES'),
      url: url('TRACES', 'v1/traces'),
      sampler,
      samplerRatio,
      batch: {
        scheduledDelayMillis: int('OTEL_BSP_SCHEDULE_DELAY', 5000, 0),
        exportTimeoutMillis: int('OTEL_BSP_EXPORT_TIMEOUT', 30_000, 1),
        maxQueueSize,
        maxExportBatchSize: Math.min(int('OTEL_BSP_MAX_EXPORT_BATCH_SIZE', 512, 1), maxQueueSize),
      },
    };
  }

  // Metrics over OTLP: on when OTEL_METRICS_EXPORTER names otlp, or (unset) when an OTLP endpoint is configured.
  const metricsExporters = list('OTEL_METRICS_EXPORTER');
  const otlpMetricsOn = metricsExporters === undefined ? endpointSet('METRICS') : metricsExporters.includes('otlp') && !metricsExporters.includes('none');
  for (const name of metricsExporters ?? []) {
    if (name !== 'otlp' && name !== 'prometheus' && name !== 'none') warnings.push(`OTEL_METRICS_EXPORTER: "${name}" is not supported (otlp, prometheus, none)`);
  }
  let otlpMetrics: MetricsSettings | undefined;
  if (!disabled && otlpMetricsOn) {
    const exportIntervalMillis = int('OTEL_METRIC_EXPORT_INTERVAL', 60_000, 1);
    otlpMetrics = {
      protocol: protocol('METRICS'),
      url: url('METRICS', 'v1/metrics'),
      exportIntervalMillis,
      // The periodic reader refuses a timeout longer than its interval.
      exportTimeoutMillis: Math.min(int('OTEL_METRIC_EXPORT_TIMEOUT', 30_000, 1), exportIntervalMillis),
    };
  }

  const resourceAttributes: Record<string, string> = {};
  for (const entry of get('OTEL_RESOURCE_ATTRIBUTES')?.split(',') ?? []) {
    if (entry.trim() === '') continue;
    const eq = entry.indexOf('=');
    try {
      if (eq <= 0) throw new Error('expected key=value');
      resourceAttributes[decodeURIComponent(entry.slice(0, eq).trim())] = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch (e) {
      warnings.push(`OTEL_RESOURCE_ATTRIBUTES: ignored "${entry}" (${(e as Error).message})`);
    }
  }
  const serviceName = get('OTEL_SERVICE_NAME');
  if (serviceName !== undefined) resourceAttributes['service.name'] = serviceName;

  return { traces, otlpMetrics, resourceAttributes, diagLevel: get('OTEL_LOG_LEVEL') ?? 'warn', warnings };
}
