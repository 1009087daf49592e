import { describe, expect, it } from 'vitest';
import { findToken, headersWithoutTokens, maskHeader, removeTokens } from '../../src/core/sources.ts';
import { cookieShapes } from '../support/token-shapes.ts';

const JWT = 'aaa.bbb.ccc';
const OTHER = 'ddd.eee.fff';
const sources = {
  headers: [
    { name: 'authorization', prefix: 'Bearer ' },
    { name: 'x-token', prefix: '' },
  ],
  cookies: ['access_token'],
  maxBytes: 64,
};
const h = (entries: Record<string, string | string[]>) =>
  new Map(Object.entries(entries).map(([k, v]) => [k, Array.isArray(v) ? v : [v]]));

const COOKIE_SHAPES = cookieShapes(JWT);

describe('findToken', () => {
  it.each([
    ['a Bearer authorization header', { authorization: `Bearer ${JWT}` }],
    ['a lower-case scheme', { authorization: `bearer ${JWT}` }],
    ['an upper-case scheme', { authorization: `BEARER ${JWT}` }],
    ['several spaces after the scheme', { authorization: `Bearer   ${JWT}` }],
    ['a configured extra header without prefix', { 'x-token': JWT }],
    ['the access_token cookie', { cookie: `a=1; access_token=${JWT}; b=2` }],
    ['a quoted cookie value', { cookie: `access_token="${JWT}"` }],
    ['the same token in header and cookie', { authorization: `Bearer ${JWT}`, cookie: `access_token=${JWT}` }],
    ['the same token twice in the header', { authorization: [`Bearer ${JWT}`, `Bearer ${JWT}`] }],
    ...COOKIE_SHAPES,
  ])('finds the token in %s', (_name, headers) => {
    expect(findToken(h(headers), sources)).toMatchObject({ kind: 'token', token: JWT });
  });

  it.each([
    ['no headers', {}],
    ['another authorization scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a scheme that only starts like Bearer', { authorization: `Bearerx ${JWT}` }],
    ['an unrelated cookie', { cookie: `session=${JWT}` }],
    ['a cookie whose name only ends like ours', { cookie: `xaccess_token=${JWT}` }],
  ])('finds no token with %s', (_name, headers) => {
    expect(findToken(h(headers), sources)).toEqual({ kind: 'none' });
  });

  it.each([
    ['two Authorization headers', { authorization: [`Bearer ${JWT}`, `Bearer ${OTHER}`] }],
    ['a comma-merged Authorization header', { authorization: `Bearer ${JWT}, Bearer ${OTHER}` }],
    ['two access_token cookies', { cookie: `access_token=${JWT}; access_token=${OTHER}` }],
    ['two cookie headers', { cookie: [`access_token=${JWT}`, `access_token=${OTHER}`] }],
    ['header and cookie disagreeing', { authorization: `Bearer ${JWT}`, cookie: `access_token=${OTHER}` }],
    ['Authorization and extra header disagreeing', { authorization: `Bearer ${JWT}`, 'x-token': OTHER }],
  ])('denies %s as ambiguous', (_name, headers) => {
    expect(findToken(h(headers), sources)).toMatchObject({ kind: 'error', reason: 'token_ambiguous' });
  });

  it('denies a token over the size bound before anything else', () => {
    expect(findToken(h({ authorization: `Bearer ${'a'.repeat(65)}` }), sources)).toMatchObject({ kind: 'error', reason: 'token_too_large' });
  });

  it('never reads a token from the URL (there is no URL source at all)', () => {
    expect(findToken(h({ ':path': `/x?access_token=${JWT}` }), sources)).toEqual({ kind: 'none' });
  });

  it('hands an empty Bearer value on as a token, so it is denied as malformed rather than missing', () => {
    expect(findToken(h({ authorization: 'Bearer ' }), sources)).toMatchObject({ kind: 'token', token: '' });
  });
});

describe('findToken with chunked cookies', () => {
  it.each([
    ['a gap in the numbering', `access_token_0=aaa; access_token_2=ccc`],
    ['a missing first chunk', `access_token_1=bbb`],
    ['a repeated chunk', `access_token_0=aaa.b; access_token_0=xxx; access_token_1=bb.ccc`],
    ['chunks disagreeing with the whole cookie', `access_token=${OTHER}; access_token_0=aaa.b; access_token_1=bb.ccc`],
  ])('denies %s as ambiguous', (_name, cookie) => {
    expect(findToken(h({ cookie }), sources)).toMatchObject({ kind: 'error', reason: 'token_ambiguous' });
  });

  it('denies joined chunks over the size bound', () => {
    const cookie = Array.from({ length: 4 }, (_, i) => `access_token_${i}=${'a'.repeat(20)}`).join('; ');
    expect(findToken(h({ cookie }), sources)).toMatchObject({ kind: 'error', reason: 'token_too_large' });
  });

  it('does not read a chunk with a leading zero or of an unconfigured cookie', () => {
    expect(findToken(h({ cookie: `access_token_01=${JWT}; session_0=${JWT}` }), sources)).toEqual({ kind: 'none' });
  });
});

describe('removeTokens (upstream.forward_token: false)', () => {
  it.each([...COOKIE_SHAPES, ['a Bearer header', { authorization: `Bearer ${JWT}` }], ['an extra header', { 'x-token': JWT }]] as const)(
    'leaves no token for the upstream with %s',
    (_name, headers) => {
      const request = h(headers);
      const { strip, set } = removeTokens(request, sources);
      const upstream = new Map(request);
      for (const name of strip) upstream.delete(name);
      for (const [name, value] of set) upstream.set(name, [value]);
      expect(findToken(upstream, sources)).toEqual({ kind: 'none' });
      expect(JSON.stringify([...upstream])).not.toContain('aaa');
    },
  );

  it.each([
    ['other cookies keep their bytes and separators', `a=1; access_token=${JWT}; b="x y"`, 'a=1; b="x y"'],
    ['a comma-merged header keeps its commas', `theme=dark, access_token=${JWT}, lang=en`, 'theme=dark, lang=en'],
    ['chunks are removed with the cookie', `access_token_0=aaa; a=1; access_token_1=bbb`, 'a=1'],
    ['a cookie that only looks like ours stays', `xaccess_token=1; access_token=${JWT}`, 'xaccess_token=1'],
  ])('rewrites the Cookie header: %s', (_name, cookie, expected) => {
    expect(removeTokens(h({ cookie }), sources)).toEqual({ strip: [], set: [['cookie', expected]] });
  });

  it('removes the Cookie header when only token cookies were in it', () => {
    expect(removeTokens(h({ cookie: `access_token=${JWT}` }), sources)).toEqual({ strip: ['cookie'], set: [] });
  });

  it('leaves a Cookie header without token cookies alone', () => {
    expect(removeTokens(h({ cookie: 'a=1; b=2' }), sources)).toEqual({ strip: [], set: [] });
  });
});

describe('maskHeader', () => {
  it.each([
    ['a token header by its size', 'authorization', `Bearer ${JWT}`, '(18 bytes, not shown)'],
    ['an extra token header', 'x-token', JWT, '(11 bytes, not shown)'],
    ['token cookies and chunks, keeping the others', 'cookie', `a=1; access_token=${JWT}, access_token_0=xy`, 'a=1; access_token=(11 bytes, not shown), access_token_0=(2 bytes, not shown)'],
    ['any other header as it is', 'accept', 'text/html', 'text/html'],
  ])('shows %s', (_name, name, value, expected) => {
    expect(maskHeader(name, value, sources)).toBe(expected);
  });
});

describe('headersWithoutTokens (what a CEL condition reads)', () => {
  it.each<[string, Record<string, string | string[]>, Record<string, string>]>([
    ['drops every token header', { authorization: `Bearer ${JWT}`, 'x-token': JWT, 'x-tenant': 'acme' }, { 'x-tenant': 'acme' }],
    ['joins repeated headers with ", "', { 'x-multi': ['a', 'b'], accept: '*/*' }, { 'x-multi': 'a, b', accept: '*/*' }],
    ['keeps the other cookies and drops the token cookie and its chunks', { cookie: `theme=dark; access_token=${JWT}; access_token_0=x; lang=en` }, { cookie: 'theme=dark; lang=en' }],
    ['drops a Cookie header that held only the token', { cookie: `access_token=${JWT}` }, {}],
    ['keeps a header that merely looks like a token', { 'x-forwarded-for': '10.0.0.1' }, { 'x-forwarded-for': '10.0.0.1' }],
  ])('%s', (_n, headers, expected) => {
    expect(Object.fromEntries(headersWithoutTokens(h(headers), sources))).toEqual(expected);
  });
});
