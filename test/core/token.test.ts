import { describe, expect, it } from 'vitest';
import { extractToken } from '../../src/core/token.ts';

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

describe('extractToken', () => {
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
  ])('finds the token in %s', (_name, headers) => {
    expect(extractToken(h(headers), sources)).toMatchObject({ kind: 'token', token: JWT });
  });

  it.each([
    ['no headers', {}],
    ['another authorization scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a scheme that only starts like Bearer', { authorization: `Bearerx ${JWT}` }],
    ['an unrelated cookie', { cookie: `session=${JWT}` }],
    ['a cookie whose name only ends like ours', { cookie: `xaccess_token=${JWT}` }],
  ])('finds no token with %s', (_name, headers) => {
    expect(extractToken(h(headers), sources)).toEqual({ kind: 'none' });
  });

  it.each([
    ['two Authorization headers', { authorization: [`Bearer ${JWT}`, `Bearer ${OTHER}`] }],
    ['a comma-merged Authorization header', { authorization: `Bearer ${JWT}, Bearer ${OTHER}` }],
    ['two access_token cookies', { cookie: `access_token=${JWT}; access_token=${OTHER}` }],
    ['two cookie headers', { cookie: [`access_token=${JWT}`, `access_token=${OTHER}`] }],
    ['header and cookie disagreeing', { authorization: `Bearer ${JWT}`, cookie: `access_token=${OTHER}` }],
    ['Authorization and extra header disagreeing', { authorization: `Bearer ${JWT}`, 'x-token': OTHER }],
  ])('denies %s as ambiguous', (_name, headers) => {
    expect(extractToken(h(headers), sources)).toMatchObject({ kind: 'error', reason: 'token_ambiguous' });
  });

  it('denies a token over the size bound before anything else', () => {
    expect(extractToken(h({ authorization: `Bearer ${'a'.repeat(65)}` }), sources)).toMatchObject({ kind: 'error', reason: 'token_too_large' });
  });

  it('never reads a token from the URL (there is no URL source at all)', () => {
    expect(extractToken(h({ ':path': `/x?access_token=${JWT}` }), sources)).toEqual({ kind: 'none' });
  });

  it('hands an empty Bearer value on as a token, so it is denied as malformed rather than missing', () => {
    expect(extractToken(h({ authorization: 'Bearer ' }), sources)).toMatchObject({ kind: 'token', token: '' });
  });
});
