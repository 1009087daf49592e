import { describe, expect, it } from 'vitest';
import { normalizePath } from '../../src/core/path.ts';

describe('normalizePath', () => {
  it.each([
    ['/healthz', '/healthz'],
    ['/public/a.css?v=1', '/public/a.css'],
    ['/public/a#frag', '/public/a'],
    ['/a?x#y', '/a'],
    ['//public//a///b', '/public/a/b'],
    ['/public/../admin', '/admin'],
    ['/public/./a', '/public/a'],
    ['/a/b/..', '/a/'],
    ['/a/b/.', '/a/b/'],
    ['/../../etc', '/etc'],
    ['/public/%2e%2e/admin', '/admin'],
    ['/public/%2E%2E/admin', '/admin'],
    ['/%70ublic/a', '/public/a'],
    ['/caf%C3%A9', '/café'],
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
    ['encoded semicolon', '/public/..%3B/admin'],
    ['asterisk-form', '*'],
    ['absolute-form', 'http://evil/public/a'],
    ['empty', ''],
    ['query only', '?/public/a'],
  ])('refuses to normalize a path with %s', (_name, raw) => {
    expect(normalizePath(raw)).toBeNull();
  });
});
