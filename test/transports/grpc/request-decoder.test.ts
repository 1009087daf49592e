/**
 * The fast CheckRequest decoder agrees with protobufjs: for every input, toAuthRequest over what it decodes (or,
 * where it gives up, over protobufjs' decoding) equals toAuthRequest over protobufjs' decoding, and bytes protobufjs
 * cannot decode become the same empty request. Checked on Envoy-shaped requests and on thousands of mutated and
 * random messages (seeded, so a failure repeats).
 */
import { describe, expect, it } from 'vitest';
import { checkRequest } from '../../../bench/fixtures.ts';
import { decodeCheckRequestFast } from '../../../src/transports/grpc/request-decoder.ts';
import { decodeCheckRequest } from '../../../src/transports/grpc/check-service.ts';
import { authorizationService } from '../../../src/transports/grpc/protos.ts';
import { toAuthRequest } from '../../../src/transports/grpc/ext-authz.ts';
import { encodeCheckRequest, rawCheckRequest } from '../../support/raw-grpc.ts';

const protobufjs = (bytes: Buffer): unknown => {
  try {
    return authorizationService['Check']!.requestDeserialize(bytes);
  } catch {
    return {};
  }
};
/** An AuthRequest with its maps as entry lists, so that two requests compare by content (RawHeaderMap or Map alike). */
const plain = (request: object): [string, unknown][] => Object.entries(request).map(([k, v]) => [k, typeof v?.entries === 'function' ? [...(v as Map<unknown, unknown>).entries()] : v]);
const reference = (bytes: Buffer) => plain(toAuthRequest(protobufjs(bytes)));
const ours = (bytes: Buffer) => plain(toAuthRequest(decodeCheckRequest(bytes, () => {})));

const http = (fields: object, attributes: object = {}) => ({ attributes: { request: { http: fields }, ...attributes } });
const latin1 = (text: string) => Buffer.from(text, 'latin1');

/** Real shapes, each with whether the fast decoder must take it (Envoy's own) or may leave it to protobufjs. */
const SHAPES: [string, Buffer, boolean][] = [
  ['an Envoy request (default header map mode, peers, id, time, protocol, context_extensions)', encodeCheckRequest(checkRequest('eyJhbGciOiJFUzI1NiJ9.e30.c2ln')), true],
  ['encode_raw_headers: header_map with raw_value bytes, repeats and invalid UTF-8', encodeCheckRequest(http({ method: 'GET', path: '/', header_map: { headers: [
    { key: ':authority', raw_value: Buffer.from('app.test') },
    { key: 'cookie', raw_value: Buffer.from('a=1') },
    { key: 'cookie', raw_value: latin1('b=\xff\xfe') },
    { key: 'x-empty', value: 'from value' },
  ] } })), true],
  ['a unix-socket peer (pipe) and a named port', encodeCheckRequest({ attributes: {
    source: { address: { pipe: { path: '/run/envoy.sock', mode: 438 } } },
    destination: { address: { socket_address: { address: '::1', named_port: 'https', protocol: 'UDP', ipv4_compat: true } } },
    request: { http: { method: 'POST', path: '/x', size: '-1', headers: { 'content-length': '0' } } },
  } }), true],
  ['peer labels, service, principal and certificate', encodeCheckRequest({ attributes: { source: { service: 's', labels: { a: 'b' }, principal: 'spiffe://x', certificate: 'pem', address: { socket_address: { address: '10.1.2.3', port_value: 4000 } } } } }), true],
  ['an empty request', Buffer.alloc(0), true],
  ['a request with empty metadata_context and tls_session', encodeCheckRequest({ attributes: { metadata_context: {}, tls_session: {}, request: { http: { method: 'GET' } } } }), true],
  ['non-UTF-8 bytes in method, path and header values', rawCheckRequest(latin1('G\xc3T'), latin1('/\xff/\xc3\x28'), [['x-a', latin1('\xe2\x82')], ['authorization', Buffer.from('Bearer t')]]), true],
  ['a map key "__proto__" and duplicate map keys', encodeCheckRequest(http({ headers: { ['__proto__']: 'x', a: '1' } })), false],
  ['metadata_context with filter metadata', encodeCheckRequest({ attributes: { metadata_context: { filter_metadata: { f: { fields: { k: { stringValue: 'v' } } } } }, request: { http: { method: 'GET' } } } }), false],
  ['fields our proto copy lacks (body, raw_body, tls sni)', encodeCheckRequest(http({ method: 'PUT', body: 'b', raw_body: Buffer.from('rb') }, { tls_session: { sni: 'app.test' } })), false],
];

describe('the fast CheckRequest decoder', () => {
  it.each(SHAPES)('agrees with protobufjs on %s', (_name, bytes, fast) => {
    expect(ours(bytes)).toEqual(reference(bytes));
    if (fast) expect(decodeCheckRequestFast(bytes)).toBeDefined();
  });

  it('agrees where a message field repeats (protobufjs keeps the last, unmerged) and where a map key repeats', () => {
    const a = encodeCheckRequest(checkRequest('first'));
    const b = encodeCheckRequest(http({ method: 'POST', headers: { authorization: 'Bearer second' } }));
    const entry = (key: string, value: string) => encodeCheckRequest(http({ headers: { [key]: value } }));
    for (const bytes of [Buffer.concat([a, b]), Buffer.concat([b, a]), Buffer.concat([entry('k', '1'), entry('k', '2')])]) {
      expect(decodeCheckRequestFast(bytes)).toBeDefined();
      expect(ours(bytes)).toEqual(reference(bytes));
    }
  });

  // Short ASCII strings are cut from one latin1 copy of the message, the rest decoded as UTF-8 (request-decoder.ts SHORT).
  it.each([
    ['short ASCII', Buffer.from('GET')],
    ['ASCII of exactly 64 bytes', Buffer.from('a'.repeat(64))],
    ['ASCII of 65 bytes', Buffer.from('a'.repeat(65))],
    ['short UTF-8', Buffer.from('café')],
    ['short invalid UTF-8', latin1('a\xff')],
    ['a 64-byte string ending in a multi-byte character', Buffer.concat([Buffer.from('a'.repeat(62)), Buffer.from('é')])],
    ['a 65-byte string ending in invalid UTF-8', latin1(`${'a'.repeat(64)}\xc3`)],
    ['an empty string', Buffer.alloc(0)],
  ])('decodes %s in every string field as protobufjs does', (_name, text) => {
    const bytes = rawCheckRequest(text, Buffer.concat([Buffer.from('/'), text]), [['x-a', text], [`x-${text.toString('latin1')}`, Buffer.from('v')], ['authorization', Buffer.concat([Buffer.from('Bearer '), text])]]);
    expect(decodeCheckRequestFast(bytes)).toBeDefined();
    expect(ours(bytes)).toEqual(reference(bytes));
  });

  it('agrees on thousands of mutated, truncated, spliced and random messages, and never throws', () => {
    let seed = 0x5eed;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const bases = SHAPES.map(([, bytes]) => bytes).filter((b) => b.length > 0);
    let fast = 0;
    let total = 0;
    for (let i = 0; i < 4000; i++) {
      const base = bases[random(bases.length)]!;
      let bytes: Buffer;
      switch (random(6)) {
        case 0: { // flip a few bytes
          bytes = Buffer.from(base);
          for (let k = 0, n = 1 + random(3); k < n; k++) bytes[random(bytes.length)] = random(256);
          break;
        }
        case 1: bytes = base.subarray(0, random(base.length)); break; // truncated
        case 2: { // a byte inserted
          const at = random(base.length + 1);
          bytes = Buffer.concat([base.subarray(0, at), Buffer.from([random(256)]), base.subarray(at)]);
          break;
        }
        case 3: { // a byte removed
          const at = random(base.length);
          bytes = Buffer.concat([base.subarray(0, at), base.subarray(at + 1)]);
          break;
        }
        case 4: { // two messages spliced at random points
          const other = bases[random(bases.length)]!;
          bytes = Buffer.concat([base.subarray(0, random(base.length)), other.subarray(random(other.length))]);
          break;
        }
        default: bytes = Buffer.from(Array.from({ length: random(64) }, () => random(256))); // random bytes
      }
      total++;
      let decoded: unknown;
      expect(() => (decoded = decodeCheckRequestFast(bytes))).not.toThrow();
      if (decoded !== undefined) fast++;
      const expected = reference(bytes);
      const actual = ours(bytes);
      if (JSON.stringify(actual) !== JSON.stringify(expected)) {
        expect({ input: bytes.toString('hex'), actual }).toEqual({ input: bytes.toString('hex'), actual: expected });
      }
    }
    // The fast path really ran on mutated input, not only the fallback.
    expect(fast).toBeGreaterThan(total / 10);
  });
});
