/**
 * Silent refresh through the authorizer: an expired (or soon expiring) access token is replaced using the sealed
 * refresh token, the request is allowed with Set-Cookie on the answer, and every failure falls back to what the
 * request would have got anyway: a login redirect for navigations, 401 for APIs, the still-valid token otherwise.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appRequest, Jar, signInFlow, startSignIn, type SignInHarness } from '../../support/signin.ts';
import type { Decision } from '../../../src/core/types.ts';

let h: SignInHarness;
let jar: Jar;
beforeEach(async () => {
  h = await startSignIn();
  jar = new Jar();
  expect((await signInFlow(h, jar)).status).toBe(302);
});
afterEach(async () => {
  await h.close();
});

const setCookies = (d: Decision) => (d.kind === 'allow' ? (d.responseHeaders ?? []).filter(([n]) => n === 'set-cookie').map(([, v]) => v) : []);
const location = (d: Decision) => (d.kind === 'deny' ? d.headers.find(([n]) => n === 'location')?.[1] : undefined);

describe('an expired access token with a session cookie', () => {
  it('is refreshed without the provider\'s login page: allowed, with the new cookies on the answer', async () => {
    h.clock.advance(301_000 + 60_000);
    const decision = await h.core.authorizer.check(appRequest(jar));
    expect(decision).toMatchObject({ kind: 'allow', reason: 'token_refreshed', identity: [{ name: 'x-auth-subject', value: 'alice' }] });
    const cookies = setCookies(decision);
    expect(cookies.map((c) => c.slice(0, c.indexOf('=')))).toEqual(['access_token', 'portcullis_session']);
    expect(h.idp.calls.refresh_token).toBe(1);
    jar.apply(cookies);
    expect(await h.core.authorizer.check(appRequest(jar))).toMatchObject({ kind: 'allow', reason: 'token_valid' });
  });

  it('is refreshed when the browser already dropped the access cookie', async () => {
    jar.cookies.delete('access_token');
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'allow', reason: 'token_refreshed' });
  });

  it.each([
    ['a navigation gets the login redirect', 'navigation', { kind: 'deny', status: 302 }],
    ['an API call gets 401', 'api', { kind: 'deny', status: 401, reason: 'token_expired' }],
  ] as const)('whose refresh token was revoked: %s', async (_n, kind, expected) => {
    h.idp.refreshTokens.clear();
    h.clock.advance(400_000);
    const decision = await h.core.authorizer.check(appRequest(jar, kind));
    expect(decision).toMatchObject(expected);
    if (kind === 'navigation') expect(location(decision)).toMatch(/^\/oauth2\/start\?rd=/);
  });

  it('is not refreshed with a tampered session cookie', async () => {
    const value = jar.cookies.get('portcullis_session')!;
    jar.cookies.set('portcullis_session', `${value.slice(0, -4)}AAAA`);
    h.clock.advance(400_000);
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'deny', status: 401 });
    expect(h.idp.calls.refresh_token).toBe(0);
  });

  it('is not refreshed when the access token itself was tampered with (that is an attack, not an expiry)', async () => {
    const token = jar.cookies.get('access_token')!;
    jar.cookies.set('access_token', `${token.slice(0, -4)}AAAA`);
    expect(await h.core.authorizer.check(appRequest(jar))).toMatchObject({ kind: 'deny', status: 302, reason: 'signature_invalid' });
    expect(h.idp.calls.refresh_token).toBe(0);
  });
});

describe('concurrent refreshes from one browser', () => {
  it('share one refresh, so a provider that rotates refresh tokens does not lock the browser out', async () => {
    h.clock.advance(400_000);
    const decisions = await Promise.all(Array.from({ length: 5 }, () => h.core.authorizer.check(appRequest(jar, 'api'))));
    expect(decisions.map((d) => d.reason)).toEqual(Array(5).fill('token_refreshed'));
    expect(h.idp.calls.refresh_token).toBe(1);
  });

  it('reuse the fresh result for a request that still carries the old cookie', async () => {
    h.clock.advance(400_000);
    await h.core.authorizer.check(appRequest(jar, 'api'));
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'allow', reason: 'token_refreshed' });
    expect(h.idp.calls.refresh_token).toBe(1);
  });
});

describe('a token that expires within refresh_before', () => {
  it('is refreshed early', async () => {
    h.clock.advance(260_000); // 40 s left, window 60 s
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'allow', reason: 'token_refreshed' });
  });

  it('is still allowed when the refresh fails (a lost race with another replica)', async () => {
    h.idp.refreshTokens.clear();
    h.clock.advance(260_000);
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'allow', reason: 'token_valid' });
  });

  it('is left alone while far from expiry', async () => {
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'allow', reason: 'token_valid' });
    expect(h.idp.calls.refresh_token).toBe(0);
  });
});
