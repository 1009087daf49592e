/**
 * Drain on SIGTERM, SIGINT and a second signal, on the real process (`node src/main.ts --config FILE`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../support/ports.ts';
import { jwksOf, makeKey, type TestKey } from '../support/tokens.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { checkRequest, getOnce, liveToken, startMain, type MainProcess } from '../support/process.ts';

const ISS = 'https://a.test/';
let main: MainProcess | undefined;
let client: EnvoyClient | undefined;
let idp: Server | undefined;
afterEach(async () => {
  client?.close();
  main?.kill();
  idp?.closeAllConnections();
  await new Promise((r) => (idp ? idp.close(r) : r(undefined)));
  main = client = idp = undefined;
});

/**
 * An IdP whose JWKS answers at once until `hold()`; then each fetch waits until `release()` and gets `later`.
 * (A request waiting for an unknown kid's key load is a request in flight we control.)
 */
async function startIdp(first: TestKey, later: TestKey[]) {
  let holding = false;
  const held: ServerResponse[] = [];
  let requested: () => void = () => {};
  const requestedOnce = new Promise<void>((r) => (requested = r));
  idp = createServer((_req, res) => {
    if (!holding) return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksOf(first)));
    held.push(res);
    requested();
  });
  await new Promise<void>((r) => idp!.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(idp.address() as AddressInfo).port}/jwks.json`,
    hold: () => (holding = true),
    requested: requestedOnce,
    release: () => held.forEach((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(jwksOf(...later)))),
  };
}

async function start(shutdown: string, jwksUri?: string) {
  const key = await makeKey('ES256', 'k1');
  const [g, h] = await freePorts(2);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-drain-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  const source = jwksUri ? `jwks_uri: "${jwksUri}"` : 'jwks_file: jwks.json';
  writeFileSync(join(dir, 'c.yaml'), `workers: 1\nshutdown: ${shutdown}\nlisten: { grpc: "127.0.0.1:${g}", http: "127.0.0.1:${h}" }\nissuers:\n  - issuer: "${ISS}"\n    ${source}\n    audiences: [api]\n`);
  main = startMain(['--config', join(dir, 'c.yaml')]);
  await main.waitFor('"portcullis started"');
  client = connectEnvoyClient(`127.0.0.1:${g}`);
  const http = `http://127.0.0.1:${h}`;
  const ask = (token: string) => getOnce(`${http}/auth`, { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', authorization: `Bearer ${token}` });
  return { key, http, ask };
}

describe('drain on SIGTERM', { timeout: 90_000 }, () => {
  it('is not ready at once, keeps answering during the drain, lets an in-flight request finish after the listeners close, and exits 0', async () => {
    const k1 = await makeKey('ES256', 'k1');
    const k2 = await makeKey('ES256', 'k2');
    const provider = await startIdp(k1, [k1, k2]);
    // Keys by jwks_uri from our IdP; the key in start()'s own file is not used.
    const { http, ask } = await start('{ drain: 4s, timeout: 20s }', provider.url);
    const token1 = await liveToken(k1, ISS, 'api');
    expect((await client!.healthCheck('')).status).toBe('SERVING');
    // An idle HTTP/1.1 keep-alive connection (a proxy's pool): closed by us once the listeners close.
    const idle = connect(Number(new URL(http).port), '127.0.0.1');
    const idleClosed = new Promise<string>((resolve) => {
      let got = '';
      idle.on('data', (d) => (got += d));
      idle.on('close', () => resolve(got));
    });
    idle.write('GET /healthz HTTP/1.1\r\nhost: portcullis\r\nconnection: keep-alive\r\n\r\n');
    const watched: string[] = [];
    const watch = client!.watch('');
    let seen: () => void = () => {};
    watch.on('data', (m: { status: string }) => {
      watched.push(m.status);
      seen();
    });
    watch.on('error', () => {});
    const watchedCount = (n: number) => new Promise<void>((resolve) => {
      seen = () => watched.length >= n && resolve();
      seen();
    });
    await watchedCount(1);

    main!.child.kill('SIGTERM');
    await main!.waitFor('"portcullis draining');
    const ready = await getOnce(`${http}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.parse(ready.body)).toMatchObject({ status: 'not_ready', draining: true });
    expect((await client!.healthCheck('')).status).toBe('NOT_SERVING');
    expect((await client!.healthCheck('envoy.service.auth.v3.Authorization')).status).toBe('NOT_SERVING');
    await watchedCount(2);
    expect(watched).toEqual(['SERVING', 'NOT_SERVING']); // a Watch stream is told at once
    // Still answering normally while Kubernetes and Envoy stop sending.
    expect((await ask(token1)).status).toBe(200);

    // In flight across the close: a token with a new kid waits for the key load, which the IdP holds.
    provider.hold();
    const token2 = await liveToken(k2, ISS, 'api');
    const inFlight = ask(token2);
    await provider.requested;
    // A gRPC Check joins the same key load: in flight on the HTTP/2 connection that gets the GOAWAY.
    const inFlightCheck = client!.check(checkRequest({ authorization: `Bearer ${token2}` }));
    await main!.waitFor('"portcullis closing listeners');
    await expect(getOnce(`${http}/healthz`)).rejects.toThrow(); // no longer accepting
    expect(await idleClosed).toMatch(/^HTTP\/1\.1 200 OK/);
    provider.release();
    expect((await inFlight).status).toBe(200);
    expect((await inFlightCheck).status.code).toBe(0);
    expect(await main!.exited).toBe(0);
    expect(main!.output()).toContain('"portcullis stopped","code":0');
  });

  it('skips the drain wait on SIGINT (a person at a terminal) and exits 0', async () => {
    await start('{ drain: 1h, timeout: 20s }');
    main!.child.kill('SIGINT');
    expect(await main!.exited).toBe(0);
    expect(main!.output()).toContain('"signal":"SIGINT","drain_ms":0');
  });

  it('exits at once on a second signal during the drain', async () => {
    await start('{ drain: 1h, timeout: 20s }');
    main!.child.kill('SIGTERM');
    await main!.waitFor('"portcullis draining');
    main!.child.kill('SIGTERM');
    expect(await main!.exited).toBe(1);
    expect(main!.output()).toContain('exiting at once: second signal');
    expect(main!.output()).not.toContain('"portcullis closing listeners');
  });

  it.each([
    ['shutdown.drain', '{ drain: 5 }', 'shutdown.drain: must be a duration'],
    ['shutdown.timeout', '{ timeout: soon }', 'shutdown.timeout: must be a duration'],
    ['an unknown key', '{ grace: 5s }', 'shutdown.grace: unknown key'],
  ])('refuses to start with a bad %s, naming the key', async (_name, shutdown, problem) => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-drain-'));
    writeFileSync(join(dir, 'c.yaml'), `shutdown: ${shutdown}\nissuers:\n  - issuer: "${ISS}"\n    jwks_uri: "https://idp.test/jwks"\n    audiences: [api]\n`);
    main = startMain(['--config', join(dir, 'c.yaml')]);
    expect(await main.exited).toBe(2);
    expect(main.output()).toContain(problem);
  });
});
