/**
 * Both halves together: a token minted by the signer (fresh 128-bit jti every time) is accepted once by a receiving
 * Portcullis with replay protection on (`issuers[].replay: true`, discovery against the signer), and a captured
 * request replayed to it is refused 401 token_replayed, while a new signed call is accepted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { freePort } from '../support/ports.ts';

let signer: Running;
let receiver: Running;
let outbound: EnvoyClient;
let inbound: EnvoyClient;
const runtime = { fetch: (u: string | URL, i?: RequestInit) => fetch(u, i), now: () => Date.now() };

beforeAll(async () => {
  const port = await freePort();
  const issuer = `http://127.0.0.1:${port}`;
  signer = await startPortcullis(buildConfig({
    listen: { grpc: '127.0.0.1:0', http: `127.0.0.1:${port}` },
    workers: 1,
    signer: { issuer, keys: { generate: { rotate_every: '12h' } } },
    policies: { outbound: { sign: true } },
  }, 'signer', process.cwd()), runtime);
  receiver = await startPortcullis(buildConfig({
    listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
    workers: 1,
    issuers: [{ issuer, discovery: true, audiences: ['https://payments.svc:8443'], replay: true }],
  }, 'receiver', process.cwd()), runtime);
  outbound = connectEnvoyClient(signer.grpcAddress);
  inbound = connectEnvoyClient(receiver.grpcAddress);
});
afterAll(async () => {
  outbound?.close();
  inbound?.close();
  await Promise.all([receiver?.close(), signer?.close()]);
});

/** The egress Check of a call from this service to payments: the signer answers the authorization header to set. */
async function signedAuthorization(): Promise<string> {
  const response = await outbound.check({
    attributes: {
      context_extensions: { policy: 'outbound' },
      request: { http: { method: 'POST', host: 'payments.svc:8443', scheme: 'https', path: '/charge', headers: {} } },
    },
  });
  expect(response.status.code).toBe(0);
  return (response.ok_response.headers as { header: { key: string; value: string } }[]).find((h) => h.header.key === 'authorization')!.header.value;
}

const receive = (authorization: string) =>
  inbound.check({ attributes: { request: { http: { method: 'POST', host: 'payments.svc:8443', path: '/charge', headers: { authorization } } } } });

describe('a signed call at a receiver with replay protection', () => {
  it('is accepted once; the captured request replayed is refused token_replayed; a new signed call is accepted', async () => {
    const captured = await signedAuthorization();
    expect((await receive(captured)).status.code).toBe(0);
    const replayed = await receive(captured);
    expect(replayed.status.code).toBe(16);
    expect(JSON.parse(replayed.denied_response.body)).toMatchObject({ reason: 'token_replayed' });
    expect((await receive(await signedAuthorization())).status.code).toBe(0);
  });
});
