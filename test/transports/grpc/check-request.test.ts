/** CheckRequest → AuthRequest, end to end: a client built from Envoy's upstream protos calls the real server. */
import { describe, expect, it } from 'vitest';
import { deny, stubAuthorizer, useStubServer } from './fixtures.ts';

const authorizer = stubAuthorizer();
const grpc = useStubServer(authorizer);

function httpRequest(http: object, attributes: object = {}) {
  return { attributes: { request: { http }, ...attributes } };
}

describe('ext_authz CheckRequest → AuthRequest', () => {
  it('passes the upper-cased method, host, scheme and the raw, undecoded path with its query', async () => {
    await grpc.client.check(httpRequest({ method: 'get', host: 'api.example.com:8443', scheme: 'https', path: '/a%2Fb/../c?x=1&y=%20' }));
    expect(authorizer.last()).toMatchObject({
      transport: 'grpc',
      method: 'GET',
      host: 'api.example.com:8443',
      scheme: 'https',
      path: '/a%2Fb/../c?x=1&y=%20',
    });
  });

  it('keeps each entry of the headers map as a one-value list under its lower-case name, without pseudo-headers', async () => {
    await grpc.client.check(
      httpRequest({
        method: 'GET',
        path: '/',
        headers: {
          ':authority': 'api.example.com',
          ':path': '/',
          ':method': 'GET',
          authorization: 'Bearer abc',
          'X-Upper': 'kept',
          accept: 'text/html, application/json',
        },
      }),
    );
    expect([...authorizer.last().headers]).toEqual([
      ['authorization', ['Bearer abc']],
      ['x-upper', ['kept']],
      ['accept', ['text/html, application/json']],
    ]);
  });

  it('keeps repeated header_map entries apart and in order, reading raw_value bytes and falling back to value', async () => {
    await grpc.client.check(
      httpRequest({
        method: 'GET',
        path: '/',
        header_map: {
          headers: [
            { key: ':authority', raw_value: Buffer.from('api.example.com') },
            { key: 'cookie', raw_value: Buffer.from('a=1') },
            { key: 'Authorization', raw_value: Buffer.from('Bearer raw') },
            { key: 'cookie', raw_value: Buffer.from('b=2') },
            { key: 'x-from-value', value: 'plain' },
            { key: 'x-utf8', raw_value: Buffer.from('Zoë', 'utf8') },
            { key: 'x-latin1', raw_value: Buffer.from([0x5a, 0x6f, 0xeb]) },
          ],
        },
      }),
    );
    const { headers } = authorizer.last();
    expect(Object.fromEntries(headers)).toEqual({
      cookie: ['a=1', 'b=2'],
      authorization: ['Bearer raw'],
      'x-from-value': ['plain'],
      'x-utf8': ['Zoë'],
      'x-latin1': ['Zoë'],
    });
    expect(authorizer.last().host).toBe('api.example.com');
  });

  it.each([
    ['the headers map', { headers: { ':method': 'post', ':authority': 'h.example', ':path': '/p?q=1', ':scheme': 'https' } }],
    [
      'header_map',
      {
        header_map: {
          headers: [
            { key: ':method', raw_value: Buffer.from('post') },
            { key: ':authority', raw_value: Buffer.from('h.example') },
            { key: ':path', raw_value: Buffer.from('/p?q=1') },
            { key: ':scheme', raw_value: Buffer.from('https') },
          ],
        },
      },
    ],
  ])('falls back to the pseudo-headers in %s when the http fields are empty', async (_source, http) => {
    await grpc.client.check(httpRequest(http));
    expect(authorizer.last()).toMatchObject({ method: 'POST', host: 'h.example', path: '/p?q=1', scheme: 'https' });
    expect(authorizer.last().headers.size).toBe(0);
  });

  it('prefers the http fields over the pseudo-headers', async () => {
    await grpc.client.check(httpRequest({ method: 'GET', host: 'field.example', path: '/field', headers: { ':authority': 'pseudo.example', ':path': '/pseudo' } }));
    expect(authorizer.last()).toMatchObject({ host: 'field.example', path: '/field' });
  });

  it('passes the route context_extensions', async () => {
    await grpc.client.check(httpRequest({ method: 'GET', path: '/' }, { context_extensions: { audience: 'billing', mode: 'strict' } }));
    expect(Object.fromEntries(authorizer.last().contextExtensions)).toEqual({ audience: 'billing', mode: 'strict' });
  });

  it.each([
    ['an IPv4 socket address', { socket_address: { address: '203.0.113.7', port_value: 51234 } }, '203.0.113.7:51234'],
    ['an IPv6 socket address', { socket_address: { address: '2001:db8::1', port_value: 443 } }, '[2001:db8::1]:443'],
    ['a named port', { socket_address: { address: '10.0.0.1', named_port: 'https' } }, '10.0.0.1:https'],
    ['a pipe', { pipe: { path: '/run/envoy.sock' } }, '/run/envoy.sock'],
  ])('reports %s of the source peer as clientAddress', async (_kind, address, expected) => {
    await grpc.client.check(httpRequest({ method: 'GET', path: '/' }, { source: { address } }));
    expect(authorizer.last().clientAddress).toBe(expected);
  });

  it('asks the Authorizer about an empty CheckRequest with empty fields and answers its deny', async () => {
    authorizer.answer = deny(401);
    try {
      const response = await grpc.client.check({});
      expect(authorizer.last()).toEqual({
        transport: 'grpc',
        method: '',
        host: '',
        scheme: '',
        path: '',
        headers: new Map(),
        contextExtensions: new Map(),
      });
      expect(response.status.code).toBe(16);
      expect(response.denied_response.status.code).toBe('Unauthorized');
    } finally {
      authorizer.answer = stubAuthorizer().answer;
    }
    expect(grpc.errors).toEqual([]);
  });
});
