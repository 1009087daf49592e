/**
 * `workers: 2` as a real process group: one metrics view on every scrape, every worker switching on a reload, one
 * drain for the group.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../support/ports.ts';
import { jwksOf, makeKey } from '../support/tokens.ts';
import { checkRequest, getOnce, liveToken, startMain, type MainProcess } from '../support/process.ts';
import { connectEnvoyClient } from '../support/envoy-client.ts';

const ISS = 'https://a.test/';
let main: MainProcess | undefined;
afterEach(() => {
  main?.kill();
  main = undefined;
});

async function startGroup(withAdmin: boolean) {
  const key = await makeKey('ES256', 'k1');
  const [g, h, a] = await freePorts(3);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-workers-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  const file = join(dir, 'c.yaml');
  const config = (audience: string) =>
    `workers: 2\nshutdown: { drain: 300ms }\nlisten: { grpc: "127.0.0.1:${g}", http: "127.0.0.1:${h}"${withAdmin ? `, admin: "127.0.0.1:${a}"` : ''} }\nissuers:\n  - issuer: "${ISS}"\n    jwks_file: jwks.json\n    audiences: [${audience}]\n`;
  writeFileSync(file, config('api'));
  main = startMain(['--config', file]);
  await main.waitFor('"portcullis started"');
  const http = `http://127.0.0.1:${h}`;
  // /metrics: on listen.admin when set, else on the HTTP listener.
  return { key, file, config, http, grpc: `127.0.0.1:${g}`, metrics: `http://127.0.0.1:${withAdmin ? a : h}/metrics` };
}

const decisionsIn = (text: string): number =>
  [...text.matchAll(/^portcullis_decisions_total\{[^}]*\} (\d+)$/gm)].reduce((sum, m) => sum + Number(m[1]), 0);

describe('workers: 2', { timeout: 90_000 }, () => {
  it('shows N requests spread over the workers as exactly N on every scrape of the HTTP listener', async () => {
    const { key, http, metrics } = await startGroup(false);
    const token = await liveToken(key, ISS, 'api');
    const N = 60;
    // One connection each: node:cluster hands connections to the workers in turn.
    for (let i = 0; i < N; i++) {
      const r = await getOnce(`${http}/auth`, { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', ...(i % 3 === 0 ? {} : { authorization: `Bearer ${token}` }) });
      expect(r.status).toBe(i % 3 === 0 ? 401 : 200);
    }
    const scrapes = await Promise.all(Array.from({ length: 8 }, (_, i) => getOnce(metrics)));
    for (const s of scrapes) {
      expect(s.status).toBe(200);
      expect(decisionsIn(s.body)).toBe(N);
      expect(s.body).toContain(`portcullis_decisions_total{transport="http",decision="deny",reason="token_missing"} ${N / 3}`);
      expect(s.body).toMatch(/^portcullis_decision_duration_seconds_count\{transport="http",decision="allow"\} 40$/m);
      expect(s.body).toContain('portcullis_jwks_ready{issuer="https://a.test/"} 1');
      expect(s.body).not.toContain('did not answer');
      expect(s.body.match(/^target_info\{/gm)?.length).toBe(1);
    }
    // target_info is the answering worker's: both workers answered scrapes, and each showed the whole group.
    const answeredBy = new Set(scrapes.map((s) => /service_instance_id="([^"]+)"/.exec(s.body)?.[1]));
    expect(answeredBy.size).toBe(2);
  });

  it('answers gRPC Check and health calls on every connection, which node:cluster hands to the workers in turn (the node:http2 listener shares the port)', async () => {
    const { key, grpc, metrics } = await startGroup(false);
    const token = await liveToken(key, ISS, 'api');
    const N = 6;
    // One client (one connection) each: node:cluster hands connections to the workers in turn.
    for (let i = 0; i < N; i++) {
      const client = connectEnvoyClient(grpc);
      try {
        const response = await client.check(checkRequest({ authorization: `Bearer ${token}` }));
        expect(response.status.code).toBe(0);
        await expect(client.healthCheck('')).resolves.toEqual({ status: 'SERVING' });
      } finally {
        client.close();
      }
    }
    const scrape = await getOnce(metrics);
    expect(scrape.body).toContain(`portcullis_decisions_total{transport="grpc",decision="allow",reason="token_valid"} ${N}`);
  });

  it('switches every worker on a reload, counts it once (scraped on listen.admin), and drains the group on SIGTERM', async () => {
    const { key, file, config, http, metrics } = await startGroup(true);
    writeFileSync(file, config('new-api'));
    await main!.waitFor('"config reloaded"');
    const token = await liveToken(key, ISS, 'new-api');
    const answers = await Promise.all(Array.from({ length: 12 }, () => getOnce(`${http}/auth`, { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', authorization: `Bearer ${token}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    const readyz = await Promise.all(Array.from({ length: 6 }, () => getOnce(`${http}/readyz`)));
    for (const r of readyz) expect(JSON.parse(r.body).last_reload).toMatchObject({ outcome: 'ok' });
    for (let i = 0; i < 4; i++) expect((await getOnce(metrics)).body).toContain('portcullis_config_reloads_total{outcome="ok"} 1');

    main!.child.kill('SIGTERM');
    expect(await main!.exited).toBe(0);
    expect(main!.output().split('"portcullis draining').length - 1).toBe(2);
    expect(main!.output().split('"portcullis stopped","code":0').length - 1).toBe(2);
  });
});
