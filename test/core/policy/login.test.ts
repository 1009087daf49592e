/**
 * Login redirects, and the open-redirect vector classes of oauth2-proxy's pkg/app/redirect/validator_test.go:
 * whatever the attacker puts in Host, path or query, the return URL stays on an allowed host or is empty.
 */
import { describe, expect, it } from 'vitest';
import { checkedReturnUrl, isBrowserNavigation, loginLocation, returnUrl } from '../../../src/core/policy/login.ts';
import { normalizePath } from '../../../src/core/path.ts';
import { request } from '../../support/core.ts';

const HOSTS = ['app.example.com', '*.example.com'];
const ret = (host: string, path: string, scheme = 'https') => returnUrl(request({ host, path, scheme }), normalizePath(path), HOSTS);

describe('isBrowserNavigation', () => {
  it.each([
    ['GET accepting HTML', { method: 'GET', headers: { accept: 'text/html,application/xhtml+xml' } }, true],
    ['HEAD accepting HTML', { method: 'HEAD', headers: { accept: 'text/html' } }, true],
    ['a fetch-metadata navigation', { method: 'GET', headers: { 'sec-fetch-mode': 'navigate', accept: '*/*' } }, true],
    ['an API call', { method: 'GET', headers: { accept: 'application/json' } }, false],
    ['no Accept', { method: 'GET', headers: {} }, false],
    ['POST accepting HTML', { method: 'POST', headers: { accept: 'text/html' } }, false],
    ['an XHR', { method: 'GET', headers: { accept: 'text/html', 'x-requested-with': 'XMLHttpRequest' } }, false],
    ['a fetch() in cors mode', { method: 'GET', headers: { accept: 'text/html', 'sec-fetch-mode': 'cors' } }, false],
  ])('%s → %s', (_n, req, expected) => {
    expect(isBrowserNavigation(request(req))).toBe(expected);
  });
});

describe('returnUrl', () => {
  it.each([
    ['app.example.com', '/orders/7?tab=items', 'https://app.example.com/orders/7?tab=items'],
    ['shop.example.com:8443', '/', 'https://shop.example.com:8443/'],
    ['APP.EXAMPLE.COM', '/a', 'https://app.example.com/a'],
    ['app.example.com', '/caf%C3%A9', 'https://app.example.com/caf%C3%A9'],
    ['app.example.com', '//orders', 'https://app.example.com/orders'],
  ])('returns to %s%s', (host, path, expected) => {
    expect(ret(host, path)).toBe(expected);
  });

  it('keeps http only when the request was http', () => {
    expect(ret('app.example.com', '/a', 'http')).toBe('http://app.example.com/a');
    expect(ret('app.example.com', '/a', 'javascript')).toBe('https://app.example.com/a');
  });

  it.each([
    ['a host not allowed', 'evil.com', '/'],
    ['the apex of a wildcard', 'example.com', '/'],
    ['a look-alike suffix', 'app.example.com.evil.com', '/'],
    ['a look-alike prefix', 'evilexample.com', '/'],
    ['userinfo in the host', 'app.example.com@evil.com', '/'],
    ['a backslash host', 'evil.com\\app.example.com', '/'],
    ['a tab in the host', 'app.example.com\t.evil.com', '/'],
    ['CR LF in the host', 'app.example.com\r\nLocation: https://evil.com', '/'],
    ['a non-numeric port', 'app.example.com:evil.com', '/'],
    ['a port out of range', 'app.example.com:99999', '/'],
    ['port zero', 'app.example.com:0', '/'],
    ['an empty host', '', '/'],
    ['an IP literal', '127.0.0.1', '/'],
    ['a unicode look-alike', 'app.exаmple.com', '/'],
  ])('is empty for %s', (_n, host, path) => {
    expect(ret(host, path)).toBe('');
  });

  it.each([
    ['//evil.com', 'https://app.example.com/evil.com'],
    ['///evil.com', 'https://app.example.com/evil.com'],
    ['/\\evil.com', ''],
    ['/%2F%2Fevil.com', ''],
    ['/%5Cevil.com', ''],
    ['/\t/evil.com', ''],
    ['/%0d%0aLocation:%20https://evil.com', ''],
    ['/../evil.com', ''],
    ['/a?next=https://evil.com', 'https://app.example.com/a?next=https://evil.com'],
    ['/a?x=<script>', 'https://app.example.com/a'],
    ['/a?x=%0d%0a', 'https://app.example.com/a?x=%0d%0a'],
    ['/a?x="y"', 'https://app.example.com/a'],
  ])('keeps the path %s on the allowed host', (path, expected) => {
    const url = ret('app.example.com', path);
    expect(url).toBe(expected);
    if (url) expect(new URL(url).host).toBe('app.example.com');
  });
});

describe('loginLocation', () => {
  it('puts the encoded return URL into the placeholder', () => {
    const login = { url: 'https://login.example.com/auth?rd={return_url}', returnHosts: HOSTS };
    const r = request({ host: 'app.example.com', path: '/orders?x=1' });
    expect(loginLocation(login, r, '/orders')).toBe('https://login.example.com/auth?rd=https%3A%2F%2Fapp.example.com%2Forders%3Fx%3D1');
  });

  it('sends the browser to the login page without a return URL when the host is not allowed', () => {
    const login = { url: 'https://login.example.com/auth?rd={return_url}', returnHosts: HOSTS };
    expect(loginLocation(login, request({ host: 'evil.com', path: '/' }), '/')).toBe('https://login.example.com/auth?rd=');
  });
});

describe('checkedReturnUrl (rd of sign-in and sign-out)', () => {
  const origin = { host: 'app.example.com', scheme: 'https' };
  it.each([
    ['/orders?x=1', 'https://app.example.com/orders?x=1'],
    ['https://shop.example.com/a', 'https://shop.example.com/a'],
    ['HTTPS://APP.EXAMPLE.COM/a', 'https://app.example.com/a'],
  ])('keeps %j', (rd, expected) => {
    expect(checkedReturnUrl(rd, origin, HOSTS)).toBe(expected);
  });

  it.each([
    'https://evil.com/', '//evil.com', '///evil.com', '/\\evil.com', '\\evil.com', 'https://app.example.com@evil.com/',
    'https://evil.com\\@app.example.com/', 'https:evil.com', 'https:/evil.com', 'javascript:alert(1)', 'data:text/html,x',
    '/%2F%2Fevil.com', '/%5Cevil.com', ' https://app.example.com/', '/\t/evil.com', 'https://app.example.com.evil.com/',
    'https://example.com/', '/../evil.com', 'https://app.example.com:99999/', 'https://app.example.com/#frag', '',
    'http://app.example.com/ (a downgrade from https)',
  ])('refuses %j', (rd) => {
    expect(checkedReturnUrl(rd.replace(' (a downgrade from https)', ''), origin, HOSTS)).toBe('');
  });

  it('keeps http only when the browser is on http', () => {
    expect(checkedReturnUrl('http://app.example.com/', { host: 'app.example.com', scheme: 'http' }, HOSTS)).toBe('http://app.example.com/');
  });
});
