/**
 * htu normalization (RFC 9449 §4.3 step 9, RFC 3986 §6.2.2–6.2.3): a path already in normal form is returned as it
 * is without the character walk; every other path still goes through it. Both kinds are pinned here, side by side.
 */
import { describe, expect, it } from 'vitest';
import { normalizeHttpUri, requestUri } from '../../../src/core/bind/htu.ts';

describe('normalizeHttpUri', () => {
  it.each([
    // Already normal: unchanged.
    ['https://api.test/orders', 'https://api.test/orders'],
    ['https://api.test', 'https://api.test/'],
    ['https://api.test/', 'https://api.test/'],
    ['https://api.test//double//slash', 'https://api.test//double//slash'],
    ['https://api.test/a.b/...c/..d/e../.x', 'https://api.test/a.b/...c/..d/e../.x'],
    ["https://api.test/!$&'()*+,;=:@-_~", "https://api.test/!$&'()*+,;=:@-_~"],
    ['https://api.test/orders?q=1#f', 'https://api.test/orders'],
    // Dot segments: removed.
    ['https://api.test/a/./b', 'https://api.test/a/b'],
    ['https://api.test/a/../b', 'https://api.test/b'],
    ['https://api.test/a/..', 'https://api.test/'],
    ['https://api.test/.', 'https://api.test/'],
    ['https://api.test/../../x', 'https://api.test/x'],
    // Percent-encodings and characters to encode: through the walk.
    ['https://api.test/%6frders', 'https://api.test/orders'],
    ['https://api.test/%2e%2e/admin', 'https://api.test/admin'],
    ['https://api.test/a%2fb', 'https://api.test/a%2Fb'],
    ['https://api.test/caf\u00e9', 'https://api.test/caf%C3%A9'],
    ['https://api.test/a b', 'https://api.test/a%20b'],
    ['https://api.test/%zz', null],
    ['https://api.test/\ud800', null],
    // Scheme and authority.
    ['HTTPS://API.Test:443/x', 'https://api.test/x'],
    ['http://api.test:080/x', 'http://api.test/x'],
    ['https://user@api.test/x', null],
    ['ftp://api.test/x', null],
  ])('%j → %j, and that is its own normal form', (uri, expected) => {
    expect(normalizeHttpUri(uri)).toBe(expected);
    // Idempotent: dpop.ts takes an htu equal to the request's normalized URI without normalizing it again.
    if (expected !== null) expect(normalizeHttpUri(expected)).toBe(expected);
  });
});

describe('requestUri', () => {
  it.each([
    [['https', 'api.test', '/orders'], 'https://api.test/orders'],
    [['http', 'a-1.example.test', '/a.b/~x'], 'http://a-1.example.test/a.b/~x'],
    [['https', 'API.test', '/orders'], 'https://api.test/orders'],
    [['HTTPS', 'api.test', '/orders'], 'https://api.test/orders'],
    [['https', 'api.test:443', '/orders'], 'https://api.test/orders'],
    [['https', 'api.test:8443', '/orders'], 'https://api.test:8443/orders'],
    [['https', 'api.test', '/./orders'], 'https://api.test/orders'],
    [['https', 'api.test', '/caf%c3%a9'], 'https://api.test/caf%C3%A9'],
    [['https', 'u@api.test', '/orders'], null],
    [['ftp', 'api.test', '/orders'], null],
    [['https', 'api.test', '/orders?q=1'], 'https://api.test/orders'],
    [['https', 'api.test', '/a/../orders'], 'https://api.test/orders'],
    [['https', 'api.test', '//healthz/../admin'], null],
    [['https', '', '/x'], null],
    // A host that would move the path or the query: no URI a proof could name.
    [['https', 'api.test/evil', '/orders'], null],
    [['https', 'api.test?x=', '/orders'], null],
    [['https', 'api.test#', '/orders'], null],
    [['https', 'api.test\\evil', '/orders'], null],
  ] as const)('%j → %j', ([scheme, host, path], expected) => {
    expect(requestUri(scheme, host, path)).toBe(expected);
  });
});
