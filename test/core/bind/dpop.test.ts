/**
 * DPoP proofs (RFC 9449 §4.3) and the sender-constraint policy through the real core, memory replay store, injected
 * clock: what passes, every way a proof is refused (with its reason, status and challenge), and that only a proof
 * that passed every other check consumes its jti. The transports carry these same answers: test/e2e/dpop.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../../src/app.ts';
import type { Decision, Deny } from '../../../src/core/types.ts';
import { request, startCore, testConfig } from '../../support/core.ts';
import { forge, ISSUER, jwksOf, makeKey, NOW_S, signToken, type TestKey } from '../../support/tokens.ts';
import { dpopHeaders, jktOf, makeProof, proofJwk, type ProofOptions } from '../../support/dpop.ts';

const STRICT = 'https://strict.test/';
let issuerKey: TestKey, strictKey: TestKey, clientKey: TestKey, otherClient: TestKey;
let clock: { t: number };
let core: Core;
let bound: string;
let plain: string;

const now = () => Math.floor(clock.t / 1000);
const proof = (opts: ProofOptions = {}, key = clientKey) => makeProof(key, { iat: now(), token: bound, ...opts });
const decide = (headers: Record<string, string | string[]>, overrides: Parameters<typeof request>[0] = {}): Promise<Decision> =>
  Promise.resolve(core.authorizer.check(request({ headers, ...overrides })));
const challenges = (d: Decision) => (d as Deny).headers.filter(([n]) => n === 'www-authenticate').map(([, v]) => v);

beforeAll(async () => {
  [issuerKey, strictKey, clientKey, otherClient] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 's1'), makeKey('ES256', 'c1'), makeKey('ES256', 'c2')]);
  clock = { t: NOW_S * 1000 };
  core = await startCore(
    testConfig({
      workers: 1,
      dpop: { max_age: '60s', leeway: '5s' },
      issuers: [
        { issuer: ISSUER, audiences: ['api.test'], jwks: jwksOf(issuerKey) },
        { issuer: STRICT, audiences: ['api.test'], jwks: jwksOf(strictKey), sender_constraint: 'required' },
      ],
      routes: [{ name: 'payments', match: { paths: ['/payments/**'] }, require: { sender_constrained: true } }],
    }),
    () => clock.t,
  );
  bound = await signToken(issuerKey, { cnf: { jkt: await jktOf(clientKey) } });
  plain = await signToken(issuerKey);
});

describe('a DPoP-bound token', () => {
  it('is allowed with the DPoP scheme and a valid proof from its key', async () => {
    const d = await decide(dpopHeaders(bound, await proof()));
    expect(d).toMatchObject({ kind: 'allow', reason: 'token_valid' });
  });

  it('is allowed again with a fresh proof once cached (every request checks its own proof)', async () => {
    for (let i = 0; i < 3; i++) expect((await decide(dpopHeaders(bound, await proof()))).kind).toBe('allow');
    expect((await decide(dpopHeaders(bound, 'not.a.proof'))).reason).toBe('dpop_proof_invalid');
  });

  it('matches htu after syntax-based normalization, scheme/host/port from the request', async () => {
    const cases: [string, Parameters<typeof request>[0]][] = [
      ['HTTPS://API.TEST:443/orders', {}],
      ['https://api.test/%6Frders', {}],
      ['https://api.test/a/../orders', {}],
      ['https://api.test/orders?ignored=1#frag', { path: '/orders?q=1' }],
      ['http://api.test:8080/caf%c3%a9', { scheme: 'http', host: 'API.test:8080', path: '/caf%C3%A9' }],
      ['https://api.test/caf\u00e9', { path: '/caf%C3%A9' }],
    ];
    for (const [htu, req] of cases) {
      const d = await decide(dpopHeaders(bound, await proof({ htu, htm: req?.method ?? 'GET' })), req);
      expect([htu, d.kind]).toEqual([htu, 'allow']);
    }
  });

  it.each<[string, () => Promise<Record<string, string | string[]>>, string, string]>([
    ['sent as Bearer', async () => ({ authorization: `Bearer ${bound}` }), 'dpop_binding_mismatch', 'invalid_token'],
    ['sent as Bearer with a proof', async () => ({ authorization: `Bearer ${bound}`, dpop: await proof() }), 'dpop_binding_mismatch', 'invalid_token'],
    ['without a proof', async () => ({ authorization: `DPoP ${bound}` }), 'dpop_proof_missing', 'invalid_dpop_proof'],
    ['with two proofs', async () => dpopHeaders(bound, [await proof(), await proof()]), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with two proofs comma-merged', async () => dpopHeaders(bound, `${await proof()},${await proof()}`), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof for another method', async () => dpopHeaders(bound, await proof({ htm: 'POST' })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof for another URI', async () => dpopHeaders(bound, await proof({ htu: 'https://api.test/admin' })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof for another host', async () => dpopHeaders(bound, await proof({ htu: 'https://evil.test/orders' })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof for another port', async () => dpopHeaders(bound, await proof({ htu: 'https://api.test:8443/orders' })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof for another token', async () => dpopHeaders(bound, await proof({ token: plain })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof without ath', async () => dpopHeaders(bound, await proof({ token: null })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof from another key', async () => dpopHeaders(bound, await proof({}, otherClient)), 'dpop_binding_mismatch', 'invalid_token'],
    ['with a proof older than max_age', async () => dpopHeaders(bound, await proof({ iat: now() - 61 })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a proof from the future beyond leeway', async () => dpopHeaders(bound, await proof({ iat: now() + 6 })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with typ JWT', async () => dpopHeaders(bound, await proof({ header: { typ: 'JWT' } })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with an alg outside dpop.algorithms', async () => dpopHeaders(bound, await makeProof(await makeKey('EdDSA', 'x'), { iat: now(), token: bound, header: { alg: 'Ed25519' } })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a private key in its jwk', async () => dpopHeaders(bound, await proof({ header: { jwk: { ...proofJwk(clientKey), d: clientKey.privateKey.export({ format: 'jwk' }).d } } })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with no jwk', async () => dpopHeaders(bound, await proof({ header: { jwk: undefined } })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a jwk that did not sign it', async () => dpopHeaders(bound, await proof({}, { ...otherClient, jwk: clientKey.jwk })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with alg none', async () => dpopHeaders(bound, forge({ alg: 'none', typ: 'dpop+jwt', jwk: proofJwk(clientKey) }, { jti: 'n1', htm: 'GET', htu: 'https://api.test/orders', iat: now() }, 'none')), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with HS256 keyed by the public jwk', async () => dpopHeaders(bound, forge({ alg: 'HS256', typ: 'dpop+jwt', jwk: proofJwk(clientKey) }, { jti: 'h1', htm: 'GET', htu: 'https://api.test/orders', iat: now() }, { hmacSecret: JSON.stringify(proofJwk(clientKey)) })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
    ['with a symmetric jwk', async () => dpopHeaders(bound, await proof({ header: { jwk: { kty: 'oct', k: 'c2VjcmV0' } } })), 'dpop_proof_invalid', 'invalid_dpop_proof'],
  ])('is refused %s', async (_name, headers, reason, error) => {
    const d = await decide(await headers());
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason });
    const [first, second] = challenges(d);
    expect(first).toMatch(new RegExp(`^DPoP realm="portcullis", algs="ES256 ES384 EdDSA PS256 RS256", error="${error}"`));
    expect(second).toMatch(/^Bearer /);
  });

  it('is refused when the proof is replayed, and a refused proof burns nothing', async () => {
    const once = await proof();
    const refused = await decide(dpopHeaders(bound, once), { method: 'POST' });
    expect(refused.reason).toBe('dpop_proof_invalid');
    expect((await decide(dpopHeaders(bound, once))).kind).toBe('allow');
    expect(await decide(dpopHeaders(bound, once))).toMatchObject({ kind: 'deny', status: 401, reason: 'dpop_proof_replayed' });
  });

  it('keys the jti per key thumbprint: the same jti from two keys is two proofs', async () => {
    const otherBound = await signToken(issuerKey, { cnf: { jkt: await jktOf(otherClient) } });
    expect((await decide(dpopHeaders(bound, await proof({ jti: 'shared-jti' })))).kind).toBe('allow');
    expect((await decide(dpopHeaders(otherBound, await proof({ jti: 'shared-jti', token: otherBound }, otherClient)))).kind).toBe('allow');
  });

  it('accepts a proof again once the clock leaves its window: the jti is kept exactly that long', async () => {
    const p = await proof({ jti: 'window-jti' });
    expect((await decide(dpopHeaders(bound, p))).kind).toBe('allow');
    clock.t += 61_000;
    expect((await decide(dpopHeaders(bound, p))).reason).toBe('dpop_proof_invalid'); // too old by now: never replayable
    clock.t -= 61_000;
  });
});

describe('tokens and proofs that do not belong together', () => {
  it('refuses a proof beside a Bearer token (a proof with no DPoP token)', async () => {
    const d = await decide({ authorization: `Bearer ${plain}`, dpop: await proof({ token: plain }) });
    expect(d).toMatchObject({ status: 401, reason: 'dpop_proof_invalid' });
  });

  it('refuses an unbound token sent with the DPoP scheme', async () => {
    const d = await decide(dpopHeaders(plain, await proof({ token: plain })));
    expect(d).toMatchObject({ status: 401, reason: 'dpop_binding_mismatch' });
  });

  it('refuses a token offered both as DPoP and as Bearer', async () => {
    const d = await decide({ authorization: [`DPoP ${bound}`, `Bearer ${bound}`], dpop: await proof() });
    expect(d).toMatchObject({ status: 401, reason: 'token_ambiguous' });
  });

  it.each([[{ jkt: 42 }], ['bound'], [{ 'x5t#S256': '' }]])('refuses a cnf claim of the wrong shape (%j) as claim_invalid', async (cnf) => {
    const d = await decide({ authorization: `Bearer ${await signToken(issuerKey, { cnf })}` });
    expect(d).toMatchObject({ status: 401, reason: 'claim_invalid' });
  });
});

describe('the sender-constraint policy', () => {
  it('lets a plain bearer token through where binding is optional', async () => {
    expect((await decide({ authorization: `Bearer ${plain}` })).kind).toBe('allow');
  });

  it('refuses a token without cnf from an issuer with sender_constraint: required, with a DPoP challenge first', async () => {
    const d = await decide({ authorization: `Bearer ${await signToken(strictKey, { iss: STRICT })}` });
    expect(d).toMatchObject({ status: 401, reason: 'token_not_sender_constrained' });
    expect(challenges(d)[0]).toBe('DPoP realm="portcullis", algs="ES256 ES384 EdDSA PS256 RS256"');
  });

  it('allows a bound token from that issuer', async () => {
    const t = await signToken(strictKey, { iss: STRICT, cnf: { jkt: await jktOf(clientKey) } });
    expect((await decide(dpopHeaders(t, await proof({ token: t })))).kind).toBe('allow');
  });

  it('refuses a token without cnf on a rule with require.sender_constrained', async () => {
    const d = await decide({ authorization: `Bearer ${plain}` }, { path: '/payments/1' });
    expect(d).toMatchObject({ status: 401, reason: 'token_not_sender_constrained', rule: 'payments' });
    const ok = await decide(dpopHeaders(bound, await proof({ htu: 'https://api.test/payments/1' })), { path: '/payments/1' });
    expect(ok.kind).toBe('allow');
  });

  it('counts a certificate-bound token (cnf.x5t#S256) as sender-constrained', async () => {
    const d = await decide({ authorization: `Bearer ${await signToken(issuerKey, { cnf: { 'x5t#S256': 'abc' } })}` }, { path: '/payments/1' });
    expect(d.reason).not.toBe('token_not_sender_constrained');
  });
});
