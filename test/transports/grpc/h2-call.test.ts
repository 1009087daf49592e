/**
 * The request message as our HTTP/2 server reads it: compression (grpc-encoding identity, gzip, deflate), caps that
 * never buffer more than grpc.max_request_bytes (a zip bomb, a huge body sent slowly), and abuse that must end only
 * the call it came with (resets, broken sessions, garbage instead of HTTP/2). Every Check call answered gets a
 * CheckResponse. Driven through raw node:http2 against the real service.
 */
import { connect as connectTcp } from 'node:net';
import { connect as connectH2, constants } from 'node:http2';
import { deflateSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../../support/portcullis.ts';
import { signToken } from '../../support/tokens.ts';
import { decodeCheckResponse, encodeCheckRequest, frame, rawCall, type RawCallAnswer } from '../../support/raw-grpc.ts';

const MAX = 65_536;
let p: TestPortcullis;
let token: string;
beforeAll(async () => {
  p = await startTestPortcullis({ config: { grpc: { max_request_bytes: MAX } } });
  token = await signToken(p.key);
});
afterAll(() => p.close());

const request = (headers: Record<string, string> = {}): Buffer =>
  encodeCheckRequest({ attributes: { request: { http: { method: 'GET', path: '/orders', host: 'app.test', headers } } } });

/** The one CheckResponse of a call that must have been answered normally (HTTP 200, grpc-status 0). */
function checkResponse(answer: RawCallAnswer): any {
  expect(answer).toMatchObject({ status: 200, grpcStatus: '0' });
  expect(answer.messages).toHaveLength(1);
  return decodeCheckResponse(answer.messages[0]!);
}

function reasonOf(answer: RawCallAnswer): string | undefined {
  const response = checkResponse(answer);
  return response.status.code === 0 ? undefined : JSON.parse(response.denied_response.body).reason;
}

describe('a compressed CheckRequest', () => {
  it.each<[string, string, (b: Buffer) => Buffer]>([
    ['gzip', 'gzip', gzipSync],
    ['deflate (zlib format)', 'deflate', deflateSync],
  ])('is inflated when sent with grpc-encoding %s: a valid token is allowed, none is denied as usual', async (_name, encoding, compress) => {
    const headers = { 'grpc-encoding': encoding };
    expect(reasonOf(await rawCall(p.grpcAddress, { headers, body: frame(compress(request({ authorization: `Bearer ${token}` })), true) }))).toBeUndefined();
    expect(reasonOf(await rawCall(p.grpcAddress, { headers, body: frame(compress(request()), true) }))).toBe('token_missing');
  });

  it('is read as is when not flagged compressed, whatever grpc-encoding the call names', async () => {
    const answer = await rawCall(p.grpcAddress, { headers: { 'grpc-encoding': 'snappy' }, body: frame(request({ authorization: `Bearer ${token}` })) });
    expect(reasonOf(answer)).toBeUndefined();
  });

  it.each<[string, Record<string, string>, () => Buffer, string]>([
    ['flagged compressed with an unknown grpc-encoding', { 'grpc-encoding': 'br' }, () => frame(gzipSync(request()), true), 'request_malformed'],
    ['flagged compressed with grpc-encoding identity', { 'grpc-encoding': 'identity' }, () => frame(gzipSync(request()), true), 'request_malformed'],
    ['flagged compressed without any grpc-encoding', {}, () => frame(gzipSync(request()), true), 'request_malformed'],
    ['gzip bytes that do not inflate', { 'grpc-encoding': 'gzip' }, () => frame(Buffer.from('not gzip at all'), true), 'request_malformed'],
    ['a gzip stream cut short', { 'grpc-encoding': 'gzip' }, () => frame(gzipSync(request()).subarray(0, 20), true), 'request_malformed'],
    ['deflate bytes that do not inflate', { 'grpc-encoding': 'deflate' }, () => frame(Buffer.from([1, 2, 3, 4, 5]), true), 'request_malformed'],
    ['a compression flag that is neither 0 nor 1', {}, () => Buffer.concat([Buffer.from([2]), frame(request()).subarray(1)]), 'request_malformed'],
    ['gzip that inflates past grpc.max_request_bytes', { 'grpc-encoding': 'gzip' }, () => frame(gzipSync(request({ cookie: 'x'.repeat(MAX) })), true), 'request_too_large'],
  ])('is denied when %s', async (_name, headers, body, reason) => {
    expect(reasonOf(await rawCall(p.grpcAddress, { headers, body: body() }))).toBe(reason);
  });

  it('is denied 413 when it is a zip bomb, which is never inflated past the cap', async () => {
    const bomb = gzipSync(Buffer.alloc(60 * 1024 * 1024)); // ~60 KB that inflate to 60 MiB
    expect(bomb.length).toBeLessThan(MAX);
    // The server runs in this process: inflating the bomb whole raises its resident memory by 60 MiB while it
    // inflates (zlib hands its output over in chunks, between which this sampler runs).
    const before = process.memoryUsage.rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 1);
    const answer = await rawCall(p.grpcAddress, { headers: { 'grpc-encoding': 'gzip' }, body: frame(bomb, true) }).finally(() => clearInterval(sampler));
    expect(reasonOf(answer)).toBe('request_too_large');
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
  });
});

describe('a request body over the cap', () => {
  it('is denied 413 from its prefix, before the client has finished sending it', async () => {
    const answer = await rawCall(p.grpcAddress, {
      send(stream) {
        const prefix = Buffer.alloc(5);
        prefix.writeUInt32BE(1024 * 1024 * 1024, 1); // announces 1 GiB
        stream.write(prefix);
        const chunk = Buffer.alloc(16 * 1024, 0x61);
        const timer = setInterval(() => (stream.writable ? stream.write(chunk) : clearInterval(timer)), 5);
        stream.on('close', () => clearInterval(timer));
      },
    });
    expect(answer.answeredBeforeRequestEnded).toBe(true);
    expect(reasonOf(answer)).toBe('request_too_large');
  });

  it('is denied 400 as soon as bytes follow the one message, before the client has finished', async () => {
    const answer = await rawCall(p.grpcAddress, {
      send(stream) {
        stream.write(frame(request({ authorization: `Bearer ${token}` })));
        stream.write(Buffer.from([0, 0, 0])); // the start of a second message; the stream is never ended
      },
    });
    expect(answer.answeredBeforeRequestEnded).toBe(true);
    expect(reasonOf(answer)).toBe('request_malformed');
  });
});

describe('abuse ends only its own call', () => {
  const stillServing = async (): Promise<void> => {
    expect(reasonOf(await rawCall(p.grpcAddress, { body: frame(request({ authorization: `Bearer ${token}` })) }))).toBeUndefined();
  };

  it.each<[string, (address: string) => Promise<void>]>([
    ['a stream reset in the middle of its message', (address) => new Promise((resolve) => {
      const session = connectH2(`http://${address}`);
      const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc' });
      stream.on('error', () => {});
      stream.write(frame(request()).subarray(0, 10), () => {
        stream.close(constants.NGHTTP2_CANCEL);
        session.close(() => resolve());
      });
    })],
    ['a session destroyed in the middle of a message', (address) => new Promise((resolve) => {
      const session = connectH2(`http://${address}`);
      session.on('error', () => {});
      const stream = session.request({ ':method': 'POST', ':path': '/envoy.service.auth.v3.Authorization/Check', 'content-type': 'application/grpc' });
      stream.on('error', () => {});
      stream.write(frame(request()).subarray(0, 10), () => {
        session.destroy();
        resolve();
      });
    })],
    ['garbage instead of the HTTP/2 preface', (address) => rawBytes(address, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))],
    ['garbage right after the HTTP/2 preface', (address) => rawBytes(address, Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), Buffer.alloc(64, 0xff)]))],
  ])('%s leaves the server answering', async (_name, abuse) => {
    await abuse(p.grpcAddress);
    await stillServing();
  });
});

/** Writes `bytes` on a plain TCP connection and resolves once the server has closed it. */
function rawBytes(address: string, bytes: Buffer): Promise<void> {
  const [host, port] = [address.slice(0, address.lastIndexOf(':')), Number(address.slice(address.lastIndexOf(':') + 1))];
  return new Promise((resolve) => {
    const socket = connectTcp({ host, port }, () => socket.write(bytes));
    socket.on('error', () => {});
    socket.on('data', () => {});
    socket.on('close', () => resolve());
  });
}

describe('request deadlines (one sweep per server)', () => {
  it('expires only the calls whose request began more than the timeout ago, and never one that completed', async () => {
    const { RequestDeadlines } = await import('../../../src/transports/grpc/h2-call.ts');
    let now = 1_000;
    const deadlines = new RequestDeadlines(100, () => now, 60_000);
    const expired: string[] = [];
    // Map keys only: the sweep never touches a stream itself, it calls the expiry it was given.
    const stream = (name: string) => ({ name }) as unknown as import('node:http2').ServerHttp2Stream;
    const [a, b, c] = [stream('a'), stream('b'), stream('c')];
    deadlines.add(a, () => expired.push('a'));
    now = 1_050;
    deadlines.add(b, () => expired.push('b'));
    deadlines.add(c, () => expired.push('c'));
    deadlines.remove(b); // its request completed
    now = 1_120;
    deadlines.sweep();
    expect(expired).toEqual(['a']);
    now = 1_200;
    deadlines.sweep();
    deadlines.sweep();
    expect(expired).toEqual(['a', 'c']);
    deadlines.stop();
  });
});
