/**
 * One instance for a mixed fleet: `forward_auth.endpoints` serves an endpoint per header family, and each reads only
 * its own. A client-sent header of the other family changes nothing on either endpoint (the trust rule, per endpoint).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../support/portcullis.ts';
import { signToken } from '../support/tokens.ts';
import { send } from '../transports/http/fixtures.ts';

let p: TestPortcullis;
beforeAll(async () => {
  p = await startTestPortcullis({
    config: {
      login: { url: 'https://login.test/?rd={return_url}', return_hosts: ['app.test'] },
      forward_auth: {
        endpoints: [
          { path: '/auth' },
          { path: '/auth/nginx', original_request: 'x-original', redirect_status: 401 },
        ],
      },
    },
  });
});
afterAll(() => p.close());

type H = [string, string][];
const forwarded = (uri: string): H => [['X-Forwarded-Method', 'GET'], ['X-Forwarded-Uri', uri], ['X-Forwarded-Host', 'app.test']];
const original = (uri: string): H => [['X-Original-Method', 'GET'], ['X-Original-URI', uri], ['X-Original-Host', 'app.test']];
const ask = (path: string, headers: H) => send(p.httpUrl, { path, headers });

describe.each([
  { endpoint: '/auth', own: forwarded, other: original },
  { endpoint: '/auth/nginx', own: original, other: forwarded },
])('the $endpoint endpoint', ({ endpoint, own, other }) => {
  it('lets its own family name an excluded path', async () => {
    expect((await ask(endpoint, own('/public/x'))).status).toBe(200);
  });

  it('ignores the other family pointing at an excluded path', async () => {
    const res = await ask(endpoint, [...own('/admin'), ...other('/public/x')]);
    expect(res.status).toBe(401);
  });

  it('answers original_request_missing when only the other family is sent', async () => {
    const res = await ask(endpoint, other('/public/x'));
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toMatchObject({ reason: 'original_request_missing' });
  });

  it('allows a valid token', async () => {
    expect((await ask(endpoint, [...own('/admin'), ['Authorization', `Bearer ${await signToken(p.key)}`]])).status).toBe(200);
  });
});

describe('per-endpoint redirect_status', () => {
  const browser: H = [['Accept', 'text/html']];
  it('answers a login redirect as 302 on /auth and as 401 with the Location on /auth/nginx', async () => {
    const caddy = await ask('/auth', [...forwarded('/admin'), ['X-Forwarded-Proto', 'https'], ['Sec-Fetch-Mode', 'navigate'], ...browser]);
    const nginx = await ask('/auth/nginx', [...original('/admin'), ['X-Original-Proto', 'https'], ['Sec-Fetch-Mode', 'navigate'], ...browser]);
    expect(caddy.status).toBe(302);
    expect(nginx.status).toBe(401);
    expect(nginx.headers['location']?.[0]).toBe(caddy.headers['location']?.[0]);
    expect(caddy.headers['location']?.[0]).toMatch(/^https:\/\/login\.test\//);
  });
});
