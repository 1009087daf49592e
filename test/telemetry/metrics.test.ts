/**
 * Prometheus /metrics on the real service: a known mix of allows and denies over both transports, then one scrape,
 * checked series by series. Tracing is off here (no SDK), as in a default deployment.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, signToken } from '../support/tokens.ts';
import { checkRequest, parseExposition } from './support.ts';

const runtime = { fetch: (u: string, i: Parameters<typeof fetch>[1]) => fetch(u, i), now: () => NOW_S * 1000 };

let running: Running | undefined;
let jwks: JwksServer | undefined;
let client: EnvoyClient | undefined;
afterEach(async () => {
  client?.close();
  await running?.close();
  await jwks?.close();
  running = jwks = client = undefined;
});

async function start(extra: Record<string, unknown> = {}) {
  const key = await makeKey('ES256', 'k1');
  jwks = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
  const config = buildConfig(
    { listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' }, issuers: [{ issuer: ISSUER, jwks_uri: jwks.url, audiences: [AUDIENCE] }], ...extra },
    'test',
    process.cwd(),
  );
  running = await startPortcullis(config, runtime);
  client = connectEnvoyClient(running.grpcAddress);
  return { key, running, client };
}

const forwardAuth = (url: string, token?: string) =>
  fetch(`${url}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders', ...(token ? { authorization: `Bearer ${token}` } : {}) } }).then((r) => r.status);

describe('/metrics', () => {
  it('counts a known mix of decisions by transport, decision and reason, with latency, token sizes, keys and cache', async () => {
    const { key, running, client } = await start();
    const valid = await signToken(key);
    const expired = await signToken(key, { exp: NOW_S - 600 });
    const wrongAudience = await signToken(key, { aud: 'someone-else' });
    const grpc = (token?: string) => client.check(checkRequest(token ? { authorization: `Bearer ${token}` } : {})).then((r) => r.status.code as number);

    expect(await Promise.all([grpc(valid), grpc(valid), grpc(valid), grpc(expired), grpc(expired), grpc()])).toEqual([0, 0, 0, 16, 16, 16]);
    const http = running.httpUrl;
    expect([await forwardAuth(http, valid), await forwardAuth(http, valid), await forwardAuth(http, wrongAudience), await forwardAuth(http)]).toEqual([200, 200, 401, 401]);

    const response = await fetch(`${http}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const m = parseExposition(await response.text());

    const decisions = (transport: string, decision: string, reason: string) => m.value('portcullis_decisions_total', { transport, decision, reason });
    expect(decisions('grpc', 'allow', 'token_valid')).toBe(3);
    expect(decisions('grpc', 'deny', 'token_expired')).toBe(2);
    expect(decisions('grpc', 'deny', 'token_missing')).toBe(1);
    expect(decisions('http', 'allow', 'token_valid')).toBe(2);
    expect(decisions('http', 'deny', 'audience_mismatch')).toBe(1);
    expect(decisions('http', 'deny', 'token_missing')).toBe(1);
    const decisionSeries = [...m.series.keys()].filter((k) => k.startsWith('portcullis_decisions_total{'));
    expect(decisionSeries).toHaveLength(6);
    expect(m.types.get('portcullis_decisions_total')).toBe('counter');

    const latency = (name: string, transport: string, decision: string, extra: Record<string, string> = {}) =>
      m.value(`portcullis_decision_duration_seconds_${name}`, { transport, decision, ...extra });
    expect(m.types.get('portcullis_decision_duration_seconds')).toBe('histogram');
    expect(latency('count', 'grpc', 'allow')).toBe(3);
    expect(latency('count', 'grpc', 'deny')).toBe(3);
    expect(latency('count', 'http', 'allow')).toBe(2);
    expect(latency('count', 'http', 'deny')).toBe(2);
    expect(latency('bucket', 'grpc', 'deny', { le: '+Inf' })).toBe(3);
    expect(latency('sum', 'grpc', 'allow')).toBeGreaterThan(0);

    // Token sizes: every offered token, per transport (token_missing offers none).
    expect(m.value('portcullis_token_size_bytes_count', { transport: 'grpc' })).toBe(5);
    expect(m.value('portcullis_token_size_bytes_sum', { transport: 'grpc' })).toBe(3 * valid.length + 2 * expired.length);
    expect(m.value('portcullis_token_size_bytes_count', { transport: 'http' })).toBe(3);
    expect(m.value('portcullis_token_size_bytes_sum', { transport: 'http' })).toBe(2 * valid.length + wrongAudience.length);
    expect(m.value('portcullis_token_size_bytes_bucket', { transport: 'http', le: '1024' })).toBe(3);

    // Key sets: one successful load at start, none failed; read at scrape time.
    expect(m.value('portcullis_jwks_fetches_total', { issuer: ISSUER, outcome: 'ok' })).toBe(1);
    expect(m.value('portcullis_jwks_fetches_total', { issuer: ISSUER, outcome: 'error' })).toBe(0);
    expect(m.value('portcullis_jwks_keys', { issuer: ISSUER })).toBe(1);
    expect(m.value('portcullis_jwks_ready', { issuer: ISSUER })).toBe(1);
    expect(m.value('portcullis_jwks_age_seconds', { issuer: ISSUER })).toBe(0);

    // The verified-token cache, as the core counts it.
    const { stats } = running.core.verifier.cache;
    expect(stats.hits).toBeGreaterThan(0);
    expect(m.value('portcullis_token_cache_hits_total')).toBe(stats.hits);
    expect(m.value('portcullis_token_cache_misses_total')).toBe(stats.misses);
    expect(m.value('portcullis_token_cache_negative_hits_total')).toBe(stats.negativeHits);
    expect(m.value('portcullis_token_cache_entries')).toBe(running.core.verifier.cache.size);
    expect(m.value('portcullis_token_cache_bytes')).toBe(running.core.verifier.cache.bytes);
    expect(m.value('portcullis_config_reloads_total', { outcome: 'ok' })).toBe(0);

    // Low-cardinality labels only, no per-series scope labels.
    const allowed = new Set(['transport', 'decision', 'reason', 'issuer', 'outcome', 'le']);
    for (const [name, labels] of m.labels) {
      if (!name.startsWith('portcullis_')) continue;
      for (const label of labels) expect(allowed, `${name} has label ${label}`).toContain(label);
    }
    expect([...m.series.keys()].some((k) => k.startsWith('target_info{') && k.includes('service_name="portcullis"'))).toBe(true);
  });

  it('counts failed key loads per issuer', async () => {
    jwks = await startJwksServer({ kind: 'status', status: 503 });
    const config = buildConfig(
      { listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' }, issuers: [{ issuer: ISSUER, jwks_uri: jwks.url, audiences: [AUDIENCE] }] },
      'test',
      process.cwd(),
    );
    running = await startPortcullis(config, runtime);
    const m = parseExposition(await (await fetch(`${running.httpUrl}/metrics`)).text());
    expect(m.value('portcullis_jwks_fetches_total', { issuer: ISSUER, outcome: 'error' })).toBe(1);
    expect(m.value('portcullis_jwks_fetches_total', { issuer: ISSUER, outcome: 'ok' })).toBe(0);
    expect(m.value('portcullis_jwks_ready', { issuer: ISSUER })).toBe(0);
    expect(m.value('portcullis_jwks_keys', { issuer: ISSUER })).toBe(0);
    expect(m.names.has('portcullis_jwks_age_seconds')).toBe(false);
  });

  it('answers HEAD and refuses other methods', async () => {
    const { running } = await start();
    const head = await fetch(`${running.httpUrl}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
    expect((await fetch(`${running.httpUrl}/metrics`, { method: 'POST' })).status).toBe(405);
  });

  it('moves to listen.admin when configured, and leaves the HTTP listener', async () => {
    const { key, running } = await start({ listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0', admin: '127.0.0.1:0' } });
    expect(running.adminUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await forwardAuth(running.httpUrl, await signToken(key))).toBe(200);
    expect((await fetch(`${running.httpUrl}/metrics`)).status).toBe(404);
    const scrape = await fetch(`${running.adminUrl}/metrics`);
    expect(scrape.status).toBe(200);
    expect(parseExposition(await scrape.text()).value('portcullis_decisions_total', { transport: 'http', decision: 'allow', reason: 'token_valid' })).toBe(1);
    expect((await fetch(`${running.adminUrl}/auth`)).status).toBe(404);
  });

  it('is not served with telemetry.metrics: false', async () => {
    const { running } = await start({ telemetry: { metrics: false } });
    expect((await fetch(`${running.httpUrl}/metrics`)).status).toBe(404);
  });
});
