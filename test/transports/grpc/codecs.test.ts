/**
 * The server's codecs (codecs.ts, protobufjs alone) are the codecs @grpc/proto-loader builds (protos.ts) from the
 * same files and options: same decoded objects, same encoded bytes, for every method the server answers, over a
 * table of messages from empty to every field kind (strings, maps, bytes, int64, enums, oneofs, Struct, wrappers).
 */
import { describe, expect, it } from 'vitest';
import { methodCodec } from '../../../src/transports/grpc/codecs.ts';
import { authorizationService, healthService } from '../../../src/transports/grpc/protos.ts';

const checkRequests = [
  {},
  {
    attributes: {
      source: { address: { socket_address: { address: '10.0.0.1', port_value: 5555 } }, principal: 'spiffe://a/b', certificate: '-----BEGIN' },
      request: {
        time: { seconds: '1700000000', nanos: 5 },
        http: {
          id: 'r1', method: 'GET', host: 'api.example.com', path: '/orders/7?x=1', scheme: 'https', protocol: 'HTTP/2', size: '12345',
          headers: { authorization: 'Bearer x.y.z', ':authority': 'api.example.com' },
          header_map: { headers: [{ key: 'cookie', raw_value: Buffer.from([0x61, 0xff, 0x00]) }] },
        },
      },
      context_extensions: { route: 'admin' },
      metadata_context: { filter_metadata: { 'envoy.filters': { fields: { n: { numberValue: 2 }, s: { stringValue: 'v' }, l: { listValue: { values: [{ boolValue: true }] } } } } } },
    },
  },
];
const checkResponses = [
  {},
  { status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-auth-subject', value: 'alice' }, append: { value: false } }], headers_to_remove: ['authorization'] } },
  {
    status: { code: 16, message: 'token_missing' },
    denied_response: { status: { code: 'Unauthorized' }, headers: [{ header: { key: 'www-authenticate', value: 'Bearer' }, append_action: 'OVERWRITE_IF_EXISTS_OR_ADD' }], body: '{"error":"token_missing"}' },
    dynamic_metadata: { fields: { reason: { stringValue: 'token_missing' } } },
  },
];
const healthRequests = [{}, { service: 'envoy.service.auth.v3.Authorization' }];
const healthResponses = [{}, { status: 'SERVING' }, { status: 'NOT_SERVING' }, { statuses: { '': { status: 'SERVING' } } }];

type LoaderMethod = { requestSerialize(v: unknown): Buffer; requestDeserialize(b: Buffer): unknown; responseSerialize(v: unknown): Buffer };
const cases: [string, string, LoaderMethod, readonly object[], readonly object[]][] = [
  ['envoy.service.auth.v3.Authorization', 'Check', authorizationService['Check'] as unknown as LoaderMethod, checkRequests, checkResponses],
  ['grpc.health.v1.Health', 'Check', healthService['Check'] as unknown as LoaderMethod, healthRequests, healthResponses.slice(0, 3)],
  ['grpc.health.v1.Health', 'Watch', healthService['Watch'] as unknown as LoaderMethod, healthRequests, healthResponses.slice(0, 3)],
  ['grpc.health.v1.Health', 'List', healthService['List'] as unknown as LoaderMethod, [{}], healthResponses.slice(3)],
];

describe.each(cases)('%s/%s', (service, method, loader, requests, responses) => {
  const codec = methodCodec(service, method);

  it.each(requests.map((r, i) => [i, r] as const))('decodes request %i into the object proto-loader gives', (_, request) => {
    const bytes = loader.requestSerialize(request);
    expect(codec.requestDeserialize(bytes)).toEqual(loader.requestDeserialize(bytes));
  });

  it.each(responses.map((r, i) => [i, r] as const))('encodes response %i into the bytes proto-loader gives', (_, response) => {
    const bytes = codec.responseSerialize(response);
    expect(bytes).toEqual(loader.responseSerialize(response));
  });

  it('refuses an array as a response, as proto-loader does', () => {
    expect(() => codec.responseSerialize([])).toThrow(/expected object/);
    expect(() => loader.responseSerialize([])).toThrow(/expected object/);
  });
});

it('throws for a method the protos do not have', () => {
  expect(() => methodCodec('grpc.health.v1.Health', 'Nope')).toThrow(/has no method Nope/);
});
