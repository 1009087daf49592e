/**
 * Hostile text through both transports, as raw bytes: paths with invalid UTF-8, overlong forms, surrogates and
 * control characters (C0, DEL, C1) are never excluded; identity values with them are withheld. The shapes are the
 * ones a fuzzer found passing `excludes: ["/public/**"]` without a token (node hands header bytes over as latin1,
 * and validation was skipped for targets without '%').
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { signToken } from '../support/tokens.ts';
import { connectEnvoyClient, type EnvoyClient } from '../support/envoy-client.ts';
import { frame, rawCheck, rawCheckRequest } from '../support/raw-grpc.ts';

let p: TestPortcullis;
let grpc: EnvoyClient;
beforeAll(async () => {
  p = await startTestPortcullis({ config: { envoy_http: { path_prefix: '/envoy' } } });
  grpc = connectEnvoyClient(p.grpcAddress);
});
afterAll(async () => {
  grpc.close();
  await p.close();
});

const bytes = (...parts: (string | number[])[]) => Buffer.concat(parts.map((x) => (typeof x === 'string' ? Buffer.from(x, 'latin1') : Buffer.from(x))));

/** Path shapes after "/public/", as the bytes a client or proxy could send. */
const HOSTILE: [string, Buffer][] = [
  ['an overlong "." pair (C0 AE C0 AE)', bytes('/public/', [0xc0, 0xae, 0xc0, 0xae], '/admin')],
  ['an overlong "/" (C0 AF)', bytes('/public', [0xc0, 0xaf], 'admin')],
  ['a stray 0xFF', bytes('/public/', [0xff])],
  ['a lone continuation byte 0x80', bytes('/public/', [0x80])],
  ['an encoded surrogate (ED A0 80)', bytes('/public/', [0xed, 0xa0, 0x80])],
  ['a raw 0x85 byte (C1 NEL in latin1)', bytes('/public/a', [0x85], 'b')],
  ['C1 NEL as UTF-8 (C2 85)', bytes('/public/a', [0xc2, 0x85], 'b')],
  ['C1 CSI as UTF-8 (C2 9B)', bytes('/public/a', [0xc2, 0x9b], 'b')],
  ['percent-encoded C1 NEL', bytes('/public/%C2%85')],
  ['percent-encoded C1 CSI', bytes('/public/%C2%9B')],
  ['percent-encoded DEL', bytes('/public/%7F')],
  ['percent-encoded overlong "."', bytes('/public/%C0%AE%C0%AE/admin')],
  ['percent-encoded U+FFFD', bytes('/public/%EF%BF%BD')],
];

/** One raw HTTP/1.1 request with the given bytes as its request line target or a header value. */
function rawHttp(head: Buffer): Promise<number> {
  const [host, port] = p.httpAddress.split(':');
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), host!, () => socket.write(Buffer.concat([head, Buffer.from('\r\n')])));
    let data = '';
    socket.on('data', (d) => {
      data += d.toString('latin1');
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (m) {
        resolve(Number(m[1]));
        socket.destroy();
      }
    });
    socket.on('error', reject);
    socket.on('close', () => resolve(0));
  });
}

const line = (s: string) => Buffer.from(`${s}\r\n`, 'latin1');

describe('paths that are not safe text are never excluded', () => {
  it('lets the plain excluded path through (the baseline)', async () => {
    expect(await rawHttp(Buffer.concat([line('GET /auth HTTP/1.1'), line('Host: x'), line('X-Forwarded-Method: GET'), line('X-Forwarded-Uri: /public/x'), line('Connection: close')]))).toBe(200);
    expect((await grpc.check({ attributes: { request: { http: { method: 'GET', path: '/public/x' } } } })).status.code).toBe(0);
  });

  it.each(HOSTILE)('forward auth: X-Forwarded-Uri with %s needs a token', async (_name, path) => {
    const status = await rawHttp(Buffer.concat([line('GET /auth HTTP/1.1'), line('Host: x'), line('X-Forwarded-Method: GET'), Buffer.from('X-Forwarded-Uri: '), path, Buffer.from('\r\n'), line('Connection: close')]));
    expect(status).toBe(401);
  });

  it.each(HOSTILE)('Envoy HTTP mode: a request target with %s needs a token (or is refused by the HTTP parser)', async (_name, path) => {
    const status = await rawHttp(Buffer.concat([Buffer.from('GET /envoy'), path, Buffer.from(' HTTP/1.1\r\n'), line('Host: x'), line('Connection: close')]));
    expect([400, 401]).toContain(status);
  });

  it.each(HOSTILE)('gRPC: a path field with %s (raw bytes in the proto string) needs a token', async (_name, path) => {
    const answer = await rawCheck(p.grpcAddress, frame(rawCheckRequest(Buffer.from('GET'), path)));
    expect(answer.grpcStatus).toBe('0');
    expect(JSON.parse(answer.messages[0].denied_response.body)).toMatchObject({ reason: 'token_missing' });
  });

  it.each(['/public/a\u0085b', '/public/a\u009bb', '/public/a\u0080', '/public/a\ud800b'])('gRPC: the path %j needs a token', async (path) => {
    const response = await grpc.check({ attributes: { request: { http: { method: 'GET', path } } } });
    expect(response.status.code).toBe(16);
  });
});

describe('identity values that are not safe text are withheld', () => {
  it.each(['a\u0085b', 'a\u0080b', 'a\u009bb', 'a\u009fb'])('sub %j reaches no identity header', async (sub) => {
    const token = await signToken(p.key, { sub });
    const response = await grpc.check({ attributes: { request: { http: { method: 'GET', path: '/x', headers: { authorization: `Bearer ${token}` } } } } });
    expect(response.status.code).toBe(0);
    const set = response.ok_response.headers.map((h: any) => h.header.key);
    expect(set).not.toContain('x-auth-subject');
    expect(response.ok_response.headers_to_remove).toContain('x-auth-subject');
  });

  it.each(['al\ud800ice', 'al\udbffice'])('refuses a token whose sub %j is not Unicode text: 401 claim_invalid (it would collide with al\ufffdice)', async (sub) => {
    const token = await signToken(p.key, { sub });
    const response = await grpc.check({ attributes: { request: { http: { method: 'GET', path: '/x', headers: { authorization: `Bearer ${token}` } } } } });
    expect(response.status.code).toBe(16);
    expect(JSON.parse(response.denied_response.body)).toMatchObject({ reason: 'claim_invalid' });
  });

  it('refuses a payload that is not UTF-8 as token_malformed, as jose would', async () => {
    const token = await signToken(p.key);
    const [h, , s] = token.split('.');
    const payload = Buffer.concat([Buffer.from('{"iss":"x","sub":"admin'), Buffer.from([0xff]), Buffer.from('"}')]).toString('base64url');
    const response = await grpc.check({ attributes: { request: { http: { method: 'GET', path: '/x', headers: { authorization: `Bearer ${h}.${payload}.${s}` } } } } });
    expect(JSON.parse(response.denied_response.body)).toMatchObject({ reason: 'token_malformed' });
  });
});
