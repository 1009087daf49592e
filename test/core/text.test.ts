import { describe, expect, it } from 'vitest';
import { clip, decodeUtf8, fromWire, isSafeHeaderValue, isSafePathText, isSafeText, parseJsonObject, toWire } from '../../src/core/text.ts';

/** What node's HTTP parser hands over for these raw bytes: one char per byte. */
const wire = (bytes: number[]) => Buffer.from(bytes).toString('latin1');

describe('fromWire', () => {
  it.each([
    ['ASCII stays as it is', wire([0x2f, 0x61]), '/a'],
    ['UTF-8 bytes become their text', wire([0x2f, 0xc3, 0xa9]), '/é'],
    ['a 4-byte sequence becomes an astral character', wire([0xf0, 0x9f, 0x98, 0x80]), '😀'],
    ['a stray 0xFF becomes U+FFFD', wire([0x2f, 0xff]), '\ufffd'],
    ['a lone continuation byte becomes U+FFFD', wire([0x80]), '\ufffd'],
    ['an overlong "." (C0 AE) becomes U+FFFD, never "."', wire([0xc0, 0xae, 0xc0, 0xae]), '\ufffd'],
    ['an encoded surrogate (ED A0 80) becomes U+FFFD', wire([0xed, 0xa0, 0x80]), '\ufffd'],
    ['C1 NEL as UTF-8 (C2 85) becomes U+0085', wire([0xc2, 0x85]), '\u0085'],
  ])('%s', (_name, input, expected) => {
    expect(fromWire(input)).toBe(expected);
  });
});

describe('toWire', () => {
  it.each([
    ['ASCII stays as it is', 'alice@example.com', wire([...Buffer.from('alice@example.com')])],
    ['a 2-byte character becomes its UTF-8 bytes', 'José', wire([0x4a, 0x6f, 0x73, 0xc3, 0xa9])],
    ['an astral character becomes its 4 bytes', '😀', wire([0xf0, 0x9f, 0x98, 0x80])],
  ])('%s', (_name, input, expected) => {
    expect(toWire(input)).toBe(expected);
    expect(fromWire(toWire(input))).toBe(input);
  });
});

describe('decodeUtf8', () => {
  it('decodes strict UTF-8 and refuses anything else', () => {
    expect(decodeUtf8(Buffer.from('José'))).toBe('José');
    expect(decodeUtf8(Uint8Array.from([0xc0, 0xae]))).toBeNull();
    expect(decodeUtf8(Uint8Array.from([0xed, 0xa0, 0x80]))).toBeNull();
  });
  it('keeps a leading byte-order mark as a character rather than dropping it silently', () => {
    expect(decodeUtf8(Uint8Array.from([0xef, 0xbb, 0xbf, 0x61]))).toBe('\ufeffa');
  });
});

describe('safe text', () => {
  it.each([
    ['plain text', 'alice', true, true],
    ['Latin-1 letters', 'José', true, true],
    ['U+00A0 (just past C1)', 'a\u00a0b', true, true],
    ['an astral character', 'a😀', true, true],
    ['NUL', 'a\u0000', false, false],
    ['CR LF', 'a\r\nb', false, false],
    ['a tab', 'a\tb', false, false],
    ['DEL', 'a\u007f', false, false],
    ['C1 U+0080', 'a\u0080', false, false],
    ['C1 NEL', 'a\u0085', false, false],
    ['C1 U+009F', 'a\u009f', false, false],
    ['an unpaired high surrogate', 'a\ud800', false, false],
    ['an unpaired low surrogate', '\udc00a', false, false],
    ['U+FFFD (fine in a value, refused in a path)', 'a\ufffd', true, false],
  ])('%s: header value %s, path %s', (_name, text, header, path) => {
    expect(isSafeText(text)).toBe(header);
    expect(isSafeHeaderValue(text)).toBe(header);
    expect(isSafePathText(text)).toBe(path);
  });
});

describe('parseJsonObject: JSON that becomes claims is Unicode text', () => {
  /** JSON text exactly as written (escapes stay escapes), as the bytes a token or an HTTP answer carries. */
  const json = (text: string) => Buffer.from(text, 'utf8');

  it.each([
    ['a lone high surrogate escape', String.raw`{"jti":"N\ud800"}`],
    ['a lone low surrogate escape', String.raw`{"jti":"N\udfff"}`],
    ['an upper-case escape', String.raw`{"jti":"N\uDBFF"}`],
    ['two high surrogates in a row', String.raw`{"sub":"\ud800\ud800"}`],
    ['a low surrogate before a high one', String.raw`{"sub":"\udc00\ud800"}`],
    ['a lone surrogate in a nested object', String.raw`{"a":{"b":{"c":"\ud800"}}}`],
    ['a lone surrogate in an array', String.raw`{"groups":["admins","\udc00"]}`],
    ['a lone surrogate in a member name', String.raw`{"\ud800":"x"}`],
    ['a lone surrogate after an escaped backslash', String.raw`{"sub":"a\\\ud800"}`],
  ])('refuses %s as not_unicode', (_name, text) => {
    expect(parseJsonObject(json(text))).toBe('not_unicode');
  });

  it.each([
    ['U+FFFD itself', String.raw`{"jti":"N\ufffd"}`, { jti: 'N\ufffd' }],
    ['a surrogate pair written as escapes (an ASCII-only encoder)', String.raw`{"sub":"\ud83d\ude00"}`, { sub: '😀' }],
    ['an escaped backslash followed by the letters ud800', String.raw`{"sub":"\\ud800"}`, { sub: String.raw`\ud800` }],
    ['raw UTF-8 text', '{"sub":"José 😀"}', { sub: 'José 😀' }],
  ])('keeps %s', (_name, text, expected) => {
    expect(parseJsonObject(json(text))).toEqual(expected);
  });

  it.each([
    ['bytes that are not strict UTF-8', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), 'not_utf8'],
    ['an encoded surrogate (ED A0 80)', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), 'not_utf8'],
    ['text that is not JSON', json('{"a":'), 'not_object'],
    ['a JSON array', json('["\\ud800"]'), 'not_object'],
    ['a JSON string', json('"x"'), 'not_object'],
    ['null', json('null'), 'not_object'],
  ])('answers %s as %s', (_name, bytes, expected) => {
    expect(parseJsonObject(bytes)).toBe(expected);
  });

  it('walks deep nesting without recursion (the depth is the sender\'s choice)', () => {
    const depth = 100_000;
    expect(parseJsonObject(json(`{"a":${'['.repeat(depth)}"\\ud800"${']'.repeat(depth)}}`))).toBe('not_unicode');
  });
});

describe('clip', () => {
  it('bounds text with an ellipsis', () => {
    expect(clip('abcdef', 3)).toBe('abc…');
    expect(clip('abc', 3)).toBe('abc');
  });
});
