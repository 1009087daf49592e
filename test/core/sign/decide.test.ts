/**
 * Signing as a decision, through the real core (config → key ring → authorizer): outbound signing on a named policy
 * and on a route, the refusals, and token exchange after verification.
 */
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../../src/app.ts';
import type { Allow, Decision } from '../../../src/core/types.ts';
import { bearer, fixedNow, request, startCore, testConfig } from '../../support/core.ts';
import { keyDir } from '../../support/signing.ts';
import { jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../../support/tokens.ts';

const SIGNER = {
  issuer: 'https://orders.shop.svc',
  keys: { generate: { rotate_every: '12h' } },
  claims: { team: 'checkout' },
  subject_header: 'x-service',
};

let idp: TestKey;
let core: Core;
const outbound = (headers: Record<string, string> = {}, over: Parameters<typeof request>[0] = {}) =>
  request({ contextExtensions: new Map([['policy', 'outbound']]), host: 'payments.svc:8443', scheme: 'https', ...over, headers });

async function claimsOf(d: Decision, c: Core = core): Promise<Record<string, unknown>> {
  expect(d.kind, JSON.stringify(d)).toBe('allow');
  const [name, value] = (d as Allow).signed!;
  expect(name).toBe('authorization');
  const token = value.replace(/^Bearer /, '');
  const { payload } = await jwtVerify(token, createLocalJWKSet(c.signing!.source.jwks() as never), { currentDate: new Date(fixedNow()) });
  return payload as Record<string, unknown>;
}

beforeAll(async () => {
  idp = await makeKey('ES256', 'idp');
  core = await startCore(testConfig({
    workers: 1,
    signer: SIGNER,
    policies: {
      outbound: { sign: true },
      exchange: { sign: { claims_from_token: ['sub', 'email', 'groups'] } },
      'exchange-paths': { sign: { claims_from_token: ['realm_access.roles', 'kubernetes.io.namespace', 'org.team'] } },
    },
    routes: [{ match: { paths: ['/internal/**'] }, sign: { claims_from_token: ['sub'] } }],
  }, { jwks: jwksOf(idp) }));
});
afterAll(() => core.stop());

describe('outbound signing (sign: true)', () => {
  it('answers allow with an authorization header to set, aud = destination origin, sub from subject_header', async () => {
    const d = await core.authorizer.check(outbound({ 'x-service': 'orders' }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_signed', rule: 'policy outbound' });
    expect((d as Allow).setHeaders).toEqual([(d as Allow).signed]);
    expect(await claimsOf(d)).toMatchObject({ iss: SIGNER.issuer, aud: 'https://payments.svc:8443', sub: 'orders', team: 'checkout', iat: NOW_S, exp: NOW_S + 300, nbf: NOW_S - 60 });
  });

  it.each([
    ['a C1 control (NEL)', 'orders\u0085x'],
    ['a line feed', 'orders\nx'],
    ['U+FFFD from bytes that were not UTF-8 is kept: it is text', 'orders\ufffd', 'orders\ufffd'],
  ])('takes sub from subject_header only when it is safe text (core/text.ts): %s', async (_name, value, sub?: string) => {
    const claims = await claimsOf(await core.authorizer.check(outbound({ 'x-service': value })));
    expect(claims.sub).toBe(sub);
  });

  it('refuses a request that already carries authorization: a service must not smuggle its own token through', async () => {
    const d = await core.authorizer.check(outbound({ authorization: 'Bearer mine' }));
    expect(d).toMatchObject({ kind: 'deny', status: 403, reason: 'authorization_present' });
    expect(JSON.stringify(d)).not.toContain('mine');
  });

  it.each([
    ['a host with a path', { host: 'payments.svc/admin' }],
    ['no scheme', { scheme: '' }],
    ['no host', { host: '' }],
    ['a host with CRLF', { host: 'payments.svc\r\nx-evil: 1' }],
  ])('refuses a destination with %s', async (_, over) => {
    const d = await core.authorizer.check(outbound({}, over));
    expect(d).toMatchObject({ kind: 'deny', status: 403, reason: 'destination_invalid' });
  });

  it('gives each call a fresh jti', async () => {
    const a = await claimsOf(await core.authorizer.check(outbound()));
    const b = await claimsOf(await core.authorizer.check(outbound()));
    expect(a.jti).not.toBe(b.jti);
  });
});

describe('signer options', () => {
  it.each([
    ['replace_existing overwrites the header the request had', { replace_existing: true }, { authorization: 'Bearer mine' }, 'payments.svc', 'allow'],
    ['allowed_audiences lets a listed origin through', { allowed_audiences: ['https://payments.svc'] }, {}, 'payments.svc', 'allow'],
    ['allowed_audiences refuses any other', { allowed_audiences: ['https://payments.svc'] }, {}, 'evil.example', 'audience_not_allowed'],
    ['a fixed audience needs no destination', { audience: 'payments' }, {}, '', 'allow'],
    ['a fixed audience outside allowed_audiences is refused', { audience: 'payments', allowed_audiences: ['other'] }, {}, '', 'audience_not_allowed'],
  ])('%s', async (_, extra, headers, host, expected) => {
    const c = await startCore(testConfig({ workers: 1, signer: { ...SIGNER, ...extra }, policies: { outbound: { sign: true } } }, { jwks: jwksOf(idp) }));
    try {
      const d = await c.authorizer.check(outbound(headers, { host }));
      if (expected === 'allow') {
        const claims = await claimsOf(d, c);
        expect(claims.aud).toBe('audience' in extra ? extra.audience : `https://${host}`);
      } else {
        expect(d).toMatchObject({ kind: 'deny', status: 403, reason: expected });
      }
    } finally {
      c.stop();
    }
  });

  it('answers 503 signing_unavailable and is not ready while no key can sign yet', async () => {
    const dir = keyDir();
    dir.add({ activateAt: fixedNow() + 60_000 });
    const c = await startCore(testConfig({ workers: 1, signer: { ...SIGNER, keys: { dir: dir.path } }, policies: { outbound: { sign: true } } }, { jwks: jwksOf(idp) }));
    try {
      expect(c.readiness.isReady()).toBe(false);
      expect(c.signing!.source.jwks().keys).toHaveLength(1); // published ahead all the same
      expect(await c.authorizer.check(outbound())).toMatchObject({ kind: 'deny', status: 503, reason: 'signing_unavailable' });
    } finally {
      c.stop();
      dir.cleanup();
    }
  });
});

describe('token exchange (sign: { claims_from_token })', () => {
  it('replaces a verified external token by a minted one carrying only the named claims', async () => {
    const external = await signToken(idp, { sub: 'alice', email: 'a@example.com', groups: ['admins'], secret: 'no' });
    const d = await core.authorizer.check(request({ contextExtensions: new Map([['policy', 'exchange']]), host: 'app.test', headers: bearer(external) }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_exchanged', issuer: 'https://idp.test/' });
    const claims = await claimsOf(d);
    expect(claims).toMatchObject({ iss: SIGNER.issuer, aud: 'https://app.test', sub: 'alice', email: 'a@example.com', groups: ['admins'], team: 'checkout' });
    expect(claims).not.toHaveProperty('secret');
    // Envoy overwrites authorization with the minted token (it is not also removed: removals run after additions).
    expect((d as Allow).stripHeaders ?? []).not.toContain('authorization');
    expect((d as Allow).setHeaders?.map(([n]) => n)).toEqual(['authorization']);
  });

  it('copies claim paths with the structure that holds them, and leaves an ambiguous one out', async () => {
    const external = await signToken(idp, { realm_access: { roles: ['admin'], other: 1 }, 'kubernetes.io': { namespace: 'payments', uid: 'u' }, 'org.team': 'a', org: { team: 'b' } });
    const d = await core.authorizer.check(request({ contextExtensions: new Map([['policy', 'exchange-paths']]), host: 'app.test', headers: bearer(external) }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_exchanged' });
    const claims = await claimsOf(d);
    expect(claims.realm_access).toEqual({ roles: ['admin'] });
    expect(claims['kubernetes.io']).toEqual({ namespace: 'payments' });
    expect(claims).not.toHaveProperty('org');
    expect(claims).not.toHaveProperty('org.team');
  });

  it('removes the external token cookie for the upstream', async () => {
    const external = await signToken(idp);
    const d = await core.authorizer.check(request({ path: '/internal/x', headers: { cookie: `access_token=${external}; theme=dark` } }));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_exchanged' });
    expect((d as Allow).setHeaders).toEqual([['cookie', 'theme=dark'], (d as Allow).signed]);
    expect(decodeJwt((d as Allow).signed![1].slice(7)).sub).toBe('alice');
  });

  it('never exchanges a token that does not verify', async () => {
    const other = await makeKey('ES256', 'idp');
    const d = await core.authorizer.check(request({ path: '/internal/x', headers: bearer(await signToken(other)) }));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'signature_invalid' });
    expect(d).not.toHaveProperty('signed');
  });
});
