import { describe, expect, it } from 'vitest';
import { isPlainPath, normalizePath, normalizeTarget } from '../../src/core/path.ts';

describe('normalizePath', () => {
  it.each([
    ['/healthz', '/healthz'],
    ['/public/a.css?v=1', '/public/a.css'],
    ['/a?x#y', '/a'],
    ['//public//a///b', '/public/a/b'],
    ['/a/..b/c.', '/a/..b/c.'],
    ['/a/.well-known/x', '/a/.well-known/x'],
    ['/%70ublic/a', '/public/a'],
    ['/caf%C3%A9', '/café'],
    ['/café', '/café'],
    ['/a%C2%A0b', '/a\u00a0b'],
    ['/emoji/%F0%9F%98%80', '/emoji/😀'],
    ['/emoji/😀%20x', '/emoji/😀 x'],
    ['/', '/'],
    ['/a/', '/a/'],
  ])('normalizes %j to %j', (raw, expected) => {
    expect(normalizePath(raw)).toBe(expected);
  });

  it.each([
    ['encoded slash', '/public%2F..%2Fadmin'],
    ['encoded slash, lower-case', '/public%2f..%2fadmin'],
    ['encoded backslash', '/public%5C..%5Cadmin'],
    ['raw backslash', '/public\\..\\admin'],
    ['encoded NUL', '/public/a%00.css'],
    ['raw control character', '/public/\ta'],
    ['invalid escape', '/public/%zz'],
    ['truncated escape', '/public/%2'],
    ['invalid UTF-8', '/public/%C3%28'],
    ['overlong UTF-8 dot', '/public/%C0%AE%C0%AE/admin'],
    ['double encoding', '/public/%252e%252e/admin'],
    ['path parameter', '/public/..;/admin'],
    ['a dot-dot segment into a protected path', '/public/../admin'],
    ['a dot-dot segment into an excluded path', '/admin/../public/x'],
    ['a dot segment', '/public/./a'],
    ['a trailing dot-dot', '/a/b/..'],
    ['a trailing dot', '/a/b/.'],
    ['dot-dot above the root', '/../../etc'],
    ['encoded dot-dot', '/public/%2e%2e/admin'],
    ['encoded dot-dot, upper-case', '/public/%2E%2E/admin'],
    ['half-encoded dot-dot', '/public/.%2e/admin'],
    ['a raw fragment', '/public/a#frag'],
    ['a fragment hiding dot segments', '/public/x#/../../admin'],
    ['encoded semicolon', '/public/..%3B/admin'],
    ['asterisk-form', '*'],
    ['absolute-form', 'http://evil/public/a'],
    ['empty', ''],
    ['query only', '?/public/a'],
    ['raw DEL', '/public/a\u007f'],
    ['raw C1 NEL (U+0085)', '/public/a\u0085b'],
    ['raw C1 CSI (U+009B)', '/public/a\u009bb'],
    ['encoded C1 NEL', '/public/%C2%85'],
    ['encoded C1 CSI', '/public/%C2%9B'],
    ['encoded C1 U+0080', '/public/%C2%80'],
    ['encoded DEL', '/public/%7F'],
    ['a raw replacement character (what a transport puts for bad bytes)', '/public/\ufffd'],
    ['an encoded replacement character', '/public/%EF%BF%BD'],
    ['a raw lone surrogate', '/public/a\ud800b'],
    ['an encoded surrogate', '/public/%ED%A0%80'],
    ['an encoded 0xFF', '/public/%FF'],
    ['an encoded lone continuation byte', '/public/%80'],
    ['an overlong slash', '/public%C0%AFadmin'],
    ['raw text mixed with an invalid escape sequence', '/publié/%C3'],
  ])('refuses to normalize a path with %s', (_name, raw) => {
    expect(normalizePath(raw)).toBeNull();
  });
});

/** A small deterministic generator (mulberry32), so a failure names a reproducible case. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Characters that matter to some step of normalization, and plain ones. */
const PIECES = ['/', '/', '/', '.', '..', '%', '%2e', '%2F', '%5c', '%41', '%C3%A9', '%00', ';', '#', '?', '\\', ' ', '\t', '\u007f', '\u0085', 'é', '\ufffd', '\ud800', 'a', 'b', 'Z', '0', '-', '_', '~', '!', '$', '&', "'", '(', '*', '+', ',', '=', ':', '@', '[', ']', '{', '|', '`'];

describe('the plain-path shortcut', () => {
  it('answers exactly what the full steps answer, over 20,000 generated targets', () => {
    const next = random(23);
    let plain = 0;
    for (let n = 0; n < 20_000; n++) {
      let raw = next() < 0.9 ? '/' : '';
      const length = Math.floor(next() * 12);
      for (let i = 0; i < length; i++) raw += PIECES[Math.floor(next() * PIECES.length)];
      const q = raw.indexOf('?');
      const target = q === -1 ? raw : raw.slice(0, q);
      if (isPlainPath(target)) {
        plain++;
        expect(normalizeTarget(target), raw).toBe(target);
      }
      expect(normalizePath(raw), raw).toBe(normalizeTarget(target));
    }
    // Both sides of the shortcut are exercised.
    expect(plain).toBeGreaterThan(1_000);
    expect(plain).toBeLessThan(19_000);
  });

  it.each([
    ['/api/v1/users/42', true],
    ['/a-b_c~d!$&\'()*+,=:@[]{}|`', true],
    ['/', true],
    ['//a', false],
    ['/.well-known/x', false],
    ['/a%41', false],
    ['/a;b', false],
    ['/a b', false],
    ['/café', false],
    ['a/b', false],
    ['', false],
  ])('takes %j as plain: %s', (target, expected) => {
    expect(isPlainPath(target)).toBe(expected);
  });
});
