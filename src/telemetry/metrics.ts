/**
 * Metrics through the OpenTelemetry metrics API on a MeterProvider of our own (one per running server, never the
 * global one). Read two ways:
 *  - Prometheus: @opentelemetry/exporter-prometheus as a pull reader that never opens a port of its own; our /metrics
 *    route collects from it and serializes with its PrometheusSerializer.
 *  - OTLP push: the periodic readers the SDK setup hands over when OTEL_EXPORTER_OTLP_(METRICS_)ENDPOINT is set.
 *
 * Per decision: one in-process count (published by an observable counter when a reader collects: an SDK counter
 * add costs as much as a histogram record, mostly attribute hashing), one latency record and, when a token was
 * offered, one token size record, both into series bound once (histograms.ts, handed to every reader as a
 * MetricProducer) rather than SDK histograms, which hash the attribute set on every record. Everything else (cache stats, key-set
 * state) is read from the core only when a reader collects. Names follow Prometheus conventions; labels are low-cardinality only (transport, decision,
 * reason, configured issuer, outcome) — never a subject, path, kid or client address.
 */
import { diag, type Attributes, type Counter, type Histogram, type Meter } from '@opentelemetry/api';
import { MeterProvider, type IMetricReader } from '@opentelemetry/sdk-metrics';
import { PrometheusExporter, PrometheusSerializer } from '@opentelemetry/exporter-prometheus';
import type { Resource } from '@opentelemetry/resources';
import type { AuthRequest, Decision } from '../core/types.ts';
import type { KeySourceEvent, KeySourceStatus } from '../core/keys/source.ts';
import type { CacheStats } from '../core/cache.ts';
import { INTROSPECTION_OUTCOMES, type IntrospectionEvent } from '../core/introspection/client.ts';
import { REPLAY_CHECKS, type ReplayCheck, type ReplayStoreStatus } from '../core/replay.ts';
import { INSTRUMENTATION_SCOPE, SERVICE_VERSION } from './sdk.ts';
import type { HistogramSeries, LocalHistograms } from './histograms.ts';

/** The core state read at collection time (`Core` from app.ts fits). */
export interface ObservedCore {
  readonly sources: readonly { status(): KeySourceStatus }[];
  readonly verifier: { readonly cache: { readonly stats: Readonly<CacheStats>; readonly size: number; readonly bytes: number } };
  /** The single-use token store, when some issuer or rule uses one. */
  readonly replay?: { readonly store: { status(): ReplayStoreStatus } } | null;
  /** Issuers with introspection: their call series exist from the start. */
  readonly introspecting?: readonly string[];
}

export interface MetricsOptions {
  readonly resource: Resource;
  /** Serve the Prometheus exposition (telemetry.metrics). */
  readonly prometheus: boolean;
  /** OTLP push readers (may be empty), each with a producer of `histograms` (sdk.ts metricReaders). */
  readonly readers: readonly IMetricReader[];
  /** Where the decision histograms are recorded (histograms.ts); the Prometheus reader gets a producer of it. */
  readonly histograms: LocalHistograms;
  /** The service clock (key-set age). */
  readonly now: () => number;
  /** Decision log lines dropped so far (the log destination did not keep up). */
  readonly logDropped?: () => number;
}

/** Every metric name, as Prometheus shows it (the README and the dashboard test list them from here). */
export const METRIC_NAMES = {
  decisions: 'portcullis_decisions_total',
  decisionDuration: 'portcullis_decision_duration_seconds',
  tokenSize: 'portcullis_token_size_bytes',
  jwksFetches: 'portcullis_jwks_fetches_total',
  jwksKeys: 'portcullis_jwks_keys',
  jwksAge: 'portcullis_jwks_age_seconds',
  jwksReady: 'portcullis_jwks_ready',
  cacheHits: 'portcullis_token_cache_hits_total',
  cacheMisses: 'portcullis_token_cache_misses_total',
  cacheNegativeHits: 'portcullis_token_cache_negative_hits_total',
  cacheEntries: 'portcullis_token_cache_entries',
  cacheBytes: 'portcullis_token_cache_bytes',
  configReloads: 'portcullis_config_reloads_total',
  logDropped: 'portcullis_decision_log_dropped_total',
  replayChecks: 'portcullis_replay_checks_total',
  replayStoreUp: 'portcullis_replay_store_up',
  introspectionCalls: 'portcullis_introspection_calls_total',
  introspectionDuration: 'portcullis_introspection_duration_seconds',
  introspectionCacheHits: 'portcullis_introspection_cache_hits_total',
} as const;

const DURATION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const SIZE_BUCKETS = [256, 512, 1024, 2048, 4096, 8192, 16_384, 32_768, 65_536, 131_072];

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

type Transport = AuthRequest['transport'];

interface DecisionCount {
  count: number;
  readonly attributes: Attributes;
}

interface Slot {
  /** The latency series of this transport and decision. */
  readonly duration: HistogramSeries;
  readonly reasons: Map<string, DecisionCount>;
}
type Kind = Decision['kind'];

export class PortcullisMetrics {
  readonly #provider: MeterProvider;
  readonly #meter: Meter;
  readonly #prometheus: PrometheusExporter | undefined;
  readonly #serializer = new PrometheusSerializer(undefined, false, undefined, false, true);
  readonly #now: () => number;
  readonly #duration: (attributes: Attributes) => HistogramSeries;
  readonly #tokenSize: (attributes: Attributes) => HistogramSeries;
  readonly #jwksFetches: Counter;
  readonly #configReloads: Counter;
  readonly #introspectionCalls: Counter;
  readonly #introspectionDuration: Histogram;
  /** transport → decision → its latency attributes and a count per reason; built on first use, no key strings. */
  readonly #slots = new Map<Transport, Map<Kind, Slot>>();
  readonly #decisionCounts: DecisionCount[] = [];
  readonly #tokenSizes = new Map<Transport, HistogramSeries>();
  readonly #issuerAttrs = new Map<string, { ok: Attributes; error: Attributes; plain: Attributes }>();
  /** Single-use checks by outcome (decision.replay), published when a reader collects. */
  readonly #replayCounts = new Map<ReplayCheck, number>();

  constructor(options: MetricsOptions) {
    this.#now = options.now;
    // withoutScopeInfo: no otel_scope_* label on every series; target_info still carries the resource.
    this.#prometheus = options.prometheus
      ? new PrometheusExporter({ preventServerStart: true, withoutScopeInfo: true, metricProducers: [options.histograms.producer()] })
      : undefined;
    this.#provider = new MeterProvider({
      resource: options.resource,
      readers: [...(this.#prometheus ? [this.#prometheus] : []), ...options.readers],
    });
    const meter = (this.#meter = this.#provider.getMeter(INSTRUMENTATION_SCOPE, SERVICE_VERSION));

    meter
      .createObservableCounter(METRIC_NAMES.decisions, {
        description: 'Authorization decisions by transport (grpc = Envoy ext_authz over gRPC, http = forward auth, envoy_http = Envoy ext_authz HTTP mode), decision and reason code.',
      })
      .addCallback((result) => {
        for (const { count, attributes } of this.#decisionCounts) result.observe(count, attributes);
      });
    this.#duration = options.histograms.histogram({
      name: METRIC_NAMES.decisionDuration,
      description: 'Time to decide, from the transport handing over the request to the decision (includes key fetches it waited for).',
      unit: 's',
      boundaries: DURATION_BUCKETS,
    });
    this.#tokenSize = options.histograms.histogram({
      name: METRIC_NAMES.tokenSize,
      description: 'Size of the offered token (cookie and header bloat makes proxies refuse requests).',
      unit: 'By',
      boundaries: SIZE_BUCKETS,
    });
    this.#jwksFetches = meter.createCounter(METRIC_NAMES.jwksFetches, {
      description: 'Key set loads (JWKS fetch, discovery, file or inline) by configured issuer and outcome (ok, error).',
    });
    this.#configReloads = meter.createCounter(METRIC_NAMES.configReloads, { description: 'Configuration reloads by outcome (ok, error).' });
    this.#introspectionCalls = meter.createCounter(METRIC_NAMES.introspectionCalls, {
      description: 'Token introspection calls by configured issuer and outcome (active, inactive, error, client_auth_refused).',
    });
    this.#introspectionDuration = meter.createHistogram(METRIC_NAMES.introspectionDuration, {
      description: 'Time of a token introspection call, by configured issuer.',
      unit: 's',
      advice: { explicitBucketBoundaries: DURATION_BUCKETS },
    });
    this.#configReloads.add(0, { outcome: 'ok' });
    this.#configReloads.add(0, { outcome: 'error' });

    if (options.logDropped !== undefined) {
      const dropped = options.logDropped;
      meter
        .createObservableCounter(METRIC_NAMES.logDropped, { description: 'Decision log lines dropped because the log destination did not keep up.' })
        .addCallback((result) => result.observe(dropped()));
    }
  }

  /** Prometheus exposition is served (telemetry.metrics). */
  get prometheus(): boolean {
    return this.#prometheus !== undefined;
  }

  /** Hot path: one count, one latency record, one size record when a token was offered. */
  decision(transport: Transport, decision: Decision, seconds: number): void {
    const slot = this.#slot(transport, decision.kind);
    let counted = slot.reasons.get(decision.reason);
    if (counted === undefined) {
      counted = { count: 0, attributes: Object.freeze({ transport, decision: decision.kind, reason: decision.reason }) };
      slot.reasons.set(decision.reason, counted);
      this.#decisionCounts.push(counted);
    }
    counted.count++;
    slot.duration.record(seconds);
    if (decision.tokenBytes !== undefined) this.#tokenSizeOf(transport).record(decision.tokenBytes);
    if (decision.replay !== undefined) this.#replayCounts.set(decision.replay, (this.#replayCounts.get(decision.replay) ?? 0) + 1);
  }

  keyEvent(event: KeySourceEvent): void {
    const attrs = this.#issuer(event.issuer);
    this.#jwksFetches.add(1, event.type === 'loaded' ? attrs.ok : attrs.error);
  }

  /** An introspection call (counted, timed); refused credentials are logged by main, and counted by the call. */
  introspectionEvent(event: IntrospectionEvent): void {
    if (event.type !== 'introspection_call') return;
    this.#introspectionCalls.add(1, { issuer: event.issuer, outcome: event.outcome });
    this.#introspectionDuration.record(event.seconds, this.#issuer(event.issuer).plain);
  }

  configReload(outcome: 'ok' | 'error'): void {
    this.#configReloads.add(1, { outcome });
  }

  /** Registers the collection-time readings of the core's state: token cache and per-issuer key sets. */
  observe(core: ObservedCore): void {
    for (const source of core.sources) {
      // Both outcome series exist from the start, so `increase(...{outcome="error"}[5m])` alerts see a zero, not nothing.
      const attrs = this.#issuer(source.status().issuer);
      this.#jwksFetches.add(0, attrs.ok);
      this.#jwksFetches.add(0, attrs.error);
    }
    // Every introspecting issuer's outcome series exist from the start (zero), so alerts see a zero, not nothing.
    for (const issuer of core.introspecting ?? []) for (const outcome of INTROSPECTION_OUTCOMES) this.#introspectionCalls.add(0, { issuer, outcome });
    const m = this.#meter;
    const hits = m.createObservableCounter(METRIC_NAMES.cacheHits, { description: 'Verified-token cache lookups that found the token.' });
    const misses = m.createObservableCounter(METRIC_NAMES.cacheMisses, { description: 'Verified-token cache lookups that did not (the token was verified).' });
    const negative = m.createObservableCounter(METRIC_NAMES.cacheNegativeHits, { description: 'Tokens answered from the short-lived cache of permanent failures.' });
    const introspectionHits = m.createObservableCounter(METRIC_NAMES.introspectionCacheHits, { description: 'Introspected tokens answered from the token cache: introspection calls saved.' });
    const entries = m.createObservableGauge(METRIC_NAMES.cacheEntries, { description: 'Tokens in the verified-token cache.' });
    const bytes = m.createObservableGauge(METRIC_NAMES.cacheBytes, { description: 'Estimated memory held by the verified-token cache.', unit: 'By' });
    const keys = m.createObservableGauge(METRIC_NAMES.jwksKeys, { description: 'Usable keys in the current key set, per issuer.' });
    const age = m.createObservableGauge(METRIC_NAMES.jwksAge, { description: 'Time since the key set was last loaded successfully, per issuer.', unit: 's' });
    const ready = m.createObservableGauge(METRIC_NAMES.jwksReady, { description: '1 when the issuer has a usable (not too stale) key set, else 0.' });
    m.addBatchObservableCallback((result) => {
      const cache = core.verifier.cache;
      result.observe(hits, cache.stats.hits);
      result.observe(misses, cache.stats.misses);
      result.observe(negative, cache.stats.negativeHits);
      result.observe(introspectionHits, cache.stats.introspectionHits);
      result.observe(entries, cache.size);
      result.observe(bytes, cache.bytes);
      const now = this.#now();
      for (const source of core.sources) {
        const status = source.status();
        const attrs = this.#issuer(status.issuer).plain;
        result.observe(keys, status.keys.length, attrs);
        result.observe(ready, status.ready ? 1 : 0, attrs);
        if (status.fetchedAt !== null) result.observe(age, Math.max(0, (now - status.fetchedAt) / 1000), attrs);
      }
    }, [hits, misses, negative, introspectionHits, entries, bytes, keys, age, ready]);
    if (core.replay) this.#observeReplay(core.replay.store);
  }

  /** Every outcome series exists from the start (zero), so alerts on store_error_* see a zero, not nothing. */
  #observeReplay(store: { status(): ReplayStoreStatus }): void {
    const outcomes = REPLAY_CHECKS.map((outcome) => [outcome, Object.freeze({ outcome })] as const);
    this.#meter
      .createObservableCounter(METRIC_NAMES.replayChecks, {
        description: 'Single-use token checks by outcome: fresh, replayed, jti_missing, store_error_denied, store_error_allowed.',
      })
      .addCallback((result) => {
        for (const [outcome, attrs] of outcomes) result.observe(this.#replayCounts.get(outcome) ?? 0, attrs);
      });
    this.#meter
      .createObservableGauge(METRIC_NAMES.replayStoreUp, { description: '1 when the replay store is connected (memory: always), else 0.' })
      .addCallback((result) => {
        const st = store.status();
        result.observe(st.ready ? 1 : 0, { store: st.kind });
      });
  }

  /** The Prometheus text exposition (version 0.0.4) of everything recorded so far. */
  async scrape(): Promise<string> {
    if (this.#prometheus === undefined) throw new Error('Prometheus metrics are off (telemetry.metrics: false)');
    const { resourceMetrics, errors } = await this.#prometheus.collect();
    if (errors.length > 0) diag.error('metrics collection errors', ...errors);
    return this.#serializer.serialize(resourceMetrics);
  }

  /** Final OTLP export, then stop. */
  async shutdown(): Promise<void> {
    await this.#provider.shutdown();
  }

  #slot(transport: Transport, kind: Kind): Slot {
    let kinds = this.#slots.get(transport);
    if (kinds === undefined) this.#slots.set(transport, (kinds = new Map()));
    let slot = kinds.get(kind);
    if (slot === undefined) kinds.set(kind, (slot = { duration: this.#duration({ transport, decision: kind }), reasons: new Map() }));
    return slot;
  }

  #tokenSizeOf(transport: Transport): HistogramSeries {
    let series = this.#tokenSizes.get(transport);
    if (series === undefined) this.#tokenSizes.set(transport, (series = this.#tokenSize({ transport })));
    return series;
  }

  #issuer(issuer: string): { ok: Attributes; error: Attributes; plain: Attributes } {
    let attrs = this.#issuerAttrs.get(issuer);
    if (attrs === undefined) {
      attrs = { ok: Object.freeze({ issuer, outcome: 'ok' }), error: Object.freeze({ issuer, outcome: 'error' }), plain: Object.freeze({ issuer }) };
      this.#issuerAttrs.set(issuer, attrs);
    }
    return attrs;
  }
}
