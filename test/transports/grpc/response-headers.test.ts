/** An allow's response headers (a silent refresh's Set-Cookie) → ok_response.response_headers_to_add, every line kept. */
import { describe, expect, it } from 'vitest';
import { allow, stubAuthorizer, useStubServer } from './fixtures.ts';

const authorizer = stubAuthorizer();
const grpc = useStubServer(authorizer);
const REQUEST = { attributes: { request: { http: { method: 'GET', host: 'app.example.com', path: '/', headers: {} } } } };

describe('ext_authz allow with response headers', () => {
  it('adds each Set-Cookie line to the client response, appended so none replaces another', async () => {
    authorizer.answer = allow({
      reason: 'token_refreshed',
      identity: [{ name: 'x-user-id', value: 'alice' }],
      responseHeaders: [['set-cookie', 'access_token=a; Path=/; HttpOnly'], ['set-cookie', 'portcullis_session=s; Path=/; HttpOnly']],
      setHeaders: [['cookie', 'access_token=a']],
    });
    const response: any = await grpc.client.check(REQUEST);
    expect(response.status.code).toBe(0);
    expect(response.ok_response.response_headers_to_add.map((h: any) => [h.header.key, h.header.value, h.append.value])).toEqual([
      ['set-cookie', 'access_token=a; Path=/; HttpOnly', true],
      ['set-cookie', 'portcullis_session=s; Path=/; HttpOnly', true],
    ]);
    expect(response.ok_response.headers.map((h: any) => [h.header.key, h.header.value])).toEqual([['x-user-id', 'alice'], ['cookie', 'access_token=a']]);
  });

  it('adds nothing to the client response on an ordinary allow', async () => {
    authorizer.answer = allow({ identity: [{ name: 'x-user-id', value: 'alice' }] });
    const response: any = await grpc.client.check(REQUEST);
    expect(response.ok_response.response_headers_to_add).toEqual([]);
  });
});
