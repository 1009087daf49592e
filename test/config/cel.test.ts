import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { CelCondition } from '../../src/core/policy/cel.ts';
import { configProblems } from '../support/config.ts';

const issuers = [{ issuer: 'https://idp.example.com/', jwks_uri: 'https://idp.example.com/jwks.json', audiences: ['api'] }];
const open = { match: { paths: ['/public/**'] } };
const withRoutes = (...routes: unknown[]) => ({ issuers, routes });

describe('require.when in the config', () => {
  it('compiles the expression into the frozen config, wherever a requirement is', () => {
    const c = buildConfig(
      { ...withRoutes({ match: { paths: ['/t/**'] }, require: { when: 'claims.tenant == request.headers["x-tenant"]', any: [{ when: '"admin" in claims.roles' }], all: [{ when: 'request.method == "GET"' }] } }), policies: { p: { require: { when: 'issuer != ""' } } } },
      'test',
      process.cwd(),
    );
    const req = c.policy.routes[0]!.rule.require!;
    expect(req.when).toBeInstanceOf(CelCondition);
    expect(req.when!.source).toBe('claims.tenant == request.headers["x-tenant"]');
    expect(req.any![0]!.when).toBeInstanceOf(CelCondition);
    expect(req.all![0]!.when).toBeInstanceOf(CelCondition);
    expect(c.policy.policies.get('p')!.require!.when).toBeInstanceOf(CelCondition);
    expect(Object.isFrozen(req)).toBe(true);
  });

  it.each([
    ['a syntax error, at the route index and its position', withRoutes(open, open, { require: { when: 'claims.roles.exists(r, r == )' } }), ['routes[2].require.when: Unexpected token: RPAREN (line 1, column 29)']],
    ['a type error', withRoutes({ require: { when: 'request.method == 1 && true' } }), [expect.stringMatching(/^routes\[0\]\.require\.when: .*\(line 1, column 1\)$/)]],
    ['an unknown variable inside any', withRoutes({ require: { any: [{ scopes: ['a'] }, { when: 'tenant == "x"' }] } }), ['routes[0].require.any[1].when: Unknown variable: tenant (line 1, column 1)']],
    ['a non-boolean expression inside all of a named policy', { issuers, policies: { p: { require: { all: [{ when: 'request.host' }] } } } }, ['policies.p.require.all[0].when: must be a boolean expression, but its type is string (line 1, column 1)']],
    ['an invalid regular expression', withRoutes({ require: { when: 'request.path.matches("[")' } }), [expect.stringMatching(/^routes\[0\]\.require\.when: invalid regular expression \(RE2 syntax\): .*\(line 1, column 22\)$/)]],
    ['a non-string', withRoutes({ require: { when: true } }), ['routes[0].require.when: must be a string, got true']],
  ])('stops the start on %s', (_n, doc, expected) => {
    expect(configProblems(doc)).toEqual(expected);
  });

  it('reports every bad expression at once, each by its path', () => {
    expect(configProblems(withRoutes({ require: { when: 'nope' } }, { require: { any: [{ when: '1 +' }] } }))).toEqual([
      expect.stringMatching(/^routes\[0\]\.require\.when: Unknown variable: nope/),
      expect.stringMatching(/^routes\[1\]\.require\.any\[0\]\.when: .*\(line 1, column \d+\)$/),
    ]);
  });
});
