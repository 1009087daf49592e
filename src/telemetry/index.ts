/**
 * Telemetry for one running server: the decision metrics and decision log, the server span (through the SDK set up
 * by main), and the /metrics route. Built by src/server.ts before the core so the core's key events reach it;
 * `instrumentAuthorizer` wraps the core's Authorizer for both transports.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Tracer } from '@opentelemetry/api';
import type { Config } from '../core/config.ts';
import type { KeySourceEvent } from '../core/keys/source.ts';
import type { IntrospectionEvent } from '../core/introspection/client.ts';
import type { LineWriter } from '../log.ts';
import { DecisionLog } from './decision-log.ts';
import { PortcullisMetrics, PROMETHEUS_CONTENT_TYPE, type ObservedCore } from './metrics.ts';
import { INSTRUMENTATION_SCOPE, NO_SDK, SERVICE_VERSION, type OpenTelemetrySdk } from './sdk.ts';
import { LocalHistograms } from './histograms.ts';
import type { Instrumentation } from './instrument.ts';

export { instrumentAuthorizer } from './instrument.ts';
export { startOpenTelemetry, NO_SDK, type OpenTelemetrySdk } from './sdk.ts';
export { startAdminServer, type AdminServer } from './admin-server.ts';
export { METRIC_NAMES } from './metrics.ts';

export interface TelemetryOptions {
  /** The process's OpenTelemetry SDK (main: `startOpenTelemetry()`). Default: tracing off, no OTLP metrics. */
  readonly sdk?: OpenTelemetrySdk;
  /** Where decision log lines go (main: a bufferedLineWriter on stdout). Default: no decision log. */
  readonly log?: LineWriter;
  /** The service clock (key-set age). Default Date.now. */
  readonly now?: () => number;
  /** For sampling allow log lines. Default Math.random. */
  readonly random?: () => number;
  /**
   * `workers: N`: turns this process's Prometheus text into the whole group's (main asks the primary, which
   * collects every worker's text and merges them, see group-metrics.ts). Default: this process only.
   */
  readonly groupScrape?: (local: string) => Promise<string>;
}

export interface Telemetry extends Instrumentation {
  readonly tracer: Tracer | undefined;
  /** Runtime.onKeyEvent: counts key set loads per issuer and outcome. */
  onKeyEvent(event: KeySourceEvent): void;
  /** Runtime.onIntrospectionEvent: counts and times introspection calls per issuer and outcome. */
  onIntrospectionEvent(event: IntrospectionEvent): void;
  /** Registers the scrape-time readings of the core (token cache, key sets). Call once, after createCore. */
  observe(core: ObservedCore): void;
  /** portcullis_config_reloads_total{outcome}. */
  configReload(outcome: 'ok' | 'error'): void;
  /** The instrumentation for a reloaded config: same metrics, the decision log and span settings of `config`. */
  reconfigure(config: Config): Instrumentation;
  /** GET/HEAD handler for /metrics; undefined when Prometheus metrics are off. */
  readonly metricsRoute: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  /** This process's Prometheus text, never merged. Rejects when Prometheus metrics are off. */
  scrapeLocal(): Promise<string>;
  /** Final OTLP metrics export; stops the meter provider. (The SDK itself is main's to shut down.) */
  shutdown(): Promise<void>;
}

export function createTelemetry(config: Config, options: TelemetryOptions = {}): Telemetry {
  const sdk = options.sdk ?? NO_SDK;
  for (const issuer of config.issuers) if (issuer.jwksUri !== undefined) sdk.nameJwksUrl(issuer.jwksUri, issuer.issuer);

  const log = options.log;
  const histograms = new LocalHistograms({ name: INSTRUMENTATION_SCOPE, version: SERVICE_VERSION }, sdk.resource);
  const readers = sdk.metricReaders((temporality) => histograms.producer(temporality));
  const metrics = config.telemetry.metrics || readers.length > 0
    ? new PortcullisMetrics({
        resource: sdk.resource,
        prometheus: config.telemetry.metrics,
        readers,
        histograms,
        now: options.now ?? Date.now,
        ...(log?.dropped !== undefined ? { logDropped: () => log.dropped ?? 0 } : {}),
      })
    : undefined;
  const decisionLogFor = (c: Config): DecisionLog | undefined => log === undefined
    ? undefined
    : new DecisionLog({
        level: c.telemetry.logLevel,
        allowRate: c.telemetry.logAllows,
        recordSubject: c.telemetry.recordSubject,
        tokens: c.tokens,
        out: log,
        ...(options.random ? { random: options.random } : {}),
      });
  const decisionLog = decisionLogFor(config);

  return {
    tracer: sdk.tracer,
    metrics,
    decisionLog,
    recordSubject: config.telemetry.recordSubject,
    onKeyEvent: (event) => metrics?.keyEvent(event),
    onIntrospectionEvent: (event) => metrics?.introspectionEvent(event),
    configReload: (outcome) => metrics?.configReload(outcome),
    reconfigure: (c) => {
      for (const issuer of c.issuers) if (issuer.jwksUri !== undefined) sdk.nameJwksUrl(issuer.jwksUri, issuer.issuer);
      return { tracer: sdk.tracer, metrics, decisionLog: decisionLogFor(c), recordSubject: c.telemetry.recordSubject };
    },
    observe: (core) => metrics?.observe(core),
    metricsRoute: metrics?.prometheus ? metricsHandler(metrics, options.groupScrape) : undefined,
    scrapeLocal: () => (metrics ? metrics.scrape() : Promise.reject(new Error('metrics are off'))),
    shutdown: async () => {
      await metrics?.shutdown();
    },
  };
}

function metricsHandler(metrics: PortcullisMetrics, group?: (local: string) => Promise<string>): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'application/json' }).end('{"error":"method_not_allowed"}');
      return;
    }
    metrics.scrape().then((local) => (group ? group(local) : local)).then(
      (text) => {
        res.writeHead(200, { 'content-type': PROMETHEUS_CONTENT_TYPE, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text) });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      () => {
        if (res.headersSent) res.destroy();
        else res.writeHead(500, { 'content-type': 'application/json' }).end('{"error":"internal_error"}');
      },
    );
  };
}
