/**
 * The HTTP listener: routing by path, health endpoints following readiness, extra routes, listen addresses
 * (TCP port 0, unix socket), header size limit and shutdown with pooled keep-alive connections.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../../src/transports/http/server.ts';
import type { RouteHandler, RunningHttpServer } from '../../../src/transports/http/server.ts';
import { allow, send, StubAuthorizer, testConfig, TestReadiness } from './fixtures.ts';

const FORWARDED = [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/']] as const;

describe('routing', () => {
  const readiness = new TestReadiness();
  const stub = new StubAuthorizer(() => allow('alice'));
  let server: RunningHttpServer;

  beforeAll(async () => {
    server = await startHttpServer({
      address: '127.0.0.1:0',
      config: testConfig(),
      authorizer: stub,
      readiness,
      routes: new Map<string, RouteHandler>([
        ['/.well-known/jwks.json', (_req, res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"keys":[]}'); }],
        ['/throws', () => { throw new Error('boom'); }],
      ]),
    });
  });
  afterAll(() => server.close());

  it('returns the bound address with the real port', () => {
    expect(server.address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    expect(server.url).toBe(`http://${server.address}`);
  });

  it.each(['GET', 'POST', 'HEAD', 'PUT'])('serves forward auth on the configured path for %s, own query ignored', async (method) => {
    const res = await send(server.url, { method, path: '/auth?x=1', headers: FORWARDED });
    expect(res.status).toBe(200);
    expect(res.headers['x-auth-subject']).toEqual(['alice']);
  });

  it.each(['GET', 'HEAD'])('/healthz answers 200 to %s whatever the readiness', async (method) => {
    readiness.ready = false;
    const res = await send(server.url, { method, path: '/healthz?probe=1' });
    expect(res.status).toBe(200);
    if (method === 'GET') expect(JSON.parse(res.body)).toEqual({ status: 'ok' });
  });

  it('/readyz follows readiness: 503 before keys load, 200 after', async () => {
    readiness.ready = false;
    const before = await send(server.url, { path: '/readyz' });
    expect(before.status).toBe(503);
    expect(JSON.parse(before.body)).toEqual({ status: 'not_ready' });
    readiness.ready = true;
    const after = await send(server.url, { path: '/readyz' });
    expect(after.status).toBe(200);
    expect(JSON.parse(after.body)).toEqual({ status: 'ready' });
    expect((await send(server.url, { method: 'HEAD', path: '/readyz' })).status).toBe(200);
  });

  it('health endpoints refuse other methods with 405', async () => {
    const res = await send(server.url, { method: 'POST', path: '/healthz' });
    expect(res.status).toBe(405);
    expect(res.headers['allow']).toEqual(['GET, HEAD']);
  });

  it('serves extra routes', async () => {
    const res = await send(server.url, { path: '/.well-known/jwks.json' });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body)).toEqual({ keys: [] });
  });

  it('answers 500 when an extra route throws, and keeps serving', async () => {
    expect((await send(server.url, { path: '/throws' })).status).toBe(500);
    expect((await send(server.url, { path: '/healthz' })).status).toBe(200);
  });

  it.each(['/', '/auth/', '/Auth', '/healthz/', '/nope', 'http://127.0.0.1/auth'])('answers 404 JSON for %s', async (path) => {
    const res = await send(server.url, { path });
    expect(res.status).toBe(404);
    expect(JSON.parse(res.body)).toEqual({ error: 'not_found' });
  });

  it('accepts a 48 KiB header block (big cookies) and refuses one over 64 KiB with 431', async () => {
    const ok = await send(server.url, { path: '/auth', headers: [...FORWARDED, ['cookie', `s=${'a'.repeat(48 * 1024)}`]] });
    expect(ok.status).toBe(200);
    const tooBig = await send(server.url, { path: '/auth', headers: [...FORWARDED, ['cookie', `s=${'a'.repeat(70 * 1024)}`]] });
    expect(tooBig.status).toBe(431);
    expect((await send(server.url, { path: '/healthz' })).status).toBe(200);
  });
});

describe('listening', () => {
  it('serves forward auth and health on a unix socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-http-'));
    const socketPath = join(dir, 'http.sock');
    const server = await startHttpServer({
      address: `unix:${socketPath}`,
      config: testConfig(),
      authorizer: new StubAuthorizer(() => allow('alice')),
      readiness: new TestReadiness(),
    });
    try {
      expect(server.address).toBe(`unix:${socketPath}`);
      const res = await send('http://localhost', { socketPath, path: '/auth', headers: FORWARDED });
      expect(res.status).toBe(200);
      expect(res.headers['x-auth-subject']).toEqual(['alice']);
      expect((await send('http://localhost', { socketPath, path: '/healthz' })).status).toBe(200);
    } finally {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('close() resolves promptly while a proxy holds an idle keep-alive connection', async () => {
    const server = await startHttpServer({
      address: '127.0.0.1:0',
      config: testConfig(),
      authorizer: new StubAuthorizer(() => allow('alice')),
      readiness: new TestReadiness(),
    });
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const get = (): Promise<string | undefined> => new Promise((resolve, reject) => {
      const req = request(`${server.url}/healthz`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.headers.connection));
      });
      req.on('error', reject);
      req.end();
    });
    expect(await get()).toBe('keep-alive');
    expect(await get()).toBe('keep-alive');
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    agent.destroy();
  });
});
