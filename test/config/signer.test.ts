/** `signer:` and rule `sign:` in the config: defaults, a sign-only instance, and every problem named by key path. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../support/config.ts';
import { keyDir, type KeyDir } from '../support/signing.ts';

const dir: KeyDir = keyDir();
beforeAll(() => {
  dir.add({ activateAt: 0 });
});
afterAll(() => dir.cleanup());

const signer = (extra: Record<string, unknown> = {}) => ({ issuer: 'https://orders.shop.svc', keys: { dir: dir.path }, ...extra });

const problems = (doc: unknown): readonly string[] => configProblems(doc);

describe('signer config', () => {
  it('lets an instance sign only, with no issuers, and fills the defaults', () => {
    const c = buildConfig({ signer: signer(), policies: { outbound: { sign: true } } }, 'test', process.cwd());
    expect(c.issuers).toEqual([]);
    expect(c.signer).toEqual({
      issuer: 'https://orders.shop.svc',
      algorithm: 'ES256',
      keys: { dir: dir.path, allowGroupRead: false },
      ttlMs: 300_000,
      maxSkewMs: 60_000,
      fixedAudience: null,
      subjectHeader: null,
      claims: {},
      allowedAudiences: null,
      replaceExisting: false,
      publishLeadMs: 900_000,
      endpoint: '/sign',
      endpointPolicy: 'sign',
    });
    expect(c.policy.policies.get('outbound')?.sign).toEqual({ header: 'authorization', claimsFromToken: null });
    // The signing endpoint's built-in policy.
    expect(c.policy.policies.get('sign')?.sign).toEqual({ header: 'authorization', claimsFromToken: null });
  });

  it('still requires issuers without a signer', () => {
    expect(problems({})).toEqual(['issuers: required']);
    expect(problems({ issuers: [] })).toEqual(['issuers: must not be empty']);
  });

  it('reads sign: { claims_from_token, header } on routes and policies', () => {
    const c = buildConfig({
      signer: signer(),
      issuers: [{ issuer: 'https://idp/', jwks: { keys: [{ kty: 'EC' }] }, audiences: ['a'] }],
      routes: [{ match: { paths: ['/x'] }, sign: { claims_from_token: ['sub', 'email'], header: 'X-Internal-Token' } }],
    }, 'test', process.cwd());
    expect(c.policy.routes[0]!.rule.sign).toEqual({ header: 'x-internal-token', claimsFromToken: ['sub', 'email'] });
  });

  const bad: readonly [string, Record<string, unknown>, string][] = [
    ['no issuer', { signer: { keys: { dir: '/x' } } }, 'signer.issuer: required'],
    ['an issuer that is not a URL', { signer: signer({ issuer: 'orders' }) }, 'signer.issuer: "orders" is not a valid URL'],
    ['an unknown algorithm', { signer: signer({ algorithm: 'HS256' }) }, 'signer.algorithm: must be one of ES256, EdDSA, RS256, PS256'],
    ['both key sources', { signer: signer({ keys: { dir: '/x', generate: {} } }) }, 'signer.keys: needs exactly one of dir, generate'],
    ['a missing key dir', { signer: signer({ keys: { dir: '/nonexistent/keys' } }) }, 'signer.keys.dir: cannot read the directory /nonexistent/keys: ENOENT'],
    ['generate with several workers', { workers: 2, signer: signer({ keys: { generate: { rotate_every: '12h' } } }) }, 'signer.keys.generate: keys made in memory differ per process'],
    ['a static claim the signer sets', { signer: signer({ claims: { exp: 1 } }) }, 'signer.claims.exp: "exp" is set by the signer itself'],
    ['a copied claim the signer sets', { signer: signer(), policies: { x: { sign: { claims_from_token: ['iss'] } } } }, 'policies.x.sign.claims_from_token[0]: "iss" is set by the signer itself'],
    ['a rotation shorter than the lead', { workers: 1, signer: signer({ keys: { generate: { rotate_every: '10m' } } }) }, 'signer.keys.generate.rotate_every: must be longer than signer.publish_lead'],
    ['a sign header that frames the request', { signer: signer(), policies: { x: { sign: { header: 'Host' } } } }, 'policies.x.sign.header: "Host" may not carry a claim'],
    ['a sign header the proxies trust', { signer: signer(), policies: { x: { sign: { header: 'X-Forwarded-User' } } } }, "policies.x.sign.header: \"X-Forwarded-User\" may not carry a claim (the proxies' trust headers)"],
    ['a bad ttl', { signer: signer({ ttl: '5' }) }, 'signer.ttl: must be a duration'],
    ['sign without a signer', { issuers: [{ issuer: 'https://i/', jwks_uri: 'https://i/j', audiences: ['a'] }], policies: { x: { sign: true } } }, 'policies.x.sign: needs a signer: section'],
    ['sign: true with require', { signer: signer(), policies: { x: { sign: true, require: { scopes: ['a'] } } } }, 'policies.x.sign: an outbound signing rule verifies no token'],
    ['an endpoint on the forward-auth path', { signer: signer({ endpoint: '/auth' }) }, 'signer.endpoint: /auth is already used'],
    ['an endpoint policy that does not sign', { signer: signer({ endpoint_policy: 'p' }), policies: { p: {} } }, 'policies.p: is the signer.endpoint_policy, so it needs sign'],
    ['a route with policy and sign', { signer: signer(), policies: { p: { sign: true } }, routes: [{ policy: 'p', sign: true }] }, 'routes[0]: give either policy or rule fields'],
  ];
  it.each(bad)('refuses %s, naming the key', (_, doc, expected) => {
    expect(problems(doc).join('\n')).toContain(expected);
  });

  it('refuses keys of another algorithm and loose files, naming each file', () => {
    const other = keyDir();
    try {
      const kid = other.add({ alg: 'EdDSA' });
      expect(problems({ signer: signer({ keys: { dir: other.path } }) })).toEqual([`signer.keys.dir: key ${kid} is EdDSA, signer.algorithm is ES256`]);
      writeFileSync(join(other.path, 'loose.json'), '{}', { mode: 0o644 });
      expect(problems({ signer: signer({ keys: { dir: other.path } }) })[0]).toMatch(/^signer\.keys\.dir: .*loose\.json: permissions 0644/);
    } finally {
      other.cleanup();
    }
  });
});
