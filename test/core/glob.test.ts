import { describe, expect, it } from 'vitest';
import { compileExcludes, compilePattern, compileTemplate, patternProblem } from '../../src/core/glob.ts';

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

describe('path templates (Envoy uri_template syntax)', () => {
  it.each<[string, string, Record<string, string> | null]>([
    ['/tenants/{tenant}/**', '/tenants/acme/orders/7', { tenant: 'acme' }],
    ['/tenants/{tenant}/**', '/tenants/acme', { tenant: 'acme' }],
    ['/tenants/{tenant}/**', '/tenants/', null],
    ['/tenants/{tenant}/**', '/tenants', null],
    ['/tenants/{tenant}', '/tenants/acme/x', null],
    ['/tenants/{tenant=*}/users/{user}', '/tenants/acme/users/bob', { tenant: 'acme', user: 'bob' }],
    ['/tenants/{tenant=*}/users/{user}', '/tenants/acme/users/', null],
    ['/files/{path=**}', '/files/a/b/c.txt', { path: 'a/b/c.txt' }],
    ['/files/{path=**}', '/files', { path: '' }],
    ['/files/{path=**}', '/filesystem', null],
    ['/api/*/{id}', '/api/v1/42', { id: '42' }],
    ['/u/{name}', '/u/José 😀', { name: 'José 😀' }],
    ['/u/{name}', '/u/a.b', { name: 'a.b' }],
    ['/public/**', '/public/x', {}],
    ['/healthz', '/healthz', {}],
    ['/healthz', '/other', null],
  ])('%s on %s gives %j', (pattern, path, expected) => {
    const got = compileTemplate(pattern)(path);
    expect(got === null ? null : { ...got }).toEqual(expected);
    expect(compilePattern(pattern)(path)).toBe(expected !== null);
  });

  it('gives values that cannot reach the prototype', () => {
    const params = compileTemplate('/x/{constructor}')('/x/y')!;
    expect(params.constructor).toBe('y');
    expect(Object.getPrototypeOf(params)).toBeNull();
    expect(Object.isFrozen(params)).toBe(true);
  });

  it.each([
    ['/tenants/{tenant}/{tenant}', 'the variable "tenant" is named twice'],
    ['/t/{1tenant}', 'a variable name starts with a letter'],
    ['/t/{ten-ant}', 'a variable name starts with a letter'],
    ['/t/{}', 'a variable name starts with a letter'],
    ['/t/{abcdefghijklmnopq}', 'at most 16 characters'],
    ['/{a}/{b}/{c}/{d}/{e}/{f}', 'at most 5 variables'],
    ['/t/{tenant}.json', 'must be a whole segment'],
    ['/t/x{tenant}', 'must be a whole segment'],
    ['/t/{tenant', 'must be a whole segment'],
    ['/t/{name=videos/*}', 'must be a whole segment'],
    ['/t/{name=v*}', 'only {name}, {name=*} and {name=**} are supported'],
    ['/t/**/{id}', 'nothing with a wildcard or a variable may follow "**"'],
    ['/t/{rest=**}/*', 'nothing with a wildcard or a variable may follow "**"'],
  ])('refuses the template %s', (pattern, problem) => {
    expect(patternProblem(pattern)).toContain(problem);
  });

  it.each(['/t/{rest=**}/edit', '/t/{a}/{b=*}/{c=**}', '/a/**/z'])('accepts %s', (pattern) => {
    expect(patternProblem(pattern)).toBeNull();
  });
});
