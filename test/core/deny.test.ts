import { describe, expect, it } from 'vitest';
import { buildDeny, quotable } from '../../src/core/deny.ts';

const ctx = { realm: 'portcullis', cleared: [{ name: 'x-auth-subject', value: undefined }] };
const header = (d: ReturnType<typeof buildDeny>, name: string) => d.headers.find(([k]) => k === name)?.[1];

describe('buildDeny', () => {
  it('challenges without an error attribute when no token was sent (RFC 6750 3.1)', () => {
    const d = buildDeny({ status: 401, reason: 'token_missing', message: 'no token in the request', tokenOffered: false }, ctx);
    expect(header(d, 'www-authenticate')).toBe('Bearer realm="portcullis"');
    expect(JSON.parse(d.body)).toEqual({ error: 'unauthorized', reason: 'token_missing', message: 'no token in the request' });
  });

  it('names invalid_token with a description when a bad token was sent', () => {
    const d = buildDeny({ status: 401, reason: 'token_expired', message: 'token expired at 2027-01-15T08:00:00.000Z', tokenOffered: true }, ctx);
    expect(header(d, 'www-authenticate')).toBe('Bearer realm="portcullis", error="invalid_token", error_description="token expired at 2027-01-15T08:00:00.000Z"');
    expect(JSON.parse(d.body)).toMatchObject({ error: 'invalid_token', reason: 'token_expired' });
  });

  it('answers 503 with Retry-After and no challenge when keys are unavailable', () => {
    const d = buildDeny({ status: 503, reason: 'keys_unavailable', message: 'keys unavailable', tokenOffered: true }, ctx);
    expect(header(d, 'www-authenticate')).toBeUndefined();
    expect(header(d, 'retry-after')).toBe('5');
  });

  it('clears every identity header', () => {
    const d = buildDeny({ status: 401, reason: 'token_missing', message: 'm', tokenOffered: false }, ctx);
    expect(d.identity).toEqual([{ name: 'x-auth-subject', value: undefined }]);
  });

  it.each([
    ['quotes and backslashes', 'aud "x" \\ y', "aud 'x' ' y"],
    ['CR LF', 'a\r\nb', 'a??b'],
    ['non-ASCII', 'café', 'caf?'],
  ])('keeps %s out of the quoted description', (_name, input, expected) => {
    expect(quotable(input)).toBe(expected);
  });

  it('bounds the description length', () => {
    expect(quotable('x'.repeat(1000))).toHaveLength(200);
  });
});
