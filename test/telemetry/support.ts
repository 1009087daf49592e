/**
 * Telemetry test support: an OTLP/HTTP receiver (JSON protocol) on port 0 that keeps every request body, a gRPC
 * ext_authz client that can send call metadata (built, like test/support/envoy-client.ts, from Envoy's upstream
 * protos), and helpers to read the exported spans.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { credentials, makeClientConstructor, Metadata, type Client, type ServiceError } from '@grpc/grpc-js';
import { upstreamDefinitions } from '../support/envoy-client.ts';

export interface OtlpReceiver {
  /** Base URL, for OTEL_EXPORTER_OTLP_ENDPOINT. */
  readonly url: string;
  /** Raw request bodies per path ("/v1/traces", "/v1/metrics"). */
  readonly bodies: Map<string, string[]>;
  /** Everything received, as one string (for "contains no token" checks). */
  all(): string;
  spans(): ExportedSpan[];
  /** Metric names in the received OTLP metrics. */
  metricNames(): Set<string>;
  close(): Promise<void>;
}

export interface ExportedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Record<string, string | number | boolean>;
  readonly status: { code?: number; message?: string };
  readonly resource: Record<string, string | number | boolean>;
}

/** OTLP SpanKind: SERVER. */
export const SPAN_KIND_SERVER = 2;

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const bodies = new Map<string, string[]>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const path = req.url ?? '/';
      if (req.method !== 'POST' || !(req.headers['content-type'] ?? '').startsWith('application/json')) {
        res.writeHead(415).end();
        return;
      }
      const list = bodies.get(path) ?? [];
      list.push(Buffer.concat(chunks).toString('utf8'));
      bodies.set(path, list);
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    bodies,
    all: () => [...bodies.values()].flat().join('\n'),
    spans: () => (bodies.get('/v1/traces') ?? []).flatMap((body) => flattenSpans(JSON.parse(body))),
    metricNames: () => {
      const names = new Set<string>();
      for (const body of bodies.get('/v1/metrics') ?? []) {
        for (const rm of JSON.parse(body).resourceMetrics ?? []) for (const sm of rm.scopeMetrics ?? []) for (const m of sm.metrics ?? []) names.add(m.name);
      }
      return names;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function attributeMap(list: readonly { key: string; value: Record<string, unknown> }[] | undefined): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const { key, value } of list ?? []) {
    if (typeof value.stringValue === 'string') out[key] = value.stringValue;
    else if (value.intValue !== undefined) out[key] = Number(value.intValue);
    else if (typeof value.boolValue === 'boolean') out[key] = value.boolValue;
    else if (typeof value.doubleValue === 'number') out[key] = value.doubleValue;
  }
  return out;
}

function flattenSpans(body: any): ExportedSpan[] {
  const out: ExportedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    const resource = attributeMap(rs.resource?.attributes);
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          name: s.name,
          kind: s.kind,
          attributes: attributeMap(s.attributes),
          status: s.status ?? {},
          resource,
        });
      }
    }
  }
  return out;
}

const AuthorizationClient = makeClientConstructor(
  upstreamDefinitions['envoy.service.auth.v3.Authorization'] as any,
  'envoy.service.auth.v3.Authorization',
);

export interface MetadataCheckClient {
  /** Authorization/Check with call metadata (what Envoy's tracer adds: traceparent, x-b3-*). */
  check(request: object, metadata?: Record<string, string>): Promise<any>;
  close(): void;
}

export function connectCheckClient(address: string): MetadataCheckClient {
  const client = new AuthorizationClient(address, credentials.createInsecure()) as unknown as Client & {
    Check(request: object, metadata: Metadata, options: { deadline: number }, callback: (error: ServiceError | null, response: any) => void): void;
  };
  return {
    check: (request, metadata = {}) =>
      new Promise((resolve, reject) => {
        const md = new Metadata();
        for (const [key, value] of Object.entries(metadata)) md.set(key, value);
        client.Check(request, md, { deadline: Date.now() + 5000 }, (error, response) => (error ? reject(error) : resolve(response)));
      }),
    close: () => client.close(),
  };
}

/** A CheckRequest for GET https://api.test{path} with these original request headers. */
export function checkRequest(headers: Record<string, string>, path = '/orders'): object {
  return {
    attributes: {
      source: { address: { socket_address: { address: '203.0.113.7', port_value: 50123 } } },
      request: { http: { method: 'GET', host: 'api.test', scheme: 'https', path, headers } },
    },
  };
}

/** Random W3C ids. */
export function traceIds(): { traceId: string; spanId: string; traceparent: string } {
  const hex = (bytes: number) => Buffer.from(crypto.getRandomValues(new Uint8Array(bytes))).toString('hex');
  const traceId = hex(16);
  const spanId = hex(8);
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
}

/** Collects lines written to a LineWriter. */
export function lineSink(): { write(line: string): void; lines: string[]; records(): Record<string, unknown>[] } {
  const lines: string[] = [];
  return {
    write: (line) => {
      lines.push(line);
    },
    lines,
    records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

export interface Exposition {
  /** `name{a="1",b="2"}` (labels sorted) → value. */
  readonly series: Map<string, number>;
  /** Series names (histograms: name_bucket, name_count, name_sum). */
  readonly names: Set<string>;
  /** Metric family → # TYPE. */
  readonly types: Map<string, string>;
  /** Label names seen per series name. */
  readonly labels: Map<string, Set<string>>;
  value(name: string, labels?: Record<string, string>): number | undefined;
}

/** Parses the Prometheus text format (what our /metrics serves). */
export function parseExposition(text: string): Exposition {
  const series = new Map<string, number>();
  const names = new Set<string>();
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  for (const line of text.split('\n')) {
    if (line.startsWith('# TYPE ')) {
      const [, , family, type] = line.split(' ');
      types.set(family!, type!);
      continue;
    }
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`unparsable exposition line: ${line}`);
    const [, name, rawLabels = '', value] = m as unknown as [string, string, string | undefined, string];
    const parsed: Record<string, string> = {};
    for (const [, k, v] of rawLabels.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) parsed[k!] = v!;
    names.add(name);
    const seen = labels.get(name) ?? new Set<string>();
    for (const k of Object.keys(parsed)) seen.add(k);
    labels.set(name, seen);
    series.set(seriesKey(name, parsed), value === '+Inf' ? Infinity : Number(value));
  }
  return { series, names, types, labels, value: (name, l = {}) => series.get(seriesKey(name, l)) };
}

function seriesKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  return `${name}{${keys.map((k) => `${k}="${labels[k]}"`).join(',')}}`;
}
