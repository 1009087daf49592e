/**
 * An allow's response headers on the forward-auth 200: every Set-Cookie line as sent, plus numbered copies
 * (X-Portcullis-Set-Cookie-0, -1, …) for nginx, whose $upstream_http_set_cookie keeps only the first line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Decision } from '../../../src/core/types.ts';
import { startHttpServer, type RunningHttpServer } from '../../../src/transports/http/server.ts';
import { allow, IDENTITY, send, StubAuthorizer, testConfig, TestReadiness } from './fixtures.ts';

const refreshed: Decision = {
  ...(allow('alice') as Extract<Decision, { kind: 'allow' }>),
  reason: 'token_refreshed',
  responseHeaders: [['set-cookie', 'access_token=a; Path=/'], ['set-cookie', 'portcullis_session=s; Path=/'], ['x-auth-subject', 'mallory']],
};
const stub = new StubAuthorizer(() => refreshed);
let server: RunningHttpServer;
beforeAll(async () => {
  server = await startHttpServer({ address: '127.0.0.1:0', config: testConfig(), authorizer: stub, readiness: new TestReadiness() });
});
afterAll(async () => {
  await server.close();
});

const FORWARDED = [['x-forwarded-method', 'GET'], ['x-forwarded-uri', '/'], ['x-forwarded-host', 'app.example.com'], ['x-forwarded-proto', 'https']] as const;

describe('a forward-auth allow that refreshed the session', () => {
  it('answers 200 with each Set-Cookie line and its numbered copy, and cannot override an identity header', async () => {
    const res = await send(server.url, { path: '/auth', headers: FORWARDED });
    expect(res.status).toBe(200);
    expect(res.headers['set-cookie']).toEqual(['access_token=a; Path=/', 'portcullis_session=s; Path=/']);
    expect(res.headers['x-portcullis-set-cookie-0']).toEqual(['access_token=a; Path=/']);
    expect(res.headers['x-portcullis-set-cookie-1']).toEqual(['portcullis_session=s; Path=/']);
    expect(res.headers[IDENTITY[0]]).toEqual(['alice']);
  });

  it('sends no Set-Cookie on an ordinary allow', async () => {
    stub.decide = () => allow('alice');
    const res = await send(server.url, { path: '/auth', headers: FORWARDED });
    expect(res.headers['set-cookie']).toBeUndefined();
    expect(res.headers['x-portcullis-set-cookie-0']).toBeUndefined();
  });
});
