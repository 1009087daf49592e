/**
 * deploy/grafana/portcullis.json: valid JSON with the shape Grafana imports (a datasource variable instead of
 * __inputs, so it also works when provisioned from a file), and every metric its queries use is one the real service
 * exposes on /metrics (wired as main wires it, decision log writer included).
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { bufferedLineWriter } from '../../src/log.ts';
import { METRIC_NAMES } from '../../src/telemetry/index.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, signToken } from '../support/tokens.ts';
import { parseExposition, type Exposition } from './support.ts';

const DASHBOARD = new URL('../../deploy/grafana/portcullis.json', import.meta.url);

interface Target { refId?: string; expr?: string; datasource?: { type?: string; uid?: string } }
interface Panel { id?: number; type?: string; title?: string; gridPos?: { x: number; y: number; w: number; h: number }; targets?: Target[]; datasource?: { uid?: string } }

let running: Running;

function secretFile(): string {
  const file = join(mkdtempSync(join(tmpdir(), 'portcullis-dashboard-')), 'secret');
  writeFileSync(file, 'not-a-real-secret');
  return file;
}
let scraped: Exposition;

beforeAll(async () => {
  const key = await makeKey('ES256', 'k1');
  const config = buildConfig(
    {
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
      issuers: [
        { issuer: ISSUER, jwks: jwksOf(key), audiences: [AUDIENCE] },
        // Opaque tokens go to an introspection endpoint nobody answers at, so the introspection metrics are exposed too.
        {
          issuer: 'https://opaque.test/', jwks: jwksOf(key), audiences: [AUDIENCE],
          introspection: { endpoint: 'http://127.0.0.1:1/introspect', client_id: 'portcullis', client_secret_file: secretFile(), opaque_tokens: true },
        },
      ],
      // A single-use route, so the replay metrics are exposed too.
      workers: 1,
      routes: [{ match: { paths: ['/once/**'] }, require: { single_use: true } }],
    },
    'test',
    process.cwd(),
  );
  const sink = new PassThrough();
  sink.resume();
  running = await startPortcullis(config, { fetch, now: () => NOW_S * 1000 }, { telemetry: { log: bufferedLineWriter(sink) } });
  const ask = (token?: string) =>
    fetch(`${running.httpUrl}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/', ...(token ? { authorization: `Bearer ${token}` } : {}) } });
  const token = await signToken(key);
  for (const t of [token, token, undefined, 'an-opaque-token']) await (await ask(t)).arrayBuffer();
  scraped = parseExposition(await (await fetch(`${running.httpUrl}/metrics`)).text());
});

afterAll(async () => {
  await running?.close();
});

describe('deploy/grafana/portcullis.json', () => {
  const dashboard = JSON.parse(readFileSync(DASHBOARD, 'utf8')) as {
    title: string; uid: string; schemaVersion: number; panels: Panel[];
    templating: { list: { name: string; type: string; query?: unknown; definition?: string }[] };
  };
  const panels = dashboard.panels;
  const targets = panels.flatMap((p) => p.targets ?? []);
  const expressions = [
    ...targets.map((t) => t.expr ?? ''),
    ...dashboard.templating.list.map((v) => v.definition ?? '').filter((d) => d !== ''),
  ];

  it('has what a Grafana import needs', () => {
    expect(dashboard.title).toBe('Portcullis');
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list.find((v) => v.name === 'datasource')).toMatchObject({ type: 'datasource', query: 'prometheus' });
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const panel of panels) {
      expect(panel.gridPos, panel.title).toBeDefined();
      expect(panel.gridPos!.x + panel.gridPos!.w, panel.title).toBeLessThanOrEqual(24);
      if (panel.type === 'row') continue;
      expect(['timeseries', 'stat'], panel.title).toContain(panel.type);
      expect(panel.datasource?.uid, panel.title).toBe('${datasource}');
      expect(panel.targets?.length, panel.title).toBeGreaterThan(0);
      const refIds = panel.targets!.map((t) => t.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
    }
  });

  it('covers decision rate by reason, p50/p99 latency, JWKS health per issuer and the cache hit ratio', () => {
    const all = expressions.join('\n');
    expect(all).toMatch(/sum by \(decision, reason\) \(rate\(portcullis_decisions_total/);
    expect(all).toContain('histogram_quantile(0.5, sum by (le, transport) (rate(portcullis_decision_duration_seconds_bucket');
    expect(all).toContain('histogram_quantile(0.99, sum by (le, transport) (rate(portcullis_decision_duration_seconds_bucket');
    expect(all).toMatch(/by \(issuer\) \(portcullis_jwks_ready/);
    expect(all).toMatch(/by \(issuer, outcome\) \(increase\(portcullis_jwks_fetches_total/);
    expect(all).toMatch(/portcullis_token_cache_hits_total.*\/ \(.*portcullis_token_cache_misses_total/);
  });

  it('uses only metrics the service exposes', () => {
    const used = new Set(expressions.flatMap((e) => e.match(/\bportcullis_[a-z_]+\b/g) ?? []));
    expect(used.size).toBeGreaterThan(5);
    for (const name of used) expect(scraped.names, `${name} in /metrics`).toContain(name);
    // And every metric the service exposes is on the dashboard.
    const families = new Set([...used].map((n) => n.replace(/_bucket$/, '')));
    for (const name of Object.values(METRIC_NAMES)) expect(families, `${name} on the dashboard`).toContain(name);
  });

  it('has balanced PromQL', () => {
    for (const expr of expressions) {
      let depth = 0;
      for (const ch of expr.replace(/"(?:[^"\\]|\\.)*"/g, '""')) {
        if ('({['.includes(ch)) depth++;
        if (')}]'.includes(ch)) depth--;
        expect(depth, expr).toBeGreaterThanOrEqual(0);
      }
      expect(depth, expr).toBe(0);
    }
  });
});
