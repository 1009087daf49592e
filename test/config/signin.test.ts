/** `login.oidc`: defaults, secrets and session keys from files, and every mistake reported with its key path. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../support/config.ts';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-signin-config-'));
writeFileSync(join(dir, 'keys'), '# newest first\nnew-key-0123456789abcdef0123456789abcdef\n\nold-key-0123456789abcdef0123456789abcdef\n');
writeFileSync(join(dir, 'short'), 'too-short\n');
writeFileSync(join(dir, 'secret'), 's3cret\n');

const ISSUER = 'https://idp.example.com/';
const doc = (oidc: Record<string, unknown> = {}, top: Record<string, unknown> = {}) => ({
  issuers: [{ issuer: ISSUER, discovery: true, audiences: ['api'] }],
  login: { oidc: { issuer: ISSUER, client_id: 'portcullis', session_key_file: 'keys', return_hosts: ['app.example.com'], ...oidc } },
  ...top,
});

const problems = (d: unknown): readonly string[] => configProblems(d, dir);

afterEach(() => {
  delete process.env['PORTCULLIS_OIDC_CLIENT_SECRET'];
});

describe('login.oidc', () => {
  it('fills its defaults and makes the login redirect go to /oauth2/start', () => {
    const c = buildConfig(doc(), 'test', dir);
    expect(c.signIn).toMatchObject({
      issuer: ISSUER,
      discoveryUrl: 'https://idp.example.com/.well-known/openid-configuration',
      clientId: 'portcullis',
      clientSecret: undefined,
      scopes: ['openid'],
      startPath: '/oauth2/start',
      redirectPath: '/oauth2/callback',
      signOutPath: '/oauth2/sign_out',
      cookie: { domain: undefined, secure: true, sameSite: 'lax', accessName: 'access_token', sessionName: 'portcullis_session' },
      sessionKeys: ['new-key-0123456789abcdef0123456789abcdef', 'old-key-0123456789abcdef0123456789abcdef'],
      refreshBeforeMs: 60_000,
    });
    expect(c.policy.defaultRule.login).toEqual({ url: '/oauth2/start?rd={return_url}', returnHosts: ['app.example.com'] });
  });

  it('reads the client secret from client_secret_file, else from PORTCULLIS_OIDC_CLIENT_SECRET', () => {
    expect(buildConfig(doc({ client_secret_file: 'secret' }), 'test', dir).signIn!.clientSecret).toBe('s3cret');
    process.env['PORTCULLIS_OIDC_CLIENT_SECRET'] = 'from-env';
    expect(buildConfig(doc(), 'test', dir).signIn!.clientSecret).toBe('from-env');
  });

  it('takes several session key files, newest first', () => {
    writeFileSync(join(dir, 'keys2'), 'second-file-key-0123456789abcdef0123456789\n');
    expect(buildConfig(doc({ session_key_file: ['keys2', 'keys'] }), 'test', dir).signIn!.sessionKeys[0]).toBe('second-file-key-0123456789abcdef0123456789');
  });

  it('strips a leading dot from cookie.domain', () => {
    expect(buildConfig(doc({ cookie: { domain: '.example.com' } }), 'test', dir).signIn!.cookie.domain).toBe('example.com');
  });

  it.each([
    ['an issuer that is not configured', doc({ issuer: 'https://other.example.com/' }), 'login.oidc.issuer: "https://other.example.com/" must be one of issuers[]'],
    ['no session key file', doc({ session_key_file: undefined }), 'login.oidc.session_key_file: required'],
    ['an unreadable session key file', doc({ session_key_file: 'missing' }), 'login.oidc.session_key_file: cannot read'],
    ['a short session key', doc({ session_key_file: 'short' }), 'login.oidc.session_key_file: key on line 1'],
    ['an unreadable client secret file', doc({ client_secret_file: 'nope' }), 'login.oidc.client_secret_file: cannot read'],
    ['scopes without openid', doc({ scopes: ['email'] }), 'login.oidc.scopes: must include "openid"'],
    ['a bare TLD as cookie domain', doc({ cookie: { domain: '.com' } }), 'login.oidc.cookie.domain:'],
    ['SameSite=None without Secure', doc({ cookie: { secure: false, same_site: 'none' } }), 'login.oidc.cookie.same_site:'],
    ['no return_hosts', doc({ return_hosts: [] }), 'login.oidc.return_hosts:'],
    ['a redirect_path that is the forward-auth path', doc({ redirect_path: '/auth' }), 'login.oidc.redirect_path: /auth is already served'],
    ['a redirect_path with dot segments', doc({ redirect_path: '/a/../b' }), 'login.oidc.redirect_path:'],
    ['login.url beside login.oidc', { ...doc(), login: { url: 'https://x/', oidc: doc().login.oidc } }, 'login: login.oidc and url are alternatives'],
    ['no token cookie to write', doc({}, { tokens: { cookies: [] } }), 'login.oidc: tokens.cookies is empty'],
    ['an unknown key', doc({ client_secret: 'inline' }), 'login.oidc.client_secret: unknown key'],
    ['cookies bigger than the finder reads', doc({ max_cookie_bytes: 20_000 }), 'login.oidc.max_cookie_bytes: 20000 exceeds tokens.max_bytes (16384)'],
    ['plain http to a remote provider', { ...doc({ issuer: 'http://idp.example.com/' }), issuers: [{ issuer: 'http://idp.example.com/', jwks_uri: 'https://idp.example.com/jwks', audiences: ['api'] }] }, 'login.oidc.issuer: discovery at'],
  ])('refuses %s', (_n, d, expected) => {
    expect(problems(d).join('\n')).toContain(expected);
  });
});
