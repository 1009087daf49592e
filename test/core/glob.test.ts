import { describe, expect, it } from 'vitest';
import { compileExcludes, compilePattern, patternProblem } from '../../src/core/glob.ts';

describe('compilePattern', () => {
  it.each([
    ['/healthz', '/healthz', true],
    ['/healthz', '/healthz/', false],
    ['/healthz', '/healthzz', false],
    ['/public/**', '/public', true],
    ['/public/**', '/public/', true],
    ['/public/**', '/public/a/b/c', true],
    ['/public/**', '/publicity', false],
    ['/public/**', '/other/public/a', false],
    ['/api/*', '/api/x', true],
    ['/api/*', '/api/x/y', false],
    ['/api/*/items', '/api/7/items', true],
    ['/api/*/items', '/api/7/8/items', false],
    ['/assets/*.css', '/assets/site.css', true],
    ['/assets/*.css', '/assets/site.css.js', false],
    ['/a/**/z', '/a/z', true],
    ['/a/**/z', '/a/b/c/z', true],
    ['/a.b', '/aXb', false],
  ])('%s matching %s is %s', (pattern, path, expected) => {
    expect(compilePattern(pattern)(path)).toBe(expected);
  });

  it('matches any of several excludes', () => {
    const m = compileExcludes(['/healthz', '/public/**']);
    expect([m('/healthz'), m('/public/x'), m('/private')]).toEqual([true, true, false]);
  });

  it.each([
    ['public/**', 'must start with "/"'],
    ['/a?b', 'must be a decoded path'],
    ['/a%2e', 'must be a decoded path'],
    ['/a/**b', '"**" must be a whole segment'],
    ['/a/../b', 'must not contain dot segments'],
    ['/a//b', 'must not contain "//"'],
  ])('refuses the pattern %s', (pattern, problem) => {
    expect(patternProblem(pattern)).toContain(problem);
  });
});
