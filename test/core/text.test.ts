import { describe, expect, it } from 'vitest';
import { clip, decodeUtf8, fromWire, isSafeHeaderValue, isSafePathText, isSafeText, toWire } from '../../src/core/text.ts';

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

describe('clip', () => {
  it('bounds text with an ellipsis', () => {
    expect(clip('abcdef', 3)).toBe('abc…');
    expect(clip('abc', 3)).toBe('abc');
  });
});
