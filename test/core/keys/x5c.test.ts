/**
 * x5c issuers with real certificates: openssl builds root → intermediate → leaf hierarchies (EC P-256, RSA-2048,
 * Ed25519 leaves) at test time, jose signs the tokens, and the real Verifier (config → X5cTrust → chain validation →
 * signature → claims) decides. Every case of issue 14's table is its own row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../../src/config/load.ts';
import type { Config } from '../../../src/core/config.ts';
import { createCore, type Core } from '../../../src/app.ts';
import { Verifier } from '../../../src/core/verify.ts';
import type { ExplainStep } from '../../../src/core/explain.ts';
import { denyContextOf } from '../../../src/core/deny.ts';
import { CA_EXT, LEAF_EXT, TestPki, type IssuedCert } from '../../support/pki.ts';
import { CA_AUDIENCE, PROVISIONER, PROXY_AUDIENCE, stepX5cToken } from '../../support/x5c.ts';

const NOW = Math.floor(Date.now() / 1000) * 1000;
const DAY = 86_400_000;
const leafExt = (replace: Record<string, string | null>) =>
  LEAF_EXT.flatMap((line) => {
    const key = line.split(' = ')[0]!;
    return key in replace ? (replace[key] === null ? [] : [`${key} = ${replace[key]}`]) : [line];
  });

let pki: TestPki;
let root: IssuedCert, int: IssuedCert, leafEc: IssuedCert, leafRsa: IssuedCert, leafEd: IssuedCert;
let c: Record<string, IssuedCert>;

function x5cConfig(issuer: Record<string, unknown> = {}): Config {
  return buildConfig({
    listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' },
    issuers: [{ issuer: PROVISIONER, x5c: { roots: [root.pemFile] }, audiences: [CA_AUDIENCE, PROXY_AUDIENCE], algorithms: ['ES256', 'RS256', 'EdDSA'], ...issuer }],
  }, 'test', pki.dir);
}

function core(issuer: Record<string, unknown> = {}, now = () => NOW): Core {
  return createCore(x5cConfig(issuer), { fetch: () => Promise.reject(new Error('no network')), now });
}
let verifier: Verifier;

beforeAll(() => {
  pki = new TestPki(NOW);
  root = pki.ca('root');
  int = pki.ca('int', root);
  leafEc = pki.leaf('leaf-ec', int, { key: 'ec' });
  leafRsa = pki.leaf('leaf-rsa', int, { key: 'rsa' });
  leafEd = pki.leaf('leaf-ed', int, { key: 'ed25519' });
  const otherRoot = pki.ca('other-root');
  const otherInt = pki.ca('other-int', otherRoot);
  const intPathLen0 = pki.ca('int-pathlen0', root, ['basicConstraints = critical, CA:true, pathlen:0', 'keyUsage = critical, keyCertSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid']);
  const intUnderPathLen0 = pki.ca('int-under-pathlen0', intPathLen0);
  const intNotCa = pki.ca('int-not-ca', root, ['basicConstraints = critical, CA:false', 'keyUsage = critical, digitalSignature, keyCertSign', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid']);
  const intNoKeyUsage = pki.ca('int-no-key-usage', root, ['basicConstraints = critical, CA:true', 'subjectKeyIdentifier = hash', 'authorityKeyIdentifier = keyid']);
  const intServerOnly = pki.ca('int-server-only', root, [...CA_EXT, 'extendedKeyUsage = serverAuth']);
  c = {
    otherRoot, otherInt, intPathLen0, intUnderPathLen0, intNotCa, intNoKeyUsage, intServerOnly,
    untrusted: pki.leaf('untrusted', otherInt),
    selfSigned: pki.issue('self-signed', { ext: LEAF_EXT }),
    leafCa: pki.issue('leaf-ca', { issuer: int, ext: CA_EXT }),
    underNotCa: pki.leaf('under-not-ca', intNotCa),
    underNoKeyUsage: pki.leaf('under-no-key-usage', intNoKeyUsage),
    tooDeep: pki.leaf('too-deep', intUnderPathLen0),
    underServerOnly: pki.leaf('under-server-only', intServerOnly),
    expired: pki.leaf('expired', int, { notBefore: NOW - 10 * DAY, notAfter: NOW - DAY }),
    expiredWithinLeeway: pki.leaf('expired-30s', int, { notBefore: NOW - 10 * DAY, notAfter: NOW - 30_000 }),
    notYetValid: pki.leaf('not-yet-valid', int, { notBefore: NOW + DAY, notAfter: NOW + 10 * DAY }),
    noDigitalSignature: pki.leaf('no-digital-signature', int, { ext: leafExt({ keyUsage: 'critical, keyEncipherment' }) }),
    noKeyUsage: pki.leaf('no-key-usage', int, { ext: leafExt({ keyUsage: null }) }),
    serverAuth: pki.leaf('server-auth', int, { ext: leafExt({ extendedKeyUsage: 'serverAuth' }) }),
    noEku: pki.leaf('no-eku', int, { ext: leafExt({ extendedKeyUsage: null }) }),
    unknownCritical: pki.leaf('unknown-critical', int, { ext: [...LEAF_EXT, '1.3.6.1.4.1.99999.1 = critical, ASN1:NULL'] }),
    withSans: pki.leaf('with-sans', int, { ext: [...LEAF_EXT, 'subjectAltName = DNS:workload.example.com, URI:spiffe://example.com/ns/prod/sa/api, IP:10.0.0.7'] }),
    stranger: pki.leaf('stranger', int),
    underRoot: pki.leaf('under-root', root),
  };
  verifier = core().verifier;
});
afterAll(() => pki?.cleanup());

describe('an x5c issuer accepts a step CLI token signed by a leaf that chains to its root', () => {
  it.each([
    ['an EC P-256 leaf (ES256)', () => leafEc],
    ['an RSA-2048 leaf (RS256)', () => leafRsa],
    ['an Ed25519 leaf (EdDSA)', () => leafEd],
  ])('%s', async (_name, leaf) => {
    const r = await verifier.verify(await stepX5cToken(leaf(), NOW, { chain: [int] }));
    expect(r).toMatchObject({ ok: true, issuer: PROVISIONER, claims: { sub: 'workload.example.com' }, cert: { subject: `CN=${leaf().name},O=Portcullis Test` } });
  });

  it.each<[string, () => Promise<string>]>([
    ['extra unrelated certificates in x5c', () => stepX5cToken(leafEc, NOW, { chain: [c.otherInt!, int, c.otherRoot!] })],
    ['the root itself appended after the intermediate', () => stepX5cToken(leafEc, NOW, { chain: [int, root] })],
    ['a duplicate intermediate', () => stepX5cToken(leafEc, NOW, { chain: [int, int] })],
    ['a leaf issued directly by the root', () => stepX5cToken(c.underRoot!, NOW)],
    ['a leaf that expired 30 s ago (within the 60 s leeway)', () => stepX5cToken(c.expiredWithinLeeway!, NOW, { chain: [int] })],
    ['a kid that is a file path (ignored)', () => stepX5cToken(leafEc, NOW, { chain: [int], header: { kid: '/home/me/.step/secrets/leaf.key' } })],
    ['no kid at all', () => stepX5cToken(leafEc, NOW, { chain: [int], header: { kid: undefined } })],
  ])('%s', async (_name, make) => {
    expect(await verifier.verify(await make())).toMatchObject({ ok: true });
  });

  it('without reporting the client-chosen kid (a file path) as the key id', async () => {
    const r = await verifier.verify(await stepX5cToken(leafEc, NOW, { chain: [int], header: { kid: '/home/me/.step/secrets/leaf.key' } }));
    expect(r.ok && r.kid).toBeUndefined();
  });

  it('a leaf without extended key usage, when extended_key_usage is [] (no check)', async () => {
    const v = core({ x5c: { roots: [root.pemFile], extended_key_usage: [] } }).verifier;
    expect(await v.verify(await stepX5cToken(c.noEku!, NOW, { chain: [int] }))).toMatchObject({ ok: true });
  });

  it('a serverAuth leaf, when extended_key_usage lists serverAuth', async () => {
    const v = core({ x5c: { roots: [root.pemFile], extended_key_usage: ['serverAuth'] } }).verifier;
    expect(await v.verify(await stepX5cToken(c.serverAuth!, NOW, { chain: [int] }))).toMatchObject({ ok: true });
  });
});

describe('an x5c issuer denies', () => {
  const b64url = (cert: IssuedCert) => cert.x5c.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  it.each<[string, string, string, () => Promise<string>]>([
    ['a chain to an untrusted root', 'x5c_untrusted', 'no certificate path', () => stepX5cToken(c.untrusted!, NOW, { chain: [c.otherInt!, c.otherRoot!] })],
    ['a self-signed leaf', 'x5c_untrusted', 'no certificate path', () => stepX5cToken(c.selfSigned!, NOW)],
    ['a leaf whose intermediate is missing', 'x5c_untrusted', 'no certificate path', () => stepX5cToken(leafEc, NOW)],
    ['a leaf that is itself a CA', 'x5c_usage', 'is a CA certificate', () => stepX5cToken(c.leafCa!, NOW, { chain: [int] })],
    ['the configured root presented as the leaf', 'x5c_usage', 'is a CA certificate', () => stepX5cToken(root, NOW)],
    ['an intermediate without the CA flag', 'x5c_untrusted', 'not a CA certificate', () => stepX5cToken(c.underNotCa!, NOW, { chain: [c.intNotCa!] })],
    ['an intermediate without keyCertSign (no key usage)', 'x5c_untrusted', 'lacks the keyCertSign', () => stepX5cToken(c.underNoKeyUsage!, NOW, { chain: [c.intNoKeyUsage!] })],
    ['a path length violation (pathlen:0 above another CA)', 'x5c_untrusted', 'pathLenConstraint', () => stepX5cToken(c.tooDeep!, NOW, { chain: [c.intPathLen0!, c.intUnderPathLen0!] })],
    ['an intermediate restricted to serverAuth', 'x5c_untrusted', 'restricts extended key usage', () => stepX5cToken(c.underServerOnly!, NOW, { chain: [c.intServerOnly!] })],
    ['an unknown critical extension on the leaf', 'x5c_untrusted', 'unsupported critical extension', () => stepX5cToken(c.unknownCritical!, NOW, { chain: [int] })],
    ['an expired leaf', 'x5c_expired', 'expired at', () => stepX5cToken(c.expired!, NOW, { chain: [int] })],
    ['a not-yet-valid leaf', 'x5c_expired', 'is not valid before', () => stepX5cToken(c.notYetValid!, NOW, { chain: [int] })],
    ['a leaf without digitalSignature', 'x5c_usage', 'lacks the digitalSignature', () => stepX5cToken(c.noDigitalSignature!, NOW, { chain: [int] })],
    ['a leaf without any key usage', 'x5c_usage', 'lacks the digitalSignature', () => stepX5cToken(c.noKeyUsage!, NOW, { chain: [int] })],
    ['the wrong extended key usage (serverAuth)', 'x5c_usage', 'needs one of [1.3.6.1.5.5.7.3.2]', () => stepX5cToken(c.serverAuth!, NOW, { chain: [int] })],
    ['a leaf without extended key usage (clientAuth required)', 'x5c_usage', 'needs one of [1.3.6.1.5.5.7.3.2]', () => stepX5cToken(c.noEku!, NOW, { chain: [int] })],
    ['a swapped chain order (intermediate first)', 'x5c_usage', 'leaf CN=int,', () => stepX5cToken(leafEc, NOW, { x5c: [int.x5c, leafEc.x5c] })],
    ['a token signed by a different key than the leaf\'s', 'signature_invalid', 'signature verification failed', () => stepX5cToken(leafEc, NOW, { chain: [int], signWith: c.stranger! })],
    ['an algorithm that does not fit the leaf key (RS256 on an EC leaf)', 'key_unknown', 'cannot make RS256', () => stepX5cToken(leafEc, NOW, { chain: [int], signWith: leafRsa, alg: 'RS256' })],
    ['an algorithm outside the issuer allowlist (PS256)', 'algorithm_not_allowed', 'not allowed', () => stepX5cToken(leafRsa, NOW, { chain: [int], alg: 'PS256' })],
    ['x5c together with jwk', 'x5c_malformed', '"jwk"', () => stepX5cToken(leafEc, NOW, { chain: [int], header: { jwk: leafEc.privateKey.export({ format: 'jwk' }) } })],
    ['x5c together with jku', 'x5c_malformed', '"jku"', () => stepX5cToken(leafEc, NOW, { chain: [int], header: { jku: 'https://attacker.test/jwks' } })],
    ['x5c together with x5u', 'x5c_malformed', '"x5u"', () => stepX5cToken(leafEc, NOW, { chain: [int], header: { x5u: 'https://attacker.test/chain.pem' } })],
    ['no x5c header', 'x5c_malformed', 'no "x5c" header', () => stepX5cToken(leafEc, NOW, { header: { x5c: undefined } })],
    ['base64url instead of base64', 'x5c_malformed', 'is base64url', () => stepX5cToken(leafEc, NOW, { x5c: [b64url(leafEc), b64url(int)] })],
    ['base64 with whitespace', 'x5c_malformed', 'not canonical standard base64', () => stepX5cToken(leafEc, NOW, { x5c: [`${leafEc.x5c.slice(0, 64)}\n${leafEc.x5c.slice(64)}`, int.x5c] })],
    ['x5c as a string, not a list', 'x5c_malformed', 'non-empty array', () => stepX5cToken(leafEc, NOW, { x5c: leafEc.x5c })],
    ['an empty x5c list', 'x5c_malformed', 'non-empty array', () => stepX5cToken(leafEc, NOW, { x5c: [] })],
    ['bytes that are not a certificate', 'x5c_malformed', 'not a DER X.509 certificate', () => stepX5cToken(leafEc, NOW, { x5c: [Buffer.from('not a certificate').toString('base64')] })],
    ['a certificate with trailing bytes', 'x5c_malformed', 'not a DER X.509 certificate', () => stepX5cToken(leafEc, NOW, { x5c: [Buffer.concat([Buffer.from(leafEc.x5c, 'base64'), Buffer.from([0])]).toString('base64'), int.x5c] })],
    ['an oversized chain (9 certificates)', 'x5c_malformed', 'at most 8', () => stepX5cToken(leafEc, NOW, { chain: Array(8).fill(int) })],
    ['an oversized chain (more than 16 KB)', 'x5c_malformed', 'exceeds 16384', () => stepX5cToken(leafEc, NOW, { x5c: [leafEc.x5c, 'A'.repeat(16_384)] })],
    ['a valid chain with the wrong aud (the proxy name missing)', 'audience_mismatch', 'audience mismatch', () => stepX5cToken(leafEc, NOW, { chain: [int], claims: { aud: `https://other-proxy:9595/1.0/sign#x5c/${PROVISIONER}` } })],
    ['a token for another provisioner (fragment)', 'audience_mismatch', 'audience mismatch', () => stepX5cToken(leafEc, NOW, { chain: [int], claims: { aud: `${PROXY_AUDIENCE}#x5c/other` } })],
    ['an expired token', 'token_expired', 'token expired', () => stepX5cToken(leafEc, NOW - 600_000, { chain: [int] })],
  ])('%s → %s (%s)', async (_name, reason, because, make) => {
    expect(await verifier.verify(await make())).toMatchObject({ ok: false, status: 401, reason, message: expect.stringContaining(because) });
  });

  it('a chain whose CA signs with Ed25519 (PKI.js cannot verify such certificates; docs/x5c.md says so)', async () => {
    const edRoot = pki.issue('ed-root', { key: 'ed25519', ext: CA_EXT });
    const leaf = pki.leaf('under-ed-root', edRoot);
    const r = await core({ x5c: { roots: [edRoot.pemFile] } }).verifier.verify(await stepX5cToken(leaf, NOW));
    expect(r).toMatchObject({ ok: false, reason: 'x5c_untrusted' });
  });

  it('a valid chain whose aud names only the proxy until the proxy name is added to audiences', async () => {
    const token = await stepX5cToken(leafEc, NOW, { chain: [int] }); // aud https://caddy:9595/1.0/sign#x5c/x5c-provisioner
    const without = await core({ audiences: [CA_AUDIENCE] }).verifier.verify(token);
    expect(without).toMatchObject({ ok: false, reason: 'audience_mismatch' });
    if (!without.ok) expect(without.message).toContain(`expected one of ["${CA_AUDIENCE}"], got ["${PROXY_AUDIENCE}#x5c/${PROVISIONER}"]`);
    expect(await core({ audiences: [CA_AUDIENCE, PROXY_AUDIENCE] }).verifier.verify(token)).toMatchObject({ ok: true });
  });
});

describe('an x5c issuer', () => {
  it('shows in explain the chain it built (subjects, not keys)', async () => {
    const steps: ExplainStep[] = [];
    await verifier.verify(await stepX5cToken(leafEc, NOW, { chain: [int] }), (s) => steps.push(s));
    const chain = steps.find((s) => s.check === 'x5c chain');
    expect(chain).toMatchObject({ ok: true });
    expect(chain?.detail).toMatch(/^leaf CN=leaf-ec,O=Portcullis Test ← CN=int,O=Portcullis Test ← CN=root,O=Portcullis Test \(configured root\)/);
    expect(chain?.detail).not.toMatch(/BEGIN|MII/);
  });

  it('says why in explain when the chain fails', async () => {
    const steps: ExplainStep[] = [];
    await verifier.verify(await stepX5cToken(c.tooDeep!, NOW, { chain: [c.intPathLen0!, c.intUnderPathLen0!] }), (s) => steps.push(s));
    expect(steps.find((s) => s.check === 'x5c chain')).toMatchObject({ ok: false, detail: expect.stringContaining('pathLenConstraint') });
  });

  it('verifies a chain once and answers the next token with the same chain from the chain cache', async () => {
    const v = core().verifier;
    const steps: ExplainStep[] = [];
    await v.verify(await stepX5cToken(leafEc, NOW, { chain: [int] }), (s) => steps.push(s));
    await v.verify(await stepX5cToken(leafEc, NOW, { chain: [int] }), (s) => steps.push(s));
    const details = steps.filter((s) => s.check === 'x5c chain').map((s) => s.detail);
    expect(details[0]).not.toContain('chain cache');
    expect(details[1]).toContain('from the chain cache');
  });

  it('stops accepting a cached token and a cached chain once the leaf expires', async () => {
    const shortLived = pki.leaf('short-lived', int, { notBefore: NOW - DAY, notAfter: NOW + 120_000 });
    let now = NOW;
    const c2 = core({}, () => now);
    const token = await stepX5cToken(shortLived, NOW, { chain: [int], claims: { exp: NOW / 1000 + 3600 } });
    expect(await c2.verifier.verify(token)).toMatchObject({ ok: true });
    expect(await c2.verifier.verify(token)).toMatchObject({ ok: true });
    now = NOW + 120_000 + 61_000;
    expect(await c2.verifier.verify(token)).toMatchObject({ ok: false, reason: 'x5c_expired' });
  });

  it('with replay: true, refuses the second use of a step token, like Smallstep (docs/replay.md)', async () => {
    const config = buildConfig({
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' },
      workers: 1,
      replay: { store: 'memory' },
      issuers: [{ issuer: PROVISIONER, x5c: { roots: [root.pemFile] }, audiences: [PROXY_AUDIENCE], replay: true }],
    }, 'test', pki.dir);
    const c5 = createCore(config, { fetch: () => Promise.reject(new Error('no network')), now: () => NOW });
    await c5.start();
    const token = await stepX5cToken(leafEc, NOW, { chain: [int] });
    const req = { transport: 'http' as const, method: 'GET', host: 'api.test', scheme: 'https', path: '/', headers: new Map([['authorization', [`Bearer ${token}`]]]), contextExtensions: new Map<string, string>() };
    expect(await c5.authorizer.check(req)).toMatchObject({ kind: 'allow' });
    expect(await c5.authorizer.check(req)).toMatchObject({ kind: 'deny', reason: 'token_replayed' });
    c5.stop();
  });

  it('refuses a step token whose claims are not Unicode text (a lone surrogate in sub) as claim_invalid, like any token', async () => {
    const r = await core().verifier.verify(await stepX5cToken(leafEc, NOW, { chain: [int], claims: { sub: 'workload\ud800.example.com' } }));
    expect(r).toMatchObject({ ok: false, status: 401, reason: 'claim_invalid' });
  });

  it('is ready from the start and reports its roots, not keys, for /keys and readiness', async () => {
    const c3 = core();
    await c3.start();
    expect(c3.readiness.isReady()).toBe(true);
    expect(c3.sources[0]!.status()).toMatchObject({ ready: true, location: `x5c roots ${root.pemFile}`, keys: [{ kty: 'x509', subject: 'CN=root,O=Portcullis Test' }] });
    c3.stop();
  });

  it('gives the leaf subject and SANs to identity_headers_from_cert, and every deny (core or adapter-built) clears them', async () => {
    const certHeaders = { identity_headers_from_cert: { subject: 'X-Auth-Cert-Subject', sans: 'x-auth-cert-sans' } };
    const c4 = core(certHeaders);
    const token = await stepX5cToken(c.withSans!, NOW, { chain: [int] });
    const d = await c4.authorizer.check({ transport: 'http', method: 'GET', host: 'api.test', scheme: 'https', path: '/', headers: new Map([['authorization', [`Bearer ${token}`]]]), contextExtensions: new Map() });
    expect(d.kind).toBe('allow');
    expect(d.identity).toEqual(expect.arrayContaining([
      { name: 'x-auth-cert-subject', value: 'CN=with-sans,O=Portcullis Test' },
      { name: 'x-auth-cert-sans', value: 'DNS:workload.example.com,URI:spiffe://example.com/ns/prod/sa/api,IP:10.0.0.7' },
    ]));
    expect(denyContextOf(x5cConfig(certHeaders)).cleared.map((h) => h.name)).toEqual(expect.arrayContaining(['x-auth-cert-subject', 'x-auth-cert-sans']));
    const denied = await c4.authorizer.check({ transport: 'http', method: 'GET', host: 'api.test', scheme: 'https', path: '/', headers: new Map(), contextExtensions: new Map() });
    expect(denied.identity).toEqual(expect.arrayContaining([{ name: 'x-auth-cert-subject', value: undefined }, { name: 'x-auth-cert-sans', value: undefined }]));
  });
});
