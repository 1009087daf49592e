import { describe, expect, it } from 'vitest';
import { isCanonicalBase64url, parseCompactJws } from '../../src/core/jws.ts';

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const token = (header: unknown, payload: unknown = { iss: 'x' }, sig = 'c2ln') => `${b64(header)}.${b64(payload)}.${sig}`;

/** A JSON object around invalid UTF-8 bytes (latin1 string = one char per byte). */
const raw = (latin1: string) => Buffer.from(latin1, 'latin1').toString('base64url');
const badUtf8: [string, string][] = [
  ['a stray 0xFF byte', '{"sub":"admin\xff"}'],
  ['a lone continuation byte', '{"sub":"admin\x80"}'],
  ['an overlong "." (C0 AE)', '{"sub":"\xc0\xae"}'],
  ['an encoded surrogate (ED A0 80)', '{"sub":"a\xed\xa0\x80"}'],
  ['a truncated sequence', '{"sub":"\xe2\x82"}'],
];

describe('isCanonicalBase64url', () => {
  it.each([
    ['QQ', true], // "A"
    ['QR', false], // same byte, non-zero trailing bits
    ['QUI', true], // "AB"
    ['QUJ', false],
    ['QUJD', true],
    ['Q', false], // impossible length
    ['QQ==', false], // padding
    ['QQ+/', false], // base64, not base64url
    ['', false],
  ])('%j is canonical: %s', (s, expected) => {
    expect(isCanonicalBase64url(s)).toBe(expected);
  });
});

describe('parseCompactJws', () => {
  it('parses a well-formed token', () => {
    const r = parseCompactJws(token({ alg: 'ES256', kid: 'k1' }));
    expect(r).toMatchObject({ ok: true, jws: { alg: 'ES256', kid: 'k1', payload: { iss: 'x' } } });
  });

  it.each([
    ['JWE (five segments)', 'a.b.c.d.e'],
    ['two segments', 'a.b'],
    ['four segments', 'a.b.c.d'],
    ['an empty signature', `${b64({ alg: 'none' })}.${b64({})}.`],
    ['padding', `${token({ alg: 'ES256' })}==`],
    ['whitespace', ` ${token({ alg: 'ES256' })}`],
    ['a header that is not JSON', `bm90IGpzb24.${b64({})}.c2ln`],
    ['a header that is a JSON array', token([1])],
    ['a payload that is a JSON string', token({ alg: 'ES256' }, 'hello')],
    ['no alg', token({ kid: 'k' })],
    ['a numeric kid', token({ alg: 'ES256', kid: 7 })],
    ['b64: false (RFC 7797)', token({ alg: 'ES256', b64: false, crit: ['b64'] })],
    ['an unknown crit extension', token({ alg: 'ES256', crit: ['exp'] })],
    ['a non-canonical signature', token({ alg: 'ES256' }, { iss: 'x' }, 'QR')],
    ...badUtf8.map(([name, bytes]) => [`a payload with ${name}`, `${b64({ alg: 'ES256' })}.${raw(bytes)}.c2ln`] as [string, string]),
    ...badUtf8.map(([name, bytes]) => [`a header with ${name}`, `${raw(bytes.replace('sub', 'alg'))}.${b64({ iss: 'x' })}.c2ln`] as [string, string]),
  ])('refuses %s as malformed', (_name, t) => {
    expect(parseCompactJws(t)).toMatchObject({ ok: false, reason: 'token_malformed' });
  });

  it.each(badUtf8)('says which segment is not UTF-8 (%s)', (_name, bytes) => {
    expect(parseCompactJws(`${b64({ alg: 'ES256' })}.${raw(bytes)}.c2ln`)).toMatchObject({ message: 'payload is not valid UTF-8' });
    expect(parseCompactJws(`${raw(bytes.replace('sub', 'alg'))}.${b64({ iss: 'x' })}.c2ln`)).toMatchObject({ message: 'header is not valid UTF-8' });
  });

  /** A segment holding JSON exactly as written: escapes stay escapes, as jose writes a lone surrogate. */
  const rawJson = (text: string) => Buffer.from(text).toString('base64url');

  it('refuses a payload whose strings are not Unicode text as claim_invalid: claims are text (core/text.ts)', () => {
    const r = parseCompactJws(`${b64({ alg: 'ES256' })}.${rawJson(String.raw`{"iss":"x","jti":"N\ud800"}`)}.c2ln`);
    expect(r).toEqual({ ok: false, reason: 'claim_invalid', message: 'payload holds a string that is not Unicode text (an unpaired surrogate such as U+D800)' });
  });

  it('refuses a header whose strings are not Unicode text as malformed', () => {
    const r = parseCompactJws(`${rawJson(String.raw`{"alg":"ES256","kid":"k\udc00"}`)}.${b64({ iss: 'x' })}.c2ln`);
    expect(r).toMatchObject({ ok: false, reason: 'token_malformed', message: expect.stringMatching(/^header holds a string that is not Unicode text/) });
  });

  it('keeps a surrogate pair written as JSON escapes', () => {
    const r = parseCompactJws(`${b64({ alg: 'ES256' })}.${rawJson(String.raw`{"iss":"x","sub":"\ud83d\ude00"}`)}.c2ln`);
    expect(r).toMatchObject({ ok: true, jws: { payload: { sub: '😀' } } });
  });

  it('keeps multi-byte UTF-8 text', () => {
    expect(parseCompactJws(token({ alg: 'ES256' }, { iss: 'x', sub: 'José 😀' }))).toMatchObject({ ok: true, jws: { payload: { sub: 'José 😀' } } });
  });
});

describe('parseCompactJws with a header memo', () => {
  const memo = () => new Map<string, Readonly<Record<string, unknown>>>();
  const header = { alg: 'ES256', typ: 'dpop+jwt', jwk: { kty: 'EC', crv: 'P-256', x: 'eA', y: 'eQ' } };

  it('gives the same verdict as without it, and remembers the header deep frozen once the JWS parsed', () => {
    const m = memo();
    const t = token(header);
    const first = parseCompactJws(t, m);
    expect(first).toEqual(parseCompactJws(t));
    expect(m.size).toBe(1);
    const remembered = m.get(t.split('.')[0]!)!;
    expect(Object.isFrozen(remembered) && Object.isFrozen(remembered.jwk)).toBe(true);
    const again = parseCompactJws(token(header, { iss: 'y' }), m);
    expect(again).toMatchObject({ ok: true, jws: { payload: { iss: 'y' } } });
    expect(again.ok && again.jws.header).toBe(remembered);
  });

  it.each([
    ['a payload that is not JSON', `${b64(header)}.${Buffer.from('nope').toString('base64url')}.c2ln`],
    ['a non-canonical signature', `${b64(header)}.${b64({ iss: 'x' })}.QR`],
    ['a header with crit', token({ ...header, crit: ['x'] })],
    ['a header without alg', token({ typ: 'dpop+jwt' })],
  ])('remembers nothing from a JWS it refuses (%s)', (_name, t) => {
    const m = memo();
    expect(parseCompactJws(t, m)).toEqual(parseCompactJws(t));
    expect(parseCompactJws(t, m).ok).toBe(false);
    expect(m.size).toBe(0);
  });

  it('still refuses a remembered header beside a bad payload or signature', () => {
    const m = memo();
    parseCompactJws(token(header), m);
    expect(parseCompactJws(`${b64(header)}.${b64({ iss: 'x' })}.QR`, m)).toMatchObject({ ok: false, reason: 'token_malformed' });
    expect(parseCompactJws(`${b64(header)}.${Buffer.from('[1]').toString('base64url')}.c2ln`, m)).toMatchObject({ ok: false, message: 'payload is not a JSON object' });
  });
});

describe('parseCompactJws segment count', () => {
  it.each([
    ['no dot', 'abc', 'not a compact JWS (three base64url segments separated by dots)'],
    ['two segments', 'a.b', 'not a compact JWS (three base64url segments separated by dots)'],
    ['four segments', 'a.b.c.d', 'not a compact JWS (three base64url segments separated by dots)'],
    ['five segments (JWE)', 'a.b.c.d.e', 'encrypted tokens (JWE) are not accepted'],
    ['six segments', 'a.b.c.d.e.f', 'not a compact JWS (three base64url segments separated by dots)'],
    ['three empty segments', '..', 'segments must be unpadded canonical base64url'],
  ])('refuses %s with its own message', (_name, t, message) => {
    expect(parseCompactJws(t)).toEqual({ ok: false, reason: 'token_malformed', message });
  });
});
