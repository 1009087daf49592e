/** The listener: TCP with port 0, unix sockets (stale ones too), graceful then forced close. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/transports/grpc/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../../support/envoy-client.ts';
import { decodeCheckResponse, encodeCheckRequest, frame, rawCall } from '../../support/raw-grpc.ts';
import { allow, deny, stubAuthorizer, stubReadiness } from './fixtures.ts';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-grpc-'));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function connect(address: string): EnvoyClient {
  const client = connectEnvoyClient(address);
  cleanup.push(() => client.close());
  return client;
}

async function start(address: string, ...rest: Parameters<typeof startGrpcServer> extends [string, ...infer R] ? Partial<R> : never): Promise<GrpcServerHandle> {
  const [authorizer = stubAuthorizer(), readiness = stubReadiness(), options] = rest;
  const server = await startGrpcServer(address, authorizer, readiness, options);
  cleanup.push(() => server.close());
  return server;
}

const REQUEST = { attributes: { request: { http: { method: 'GET', path: '/' } } } };

describe('startGrpcServer', () => {
  it('binds port 0 and returns the host with the port it got', async () => {
    const server = await start('127.0.0.1:0');
    expect(server.address).toMatch(/^127\.0\.0\.1:[1-9]\d*$/);
    await expect(connect(server.address).check(REQUEST)).resolves.toMatchObject({ status: { code: 0 } });
  });

  it('binds an IPv6 address given in brackets', async () => {
    const server = await start('[::1]:0');
    expect(server.address).toMatch(/^\[::1\]:[1-9]\d*$/);
    await expect(connect(server.address).check(REQUEST)).resolves.toMatchObject({ status: { code: 0 } });
  });

  it('listens on a unix socket and returns the address as given', async () => {
    const address = `unix:${join(tempDir(), 'authz.sock')}`;
    const server = await start(address);
    expect(server.address).toBe(address);
    const client = connect(address);
    await expect(client.check(REQUEST)).resolves.toMatchObject({ status: { code: 0 } });
    await expect(client.healthCheck('')).resolves.toEqual({ status: 'SERVING' });
  });

  it('replaces a stale unix socket left behind by a process that died', async () => {
    const path = join(tempDir(), 'stale.sock');
    // A listener killed with SIGKILL leaves its socket file behind with nobody answering on it.
    const child = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`]);
    await new Promise((resolve) => child.stdout.once('data', resolve));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(existsSync(path)).toBe(true);

    const server = await start(`unix:${path}`);
    await expect(connect(server.address).check(REQUEST)).resolves.toMatchObject({ status: { code: 0 } });
  });

  it('refuses a unix socket another live listener holds', async () => {
    const path = join(tempDir(), 'live.sock');
    await start(`unix:${path}`);
    await expect(startGrpcServer(`unix:${path}`, stubAuthorizer(), stubReadiness())).rejects.toThrow();
  });

  it('close() lets an in-flight check finish', async () => {
    let release: () => void = () => {};
    const authorizer = stubAuthorizer(() => new Promise((resolve) => (release = () => resolve(allow()))));
    const server = await start('127.0.0.1:0', authorizer);
    const pending = connect(server.address).check(REQUEST);
    await expect.poll(() => authorizer.requests.length).toBe(1);

    const closed = server.close();
    setTimeout(() => release(), 50);
    await expect(pending).resolves.toMatchObject({ status: { code: 0 } });
    await closed;
  });

  it('close() cuts a check that outlives the drain timeout, and is idempotent', async () => {
    const authorizer = stubAuthorizer(() => new Promise(() => {}));
    const server = await start('127.0.0.1:0', authorizer, undefined, { drainTimeoutMs: 100 });
    const pending = connect(server.address).check(REQUEST);
    pending.catch(() => {});
    await expect.poll(() => authorizer.requests.length).toBe(1);

    const started = Date.now();
    const first = server.close();
    expect(server.close()).toBe(first);
    await first;
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(pending).rejects.toBeDefined();
  });

  it.each([
    ['sends half a message and stalls', (stream: import('node:http2').ClientHttp2Stream) => stream.write(frame(encodeCheckRequest(REQUEST)).subarray(0, 12))],
    ['sends a whole message but never ends the request', (stream: import('node:http2').ClientHttp2Stream) => stream.write(frame(encodeCheckRequest(REQUEST)))],
    ['sends nothing at all', () => {}],
  ])('answers a client that %s once the request timeout passes: the core gets the call as request_malformed and its answer goes back', async (_name, send) => {
    const authorizer = stubAuthorizer(deny(403));
    const server = await start('127.0.0.1:0', authorizer, undefined, { requestTimeoutMs: 200 });
    const answer = await rawCall(server.address, { send });
    expect(answer.answeredBeforeRequestEnded).toBe(true);
    expect(answer.grpcStatus).toBe('0');
    expect(decodeCheckResponse(answer.messages[0]!)).toMatchObject({ status: { code: 7 } });
    expect(authorizer.requests).toHaveLength(1);
    expect(authorizer.last().invalid).toMatchObject({ reason: 'request_malformed' });
  });

  it('close() cuts a call whose client never ends its request, once the drain timeout is over', async () => {
    const authorizer = stubAuthorizer();
    const server = await start('127.0.0.1:0', authorizer, undefined, { drainTimeoutMs: 100 });
    let sent: () => void = () => {};
    const written = new Promise<void>((resolve) => (sent = resolve));
    const call = rawCall(server.address, { send: (stream) => stream.write(frame(encodeCheckRequest(REQUEST)), () => sent()) });
    await written;
    await server.close();
    const answer = await call;
    expect(answer.messages).toEqual([]);
    expect(authorizer.requests).toHaveLength(0);
  });
});
