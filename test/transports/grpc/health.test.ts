/** grpc.health.v1.Health follows Readiness, through a client built from the canonical health proto. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { startGrpcServer, type GrpcServerHandle } from '../../../src/transports/grpc/server.ts';
import { connectEnvoyClient, type EnvoyClient } from '../../support/envoy-client.ts';
import { stubAuthorizer, stubReadiness, waitFor } from './fixtures.ts';

const readiness = stubReadiness(false);
let server: GrpcServerHandle;
let client: EnvoyClient;

beforeAll(async () => {
  server = await startGrpcServer('127.0.0.1:0', stubAuthorizer(), readiness);
  client = connectEnvoyClient(server.address);
});
afterAll(async () => {
  client.close();
  await server.close();
});
beforeEach(() => readiness.set(false));

const SERVICES = ['', 'envoy.service.auth.v3.Authorization'];

describe('grpc.health.v1.Health', () => {
  it.each(SERVICES.flatMap((service) => [[service, false, 'NOT_SERVING'], [service, true, 'SERVING']] as const))(
    'Check(%j) answers, while ready=%s, %s',
    async (service, ready, expected) => {
      readiness.set(ready);
      await expect(client.healthCheck(service)).resolves.toEqual({ status: expected });
    },
  );

  it('Check of an unknown service fails with NOT_FOUND', async () => {
    await expect(client.healthCheck('no.such.Service')).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
  });

  it('List reports every known service with the current status', async () => {
    readiness.set(true);
    await expect(client.healthList()).resolves.toEqual({
      statuses: { '': { status: 'SERVING' }, 'envoy.service.auth.v3.Authorization': { status: 'SERVING' } },
    });
  });

  it('Watch sends the current status, then each change once, and unsubscribes when cancelled', async () => {
    const before = readiness.listeners();
    const call = client.watch('envoy.service.auth.v3.Authorization');
    call.on('error', () => {});
    const seen = waitFor<string>(
      (push) => call.on('data', (message: { status: string }) => push(message.status)),
      (items) => items.length === 3,
    );
    await waitFor<string>((push) => call.once('data', (m: { status: string }) => push(m.status)), () => true);
    readiness.set(true);
    readiness.set(true); // no change: nothing sent
    await new Promise((resolve) => setTimeout(resolve, 50));
    readiness.set(false);
    await expect(seen).resolves.toEqual(['NOT_SERVING', 'SERVING', 'NOT_SERVING']);
    expect(readiness.listeners()).toBe(before + 1);

    call.cancel();
    await expect.poll(() => readiness.listeners()).toBe(before);
  });

  it('Watch of an unknown service answers SERVICE_UNKNOWN and keeps the stream open', async () => {
    const call = client.watch('no.such.Service');
    let ended = false;
    call.on('end', () => (ended = true));
    call.on('error', () => {});
    const [first] = await waitFor<string>((push) => call.on('data', (m: { status: string }) => push(m.status)), () => true);
    expect(first).toBe('SERVICE_UNKNOWN');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(ended).toBe(false);
    call.cancel();
  });
});

describe('grpc.health.v1.Health on shutdown', () => {
  it('ends open Watch streams with NOT_SERVING so close() does not wait for them', async () => {
    const own = stubReadiness(true);
    const local = await startGrpcServer('127.0.0.1:0', stubAuthorizer(), own, { drainTimeoutMs: 10_000 });
    const watcher = connectEnvoyClient(local.address);
    try {
      const call = watcher.watch('');
      call.on('error', () => {});
      const statuses: string[] = [];
      const ended = new Promise<void>((resolve) => call.on('end', () => resolve()));
      await waitFor<string>((push) => call.on('data', (m: { status: string }) => (statuses.push(m.status), push(m.status))), () => true);

      const started = Date.now();
      await local.close();
      await ended;
      expect(Date.now() - started).toBeLessThan(5000);
      expect(statuses).toEqual(['SERVING', 'NOT_SERVING']);
      expect(own.listeners()).toBe(0);
    } finally {
      watcher.close();
    }
  });
});
