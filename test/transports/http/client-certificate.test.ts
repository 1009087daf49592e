/**
 * Forward auth and Envoy HTTP mode read the client certificate from the one configured header, and only with
 * `client_certificate` configured: without it, a client-sent certificate header is nobody's certificate.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHttpServer } from '../../../src/transports/http/server.ts';
import { allow, send, StubAuthorizer, testConfig, TestReadiness } from './fixtures.ts';

const stub = new StubAuthorizer(() => allow('alice'));
const servers: Record<'trusting' | 'untrusting' | 'xfcc', { url: string; close(): Promise<void> } | undefined> = { trusting: undefined, untrusting: undefined, xfcc: undefined };
const FORWARDED = [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/x'], ['x-forwarded-host', 'app.test'], ['x-forwarded-proto', 'https']] as const;

beforeAll(async () => {
  const base = { ...testConfig(), envoyHttp: { pathPrefix: '/envoy' } };
  servers.trusting = await startHttpServer({ address: '127.0.0.1:0', config: { ...base, clientCertificate: { from: 'header', header: 'x-client-cert', xfcc: false } }, authorizer: stub, readiness: new TestReadiness() });
  servers.xfcc = await startHttpServer({ address: '127.0.0.1:0', config: { ...base, clientCertificate: { from: 'header', header: 'x-forwarded-client-cert', xfcc: false } }, authorizer: stub, readiness: new TestReadiness() });
  servers.untrusting = await startHttpServer({ address: '127.0.0.1:0', config: base, authorizer: stub, readiness: new TestReadiness() });
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s?.close()));
});
beforeEach(() => {
  stub.seen.splice(0);
});

const ENDPOINTS = [
  ['forward auth', '/auth', FORWARDED],
  ['Envoy HTTP mode', '/envoy/x', []],
] as const;

describe.each(ENDPOINTS)('%s', (_name, path, original) => {
  it('hands the configured header to the core as the client certificate, as received', async () => {
    await send(servers.trusting!.url, { method: 'GET', path, headers: [...original, ['X-Client-Cert', ':AAAA:'], ['client-cert', ':BBBB:']] });
    expect(stub.seen[0]!.clientCertificate).toEqual({ source: 'header', raw: ':AAAA:' });
  });

  it('keeps two copies of the header apart (unreadable), and an empty one is none', async () => {
    await send(servers.trusting!.url, { method: 'GET', path, headers: [...original, ['x-client-cert', ':AAAA:'], ['x-client-cert', ':BBBB:']] });
    await send(servers.trusting!.url, { method: 'GET', path, headers: [...original, ['x-client-cert', '']] });
    expect(stub.seen.map((r) => r.clientCertificate)).toEqual([{ source: 'header', raw: [':AAAA:', ':BBBB:'] }, undefined]);
  });

  it('reads x-forwarded-client-cert, when that is the configured header, as XFCC (Envoy writes it)', async () => {
    await send(servers.xfcc!.url, { method: 'GET', path, headers: [...original, ['x-forwarded-client-cert', 'Hash=ab;Cert="x"']] });
    expect(stub.seen[0]!.clientCertificate).toEqual({ source: 'xfcc', raw: 'Hash=ab;Cert="x"' });
  });

  it('reads no certificate at all without client_certificate, whatever header a client sends', async () => {
    await send(servers.untrusting!.url, { method: 'GET', path, headers: [...original, ['client-cert', ':AAAA:'], ['x-client-cert', ':AAAA:'], ['x-forwarded-client-cert', 'Hash=00']] });
    expect(stub.seen).toHaveLength(1);
    expect(stub.seen[0]!.clientCertificate).toBeUndefined();
  });
});
