/**
 * The attack table: every way a token was forged against JWT libraries and auth proxies, each denied with the
 * reason that says why. Keys are real; the attacker's JWKS server is real and must never be contacted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPublicKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { Verifier } from '../../src/core/verify.ts';
import { KeySource } from '../../src/core/keys/source.ts';
import { inlineLoader } from '../../src/core/keys/loaders.ts';
import { testConfig, fixedNow } from '../support/core.ts';
import { defaultPayload, forge, ISSUER, jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';
import { startJwksServer, type JwksServer } from '../support/jwks-server.ts';

const OTHER_ISSUER = 'https://partner.test/';
let es: TestKey, rsa: TestKey, ed: TestKey, partner: TestKey, attacker: TestKey;
let verifier: Verifier;
let attackerServer: JwksServer;

function source(issuer: string, keys: TestKey[]) {
  return new KeySource({
    issuer, location: 'inline', load: inlineLoader(jwksOf(...keys)), now: fixedNow, static: true,
    refreshIntervalMs: 300_000, minRefreshMs: 30_000, cooldownMs: 30_000, maxStaleMs: Infinity,
  });
}

beforeAll(async () => {
  [es, rsa, ed, partner, attacker] = await Promise.all([
    makeKey('ES256', 'es-1'), makeKey('RS256', 'rsa-1'), makeKey('EdDSA', 'ed-1'), makeKey('ES256', 'partner-1'), makeKey('ES256', 'attacker-1'),
  ]);
  attackerServer = await startJwksServer({ kind: 'serve', body: jwksOf(attacker) });
  const config = testConfig({ issuers: [
    { issuer: ISSUER, audiences: ['api.test'], algorithms: ['ES256', 'RS256', 'EdDSA'], jwks: jwksOf(es, rsa, ed) },
    { issuer: OTHER_ISSUER, audiences: ['api.test'], jwks: jwksOf(partner) },
  ] });
  const sources = [source(ISSUER, [es, rsa, ed]), source(OTHER_ISSUER, [partner])];
  await Promise.all(sources.map((s) => s.start()));
  verifier = new Verifier(config.issuers.map((c, i) => ({ config: c, keys: sources[i]! })), fixedNow);
});
afterAll(() => attackerServer.close());

describe('Verifier accepts', () => {
  it.each([
    ['an ES256 token', () => signToken(es)],
    ['an RS256 token', () => signToken(rsa)],
    ['an EdDSA token', () => signToken(ed)],
    ['a token of the second issuer', () => signToken(partner, { iss: OTHER_ISSUER })],
  ])('%s', async (_name, make) => {
    const r = await verifier.verify(await make());
    expect(r).toMatchObject({ ok: true, claims: { sub: 'alice' } });
  });

  it('a token without kid when the issuer has exactly one key of that type', async () => {
    expect(await verifier.verify(await signToken(partner, { iss: OTHER_ISSUER }, { noKid: true }))).toMatchObject({ ok: true });
  });
});

describe('Verifier denies the attack', () => {
  const rsaPem = () => rsa.publicKey.export({ format: 'pem', type: 'spki' });
  it.each<[string, string, () => string | Promise<string>]>([
    ['alg none with an empty signature', 'token_malformed', () => forge({ alg: 'none', kid: 'es-1' }, defaultPayload(), 'none')],
    ['alg none with a signature', 'algorithm_not_allowed', () => `${forge({ alg: 'none', kid: 'es-1' }, defaultPayload(), 'none')}c2ln`],
    ['alg NONE in capitals', 'algorithm_not_allowed', () => `${forge({ alg: 'NONE' }, defaultPayload(), 'none')}c2ln`],
    ['HS256 keyed with the RSA public key PEM (algorithm confusion)', 'algorithm_not_allowed', () => forge({ alg: 'HS256', kid: 'rsa-1' }, defaultPayload(), { hmacSecret: rsaPem() })],
    ['HS256 keyed with the JWK modulus', 'algorithm_not_allowed', () => forge({ alg: 'HS256', kid: 'rsa-1' }, defaultPayload(), { hmacSecret: String(rsa.jwk.n) })],
    ['an algorithm outside the issuer allowlist', 'algorithm_not_allowed', () => forge({ alg: 'PS256', kid: 'rsa-1' }, defaultPayload(), { key: rsa.privateKey, alg: 'PS256' })],
    ['an alg with trailing space', 'algorithm_not_allowed', () => forge({ alg: 'ES256 ', kid: 'es-1' }, defaultPayload(), { key: es.privateKey, alg: 'ES256' })],
    ['RS256 naming the EC key (key type confusion)', 'key_unknown', () => forge({ alg: 'RS256', kid: 'es-1' }, defaultPayload(), { key: rsa.privateKey, alg: 'RS256' })],
    ['jku pointing at the attacker JWKS (attacker kid)', 'key_unknown', () => signToken(attacker, {}, { header: { jku: attackerServer.url } })],
    ['jku pointing at the attacker JWKS (victim kid)', 'signature_invalid', () => signToken(attacker, {}, { header: { jku: attackerServer.url, kid: 'es-1' } })],
    ['x5u pointing at the attacker', 'signature_invalid', () => signToken(attacker, {}, { header: { x5u: attackerServer.url, kid: 'es-1' } })],
    ['an embedded attacker jwk', 'signature_invalid', () => signToken(attacker, {}, { header: { jwk: attacker.jwk, kid: 'es-1' } })],
    ['an embedded attacker jwk without kid', 'signature_invalid', () => signToken(attacker, {}, { header: { jwk: attacker.jwk }, noKid: true })],
    ['an x5c chain of the attacker', 'signature_invalid', () => signToken(attacker, {}, { header: { x5c: ['MIIB'], kid: 'es-1' } })],
    ['a crit header', 'token_malformed', () => forge({ alg: 'ES256', kid: 'es-1', crit: ['http://example.com/x'], 'http://example.com/x': 1 }, defaultPayload(), { key: es.privateKey, alg: 'ES256' })],
    ['b64: false', 'token_malformed', () => forge({ alg: 'ES256', kid: 'es-1', b64: false, crit: ['b64'] }, defaultPayload(), { key: es.privateKey, alg: 'ES256' })],
    ['a JWE', 'token_malformed', () => 'eyJhbGciOiJSU0EtT0FFUCIsImVuYyI6IkEyNTZHQ00ifQ.a.b.c.d'],
    ['a kid with path traversal', 'key_unknown', () => signToken(es, {}, { header: { kid: '../../../../dev/null' } })],
    ['a kid with SQL', 'key_unknown', () => signToken(es, {}, { header: { kid: "x' UNION SELECT 'key" } })],
    ['an unknown issuer', 'issuer_unknown', () => signToken(attacker, { iss: 'https://evil.test/' })],
    ['an issuer differing only by a trailing slash', 'issuer_unknown', () => signToken(es, { iss: 'https://idp.test' })],
    ['an issuer as an array', 'claim_missing', () => signToken(es, { iss: [ISSUER] })],
    ['issuer A claimed with issuer B key and kid (cross-issuer)', 'key_unknown', () => signToken(partner)],
    ['issuer A claimed, signed by B key under A kid', 'signature_invalid', () => signToken(partner, {}, { header: { kid: 'es-1' } })],
    ['a tampered payload', 'signature_invalid', async () => { const [h, , s] = (await signToken(es)).split('.'); return `${h}.${Buffer.from(JSON.stringify(defaultPayload({ sub: 'admin' }))).toString('base64url')}.${s}`; }],
    ['a signature with flipped trailing bits (non-canonical spelling)', 'token_malformed', async () => { const t = await signToken(es); return t.slice(0, -1) + String.fromCharCode(t.charCodeAt(t.length - 1) + 1); }],
    ['an all-zero ECDSA signature (CVE-2022-21449)', 'signature_invalid', () => `${forge({ alg: 'ES256', kid: 'es-1' }, defaultPayload(), 'none')}${Buffer.alloc(64).toString('base64url')}`],
    ['a DER-encoded ECDSA signature', 'signature_invalid', () => { const input = forge({ alg: 'ES256', kid: 'es-1' }, defaultPayload(), 'none'); return input + cryptoSign('sha256', Buffer.from(input.slice(0, -1)), es.privateKey).toString('base64url'); }],
    ['an expired token', 'token_expired', () => signToken(es, { exp: defaultPayload().iat })],
    ['exp as a string', 'claim_invalid', () => signToken(es, { exp: '9999999999' })],
    ['aud as a number', 'claim_invalid', () => signToken(es, { aud: 7 })],
    ['a wrong audience', 'audience_mismatch', () => signToken(es, { aud: 'other.test' })],
  ])('%s → %s', async (_name, reason, make) => {
    const before = attackerServer.fetches;
    const r = await verifier.verify(await make());
    expect(r).toMatchObject({ ok: false, reason });
    expect(attackerServer.fetches).toBe(before);
  });

  it('never builds an HMAC key from a JWKS oct key (it is dropped at parse time)', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    expect(createPublicKey(pair.privateKey).type).toBe('public');
    const r = await verifier.verify(forge({ alg: 'HS256' }, defaultPayload(), { hmacSecret: 'secret' }));
    expect(r).toMatchObject({ ok: false, reason: 'algorithm_not_allowed' });
  });
});
