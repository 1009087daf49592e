/**
 * RFC 8705 through the real core: a token with cnf.x5t#S256 is allowed only with the certificate it names, checked on
 * every request (the token cache keeps the token, never the check); other tokens pass as before; the client
 * certificate's names reach identity headers only when configured, and never stick to a cached token.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Core } from '../../../src/app.ts';
import type { Decision } from '../../../src/core/types.ts';
import { certificateFrom } from '../../../src/core/client-certificate.ts';
import { checkCertificateBinding } from '../../../src/core/bind/certificate.ts';
import { bearer, request, startCore, testConfig } from '../../support/core.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../../support/tokens.ts';
import { clientPki, derBase64, rfc9440, x5tS256, type ClientPki } from '../../support/client-certs.ts';

let c: ClientPki;
let key: TestKey;
let core: Core;
let bound: string;
let plain: string;

const CERT_HEADERS = { subject: 'x-client-subject', sans: 'x-client-sans', thumbprint: 'x-client-thumbprint' };

beforeAll(async () => {
  c = clientPki();
  key = await makeKey('ES256', 'k1');
  core = await startCore(testConfig({ client_certificate: { identity_headers: CERT_HEADERS } }, { jwks: jwksOf(key) }));
  bound = await signToken(key, { cnf: { 'x5t#S256': x5tS256(c.alice) } });
  plain = await signToken(key);
});
afterAll(() => {
  core.stop();
  c.pki.cleanup();
});

const withCert = (token: string, ...values: string[]) => request({ headers: bearer(token), ...(values.length ? { clientCertificate: certificateFrom('header', values)! } : {}) });
const identity = (d: Decision) => Object.fromEntries(d.identity.map((h) => [h.name, h.value]));
const challenge = (d: Decision) => (d.kind === 'deny' ? d.headers.find(([n]) => n === 'www-authenticate')?.[1] : undefined);

describe('a certificate-bound token', () => {
  it('is allowed with the certificate it is bound to, in any form the proxy sends', async () => {
    for (const value of [rfc9440(c.alice), derBase64(c.alice)]) {
      expect(await core.authorizer.check(withCert(bound, value))).toMatchObject({ kind: 'allow', reason: 'token_valid' });
    }
  });

  it.each([
    ['no certificate', () => withCert(bound), 'certificate_missing', /came without one/],
    ['another certificate', () => withCert(bound, rfc9440(c.mallory)), 'certificate_binding_mismatch', /not the one the token is bound to/],
    ['an unreadable certificate header', () => withCert(bound, 'not-a-certificate'), 'certificate_missing', /cannot be read: the client certificate header is not base64 DER/],
    ['the header sent twice', () => withCert(bound, rfc9440(c.alice), rfc9440(c.alice)), 'certificate_missing', /sent 2 times/],
  ])('is refused with %s: 401 invalid_token, no identity', async (_name, make, reason, says) => {
    const d = await core.authorizer.check(make());
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason, issuer: 'https://idp.test/' });
    expect(d.kind === 'deny' && d.message).toMatch(says);
    expect(challenge(d)).toMatch(/^Bearer realm="portcullis", error="invalid_token", error_description="the /);
    expect(Object.values(identity(d)).every((v) => v === undefined)).toBe(true);
  });

  it('is checked on every request: a cached token with its certificate, then without, then with another', async () => {
    const token = await signToken(key, { cnf: { 'x5t#S256': x5tS256(c.alice) }, jti: 'cached' });
    // The cache admits a token on its second verification.
    for (let i = 0; i < 2; i++) expect((await core.authorizer.check(withCert(token, rfc9440(c.alice)))).kind).toBe('allow');
    expect(core.verifier.cached(token)).toMatchObject({ ok: true });
    // The verified token is answered from the cache now (synchronously), and the binding is still checked.
    const again = core.authorizer.check(withCert(token));
    expect(again).not.toBeInstanceOf(Promise);
    expect(again).toMatchObject({ kind: 'deny', reason: 'certificate_missing' });
    expect(await core.authorizer.check(withCert(token, rfc9440(c.mallory)))).toMatchObject({ kind: 'deny', reason: 'certificate_binding_mismatch' });
    expect(await core.authorizer.check(withCert(token, rfc9440(c.alice)))).toMatchObject({ kind: 'allow' });
  });

  it.each([
    ['a number', 42],
    ['padded base64url', `${'A'.repeat(43)}=`],
    ['a hex SHA-256', 'ab'.repeat(32)],
  ])('with cnf.x5t#S256 that is %s is refused as claim_invalid', async (_name, x5t) => {
    const d = await core.authorizer.check(withCert(await signToken(key, { cnf: { 'x5t#S256': x5t } }), rfc9440(c.alice)));
    expect(d).toMatchObject({ kind: 'deny', status: 401, reason: 'claim_invalid' });
  });
});

describe('checkCertificateBinding, given the cnf.x5t#S256 the bind step read', () => {
  it.each<[string, () => string, () => string[], Record<string, unknown>]>([
    ['holds with the certificate of that thumbprint', () => x5tS256(c.alice), () => [rfc9440(c.alice)], { ok: true }],
    ['refuses a value that is not a base64url SHA-256', () => 'x', () => [rfc9440(c.alice)], { ok: false, reason: 'claim_invalid' }],
    ['refuses a request without a certificate', () => x5tS256(c.alice), () => [], { ok: false, reason: 'certificate_missing' }],
    ['refuses an unreadable certificate', () => x5tS256(c.alice), () => ['garbage'], { ok: false, reason: 'certificate_missing' }],
    ['refuses another certificate', () => x5tS256(c.alice), () => [rfc9440(c.mallory)], { ok: false, reason: 'certificate_binding_mismatch' }],
  ])('%s', (_name, x5t, values, expected) => {
    const vs = values();
    const r = request(vs.length ? { clientCertificate: certificateFrom('header', vs)! } : {});
    expect(checkCertificateBinding(x5t(), r)).toMatchObject(expected);
  });
});

describe('a token that is not certificate-bound', () => {
  it('with a cnf that is not an object is refused as claim_invalid, never taken as unbound', async () => {
    expect(await core.authorizer.check(withCert(await signToken(key, { cnf: 'x' }), rfc9440(c.alice)))).toMatchObject({ kind: 'deny', status: 401, reason: 'claim_invalid' });
  });

  it('is allowed as before, with or without a certificate, and even with an unreadable one', async () => {
    for (const values of [[], [rfc9440(c.mallory)], ['garbage']]) {
      expect(await core.authorizer.check(withCert(plain, ...values))).toMatchObject({ kind: 'allow', reason: 'token_valid' });
    }
  });
});

describe('client certificate identity headers (client_certificate.identity_headers)', () => {
  it("carry the request's certificate subject, SANs and thumbprint beside the token's claims", async () => {
    const d = await core.authorizer.check(withCert(plain, rfc9440(c.alice)));
    expect(identity(d)).toEqual({
      'x-auth-subject': 'alice',
      'x-auth-email': undefined,
      'x-client-subject': 'CN=alice,O=Portcullis Test',
      'x-client-sans': 'DNS:alice.example.test,URI:spiffe://example.test/ns/app/sa/alice,email:alice@example.test',
      'x-client-thumbprint': x5tS256(c.alice),
    });
    expect(d).toMatchObject({ shared: false });
  });

  it("never stick to the cached token: the next request's certificate, or none, decides them", async () => {
    const token = await signToken(key, { jti: 'identity' });
    expect(identity(await core.authorizer.check(withCert(token, rfc9440(c.alice))))['x-client-subject']).toBe('CN=alice,O=Portcullis Test');
    expect(identity(await core.authorizer.check(withCert(token, rfc9440(c.mallory))))).toMatchObject({ 'x-client-subject': 'CN=mallory,O=Portcullis Test', 'x-client-sans': undefined });
    const none = await core.authorizer.check(withCert(token));
    expect(identity(none)).toMatchObject({ 'x-auth-subject': 'alice', 'x-client-subject': undefined, 'x-client-sans': undefined, 'x-client-thumbprint': undefined });
    expect(none).toMatchObject({ shared: true });
  });

  it('are cleared on a deny, so a client copy never reaches the upstream', async () => {
    const d = await core.authorizer.check(request({ headers: { 'x-client-subject': 'CN=admin' } }));
    expect(d.kind).toBe('deny');
    expect(identity(d)).toMatchObject({ 'x-client-subject': undefined, 'x-client-sans': undefined, 'x-client-thumbprint': undefined });
  });
});
