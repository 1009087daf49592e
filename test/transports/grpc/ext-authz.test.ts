/** The pure translation functions on inputs no well-behaved Envoy sends. */
import { describe, expect, it } from 'vitest';
import { toAuthRequest, toCheckResponse } from '../../../src/transports/grpc/ext-authz.ts';
import { framedCheckResponse } from '../../../src/transports/grpc/check-service.ts';
import { allow } from './fixtures.ts';
import { toStruct } from '../../../src/transports/grpc/struct.ts';

const EMPTY = { transport: 'grpc', method: '', host: '', scheme: '', path: '', headers: new Map(), contextExtensions: new Map() };

describe('toAuthRequest', () => {
  it.each([
    ['null', null],
    ['a string', 'CheckRequest'],
    ['attributes of the wrong type', { attributes: 5 }],
    ['http fields of the wrong types', { attributes: { request: { http: { method: 7, host: {}, path: [], headers: 'x', header_map: { headers: 'y' } } } } }],
    ['header_map entries that are not entries', { attributes: { request: { http: { header_map: { headers: [null, 5, { key: 5, value: 'v' }, {}] } } } } }],
    ['context_extensions and source of the wrong types', { attributes: { context_extensions: ['a'], source: { address: { socket_address: { address: 9 } } } } }],
  ])('turns %s into an empty AuthRequest instead of throwing', (_what, message) => {
    expect(toAuthRequest(message)).toEqual(EMPTY);
  });

  it('skips header and context_extensions values that are not strings', () => {
    const request = toAuthRequest({
      attributes: {
        request: { http: { headers: { good: 'yes', bad: 5 } } },
        context_extensions: { good: 'yes', bad: null },
      },
    });
    expect(Object.fromEntries(request.headers)).toEqual({ good: ['yes'] });
    expect(Object.fromEntries(request.contextExtensions)).toEqual({ good: 'yes' });
  });
});

describe('toStruct', () => {
  it('follows JSON.stringify: drops undefined and functions, nulls them in arrays and nulls non-finite numbers', () => {
    const struct = toStruct({ gone: undefined, fn: () => 1, list: [undefined, NaN, Infinity, 1], when: new Date(0), big: 12345678901234567890n });
    expect(struct).toEqual({
      fields: {
        list: { listValue: { values: [{ nullValue: 'NULL_VALUE' }, { nullValue: 'NULL_VALUE' }, { nullValue: 'NULL_VALUE' }, { numberValue: 1 }] } },
        when: { stringValue: '1970-01-01T00:00:00.000Z' },
        big: { stringValue: '12345678901234567890' },
      },
    });
  });

  it('ends a cycle in a string instead of recursing forever', () => {
    const loop: Record<string, unknown> = { name: 'loop' };
    loop['self'] = loop;
    expect(JSON.stringify(toStruct(loop))).toContain('"stringValue":"[unserializable]"');
  });
});

describe('toCheckResponse for a cached token', () => {
  const identity = Object.freeze([Object.freeze({ name: 'x-user-id', value: 'alice' })]);
  const claims = { sub: 'alice' };

  it('gives one frozen response, encoded and framed once, while the identity array and claims object stay the same', () => {
    const first = toCheckResponse(allow({ identity, claims, issuer: 'https://issuer.example', shared: true }));
    const again = toCheckResponse(allow({ identity, claims, issuer: 'https://issuer.example', shared: true }));
    expect(again).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    const fail = (error: unknown) => { throw error; };
    expect(framedCheckResponse(again, fail)).toBe(framedCheckResponse(first, fail));
  });

  it('keeps nothing for an answer that is not shared (a token seen once): a fresh, unfrozen response each time', () => {
    const once = () => toCheckResponse(allow({ identity, claims }));
    const first = once();
    expect(once()).not.toBe(first);
    expect(Object.isFrozen(first)).toBe(false);
  });

  it.each([
    ['other claims', () => allow({ identity, claims: { sub: 'bob' }, shared: true })],
    ['another identity', () => allow({ identity: Object.freeze([{ name: 'x-user-id', value: 'bob' }]), claims, shared: true })],
    ['headers to set besides identity', () => allow({ identity, claims, setHeaders: [['cookie', 'a=b']], shared: true })],
  ])('gives another response for %s', (_what, next) => {
    const first = toCheckResponse(allow({ identity, claims, shared: true }));
    const other = toCheckResponse(next());
    expect(other).not.toBe(first);
    expect(other).not.toEqual(first);
  });
});
