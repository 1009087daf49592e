/**
 * No gRPC error for anything Envoy can send: size and framing decisions are ours, answered as denies (a gRPC error is
 * what failure_mode_allow turns into an allow). Driven through raw node:http2 against the real service.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../../support/portcullis.ts';
import { signToken } from '../../support/tokens.ts';
import { encodeCheckRequest, frame, rawCheck } from '../../support/raw-grpc.ts';

let p: TestPortcullis;
beforeAll(async () => {
  p = await startTestPortcullis({ config: { grpc: { max_request_bytes: 65_536 } } });
});
afterAll(() => p.close());

const request = (headers: Record<string, string>) =>
  encodeCheckRequest({ attributes: { request: { http: { method: 'GET', path: '/orders', host: 'app.test', headers } } } });

describe('gRPC framing and size: a deny, never a gRPC error', () => {
  it('answers a well-formed request normally (the baseline)', async () => {
    const answer = await rawCheck(p.grpcAddress, frame(request({ authorization: `Bearer ${await signToken(p.key)}` })));
    expect(answer).toMatchObject({ httpStatus: 200, grpcStatus: '0' });
    expect(answer.messages).toHaveLength(1);
    expect(answer.messages[0].status.code).toBe(0);
  });

  it.each<[string, number, string, () => Promise<Buffer>]>([
    ['a request over grpc.max_request_bytes (a big cookie)', 413, 'request_too_large', async () => frame(request({ cookie: `big=${'x'.repeat(70_000)}` }))],
    ['a request far over it, as Envoy with max_request_headers_kb raised sends (4.5 MiB)', 413, 'request_too_large', async () => frame(request({ cookie: `big=${'x'.repeat(4.5 * 1024 * 1024)}` }))],
    ['a call with no message', 400, 'request_malformed', async () => Buffer.alloc(0)],
    ['a truncated frame (the prefix promises more than arrives)', 400, 'request_malformed', async () => frame(request({})).subarray(0, 12)],
    ['only part of a frame prefix', 400, 'request_malformed', async () => Buffer.from([0, 0, 0])],
    ['two messages in one call', 400, 'request_malformed', async () => Buffer.concat([frame(request({})), frame(request({}))])],
    ['a valid token followed by a second message', 400, 'request_malformed', async () => Buffer.concat([frame(request({ authorization: `Bearer ${await signToken(p.key)}` })), frame(request({}))])],
  ])('denies %s with %i %s', async (_name, status, reason, body) => {
    const answer = await rawCheck(p.grpcAddress, await body());
    expect(answer).toMatchObject({ httpStatus: 200, grpcStatus: '0' });
    expect(answer.messages).toHaveLength(1);
    const response = answer.messages[0];
    expect(response.status.code).not.toBe(0);
    expect(response.denied_response.status.code).toBe(status === 413 ? 'PayloadTooLarge' : 'BadRequest');
    expect(JSON.parse(response.denied_response.body)).toMatchObject({ reason });
  });

  it('still decodes a gzip-compressed request (grpc-encoding), which a client may send', async () => {
    const answer = await rawCheck(p.grpcAddress, frame(gzipSync(request({})), true), { 'grpc-encoding': 'gzip' });
    expect(answer).toMatchObject({ httpStatus: 200, grpcStatus: '0' });
    expect(JSON.parse(answer.messages[0].denied_response.body)).toMatchObject({ reason: 'token_missing' });
  });

  it('keeps serving after each of them', async () => {
    const answer = await rawCheck(p.grpcAddress, frame(request({ authorization: `Bearer ${await signToken(p.key)}` })));
    expect(answer.messages[0].status.code).toBe(0);
  });
});
