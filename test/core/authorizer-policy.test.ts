/** Route policies through the real core: rule selection, requirements, anonymous-optional, login redirects, upstream shaping. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../src/app.ts';
import type { Decision } from '../../src/core/types.ts';
import { bearer, request, startCore, testConfig } from '../support/core.ts';
import { ISSUER, jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

const PARTNER = 'https://partner.test/';
let key: TestKey, partnerKey: TestKey;
let core: Core;

beforeAll(async () => {
  [key, partnerKey] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 'p1')]);
  core = await startCore(
    testConfig({
      issuers: [
        { issuer: ISSUER, audiences: ['api.test'], jwks: jwksOf(key) },
        { issuer: PARTNER, audiences: ['api.test'], jwks: jwksOf(partnerKey) },
      ],
      login: { url: 'https://login.test/start?rd={return_url}', return_hosts: ['app.test'] },
      routes: [
        { name: 'admin', match: { paths: ['/admin/**'] }, require: { scopes: ['admin'] } },
        { name: 'home', match: { paths: ['/', '/news/**'] }, anonymous: 'optional' },
        { name: 'partner', match: { hosts: ['partner.app.test'] }, require: { issuers: [PARTNER] }, identity_headers: { tenant: 'x-auth-tenant' } },
        { name: 'ops-only', match: { paths: ['/ops/**'] }, policy: 'ops' },
        { name: 'api', match: { paths: ['/api/**'] }, login: false },
      ],
      policies: { ops: { require: { any: [{ scopes: ['admin'] }, { claims: { groups: { contains: 'ops' } } }] } } },
      upstream: { payload_header: 'x-jwt-payload', forward_token: false },
    }),
  );
});

const identity = (d: Decision) => Object.fromEntries(d.identity.map((h) => [h.name, h.value]));
const header = (d: Decision, name: string) => (d.kind === 'deny' ? d.headers.find(([k]) => k === name)?.[1] : undefined);
const browser = { accept: 'text/html' };

describe('route requirements', () => {
  it('allows a token with the required scope and names the rule', async () => {
    const d = await core.authorizer.check(request({ path: '/admin/users', headers: bearer(await signToken(key, { scope: 'read admin' })) }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_valid', rule: 'admin' });
  });

  it('answers a valid token without the scope with 403 insufficient_scope naming the scope', async () => {
    const d = await core.authorizer.check(request({ path: '/admin/users', headers: bearer(await signToken(key, { scope: 'read' })) }));
    expect(d).toMatchObject({ kind: 'deny', status: 403, reason: 'scope_missing', rule: 'admin' });
    expect(header(d, 'www-authenticate')).toBe('Bearer realm="portcullis", error="insufficient_scope", error_description="missing scope: admin", scope="admin"');
  });

  it('never redirects a 403 to the login page (that would loop)', async () => {
    const d = await core.authorizer.check(request({ path: '/admin/users', headers: { ...browser, ...bearer(await signToken(key)) } }));
    expect(d).toMatchObject({ kind: 'deny', status: 403 });
  });

  it('narrows issuers per route: the main issuer is refused on the partner host', async () => {
    const d = await core.authorizer.check(request({ host: 'partner.app.test', headers: bearer(await signToken(key)) }));
    expect(d).toMatchObject({ kind: 'deny', status: 403, reason: 'requirement_not_met' });
  });

  it('adds the per-rule identity header on its route only, and lists it (unset) everywhere else', async () => {
    const onPartner = await core.authorizer.check(request({ host: 'partner.app.test', headers: bearer(await signToken(partnerKey, { iss: PARTNER, tenant: 'acme' })) }));
    expect(identity(onPartner)).toMatchObject({ 'x-auth-subject': 'alice', 'x-auth-tenant': 'acme' });
    const elsewhere = await core.authorizer.check(request({ path: '/orders', headers: bearer(await signToken(key, { tenant: 'acme' })) }));
    expect(identity(elsewhere)).toHaveProperty('x-auth-tenant', undefined);
  });

  it.each([
    ['an admin scope', { scope: 'admin' }, 'allow'],
    ['the ops group', { groups: ['dev', 'ops'] }, 'allow'],
    ['neither', { groups: ['dev'] }, 'deny'],
  ])('applies a named policy with any-of alternatives: %s → %s', async (_n, claims, kind) => {
    const d = await core.authorizer.check(request({ path: '/ops/x', headers: bearer(await signToken(key, claims)) }));
    expect(d.kind).toBe(kind);
  });

  it('lets Envoy select a policy through context_extensions', async () => {
    const req = { path: '/anything', contextExtensions: new Map([['policy', 'ops']]) };
    expect((await core.authorizer.check(request({ ...req, headers: bearer(await signToken(key, { groups: ['ops'] })) }))).kind).toBe('allow');
    // One alternative is a scope, so the 403 names it.
    expect(await core.authorizer.check(request({ ...req, headers: bearer(await signToken(key)) }))).toMatchObject({ status: 403, reason: 'scope_missing' });
  });

  it.each([
    ['an unknown policy named by Envoy', { contextExtensions: new Map([['policy', 'nope']]) }, 'policy_unknown'],
    ['an ambiguous path while routes match on paths', { path: '/admin%2Fusers' }, 'path_ambiguous'],
    ['dot segments while routes match on paths', { path: '/news/../admin/users' }, 'path_ambiguous'],
  ])('refuses %s with 403', async (_n, req, reason) => {
    const d = await core.authorizer.check(request({ ...req, headers: bearer(await signToken(key, { scope: 'admin' })) }));
    expect(d).toMatchObject({ kind: 'deny', status: 403, reason });
  });
});

describe('anonymous: optional', () => {
  it('allows a request without a token, with no identity', async () => {
    const d = await core.authorizer.check(request({ path: '/news/today', headers: { 'x-auth-subject': 'spoofed' } }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'anonymous', rule: 'home' });
    expect(Object.values(identity(d)).every((v) => v === undefined)).toBe(true);
  });

  it('verifies a token when one is sent and gives identity', async () => {
    const d = await core.authorizer.check(request({ path: '/', headers: bearer(await signToken(key)) }));
    expect(identity(d)['x-auth-subject']).toBe('alice');
  });

  it('never downgrades a bad token to anonymous', async () => {
    const d = await core.authorizer.check(request({ path: '/', headers: bearer(await signToken(key, { aud: 'other' })) }));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'audience_mismatch' });
  });
});

describe('login redirect', () => {
  it('sends a browser navigation without a token to the login page with a return URL', async () => {
    const d = await core.authorizer.check(request({ host: 'app.test', path: '/orders?x=1', headers: browser }));
    expect(d).toMatchObject({ kind: 'deny', status: 302, reason: 'token_missing' });
    expect(header(d, 'location')).toBe('https://login.test/start?rd=https%3A%2F%2Fapp.test%2Forders%3Fx%3D1');
  });

  it('redirects a browser with an expired token too', async () => {
    const d = await core.authorizer.check(request({ host: 'app.test', path: '/orders', headers: { ...browser, ...bearer(await signToken(key, { exp: 1 })) } }));
    expect(d).toMatchObject({ status: 302, reason: 'token_expired' });
  });

  it('keeps 401 for APIs', async () => {
    expect(await core.authorizer.check(request({ path: '/orders', headers: { accept: 'application/json' } }))).toMatchObject({ status: 401 });
  });

  it('keeps 401 on a route that switches login off', async () => {
    expect(await core.authorizer.check(request({ path: '/api/x', headers: browser }))).toMatchObject({ status: 401 });
  });
});

describe('upstream shaping', () => {
  it('forwards the verified payload as base64url JSON', async () => {
    const d = await core.authorizer.check(request({ path: '/orders', headers: bearer(await signToken(key, { tenant: 'acme' })) }));
    const payload = JSON.parse(Buffer.from(identity(d)['x-jwt-payload']!, 'base64url').toString());
    expect(payload).toMatchObject({ sub: 'alice', tenant: 'acme', iss: ISSUER });
  });

  it('removes the token header and the token cookie before the upstream (forward_token: false)', async () => {
    const token = await signToken(key);
    const d = await core.authorizer.check(request({ path: '/orders', headers: { cookie: `theme=dark; access_token=${token}; lang=en` } }));
    expect(d).toMatchObject({ kind: 'allow', stripHeaders: [], setHeaders: [['cookie', 'theme=dark; lang=en']] });
    const viaHeader = await core.authorizer.check(request({ path: '/orders', headers: bearer(token) }));
    expect(viaHeader).toMatchObject({ kind: 'allow', stripHeaders: ['authorization'], setHeaders: [] });
  });

  it('removes the Cookie header entirely when only the token cookie was in it', async () => {
    const d = await core.authorizer.check(request({ path: '/orders', headers: { cookie: `access_token=${await signToken(key)}` } }));
    expect(d).toMatchObject({ stripHeaders: ['cookie'], setHeaders: [] });
  });
});
