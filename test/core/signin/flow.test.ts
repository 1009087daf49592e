/**
 * Sign-in's code flow against a scriptable provider on a real socket: the happy path sets the access-token cookie
 * our verifier accepts, and each attack on the callback is refused with its reason and without a token cookie.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Jar, signInFlow, signInRequest, startSignIn, type SignInHarness, appRequest } from '../../support/signin.ts';
import { makeKey } from '../../support/tokens.ts';

let h: SignInHarness;
beforeEach(async () => {
  h = await startSignIn();
});
afterEach(async () => {
  await h.close();
});

const names = (setCookies: readonly string[]) => setCookies.map((c) => c.slice(0, c.indexOf('=')));

describe('a sign-in', () => {
  it('sends the browser to the provider with PKCE S256, state and nonce, bound by a host-only sealed cookie', async () => {
    const started = await h.signIn.start(signInRequest(new Jar(), { rd: 'https://app.example.com/orders' }));
    expect(started.status).toBe(302);
    const url = new URL(started.location!);
    expect(url.origin + url.pathname).toBe(`${h.idp.issuer}/authorize`);
    expect(url.searchParams.get('code_challenge_method')).toBe('S256');
    expect(url.searchParams.get('redirect_uri')).toBe('https://app.example.com/oauth2/callback');
    expect(url.searchParams.get('state')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(url.searchParams.get('nonce')).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(started.setCookies).toHaveLength(1);
    expect(started.setCookies[0]).toMatch(/^portcullis_signin_[A-Za-z0-9_-]{16}=[^;]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Max-Age=600$/);
    expect(started.setCookies[0]).not.toContain('Domain=');
  });

  it('comes back to the return URL with the access token our verifier accepts, HttpOnly, Secure, SameSite=Lax, Path=/, Domain', async () => {
    const jar = new Jar();
    const answer = await signInFlow(h, jar);
    expect(answer).toMatchObject({ status: 302, reason: 'signin_complete', location: 'https://app.example.com/orders' });
    const access = answer.setCookies.find((c) => c.startsWith('access_token='))!;
    expect(access).toMatch(/^access_token=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Lax; Secure; Domain=example\.com$/);
    expect(answer.setCookies.find((c) => c.startsWith('portcullis_session='))).toMatch(/; HttpOnly; SameSite=Lax; Secure; Domain=example\.com; Max-Age=2592000$/);
    expect([...jar.cookies.keys()].sort()).toEqual(['access_token', 'portcullis_session']);
    const decision = await h.core.authorizer.check(appRequest(jar));
    expect(decision).toMatchObject({ kind: 'allow', reason: 'token_valid' });
    expect(decision.identity).toEqual([{ name: 'x-auth-subject', value: 'alice' }]);
  });

  it('sends a navigation without a token to /oauth2/start with its return URL', async () => {
    const decision = await h.core.authorizer.check(appRequest(new Jar()));
    expect(decision).toMatchObject({ kind: 'deny', status: 302 });
    expect(decision.kind === 'deny' && decision.headers.find(([n]) => n === 'location')?.[1]).toBe('/oauth2/start?rd=https%3A%2F%2Fapp.example.com%2Forders');
  });
});

describe('the callback refuses', () => {
  /** Starts a sign-in in `jar` and returns the provider's redirect back (code + state). */
  const begin = async (jar: Jar) => {
    const started = await h.signIn.start(signInRequest(jar, { rd: '/x' }));
    jar.apply(started.setCookies);
    return new URL(await h.idp.authorize(started.location!)).searchParams;
  };

  it.each([
    ['no state at all', async () => ({ jar: new Jar(), query: new URLSearchParams({ code: 'abc' }) }), 'signin_state_missing'],
    ['a state replayed in another browser (CSRF)', async () => ({ jar: new Jar(), query: await begin(new Jar()) }), 'signin_state_missing'],
    ['a state whose cookie is for another sign-in', async () => {
      const jar = new Jar();
      const mine = await begin(jar);
      const theirs = await begin(new Jar());
      // The attacker puts their own state in under the cookie name of the victim's.
      const value = [...jar.cookies.values()][0]!;
      const victim = new Jar();
      victim.cookies.set(`portcullis_signin_${theirs.get('state')!.slice(0, 16)}`, value);
      void mine;
      return { jar: victim, query: theirs };
    }, 'signin_state_invalid'],
    ['a tampered sign-in cookie', async () => {
      const jar = new Jar();
      const query = await begin(jar);
      const [name, value] = [...jar.cookies][0]!;
      jar.cookies.set(name, value.slice(0, -6) + (value.endsWith('AAAAAA') ? 'BBBBBB' : 'AAAAAA'));
      return { jar, query };
    }, 'signin_state_invalid'],
    ['an expired sign-in cookie', async () => {
      const jar = new Jar();
      const query = await begin(jar);
      h.clock.advance(601_000);
      return { jar, query };
    }, 'signin_state_invalid'],
    ['an injected code (the attacker\'s own code in the victim\'s callback)', async () => {
      const jar = new Jar();
      const query = await begin(jar);
      const attacker = await begin(new Jar());
      query.set('code', attacker.get('code')!);
      return { jar, query };
    }, 'signin_failed', /PKCE/],
    ['an error from the provider', async () => {
      const jar = new Jar();
      const query = await begin(jar);
      query.delete('code');
      query.set('error', 'access_denied');
      return { jar, query };
    }, 'signin_failed', /access_denied/],
  ])('%s', async (_name, setup, reason, why = /./) => {
    const { jar, query } = await setup();
    const answer = await h.signIn.callback(signInRequest(jar, query));
    expect(answer).toMatchObject({ status: 400, reason, message: expect.stringMatching(why) });
    expect(names(answer.setCookies)).not.toContain('access_token');
  });

  it.each([
    ['a replayed nonce', { nonce: 'nonce-from-an-earlier-sign-in-0123456789' }, /nonce/],
    ['an ID token for another client', { aud: 'someone-else' }, /aud/],
    ['an ID token from another issuer', { iss: 'https://evil.example/' }, /iss/],
    ['an expired ID token', { exp: Math.floor(Date.now() / 1000) - 3600 }, /exp/],
  ])('%s', async (_name, claims, why) => {
    h.idp.idTokenClaims = claims;
    const answer = await signInFlow(h, new Jar());
    expect(answer).toMatchObject({ status: 400, reason: 'signin_failed', message: expect.stringMatching(why) });
    expect(names(answer.setCookies)).not.toContain('access_token');
  });

  it('an ID token signed by a key the issuer does not publish', async () => {
    h.idp.idTokenKey = await makeKey('ES256', 'idp-1');
    const answer = await signInFlow(h, new Jar());
    expect(answer).toMatchObject({ status: 400, reason: 'signin_failed', message: expect.stringContaining('signature') });
  });

  it('the same callback twice (the code and the cookie are single-use)', async () => {
    const jar = new Jar();
    const query = await begin(jar);
    const kept = new Jar();
    for (const [n, v] of jar.cookies) kept.cookies.set(n, v);
    expect((await h.signIn.callback(signInRequest(jar, query))).status).toBe(302);
    jar.apply((await h.signIn.callback(signInRequest(jar, query))).setCookies);
    expect(await h.signIn.callback(signInRequest(jar, query))).toMatchObject({ reason: 'signin_state_missing' });
    expect(await h.signIn.callback(signInRequest(kept, query))).toMatchObject({ status: 400, reason: 'signin_failed', message: expect.stringMatching(/used code/) });
  });

  it('an access token our verifier would refuse, without setting it (no redirect loop)', async () => {
    h.idp.accessTokenClaims = { aud: 'another-api' };
    const answer = await signInFlow(h, new Jar());
    expect(answer).toMatchObject({ status: 502, reason: 'signin_token_rejected' });
    expect(names(answer.setCookies)).not.toContain('access_token');
  });
});

describe('the origin of a sign-in', () => {
  it.each([
    ['plain http (a downgrade)', { scheme: 'http' }, 'signin_insecure'],
    ['an unknown scheme', { scheme: '' }, 'signin_insecure'],
    ['a host not in return_hosts', { host: 'evil.com' }, 'signin_host_not_allowed'],
    ['a host outside cookie.domain (the browser would drop a foreign-domain cookie)', { host: 'app.example.net' }, 'signin_host_not_allowed'],
    ['a host with userinfo', { host: 'app.example.com@evil.com' }, 'signin_host_not_allowed'],
  ])('is refused for %s, at start, callback and sign-out', async (_name, over, reason) => {
    for (const step of ['start', 'callback', 'signOut'] as const) {
      expect(await h.signIn[step](signInRequest(new Jar(), { state: 'x'.repeat(43) }, over))).toMatchObject({ status: 400, reason });
    }
  });
});
