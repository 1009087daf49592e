/**
 * `forward_auth.redirect_status: 401` (for nginx, whose auth_request turns every status but 2xx/401/403 into a 500):
 * a login redirect leaves the forward-auth endpoint as 401 + Location + the RFC 6750 challenge, through the real
 * HTTP listener and the real core. With the default 302 it leaves as the 302 itself. The e2e proof through real
 * nginx and Caddy is test/e2e/policies.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis, type TestPortcullis } from '../../support/portcullis.ts';
import { makeKey, NOW_S, signToken, type TestKey } from '../../support/tokens.ts';
import { send } from './fixtures.ts';
import { redirectAsUnauthorized } from '../../../src/transports/http/forward-auth.ts';
import { Reasons } from '../../../src/core/reasons.ts';

const LOGIN = { url: 'https://login.test/start?rd={return_url}', return_hosts: ['app.test'] };
const RD = `https://login.test/start?rd=${encodeURIComponent('https://app.test/orders?x=1')}`;

describe.each([302, 401] as const)('forward_auth.redirect_status %s', (redirectStatus) => {
  let portcullis: TestPortcullis;
  let key: TestKey;
  beforeAll(async () => {
    key = await makeKey('ES256', 'k1');
    portcullis = await startTestPortcullis({ key, originalRequest: 'x-original', config: { login: LOGIN, forward_auth: { original_request: 'x-original', redirect_status: redirectStatus } } });
  });
  afterAll(async () => {
    await portcullis?.close();
  });

  const ask = (headers: readonly (readonly [string, string])[]) =>
    send(portcullis.httpUrl, {
      path: '/auth',
      headers: [['x-original-method', 'GET'], ['x-original-uri', '/orders?x=1'], ['x-original-host', 'app.test'], ['x-original-proto', 'https'], ...headers],
    });

  it('answers a browser navigation without a token with the login Location', async () => {
    const res = await ask([['accept', 'text/html']]);
    expect(res.status).toBe(redirectStatus);
    expect(res.headers['location']).toEqual([RD]);
    expect(JSON.parse(res.body)).toMatchObject({ error: 'login_required', reason: 'token_missing' });
    expect(res.headers['www-authenticate']).toEqual(redirectStatus === 401 ? ['Bearer realm="portcullis"'] : undefined);
    expect(res.headers['x-auth-subject']).toEqual(['']);
  });

  it('says why in the challenge when the token was sent and failed', async () => {
    const res = await ask([['accept', 'text/html'], ['authorization', `Bearer ${await signToken(key, { iat: NOW_S - 7200, exp: NOW_S - 3600 })}`]]);
    expect(res.status).toBe(redirectStatus);
    expect(res.headers['location']).toEqual([RD]);
    if (redirectStatus === 401) expect(res.headers['www-authenticate']?.[0]).toMatch(/^Bearer realm="portcullis", error="invalid_token", error_description="token expired at /);
  });

  it('leaves API 401s without a Location', async () => {
    const res = await ask([['accept', 'application/json']]);
    expect(res.status).toBe(401);
    expect(res.headers['location']).toBeUndefined();
    expect(res.headers['www-authenticate']).toEqual(['Bearer realm="portcullis"']);
  });
});

describe('redirectAsUnauthorized', () => {
  it('changes only login redirects', () => {
    const allow = { kind: 'allow', reason: Reasons.tokenValid, identity: [] } as const;
    expect(redirectAsUnauthorized(allow)).toBe(allow);
    const forbidden = { kind: 'deny', status: 403, reason: Reasons.scopeMissing, message: 'm', headers: [], body: '{}', identity: [] } as const;
    expect(redirectAsUnauthorized(forbidden)).toBe(forbidden);
  });

  it('keeps the Location, uses the configured realm and never lets a quote into the challenge', () => {
    const redirect = { kind: 'deny', status: 302, reason: Reasons.signatureInvalid, message: 'bad "sig"', headers: [['location', 'https://l/'], ['content-type', 'application/json']], body: '{}', identity: [] } as const;
    const d = redirectAsUnauthorized(redirect, 'shop');
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'signature_invalid' });
    expect(d.kind === 'deny' ? d.headers : []).toEqual([
      ['location', 'https://l/'],
      ['content-type', 'application/json'],
      ['www-authenticate', 'Bearer realm="shop", error="invalid_token", error_description="bad \'sig\'"'],
    ]);
  });
});
