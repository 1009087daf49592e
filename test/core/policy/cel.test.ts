import { describe, expect, it } from 'vitest';
import { CEL_LIMITS, CelCondition, compileCel, type CelInput } from '../../../src/core/policy/cel.ts';
import { evaluate, type RuleContext } from '../../../src/core/policy/requirements.ts';
import type { Requirement } from '../../../src/core/policy/types.ts';
import { request } from '../../support/core.ts';
import { clientPki, rfc9440, x5tS256 } from '../../support/client-certs.ts';

const tokens = { headers: [{ name: 'authorization', prefix: 'Bearer ' }], cookies: ['access_token'], maxBytes: 16384 };
const claims = { sub: 'alice', tenant: 'acme', roles: ['dev', 'admin'], level: 3, realm_access: { roles: ['reader'] }, 'kubernetes.io': { namespace: 'payments' } };
const req = request({
  method: 'POST',
  host: 'API.Example.test:8443',
  path: '/tenants/acme/orders?x=1',
  headers: { 'x-tenant': 'acme', authorization: 'Bearer secret-token', cookie: 'theme=dark; access_token=secret-cookie', 'x-multi': ['a', 'b'] },
});
const input = (over: Partial<CelInput> = {}): CelInput => ({ claims, issuer: 'https://idp.test/', request: req, path: '/tenants/acme/orders', params: { tenant: 'acme' }, tokens, ...over });

function compiled(source: string): CelCondition {
  const c = compileCel(source);
  if (!(c instanceof CelCondition)) throw new Error(`does not compile: ${c.problem}`);
  return c;
}
const run = (source: string, over: Partial<CelInput> = {}) => compiled(source).evaluate(input(over));

describe('a when expression holds', () => {
  it.each([
    ['a role in a list claim and the method', '"admin" in claims.roles && request.method == "POST"'],
    ['the tenant claim against the path parameter', 'claims.tenant == request.params.tenant'],
    ['the tenant claim against a header', 'claims.tenant == request.headers["x-tenant"]'],
    ['the host, lower-cased and without its port', 'request.host == "api.example.test"'],
    ['the normalized path, without the query', 'request.path == "/tenants/acme/orders"'],
    ['the issuer', 'issuer == "https://idp.test/"'],
    ['repeated headers joined by ", "', 'request.headers["x-multi"] == "a, b"'],
    ['a JSON number against an int literal', 'claims.level == 3 && claims.level >= 2'],
    ['a nested claim', '"reader" in claims.realm_access.roles'],
    ['a claim whose name has a dot', 'claims["kubernetes.io"].namespace == "payments"'],
    ['has() on a present claim', 'has(claims.tenant)'],
    ['an optional with a default for a missing claim', 'claims.?team.orValue("none") == "none"'],
    ['a comprehension', 'claims.roles.exists(r, r.startsWith("adm"))'],
    ['an RE2 match', 'claims.sub.matches("^al[a-z]+$")'],
    ['the other cookies, without the token cookie', 'request.headers.cookie == "theme=dark"'],
  ])('for %s', (_n, source) => {
    expect(run(source)).toEqual({ ok: true });
  });
});

describe('request.certificate', () => {
  const pki = clientPki();
  const withCert = (cert: string | undefined) => input({ request: { ...req, ...(cert !== undefined ? { clientCertificate: { source: 'header' as const, raw: cert } } : {}) } });
  it.each([
    ['a SPIFFE URI SAN', 'request.certificate.uri.exists(u, u.startsWith("spiffe://example.test/ns/app/"))'],
    ['the subject', 'request.certificate.subject.contains("alice")'],
    ['the thumbprint against the token', `request.certificate.thumbprint == "${x5tS256(pki.alice)}"`],
  ])('exposes %s of the client certificate', (_n, source) => {
    expect(compiled(source).evaluate(withCert(rfc9440(pki.alice)))).toEqual({ ok: true });
  });

  it('is an empty map without a certificate, so reading a field is an error (403), never a pass', () => {
    const r = compiled('request.certificate.uri.exists(u, u.startsWith("spiffe://"))').evaluate(withCert(undefined));
    expect(r).toMatchObject({ ok: false, error: true });
    expect(compiled('!has(request.certificate.subject)').evaluate(withCert(undefined))).toEqual({ ok: true });
  });
});

describe('a when expression that is not true', () => {
  it.each([
    ['false', '"root" in claims.roles', { ok: false, message: 'when "\\"root\\" in claims.roles" is false' }],
    ['another tenant in the path', 'claims.tenant == request.params.tenant', { ok: false, message: 'when "claims.tenant == request.params.tenant" is false' }, { params: { tenant: 'globex' } }],
    ['a missing claim (an error)', 'claims.team == "x"', { ok: false, error: true, message: 'when "claims.team == \\"x\\"" could not be evaluated (no_such_key)' }],
    ['a missing header (an error)', 'request.headers["x-none"] == "x"', { ok: false, error: true, message: 'when "request.headers[\\"x-none\\"] == \\"x\\"" could not be evaluated (no_such_key)' }],
    ['a non-boolean result (an error)', 'claims.tenant', { ok: false, error: true, message: 'when "claims.tenant" did not evaluate to a boolean' }],
    ['a failed conversion (an error)', 'int(claims.tenant) == 1', { ok: false, error: true, message: 'when "int(claims.tenant) == 1" could not be evaluated (int_conversion_error)' }],
  ])('fails for %s', (_n, source, expected, over: Partial<CelInput> = {}) => {
    expect(run(source, over)).toEqual(expected);
  });

  it('never quotes a claim or header value in its message', () => {
    for (const source of ['claims.tenant == "other"', 'int(claims.tenant) == 1', 'claims.tenant + request.headers["x-tenant"] == ""', 'request.headers["x-tenant"].matches(claims.tenant + "(")']) {
      const r = run(source);
      expect(r.ok).toBe(false);
      expect(r.ok ? '' : r.message.replace(JSON.stringify(source), '')).not.toMatch(/acme|secret/);
    }
  });

  it('does not see the token header nor the token cookie', () => {
    expect(run('"authorization" in request.headers')).toMatchObject({ ok: false, message: expect.stringContaining('is false') });
    expect(run('request.headers.exists(h, request.headers[h].contains("secret"))')).toMatchObject({ ok: false });
    expect(run('request.headers.cookie.contains("access_token")')).toMatchObject({ ok: false });
  });

  it('does not reach inherited object members through claims or params', () => {
    expect(run('has(claims.toString) || has(claims.constructor)')).toMatchObject({ ok: false });
    expect(run('request.params["constructor"] == ""')).toMatchObject({ ok: false, error: true });
  });

  it('builds the request lazily: an expression over claims never reads the path or the headers', () => {
    expect(run('claims.tenant == "acme"', { path: null, tokens: undefined })).toEqual({ ok: true });
  });

  it('is an error, not a guess, when the path cannot be normalized or the token sources are unknown', () => {
    expect(run('request.path == "/"', { path: null })).toMatchObject({ ok: false, error: true });
    expect(run('request.headers["x-tenant"] == "acme"', { tokens: undefined })).toMatchObject({ ok: false, error: true });
  });
});

describe('matches runs in linear time (RE2)', () => {
  it.each([
    ['nested quantifiers', '^(a+)+$'],
    ['an alternation of overlapping branches', '^(a|aa)+$'],
    ['a quantified group of optionals', '^(a?){30}a{30}$'],
  ])('answers a catastrophic pattern (%s) over a 100 kB header quickly', (_n, pattern) => {
    const hostile = request({ headers: { 'x-long': `${'a'.repeat(100_000)}!` } });
    const started = performance.now();
    expect(run(`request.headers["x-long"].matches(${JSON.stringify(pattern)})`, { request: hostile })).toMatchObject({ ok: false });
    expect(performance.now() - started).toBeLessThan(1000);
  });

  it('uses RE2 syntax: a backreference is refused at load', () => {
    expect(compileCel('claims.sub.matches("(a)\\\\1")')).toEqual({ problem: expect.stringMatching(/^invalid regular expression \(RE2 syntax\).*\(line 1, column 20\)$/) });
  });

  it('is an error when a pattern from the token is not a valid regular expression', () => {
    expect(run('claims.sub.matches(claims.tenant + "(")')).toMatchObject({ ok: false, error: true });
  });
});

describe('compiling a when expression', () => {
  it.each([
    ['a syntax error, with its position', 'claims.roles.exists(r, r == )', 'Unexpected token: RPAREN (line 1, column 29)'],
    ['an unknown variable', 'tenant == "acme"', 'Unknown variable: tenant (line 1, column 1)'],
    ['an unknown request field', 'request.tenant == "acme"', 'No such key: tenant (line 1, column 9)'],
    ['a type error', 'request.method + 1 == 2', 'no such overload: string + int (line 1, column 1)'],
    ['a position on a later line', '"admin" in claims.roles &&\n  request.method == 1', expect.stringMatching(/\(line 2, column 3\)$/)],
    ['a non-boolean expression', 'request.method', 'must be a boolean expression, but its type is string (line 1, column 1)'],
    ['an invalid constant pattern', 'claims.sub.matches("a(")', expect.stringMatching(/^invalid regular expression \(RE2 syntax\): .*\(line 1, column 20\)$/)],
    ['an empty expression', '  ', 'must not be empty'],
    ['an expression that is too long', `claims.sub == "${'x'.repeat(CEL_LIMITS.maxLength)}"`, `is longer than ${CEL_LIMITS.maxLength} characters`],
    ['comprehensions nested too deep', 'claims.roles.all(a, claims.roles.all(b, claims.roles.all(c, a == c)))', 'nests comprehensions more than 2 deep (line 1, column 41)'],
    ['too many syntax nodes', Array.from({ length: 100 }, () => '1 < 2').join(' || '), 'Exceeded maxAstNodes (256) (line 1, column 581)'],
    ['nesting too deep', `${'('.repeat(40)}true${')'.repeat(40)}`, 'Exceeded maxDepth (32) (line 1, column 33)'],
  ])('refuses %s', (_n, source, problem) => {
    expect(compileCel(source)).toEqual({ problem });
  });

  it('accepts a dyn result (a claim that may be a boolean) and checks it at evaluation', () => {
    expect(compiled('claims.email_verified').evaluate(input({ claims: { email_verified: true } }))).toEqual({ ok: true });
  });
});

describe('when inside requirements', () => {
  const when = (source: string): Requirement => ({ when: compiled(source) });
  const ctx: RuleContext = input();

  it('is ANDed with the other kinds of the same requirement', () => {
    expect(evaluate({ scopes: [], ...when('claims.tenant == "acme"') }, ctx)).toEqual({ ok: true });
    expect(evaluate({ claims: { tenant: { equals: 'acme' } }, ...when('claims.tenant == "globex"') }, ctx)).toMatchObject({ ok: false, missingScopes: [] });
  });

  it('holds inside any when one alternative holds, and an error stops any at once', () => {
    expect(evaluate({ any: [when('claims.tenant == "globex"'), when('claims.tenant == "acme"')] }, ctx)).toEqual({ ok: true });
    expect(evaluate({ any: [when('claims.team == "x"'), when('claims.tenant == "acme"')] }, ctx)).toMatchObject({ ok: false, error: true });
  });

  it('fails all when it fails', () => {
    expect(evaluate({ all: [when('claims.tenant == "acme"'), when('"root" in claims.roles')] }, ctx)).toMatchObject({ ok: false, message: 'when "\\"root\\" in claims.roles" is false' });
  });
});
