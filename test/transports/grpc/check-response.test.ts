/** Decision → CheckResponse, end to end through a client built from Envoy's upstream protos, plus the never-an-RPC-error guarantees. */
import { describe, expect, it } from 'vitest';
import { makeGenericClientConstructor, credentials, type Client, type ServiceError } from '@grpc/grpc-js';
import { encodeCheckResponse } from '../../../src/transports/grpc/check-service.ts';
import { MAX_STRUCT_DEPTH } from '../../../src/transports/grpc/struct.ts';
import { structToJs, upstreamDefinitions } from '../../support/envoy-client.ts';
import { allow, deny, stubAuthorizer, useStubServer } from './fixtures.ts';
import type { Decision } from '../../../src/core/types.ts';

/** Envoy's own (upstream) decoder for CheckResponse bytes. */
const upstreamCheck = (upstreamDefinitions['envoy.service.auth.v3.Authorization'] as any).Check as {
  responseDeserialize(bytes: Buffer): unknown;
};

const authorizer = stubAuthorizer();
const grpc = useStubServer(authorizer);

const REQUEST = { attributes: { request: { http: { method: 'GET', host: 'api.example.com', path: '/orders?id=7', headers: { authorization: 'Bearer t' } } } } };

async function answerTo(answer: typeof authorizer.answer): Promise<any> {
  authorizer.answer = answer;
  return grpc.client.check(REQUEST);
}

const INTERNAL_ERROR = {
  status: { code: 14, message: 'internal_error' },
  http_response: 'denied_response',
  denied_response: {
    status: { code: 'ServiceUnavailable' },
    body: '{"error":"unavailable","reason":"internal_error","message":"internal error"}',
  },
};

describe('ext_authz allow → CheckResponse', () => {
  const claims = {
    sub: 'user-1',
    aud: ['api', 'billing'],
    exp: 1_900_000_000,
    ratio: 0.25,
    admin: false,
    verified: true,
    nickname: null,
    org: { id: 42, name: 'Acme', teams: [{ name: 'core', lead: true }, { name: 'ops', tags: [] }] },
    empty: {},
  };

  it('answers OK, sets each identity header with a value (append false) and removes each without one', async () => {
    const response = await answerTo(
      allow({
        identity: [
          { name: 'x-user-id', value: 'user-1' },
          { name: 'x-user-email', value: undefined },
          { name: 'x-user-org', value: 'Acme' },
          { name: 'x-user-roles', value: undefined },
        ],
        claims,
        issuer: 'https://issuer.example',
      }),
    );
    expect(response.status).toEqual({ code: 0, message: '', details: [] });
    expect(response.http_response).toBe('ok_response');
    expect(response.denied_response).toBeUndefined();
    expect(response.ok_response.headers).toEqual([
      { header: { key: 'x-user-id', value: 'user-1', raw_value: Buffer.alloc(0) }, append: { value: false }, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false },
      { header: { key: 'x-user-org', value: 'Acme', raw_value: Buffer.alloc(0) }, append: { value: false }, append_action: 'APPEND_IF_EXISTS_OR_ADD', keep_empty_value: false },
    ]);
    expect(response.ok_response.headers_to_remove).toEqual(['x-user-email', 'x-user-roles']);
    expect(response.ok_response.dynamic_metadata).toBeNull();
  });

  it('puts the verified claims and issuer into dynamic_metadata, nested objects, arrays, numbers, booleans and null intact', async () => {
    const response = await answerTo(allow({ claims, issuer: 'https://issuer.example' }));
    expect(structToJs(response.dynamic_metadata)).toEqual({ claims, issuer: 'https://issuer.example' });
  });

  it('sends no dynamic_metadata when the allow has no claims (an excluded path)', async () => {
    const response = await answerTo(allow({ reason: 'path_excluded', identity: [{ name: 'x-user-id', value: undefined }] }));
    expect(response.status.code).toBe(0);
    expect(response.dynamic_metadata).toBeNull();
    expect(response.ok_response.headers_to_remove).toEqual(['x-user-id']);
  });

  it('never removes a header that the same allow also sets', async () => {
    const response = await answerTo(allow({ identity: [{ name: 'x-user', value: undefined }, { name: 'X-User', value: 'u' }] }));
    expect(response.ok_response.headers.map((h: any) => h.header.key)).toEqual(['x-user']);
    expect(response.ok_response.headers_to_remove).toEqual([]);
  });

  it(`sends claims nested deeper than ${MAX_STRUCT_DEPTH} levels as JSON text, so Envoy's parser never hits its recursion limit`, async () => {
    let deep: unknown = { leaf: true };
    for (let i = 0; i < 40; i++) deep = { next: deep };
    const response = await answerTo(allow({ claims: { deep } }));
    let node = structToJs(response.dynamic_metadata).claims as any;
    let levels = 1;
    while (typeof node.deep === 'object' || typeof node.next === 'object') {
      node = node.deep ?? node.next;
      levels++;
    }
    expect(levels).toBeLessThanOrEqual(MAX_STRUCT_DEPTH);
    const rest = JSON.parse(node.next);
    expect(JSON.stringify(rest)).toContain('"leaf":true');
  });

  it('replaces lone surrogates, which would make the response invalid UTF-8 for Envoy', async () => {
    const response = await answerTo(allow({ identity: [{ name: 'x-name', value: 'a\ud800b' }], claims: { name: 'c\udfffd' } }));
    expect(response.ok_response.headers[0].header.value).toBe('a\ufffdb');
    expect(structToJs(response.dynamic_metadata)).toEqual({ claims: { name: 'c\ufffdd' } });
  });
});

describe('ext_authz deny → CheckResponse', () => {
  it.each([
    [401, 16, 'Unauthorized', 'token_missing'],
    [403, 7, 'Forbidden', 'original_request_missing'],
    [503, 14, 'ServiceUnavailable', 'keys_unavailable'],
  ] as const)('maps a %i deny to gRPC code %i inside a successful RPC, with HTTP %s, headers and body', async (status, code, httpStatus, reason) => {
    const decision = deny(status, {
      headers: [
        ['content-type', 'application/json'],
        ['www-authenticate', 'Bearer realm="api"'],
      ],
      body: `{"error":"x","reason":"${reason}"}`,
    });
    const response = await answerTo(decision);
    expect(response.status).toEqual({ code, message: reason, details: [] });
    expect(response.http_response).toBe('denied_response');
    expect(response.ok_response).toBeUndefined();
    expect(response.denied_response.status.code).toBe(httpStatus);
    expect(response.denied_response.headers.map((h: any) => [h.header.key, h.header.value, h.append])).toEqual([
      ['content-type', 'application/json', { value: false }],
      ['www-authenticate', 'Bearer realm="api"', { value: false }],
    ]);
    expect(response.denied_response.body).toBe(decision.body);
    expect(response.dynamic_metadata).toBeNull();
  });

  it('appends the later values of a repeated deny header instead of overwriting the first', async () => {
    const response = await answerTo(deny(401, { headers: [['www-authenticate', 'Bearer realm="a"'], ['www-authenticate', 'DPoP realm="a"']] }));
    expect(response.denied_response.headers.map((h: any) => h.append.value)).toEqual([false, true]);
  });
});

describe('ext_authz failures', () => {
  it.each([
    ['throws', () => { throw new Error('boom'); }],
    ['rejects', () => Promise.reject(new Error('boom'))],
    ['returns something that is not a Decision', () => ({ kind: 'allow' }) as unknown as Decision],
  ])('answers a 503 internal_error deny, not an RPC error, when the Authorizer %s', async (_how, answer) => {
    const response = await answerTo(answer);
    expect(response).toMatchObject(INTERNAL_ERROR);
    expect(response.denied_response.headers.map((h: any) => [h.header.key, h.header.value])).toEqual([['content-type', 'application/json'], ['retry-after', '5']]);
    expect(grpc.errors).toHaveLength(1);
  });

  it('treats bytes that are not a CheckRequest as an empty request and answers the Authorizer\'s deny', async () => {
    authorizer.answer = deny(401);
    const Raw = makeGenericClientConstructor(
      {
        Check: {
          path: '/envoy.service.auth.v3.Authorization/Check',
          requestStream: false,
          responseStream: false,
          requestSerialize: (bytes: Buffer) => bytes,
          requestDeserialize: (bytes: Buffer) => bytes,
          responseSerialize: (value: Buffer) => value,
          responseDeserialize: (bytes: Buffer) => upstreamCheck.responseDeserialize(bytes),
        },
      },
      'Raw',
    );
    const raw = new Raw(grpc.server.address, credentials.createInsecure()) as unknown as Client & { Check: Function };
    try {
      const response = await new Promise<any>((resolve, reject) =>
        raw.Check(Buffer.from([0x0a, 0xff, 0xff, 0xff]), (error: ServiceError | null, value: unknown) => (error ? reject(error) : resolve(value))),
      );
      expect(response.status.code).toBe(16);
      expect(authorizer.last()).toMatchObject({ method: '', host: '', path: '', headers: new Map() });
      expect(grpc.errors).toHaveLength(1);
    } finally {
      raw.close();
    }
  });

  it('replaces a response that cannot be encoded with the internal_error deny', () => {
    const reported: unknown[] = [];
    const bytes = encodeCheckResponse({ status: { code: Symbol('not a number') } }, (e) => reported.push(e));
    expect(upstreamCheck.responseDeserialize(bytes)).toMatchObject(INTERNAL_ERROR);
    expect(reported).toHaveLength(1);
  });
});
