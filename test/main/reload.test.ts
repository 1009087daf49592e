/**
 * Hot reload of the real process (`node src/main.ts --config FILE`): the config file changes while a stream of
 * gRPC Checks and forward-auth requests runs, and every answer is asserted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, renameSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, freePorts } from '../support/ports.ts';
import { jwksOf, makeKey, type TestKey } from '../support/tokens.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { checkRequest, getOnce, liveToken, startMain, type MainProcess } from '../support/process.ts';

const A = 'https://a.test/';
const B = 'https://b.test/';

let main: MainProcess | undefined;
let jwks: JwksServer | undefined;
let client: EnvoyClient | undefined;
afterEach(async () => {
  client?.close();
  main?.kill();
  await jwks?.close();
  main = client = jwks = undefined;
});

interface Setup {
  readonly key: TestKey;
  readonly dir: string;
  readonly file: string;
  readonly http: string;
  readonly grpc: string;
  config(o?: { audience?: string; subjectHeader?: string; issuers?: 'a' | 'ab' | 'b'; httpPort?: number; workers?: number }): string;
}

async function setup(fileIn?: (dir: string) => string): Promise<Setup> {
  const key = await makeKey('ES256', 'k1');
  jwks = await startJwksServer({ kind: 'serve', body: jwksOf(key) });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-reload-'));
  const [g, h] = await freePorts(2);
  const url = jwks.url;
  const config: Setup['config'] = (o = {}) => {
    const issuer = (iss: string) => `  - issuer: "${iss}"\n    jwks_uri: "${url}"\n    audiences: [${o.audience ?? 'api'}]\n`;
    const which = o.issuers ?? 'a';
    return [
      `workers: ${o.workers ?? 1}`,
      `listen: { grpc: "127.0.0.1:${g}", http: "127.0.0.1:${o.httpPort ?? h}" }`,
      `identity_headers: { sub: ${o.subjectHeader ?? 'x-auth-subject'} }`,
      'issuers:',
      `${which.includes('a') ? issuer(A) : ''}${which.includes('b') ? issuer(B) : ''}`,
    ].join('\n');
  };
  const file = fileIn?.(dir) ?? join(dir, 'portcullis.yaml');
  return { key, dir, file, http: `http://127.0.0.1:${h}`, grpc: `127.0.0.1:${g}`, config };
}

const forwardAuth = (s: Setup, token: string) => getOnce(`${s.http}/auth`, { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/orders', authorization: `Bearer ${token}` });

describe('hot reload', { timeout: 90_000 }, () => {
  it('answers every Check and forward-auth request correctly across many reloads, with no JWKS fetch for an unchanged issuer', async () => {
    const s = await setup();
    writeFileSync(s.file, s.config());
    main = startMain(['--config', s.file]);
    await main.waitFor('"portcullis started"');
    client = connectEnvoyClient(s.grpc);
    const token = await liveToken(s.key, A, 'api');
    const fetchesAtStart = jwks!.fetches;

    // The reloads alternate the identity header: every answer must be an allow carrying one of the two.
    let stop = false;
    const answers = { grpc: 0, http: 0 };
    const stream = async (): Promise<void> => {
      while (!stop) {
        const [g, h] = await Promise.all([client!.check(checkRequest({ authorization: `Bearer ${token}` })), forwardAuth(s, token)]);
        expect(g.status.code).toBe(0);
        const set = (g.ok_response.headers as { header: { key: string; value: string } }[]).filter((x) => x.header.value === 'alice').map((x) => x.header.key);
        expect(set.length).toBe(1);
        expect(['x-auth-subject', 'x-user']).toContain(set[0]);
        expect(h.status).toBe(200);
        expect(h.headers['x-auth-subject'] ?? h.headers['x-user']).toBe('alice');
        answers.grpc++;
        answers.http++;
      }
    };
    const running = [stream(), stream()];
    for (let i = 1; i <= 8; i++) {
      writeFileSync(s.file, s.config({ subjectHeader: i % 2 === 1 ? 'x-user' : 'x-auth-subject' }));
      await main.waitFor('"config reloaded"', i);
      const h = await forwardAuth(s, token);
      expect(h.headers[i % 2 === 1 ? 'x-user' : 'x-auth-subject']).toBe('alice');
    }
    stop = true;
    await Promise.all(running);
    expect(answers.grpc).toBeGreaterThan(8);
    expect(jwks!.fetches).toBe(fetchesAtStart);
    const metrics = await getOnce(`${s.http}/metrics`);
    expect(metrics.body).toContain('portcullis_config_reloads_total{outcome="ok"} 8');
  });

  it('keeps the running config when the new one is invalid: every problem logged by path, counted, /readyz 200 showing it', async () => {
    const s = await setup();
    writeFileSync(s.file, s.config());
    main = startMain(['--config', s.file]);
    await main.waitFor('"portcullis started"');
    const token = await liveToken(s.key, A, 'api');
    writeFileSync(s.file, `${s.config()}\nleeway: 60\nissuers_typo: 1\n`);
    await main.waitFor('"config reload refused');
    expect(main.output()).toContain('leeway: unknown key');
    expect(main.output()).toContain('issuers_typo: unknown key');
    expect((await forwardAuth(s, token)).status).toBe(200);
    const ready = await getOnce(`${s.http}/readyz`);
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.body).last_reload).toMatchObject({ outcome: 'error', problems: expect.arrayContaining([expect.stringContaining('issuers_typo: unknown key')]) });
    expect((await getOnce(`${s.http}/metrics`)).body).toContain('portcullis_config_reloads_total{outcome="error"} 1');
  });

  it('refuses a reload that changes a restart-only setting, naming it, and keeps serving on the old listener', async () => {
    const s = await setup();
    writeFileSync(s.file, s.config());
    main = startMain(['--config', s.file]);
    await main.waitFor('"portcullis started"');
    writeFileSync(s.file, s.config({ httpPort: await freePort(), workers: 2, audience: 'other' }));
    await main.waitFor('"config reload refused');
    expect(main.output()).toContain('listen.http: changing it needs a restart');
    expect(main.output()).toContain('workers: changing it needs a restart');
    // The whole reload is refused: the audience change did not apply either.
    expect((await forwardAuth(s, await liveToken(s.key, A, 'api'))).status).toBe(200);
    expect((await forwardAuth(s, await liveToken(s.key, A, 'other'))).status).toBe(401);
  });

  it('reloads on SIGHUP, and stops accepting the tokens of an issuer removed by a reload at once (cached or not)', async () => {
    const s = await setup();
    writeFileSync(s.file, s.config({ issuers: 'ab' }));
    main = startMain(['--config', s.file]);
    await main.waitFor('"portcullis started"');
    const tokenA = await liveToken(s.key, A, 'api');
    for (let i = 0; i < 3; i++) expect((await forwardAuth(s, tokenA)).status).toBe(200); // cached from the second on
    main.child.kill('SIGHUP');
    await main.waitFor('"trigger":"sighup"');
    expect(main.output()).toMatch(/"config reloaded","path":"[^"]+","trigger":"sighup"/);
    writeFileSync(s.file, s.config({ issuers: 'b' }));
    await main.waitFor('"config reloaded"', 2);
    const denied = await forwardAuth(s, tokenA);
    expect(denied.status).toBe(401);
    expect(denied.body).toContain('issuer_unknown');
    expect((await forwardAuth(s, await liveToken(s.key, B, 'api'))).status).toBe(200);
  });

  it('follows a Kubernetes ConfigMap update: the ..data symlink swapped in the mounted directory', async () => {
    // The layout kubelet writes: file → ..data/file, ..data → ..<timestamp>/, swapped by renaming a new symlink.
    const s = await setup((dir) => join(dir, 'portcullis.yaml'));
    const version = (name: string, text: string) => {
      mkdirSync(join(s.dir, name));
      writeFileSync(join(s.dir, name, 'portcullis.yaml'), text);
    };
    version('..2026_11_30_1', s.config());
    symlinkSync('..2026_11_30_1', join(s.dir, '..data'));
    symlinkSync('..data/portcullis.yaml', s.file);
    main = startMain(['--config', s.file]);
    await main.waitFor('"portcullis started"');
    expect((await forwardAuth(s, await liveToken(s.key, A, 'new-api'))).status).toBe(401);
    version('..2026_11_30_2', s.config({ audience: 'new-api' }));
    symlinkSync('..2026_11_30_2', join(s.dir, '..data_tmp'));
    renameSync(join(s.dir, '..data_tmp'), join(s.dir, '..data'));
    await main.waitFor('"config reloaded"');
    expect((await forwardAuth(s, await liveToken(s.key, A, 'new-api'))).status).toBe(200);
  });

  it('picks up a changed jwks_file by its watch, long before the next poll', async () => {
    const s = await setup();
    const k2 = await makeKey('ES256', 'k2');
    writeFileSync(join(s.dir, 'keys.json'), JSON.stringify(jwksOf(s.key)));
    writeFileSync(s.file, `listen: { grpc: "${s.grpc}", http: "${s.http.slice(7)}" }\nworkers: 1\njwks: { refresh_interval: 1h, min_refresh: 1h, cooldown: 1h }\nissuers:\n  - issuer: "${A}"\n    jwks_file: keys.json\n    audiences: [api]\n`);
    main = startMain(['--config', s.file]);
    await main.waitFor('"portcullis started"');
    const token2 = await liveToken(k2, A, 'api');
    expect((await forwardAuth(s, token2)).status).toBe(401); // unknown kid: the one on-demand load of this cooldown hour
    writeFileSync(join(s.dir, 'keys.json'), JSON.stringify(jwksOf(s.key, k2)));
    await main.waitFor('"keys loaded"', 3);
    expect((await forwardAuth(s, token2)).status).toBe(200);
  });
});
