/**
 * Traces end to end: the SDK set up as main does it (startOpenTelemetry from OTEL_* variables, here OTLP/HTTP JSON to
 * a receiver on port 0), the real service (startPortcullis with that SDK), real signed tokens, the real gRPC and HTTP
 * listeners. Spans are read back from what the real exporter sent.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { startOpenTelemetry, type OpenTelemetrySdk } from '../../src/telemetry/index.ts';
import { CHECK_METHOD, FORWARD_AUTH_SPAN } from '../../src/telemetry/instrument.ts';
import { tokenFingerprint } from '../../src/core/sources.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../support/tokens.ts';
import {
  checkRequest, connectCheckClient, lineSink, SPAN_KIND_SERVER, startOtlpReceiver, traceIds,
  type ExportedSpan, type MetadataCheckClient, type OtlpReceiver,
} from './support.ts';

const DOWN_ISSUER = 'https://down.test/';
const runtime = { fetch: (u: string, i: Parameters<typeof fetch>[1]) => fetch(u, i), now: () => NOW_S * 1000 };

let receiver: OtlpReceiver;
let jwks: JwksServer;
let down: JwksServer;
let otel: OpenTelemetrySdk;
let running: Running;
let client: MetadataCheckClient;
let key: TestKey;
const log = lineSink();
const diagnostics: string[] = [];

function config(extra: Record<string, unknown> = {}) {
  return buildConfig(
    {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
      issuers: [
        { issuer: ISSUER, jwks_uri: jwks.url, audiences: [AUDIENCE] },
        { issuer: DOWN_ISSUER, jwks_uri: down.url, audiences: [AUDIENCE] },
      ],
      ...extra,
    },
    'test',
    process.cwd(),
  );
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  key = await makeKey('ES256', 'k1');
  jwks = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
  down = await startJwksServer({ kind: 'status', status: 503 });
  otel = await startOpenTelemetry(
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
      OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
      OTEL_SERVICE_NAME: 'portcullis-test',
      OTEL_METRIC_EXPORT_INTERVAL: '3600000',
    },
    { diagWrite: (line) => diagnostics.push(line) },
  );
  running = await startPortcullis(config(), runtime, { telemetry: { sdk: otel, log } });
  client = connectCheckClient(running.grpcAddress);
});

afterAll(async () => {
  client?.close();
  await running?.close();
  await otel?.shutdown();
  await Promise.all([jwks?.close(), down?.close(), receiver?.close()]);
});

/** Everything exported so far, after pushing out what the batch processor holds. */
async function exported(): Promise<ExportedSpan[]> {
  await otel.forceFlush();
  return receiver.spans();
}

async function trace(traceId: string): Promise<{ server: ExportedSpan; spans: ExportedSpan[] }> {
  const spans = (await exported()).filter((s) => s.traceId === traceId);
  const server = spans.find((s) => s.kind === SPAN_KIND_SERVER);
  if (!server) throw new Error(`no server span in trace ${traceId}: ${JSON.stringify(spans.map((s) => s.name))}`);
  return { server, spans };
}

const forwardAuth = (headers: Record<string, string>) =>
  fetch(`${running.httpUrl}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders?page=2', 'x-forwarded-host': 'api.test', ...headers } });

describe('server span continues the caller trace', () => {
  it('from traceparent in the gRPC metadata, ahead of the one inside the CheckRequest', async () => {
    const caller = traceIds();
    const inner = traceIds();
    const token = await signToken(key);
    const response = await client.check(checkRequest({ authorization: `Bearer ${token}`, traceparent: inner.traceparent }), { traceparent: caller.traceparent });
    expect(response.status.code).toBe(0);

    const { server, spans } = await trace(caller.traceId);
    expect(server).toMatchObject({ name: CHECK_METHOD, parentSpanId: caller.spanId });
    expect(server.attributes).toMatchObject({
      'rpc.system.name': 'grpc',
      'rpc.method': CHECK_METHOD,
      'rpc.status_code': 'OK',
      'portcullis.transport': 'grpc',
      'portcullis.decision': 'allow',
      'portcullis.reason': 'token_valid',
      'portcullis.status': 200,
      'portcullis.issuer': ISSUER,
      'portcullis.kid': 'k1',
      'portcullis.token.bytes': token.length,
      'portcullis.request.method': 'GET',
      'portcullis.request.host': 'api.test',
      'portcullis.request.path': '/orders',
      'client.address': '203.0.113.7',
      'client.port': 50123,
    });
    expect(server.resource['service.name']).toBe('portcullis-test');
    const verify = spans.find((s) => s.name === 'portcullis.verify_token');
    expect(verify?.parentSpanId).toBe(server.spanId);
    expect(verify?.attributes).toMatchObject({ 'portcullis.token.valid': true, 'portcullis.issuer': ISSUER, 'portcullis.kid': 'k1' });
    // The CheckRequest's own traceparent lost to the metadata: no span in that trace.
    expect((await exported()).some((s) => s.traceId === inner.traceId)).toBe(false);
  });

  it('from traceparent inside the CheckRequest headers', async () => {
    const caller = traceIds();
    await client.check(checkRequest({ authorization: `Bearer ${await signToken(key)}`, traceparent: caller.traceparent }));
    const { server, spans } = await trace(caller.traceId);
    expect(server).toMatchObject({ name: CHECK_METHOD, parentSpanId: caller.spanId });
    expect(spans.find((s) => s.name === 'portcullis.verify_token')?.parentSpanId).toBe(server.spanId);
  });

  it('from B3 multi headers inside the CheckRequest (Envoy Zipkin tracing)', async () => {
    const caller = traceIds();
    const response = await client.check(checkRequest({
      authorization: `Bearer ${await signToken(key, { exp: NOW_S - 600 })}`,
      'x-b3-traceid': caller.traceId,
      'x-b3-spanid': caller.spanId,
      'x-b3-sampled': '1',
    }));
    expect(response.status.code).toBe(16);
    const { server } = await trace(caller.traceId);
    expect(server.parentSpanId).toBe(caller.spanId);
    expect(server.attributes).toMatchObject({ 'portcullis.decision': 'deny', 'portcullis.reason': 'token_expired', 'portcullis.status': 401, 'rpc.status_code': 'OK' });
    expect(server.status.code ?? 0).toBe(0);
  });

  it('from B3 metadata when the call carries no W3C header', async () => {
    const caller = traceIds();
    await client.check(checkRequest({ authorization: `Bearer ${await signToken(key)}` }), {
      'x-b3-traceid': caller.traceId, 'x-b3-spanid': caller.spanId, 'x-b3-sampled': '1',
    });
    expect((await trace(caller.traceId)).server.parentSpanId).toBe(caller.spanId);
  });

  it('from the B3 single header of a forward_auth request', async () => {
    const caller = traceIds();
    const token = await signToken(key);
    const response = await forwardAuth({ authorization: `Bearer ${token}`, b3: `${caller.traceId}-${caller.spanId}-1`, 'x-forwarded-for': '198.51.100.4' });
    expect(response.status).toBe(200);
    const { server, spans } = await trace(caller.traceId);
    expect(server).toMatchObject({ name: FORWARD_AUTH_SPAN, parentSpanId: caller.spanId });
    expect(server.attributes).toMatchObject({
      'http.route': '/auth',
      'http.response.status_code': 200,
      'portcullis.transport': 'http',
      'portcullis.decision': 'allow',
      'portcullis.request.path': '/orders',
      'client.address': '198.51.100.4',
    });
    expect(spans.find((s) => s.name === 'portcullis.verify_token')?.parentSpanId).toBe(server.spanId);
  });

  it('prefers traceparent to b3 in the same headers', async () => {
    const w3c = traceIds();
    const b3 = traceIds();
    await forwardAuth({ traceparent: w3c.traceparent, b3: `${b3.traceId}-${b3.spanId}-1` });
    expect((await trace(w3c.traceId)).server.parentSpanId).toBe(w3c.spanId);
    expect((await exported()).some((s) => s.traceId === b3.traceId)).toBe(false);
  });

  it('starts a new trace when no header carries one', async () => {
    const before = new Set((await exported()).map((s) => s.spanId));
    await forwardAuth({});
    const fresh = (await exported()).filter((s) => !before.has(s.spanId) && s.name === FORWARD_AUTH_SPAN);
    expect(fresh).toHaveLength(1);
    expect(fresh[0]!.parentSpanId).toBe('');
    expect(fresh[0]!.attributes).toMatchObject({ 'portcullis.reason': 'token_missing', 'http.response.status_code': 401 });
  });
});

describe('JWKS fetch spans', () => {
  it('name the issuer, URL and outcome; a fetch a request waits for is a child of its verify_token span', async () => {
    const k2 = await makeKey('ES256', 'k2');
    jwks.behaviour = { kind: 'serve', body: jwksOf(key, k2) };
    const caller = traceIds();
    const response = await client.check(checkRequest({ authorization: `Bearer ${await signToken(k2)}` }), { traceparent: caller.traceparent });
    expect(response.status.code).toBe(0);
    const { server, spans } = await trace(caller.traceId);
    const verify = spans.find((s) => s.name === 'portcullis.verify_token');
    const fetchSpan = spans.find((s) => s.name === 'portcullis.jwks_fetch');
    expect(verify?.parentSpanId).toBe(server.spanId);
    expect(fetchSpan?.parentSpanId).toBe(verify?.spanId);
    expect(fetchSpan?.attributes).toEqual({ 'url.full': jwks.url, 'portcullis.issuer': ISSUER, 'portcullis.jwks.outcome': 'ok' });
    expect(server.attributes['portcullis.kid']).toBe('k2');
  });

  it('mark a failed fetch with outcome error and an error status', async () => {
    const failed = (await exported()).find((s) => s.name === 'portcullis.jwks_fetch' && s.attributes['portcullis.issuer'] === DOWN_ISSUER);
    expect(failed?.attributes).toEqual({ 'url.full': down.url, 'portcullis.issuer': DOWN_ISSUER, 'portcullis.jwks.outcome': 'error' });
    expect(failed?.status).toMatchObject({ code: 2, message: expect.stringContaining('HTTP 503') });
  });
});

describe('no token material leaves the process', () => {
  it('in spans or log lines, for an allow and for denies', async () => {
    const other = await makeKey('ES256', 'k1'); // same kid, different key: a bad signature
    const tokens = [
      await signToken(key, { jti: 'allow' }),
      await signToken(key, { exp: NOW_S - 600 }),
      await signToken(key, { aud: 'someone-else' }),
      await signToken(other),
      await signToken(key, { iss: 'https://unknown.test/' }),
    ];
    const malformed = `${tokens[0]!.split('.').slice(0, 2).join('.')}.!!`;
    const reasons: string[] = [];
    for (const token of [...tokens, malformed]) {
      const caller = traceIds();
      await client.check(checkRequest({ authorization: `Bearer ${token}` }), { traceparent: caller.traceparent });
      reasons.push(String((await trace(caller.traceId)).server.attributes['portcullis.reason']));
      const response = await forwardAuth({ authorization: `Bearer ${token}` });
      await response.arrayBuffer();
    }
    expect(reasons).toEqual(['token_valid', 'token_expired', 'audience_mismatch', 'signature_invalid', 'issuer_unknown', 'token_malformed']);
    await otel.forceFlush();
    const everything = `${receiver.all()}\n${log.lines.join('')}`;
    for (const token of [...tokens, malformed]) {
      const [header, payload, signature] = token.split('.') as [string, string, string];
      expect(everything).not.toContain(token);
      expect(everything).not.toContain(`${header}.${payload}`);
      if (signature.length > 8) expect(everything).not.toContain(signature);
      expect(everything).not.toContain(payload);
    }
    // Not even the subject: record_subject is off.
    expect(receiver.spans().some((s) => 'user.id' in s.attributes)).toBe(false);
  });
});

describe('decision logs carry the trace', () => {
  it('a deny line names the server span it belongs to and fingerprints the token', async () => {
    const caller = traceIds();
    const token = await signToken(key, { aud: 'someone-else' });
    await client.check(checkRequest({ authorization: `Bearer ${token}` }), { traceparent: caller.traceparent });
    const { server } = await trace(caller.traceId);
    const line = log.records().find((r) => r.trace_id === caller.traceId);
    expect(line).toMatchObject({
      level: 'info',
      msg: 'deny',
      reason: 'audience_mismatch',
      message: `audience mismatch: expected one of ["${AUDIENCE}"], got ["someone-else"]`,
      span_id: server.spanId,
      token_fingerprint: tokenFingerprint(token),
      issuer: ISSUER,
      transport: 'grpc',
      client_address: '203.0.113.7:50123',
    });
  });
});

describe('telemetry.record_subject', () => {
  it('puts the subject on the server span only when on; OTLP metrics are pushed when the service stops', async () => {
    const withSubject = await startPortcullis(config({ telemetry: { record_subject: true } }), runtime, { telemetry: { sdk: otel } });
    const caller = traceIds();
    try {
      const subjectClient = connectCheckClient(withSubject.grpcAddress);
      await subjectClient.check(checkRequest({ authorization: `Bearer ${await signToken(key, { sub: 'alice' })}` }), { traceparent: caller.traceparent });
      subjectClient.close();
    } finally {
      await withSubject.close();
    }
    expect((await trace(caller.traceId)).server.attributes['user.id']).toBe('alice');
    const names = receiver.metricNames();
    for (const name of ['portcullis_decisions_total', 'portcullis_decision_duration_seconds', 'portcullis_token_size_bytes', 'portcullis_jwks_fetches_total', 'portcullis_jwks_keys']) {
      expect(names).toContain(name);
    }
    expect(diagnostics).toEqual([]);
  });
});
