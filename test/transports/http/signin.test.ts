/**
 * The sign-in endpoints over a real socket: the origin comes from Host and X-Forwarded-Proto as the proxy passes
 * them, the answer is a 302 with every Set-Cookie line, and anything but GET/HEAD is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHttpServer, type RunningHttpServer } from '../../../src/transports/http/server.ts';
import { signInRoutes } from '../../../src/transports/http/signin.ts';
import { startSignIn, type SignInHarness } from '../../support/signin.ts';
import { send, testConfig, TestReadiness, StubAuthorizer, allow } from './fixtures.ts';

let h: SignInHarness;
let server: RunningHttpServer;
beforeAll(async () => {
  h = await startSignIn();
  server = await startHttpServer({
    address: '127.0.0.1:0', config: testConfig(), authorizer: new StubAuthorizer(() => allow('x')), readiness: new TestReadiness(),
    routes: signInRoutes(h.signIn),
  });
});
afterAll(async () => {
  await server.close();
  await h.close();
});

const browser = [['host', 'app.example.com'], ['x-forwarded-proto', 'https']] as const;

describe('the sign-in endpoints on the HTTP listener', () => {
  it('start → provider → callback sets the cookies on a 302 back to rd', async () => {
    const started = await send(server.url, { path: '/oauth2/start?rd=%2Forders', headers: browser });
    expect(started.status).toBe(302);
    expect(started.headers['cache-control']).toEqual(['no-store']);
    const state = started.headers['set-cookie']![0]!.split(';')[0]!;
    const back = new URL(await h.idp.authorize(started.headers['location']![0]!));
    const done = await send(server.url, { path: `${back.pathname}${back.search}`, headers: [...browser, ['cookie', state]] });
    expect(done.status).toBe(302);
    expect(done.headers['location']).toEqual(['https://app.example.com/orders']);
    expect(done.headers['set-cookie']!.map((c) => c.slice(0, c.indexOf('=')))).toEqual([state.slice(0, state.indexOf('=')), 'access_token', 'portcullis_session']);
  });

  it.each([
    ['no X-Forwarded-Proto (cannot tell https)', [['host', 'app.example.com']], 'signin_insecure'],
    ['a Host that may not sign in', [['host', 'evil.com'], ['x-forwarded-proto', 'https']], 'signin_host_not_allowed'],
  ] as const)('answers 400 for %s', async (_n, headers, reason) => {
    const res = await send(server.url, { path: '/oauth2/start', headers });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toMatchObject({ reason });
  });

  it.each(['/oauth2/start', '/oauth2/callback', '/oauth2/sign_out'])('refuses POST %s', async (path) => {
    expect((await send(server.url, { method: 'POST', path, headers: browser })).status).toBe(405);
  });
});
