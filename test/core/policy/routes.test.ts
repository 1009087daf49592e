import { describe, expect, it } from 'vitest';
import { bareHost, hostMatcher, RouteTable } from '../../../src/core/policy/routes.ts';
import type { PolicyConfig, Rule } from '../../../src/core/policy/types.ts';
import { request } from '../../support/core.ts';

const rule = (name: string): Rule => ({ name, anonymous: 'required', login: null, identityHeaders: [] });
const table = (routes: PolicyConfig['routes'], policies: [string, Rule][] = []) =>
  new RouteTable({ routes, policies: new Map(policies), defaultRule: rule('default'), payloadHeader: null, forwardToken: true });
const m = (hosts: string[] = [], paths: string[] = [], methods: string[] = []) => ({ hosts, paths, methods });

describe('hostMatcher', () => {
  it.each([
    [['api.example.com'], 'api.example.com', true],
    [['api.example.com'], 'www.example.com', false],
    [['*.example.com'], 'a.example.com', true],
    [['*.example.com'], 'a.b.example.com', true],
    [['*.example.com'], 'example.com', false],
    [['*.example.com'], 'evilexample.com', false],
    [['*.example.com'], 'example.com.evil.test', false],
  ])('%j matching %s is %s', (patterns, host, expected) => {
    expect(hostMatcher(patterns)(host)).toBe(expected);
  });

  it.each([
    ['API.Example.com:8443', 'api.example.com'],
    ['[::1]:8080', '[::1]'],
    ['example.com', 'example.com'],
  ])('compares %s as %s', (raw, bare) => {
    expect(bareHost(raw)).toBe(bare);
  });
});

describe('RouteTable.select', () => {
  const routes = [
    { match: m(['admin.example.com']), rule: rule('admin-host') },
    { match: m([], ['/admin/**'], ['POST', 'DELETE']), rule: rule('admin-writes') },
    { match: m([], ['/admin/**']), rule: rule('admin-reads') },
    { match: m(['*.partner.test'], ['/api/*']), rule: rule('partner') },
  ];
  const t = table(routes, [['admin', rule('policy admin')]]);
  it.each([
    ['a host route first', { host: 'admin.example.com', path: '/anything' }, '/anything', 'admin-host'],
    ['method-specific before general', { method: 'DELETE', path: '/admin/users' }, '/admin/users', 'admin-writes'],
    ['the general path rule', { method: 'GET', path: '/admin/users' }, '/admin/users', 'admin-reads'],
    ['host with port and path glob', { host: 'x.partner.test:443', path: '/api/v1' }, '/api/v1', 'partner'],
    ['no route → default', { path: '/orders' }, '/orders', 'default'],
    ['glob does not cross segments', { host: 'x.partner.test', path: '/api/v1/x' }, '/api/v1/x', 'default'],
  ] as const)('picks %s', (_n, req, path, name) => {
    const s = t.select(request(req), path);
    expect(s.kind === 'rule' && s.rule.name).toBe(name);
  });

  it('applies a GET rule to HEAD too (backends answer HEAD with their GET handler)', () => {
    const t2 = table([{ match: m([], ['/admin/**'], ['GET']), rule: rule('admin') }]);
    const s = t2.select(request({ method: 'HEAD', path: '/admin/x' }), '/admin/x');
    expect(s.kind === 'rule' && s.rule.name).toBe('admin');
    const post = t2.select(request({ method: 'POST', path: '/admin/x' }), '/admin/x');
    expect(post.kind === 'rule' && post.rule.name).toBe('default');
  });

  it('lets Envoy name a policy through context_extensions, whatever the path', () => {
    const s = t.select(request({ path: '/admin/x', contextExtensions: new Map([['policy', 'admin']]) }), '/admin/x');
    expect(s.kind === 'rule' && s.rule.name).toBe('policy admin');
  });

  it('refuses an unknown named policy rather than falling back', () => {
    expect(t.select(request({ contextExtensions: new Map([['policy', 'nope']]) }), '/x')).toEqual({ kind: 'unknown_policy', name: 'nope' });
  });

  it('refuses an ambiguous path when routes match on paths (no falling through to a laxer rule)', () => {
    expect(t.select(request({ path: '/admin%2Fusers' }), null)).toEqual({ kind: 'ambiguous_path' });
  });

  it('uses host-only routes and the default for an ambiguous path when no route matches on paths', () => {
    const hostsOnly = table([{ match: m(['admin.example.com']), rule: rule('admin-host') }]);
    const s = hostsOnly.select(request({ host: 'admin.example.com', path: '/a%2Fb' }), null);
    expect(s.kind === 'rule' && s.rule.name).toBe('admin-host');
  });
});

describe('RouteTable.select with path templates', () => {
  const t = table([
    { match: m([], ['/tenants/{tenant}/users/{user}', '/tenants/{tenant}/**']), rule: rule('tenant') },
    { match: m(['host.test']), rule: rule('host') },
  ], [['admin', rule('policy admin')]]);
  const params = (req: Parameters<typeof request>[0], path: string | null) => {
    const s = t.select(request(req), path);
    return s.kind === 'rule' ? [s.rule.name, { ...s.params }] : s.kind;
  };

  it.each<[string, Parameters<typeof request>[0], string | null, unknown]>([
    ['the first template that matches', { path: '/tenants/acme/users/bob' }, '/tenants/acme/users/bob', ['tenant', { tenant: 'acme', user: 'bob' }]],
    ['a later template of the same route', { path: '/tenants/acme/orders' }, '/tenants/acme/orders', ['tenant', { tenant: 'acme' }]],
    ['no values for a route without paths', { host: 'host.test', path: '/x' }, '/x', ['host', {}]],
    ['no values for the default', { path: '/tenants' }, '/tenants', ['default', {}]],
    ['no values for a named policy', { path: '/tenants/acme/x', contextExtensions: new Map([['policy', 'admin']]) }, '/tenants/acme/x', ['policy admin', {}]],
    ['the decoded segment of the normalized path', { path: '/tenants/a%20b/x' }, '/tenants/a b/x', ['tenant', { tenant: 'a b' }]],
    ['an ambiguous path: refused, never a template match', { path: '/tenants/a%2Fb/x' }, null, 'ambiguous_path'],
  ])('gives %s', (_n, req, path, expected) => {
    expect(params(req, path)).toEqual(expected);
  });
});
