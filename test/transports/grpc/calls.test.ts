/**
 * Routing on our HTTP/2 server: only POST with an application/grpc content-type is a gRPC call, only our four
 * methods answer, and what it sends back is what grpc-js sent (so Envoy sees the same). Plus interop with the
 * grpc-js client, compressing its messages too.
 */
import { describe, expect, it } from 'vitest';
import { status as GrpcStatus } from '@grpc/grpc-js';
import { connectEnvoyClient } from '../../support/envoy-client.ts';
import { CHECK_PATH, encodeCheckRequest, frame, rawCall } from '../../support/raw-grpc.ts';
import { startGrpcServer } from '../../../src/transports/grpc/server.ts';
import type { Decision } from '../../../src/core/types.ts';
import { allow, stubAuthorizer, stubReadiness, useStubServer } from './fixtures.ts';

const authorizer = stubAuthorizer();
const grpc = useStubServer(authorizer);
const REQUEST = { attributes: { request: { http: { method: 'GET', host: 'app.test', path: '/orders', headers: { authorization: 'Bearer t' } } } } };
const body = () => frame(encodeCheckRequest(REQUEST));

describe('what is a gRPC call', () => {
  it.each<[string, Record<string, string>, number, Record<string, string>]>([
    ['GET', { ':method': 'GET' }, 405, { allow: 'POST' }],
    ['PUT', { ':method': 'PUT' }, 405, { allow: 'POST' }],
    ['content-type text/plain', { 'content-type': 'text/plain' }, 415, {}],
    ['content-type application/json', { 'content-type': 'application/json' }, 415, {}],
    ['content-type application/grpcx', { 'content-type': 'application/grpcx' }, 415, {}],
  ])('a request with %s is not one: a plain HTTP answer, no Authorizer call', async (_name, headers, status, extra) => {
    const answer = await rawCall(grpc.server.address, { headers, body: body() });
    expect(answer.status).toBe(status);
    expect(answer.headers).toMatchObject(extra);
    expect(answer.messages).toEqual([]);
    expect(authorizer.requests).toHaveLength(0);
  });

  it.each(['application/grpc', 'application/grpc+proto', 'application/grpc; charset=utf-8'])('a POST with content-type %s is a Check call', async (type) => {
    const answer = await rawCall(grpc.server.address, { headers: { 'content-type': type }, body: body() });
    expect(answer).toMatchObject({ status: 200, grpcStatus: '0' });
    expect(authorizer.last()).toMatchObject({ method: 'GET', host: 'app.test', path: '/orders' });
  });

  it.each([
    '/envoy.service.auth.v3.Authorization/Other',
    '/envoy.service.auth.v2.Authorization/Check',
    '/grpc.health.v1.Health/Unknown',
    '/',
  ])('an unknown method %s gets a trailers-only UNIMPLEMENTED', async (path) => {
    const answer = await rawCall(grpc.server.address, { headers: { ':path': path }, body: body() });
    expect(answer).toMatchObject({ status: 200, grpcStatus: String(GrpcStatus.UNIMPLEMENTED), trailers: {} });
    expect(answer.messages).toEqual([]);
    expect(authorizer.requests).toHaveLength(0);
  });
});

describe('a health call that is not one complete request message', () => {
  it.each<[string, Buffer, number]>([
    ['no message', Buffer.alloc(0), GrpcStatus.INTERNAL],
    ['a truncated message', frame(Buffer.from([0x0a, 0x05, 0x61])).subarray(0, 6), GrpcStatus.INTERNAL],
    ['a message that does not decode', frame(Buffer.from([0x0a, 0xff, 0xff, 0xff])), GrpcStatus.INTERNAL],
    ['a message over grpc.max_request_bytes', Buffer.from([0, 0xff, 0xff, 0xff, 0xff]), GrpcStatus.RESOURCE_EXHAUSTED],
  ])('gets a trailers-only gRPC error for %s (health is not a Check: no deny to give)', async (_name, request, code) => {
    const answer = await rawCall(grpc.server.address, { headers: { ':path': '/grpc.health.v1.Health/Check' }, body: request });
    expect(answer).toMatchObject({ status: 200, grpcStatus: String(code) });
    expect(answer.messages).toEqual([]);
  });
});

describe('the answer to a Check call', () => {
  it('has the content-type grpc-js sends, one uncompressed message and trailers grpc-status 0', async () => {
    const answer = await rawCall(grpc.server.address, { headers: { ':path': CHECK_PATH }, body: body() });
    expect(answer.headers).toMatchObject({ ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-accept-encoding': 'identity,deflate,gzip' });
    expect(answer.headers['grpc-encoding'] ?? 'identity').toBe('identity');
    expect(answer.headers['grpc-status']).toBeUndefined();
    expect(answer.trailers).toMatchObject({ 'grpc-status': '0' });
    expect(answer.messages).toHaveLength(1);
    expect(answer.compressedFlags).toEqual([0]);
  });
});

describe('the grpc-js client', () => {
  it.each([
    ['without compression', {}],
    ['compressing with gzip (grpc.default_compression_algorithm)', { 'grpc.default_compression_algorithm': 2 }],
    ['compressing with deflate', { 'grpc.default_compression_algorithm': 1 }],
  ])('calls Check and the three health methods %s', async (_name, options) => {
    authorizer.answer = allow({ identity: [{ name: 'x-user-id', value: 'alice' }] });
    const client = connectEnvoyClient(grpc.server.address, 5000, options);
    try {
      const response = await client.check(REQUEST);
      expect(response.status.code).toBe(0);
      expect(response.ok_response.headers.map((h: any) => [h.header.key, h.header.value])).toEqual([['x-user-id', 'alice']]);
      expect(authorizer.last()).toMatchObject({ method: 'GET', host: 'app.test', path: '/orders' });
      expect(new Map(authorizer.last()!.headers)).toEqual(new Map([['authorization', ['Bearer t']]]));
      await expect(client.healthCheck('')).resolves.toEqual({ status: 'SERVING' });
      await expect(client.healthList()).resolves.toMatchObject({ statuses: { '': { status: 'SERVING' } } });
      const watch = client.watch('');
      watch.on('error', () => {});
      const first = await new Promise((resolve) => watch.once('data', resolve));
      expect(first).toEqual({ status: 'SERVING' });
      watch.cancel();
    } finally {
      client.close();
    }
  });
});

describe('an Authorizer that answers without a promise (a cached token)', () => {
  it.each<[string, () => Decision, number]>([
    ['an allow', () => allow(), 0],
    ['a throw', () => { throw new Error('boom'); }, 14],
    ['something that is not a Decision', () => ({ kind: 'allow' }) as unknown as Decision, 14],
  ])('is answered when it returns %s (gRPC code %i)', async (_name, check, code) => {
    const errors: unknown[] = [];
    const server = await startGrpcServer('127.0.0.1:0', { check }, stubReadiness(), { onError: (e) => errors.push(e) });
    const client = connectEnvoyClient(server.address);
    try {
      const response = await client.check(REQUEST);
      expect(response.status.code).toBe(code);
      expect(errors).toHaveLength(code === 0 ? 0 : 1);
    } finally {
      client.close();
      await server.close();
    }
  });
});
