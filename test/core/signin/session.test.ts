/**
 * The session side of sign-in: sign-out clears our cookies where they were set and ends the provider's session
 * with a checked return URL; session keys rotate with an overlap; big access tokens are written as chunks.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appRequest, Jar, KEY_A, KEY_B, signInFlow, signInRequest, startSignIn, type SignInHarness } from '../../support/signin.ts';

let h: SignInHarness;
beforeEach(async () => {
  h = await startSignIn();
});
afterEach(async () => {
  await h.close();
});

describe('sign-out', () => {
  it('clears the access token and session cookies with the Domain they were set with, and ends the provider session', async () => {
    const jar = new Jar();
    await signInFlow(h, jar);
    const answer = await h.signIn.signOut(signInRequest(jar, { rd: 'https://admin.example.com/bye' }));
    expect(answer.status).toBe(302);
    expect(answer.setCookies).toEqual([
      'access_token=; Path=/; HttpOnly; SameSite=Lax; Secure; Domain=example.com; Max-Age=0',
      'portcullis_session=; Path=/; HttpOnly; SameSite=Lax; Secure; Domain=example.com; Max-Age=0',
    ]);
    const end = new URL(answer.location!);
    expect(end.origin + end.pathname).toBe(`${h.idp.issuer}/logout`);
    expect(end.searchParams.get('post_logout_redirect_uri')).toBe('https://admin.example.com/bye');
    expect(end.searchParams.get('id_token_hint')).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    jar.apply(answer.setCookies);
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'deny', status: 401 });
  });

  it('goes straight back to the return URL when the provider has no end_session_endpoint', async () => {
    await h.close();
    h = await startSignIn();
    h.idp.endSession = false;
    expect((await h.signIn.signOut(signInRequest(new Jar(), { rd: '/bye' }))).location).toBe('https://app.example.com/bye');
  });

  // The open-redirect classes of oauth2-proxy's validator_test.go, as rd values: each lands on our own origin.
  it.each([
    'https://evil.com/', 'http://app.example.com/', '//evil.com', '///evil.com', '/\\evil.com', '\\\\evil.com',
    'https://app.example.com@evil.com/', 'https://evil.com\\@app.example.com/', 'https:evil.com', 'https:/evil.com',
    'javascript:alert(1)', 'data:text/html,x', '/%2F%2Fevil.com', '/%5Cevil.com', ' https://evil.com', '/\t/evil.com',
    'https://app.example.com.evil.com/', 'https://evilexample.com/', 'https://example.com/', 'HTTPS://EVIL.COM/',
    '/../evil.com', 'https://app.example.com:99999/', 'https://app.example.com\r\nLocation: https://evil.com',
  ])('refuses rd %j and returns to the origin instead', async (rd) => {
    const answer = await h.signIn.signOut(signInRequest(new Jar(), { rd }));
    expect(new URL(answer.location!).searchParams.get('post_logout_redirect_uri')).toBe('https://app.example.com/');
    const started = await h.signIn.start(signInRequest(new Jar(), { rd }));
    expect(started.status).toBe(302);
  });

  it.each([
    ['/orders?tab=1', 'https://app.example.com/orders?tab=1'],
    ['https://admin.example.com/x', 'https://admin.example.com/x'],
  ])('keeps an allowed rd %j', async (rd, expected) => {
    const answer = await h.signIn.signOut(signInRequest(new Jar(), { rd }));
    expect(new URL(answer.location!).searchParams.get('post_logout_redirect_uri')).toBe(expected);
  });
});

describe('session key rotation', () => {
  it('keeps cookies sealed with the old key readable while it is still listed, and not after', async () => {
    const jar = new Jar();
    await signInFlow(h, jar);
    h.clock.advance(400_000);
    const overlap = await h.withKeys([KEY_B, KEY_A]);
    const refreshed = await overlap.authorizer.check(appRequest(jar, 'api'));
    expect(refreshed).toMatchObject({ kind: 'allow', reason: 'token_refreshed' });
    jar.apply(refreshed.kind === 'allow' ? refreshed.responseHeaders!.map(([, v]) => v) : []);
    h.clock.advance(400_000);
    // The new session cookie was sealed with KEY_B: a core that only knows KEY_B reads it.
    expect(await (await h.withKeys([KEY_B])).authorizer.check(appRequest(jar, 'api'))).toMatchObject({ reason: 'token_refreshed' });
  });

  it('refuses a session cookie whose key was retired', async () => {
    const jar = new Jar();
    await signInFlow(h, jar);
    h.clock.advance(400_000);
    expect(await (await h.withKeys([KEY_B])).authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'deny', status: 401 });
    expect(h.idp.calls.refresh_token).toBe(0);
  });

  it('refuses a sign-in cookie sealed with a retired key', async () => {
    const jar = new Jar();
    const started = await h.signIn.start(signInRequest(jar, { rd: '/' }));
    jar.apply(started.setCookies);
    const back = new URL(await h.idp.authorize(started.location!));
    const other = (await h.withKeys([KEY_B])).signIn!;
    expect(await other.callback(signInRequest(jar, back.searchParams))).toMatchObject({ status: 400, reason: 'signin_state_invalid' });
  });
});

describe('a big access token', () => {
  it('is written as chunks access_token_0, access_token_1 … with the plain cookie cleared', async () => {
    h.idp.accessTokenClaims = { pad: 'x'.repeat(6000) };
    const answer = await signInFlow(h, new Jar());
    const names = answer.setCookies.map((c) => c.slice(0, c.indexOf('=')));
    expect(names).toEqual(['portcullis_signin_' + names[0]!.slice(18), 'access_token', 'access_token_0', 'access_token_1', 'access_token_2', 'portcullis_session']);
    expect(answer.setCookies[1]).toMatch(/^access_token=; .*Max-Age=0$/);
    for (const c of answer.setCookies.slice(2, 5)) expect(c.length).toBeLessThan(4000);
  });

  it('is read back joined by the token finder and allowed, and refreshed as chunks again', async () => {
    h.idp.accessTokenClaims = { pad: 'x'.repeat(6000) };
    const jar = new Jar();
    await signInFlow(h, jar);
    expect([...jar.cookies.keys()].filter((n) => n.startsWith('access_token'))).toEqual(['access_token_0', 'access_token_1', 'access_token_2']);
    expect(await h.core.authorizer.check(appRequest(jar))).toMatchObject({ kind: 'allow', reason: 'token_valid', identity: [{ name: 'x-auth-subject', value: 'alice' }] });
    h.clock.advance(400_000);
    const refreshed = await h.core.authorizer.check(appRequest(jar, 'api'));
    expect(refreshed).toMatchObject({ kind: 'allow', reason: 'token_refreshed' });
    jar.apply(refreshed.kind === 'allow' ? refreshed.responseHeaders!.map(([, v]) => v) : []);
    expect(await h.core.authorizer.check(appRequest(jar, 'api'))).toMatchObject({ kind: 'allow', reason: 'token_valid' });
  });

  it('clears chunks left from an earlier, bigger token when a small one replaces it', async () => {
    const jar = new Jar();
    jar.cookies.set('access_token_0', 'old').set('access_token_1', 'old');
    const answer = await signInFlow(h, jar);
    expect(answer.setCookies.filter((c) => c.startsWith('access_token_')).map((c) => c.slice(0, c.indexOf('=')))).toEqual(['access_token_0', 'access_token_1']);
    expect(answer.setCookies.filter((c) => c.startsWith('access_token_')).every((c) => c.endsWith('Max-Age=0'))).toBe(true);
  });

  it('over max_cookie_bytes is refused without setting anything', async () => {
    h.idp.accessTokenClaims = { pad: 'x'.repeat(20_000) };
    expect(await signInFlow(h, new Jar())).toMatchObject({ status: 502, reason: 'signin_token_rejected' });
  });
});
