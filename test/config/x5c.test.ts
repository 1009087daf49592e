/**
 * `issuers[].x5c` at config load: roots are read and checked once, and every problem names its key path and file.
 * Root files are real PEMs made by openssl at test time.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { configProblems } from '../support/config.ts';
import { buildConfig } from '../../src/config/load.ts';
import { TestPki, type IssuedCert } from '../support/pki.ts';

let pki: TestPki;
let root: IssuedCert, root2: IssuedCert, leaf: IssuedCert;

beforeAll(() => {
  pki = new TestPki(Date.now());
  root = pki.ca('root');
  root2 = pki.ca('root-2');
  leaf = pki.leaf('leaf', root);
  writeFileSync(join(pki.dir, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  writeFileSync(join(pki.dir, 'empty.pem'), 'no certificates here\n');
});
afterAll(() => pki?.cleanup());

const issuer = (extra: Record<string, unknown>) => ({ issuer: 'x5c-provisioner', audiences: ['https://ca.example.com/1.0/sign'], ...extra });
const build = (issuers: unknown[], top: Record<string, unknown> = {}) => buildConfig({ listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' }, issuers, ...top }, 'test.yaml', pki.dir);

const problems = (issuers: unknown[], top: Record<string, unknown> = {}): readonly string[] =>
  configProblems({ listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' }, issuers, ...top }, pki.dir, 'test.yaml');

describe('x5c config', () => {
  it('reads every root (relative paths from the config directory, bundles) with clientAuth as the default usage', () => {
    const config = build([issuer({ x5c: { roots: ['root.pem', pki.bundle('both', root, root2)] } })]);
    const x5c = config.issuers[0]!.x5c!;
    expect(x5c.roots.map((r) => r.subject)).toEqual(['CN=root,O=Portcullis Test', 'CN=root,O=Portcullis Test', 'CN=root-2,O=Portcullis Test']);
    expect(x5c.roots[0]!.file).toBe(root.pemFile);
    expect(x5c.extendedKeyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
  });

  it.each([
    ['names mapped to OIDs', ['clientAuth', 'serverAuth'], ['1.3.6.1.5.5.7.3.2', '1.3.6.1.5.5.7.3.1']],
    ['a dotted OID kept', ['1.3.6.1.4.1.99999.7'], ['1.3.6.1.4.1.99999.7']],
    ['[] means no check', [], []],
  ])('extended_key_usage: %s', (_name, given, oids) => {
    expect(build([issuer({ x5c: { roots: ['root.pem'], extended_key_usage: given } })]).issuers[0]!.x5c!.extendedKeyUsage).toEqual(oids);
  });

  it('maps identity_headers_from_cert to lower-cased header names', () => {
    const config = build([issuer({ x5c: { roots: ['root.pem'] }, identity_headers_from_cert: { subject: 'X-Auth-Cert-Subject', sans: 'X-Auth-Cert-Sans' } })]);
    expect(config.issuers[0]!.identityHeadersFromCert).toEqual({ subject: 'x-auth-cert-subject', sans: 'x-auth-cert-sans' });
  });

  it.each<[string, unknown[], Record<string, unknown>, string]>([
    ['x5c beside jwks_uri', [issuer({ x5c: { roots: ['root.pem'] }, jwks_uri: 'https://idp.test/jwks' })], {}, 'issuers[0]: needs exactly one of jwks_uri, jwks_file, jwks, discovery, openid_configuration, x5c (got jwks_uri, x5c)'],
    ['x5c beside discovery', [issuer({ x5c: { roots: ['root.pem'] }, discovery: true })], {}, '(got discovery, x5c)'],
    ['no roots', [issuer({ x5c: { roots: [] } })], {}, 'issuers[0].x5c.roots: must not be empty'],
    ['roots missing', [issuer({ x5c: {} })], {}, 'issuers[0].x5c.roots: required'],
    ['a PEM block that is not a certificate', [issuer({ x5c: { roots: ['garbage.pem'] } })], {}, 'garbage.pem is not a valid X.509 certificate'],
    ['a leaf configured as a root', [issuer({ x5c: { roots: ['leaf.pem'] } })], {}, 'leaf.pem (CN=leaf,O=Portcullis Test) is not a CA certificate'],
    ['an unknown usage name', [issuer({ x5c: { roots: ['root.pem'], extended_key_usage: ['clientauth'] } })], {}, 'issuers[0].x5c.extended_key_usage[0]: "clientauth" must be one of serverAuth, clientAuth'],
    ['an unknown x5c key', [issuer({ x5c: { roots: ['root.pem'], anchors: [] } })], {}, 'issuers[0].x5c.anchors: unknown key'],
    ['cert headers on a JWKS issuer', [issuer({ jwks_uri: 'https://idp.test/jwks', identity_headers_from_cert: { subject: 'x-cert' } })], {}, 'issuers[0].identity_headers_from_cert: only an x5c issuer has a certificate'],
    ['a cert header that is already a claim header', [issuer({ x5c: { roots: ['root.pem'] }, identity_headers_from_cert: { subject: 'X-Auth-Subject' } })], {}, 'issuers[0].identity_headers_from_cert.subject: "x-auth-subject" is already an identity or token header'],
    ['a cert header that is a trust header', [issuer({ x5c: { roots: ['root.pem'] }, identity_headers_from_cert: { sans: 'x-forwarded-for' } })], {}, 'issuers[0].identity_headers_from_cert.sans: "x-forwarded-for" may not carry a claim'],
  ])('refuses %s', (_name, issuers, top, problem) => {
    expect(problems(issuers, top).join('\n')).toContain(problem);
  });

  it('refuses an x5c issuer as the sign-in issuer (sign-in verifies ID tokens with a JWKS)', () => {
    const found = problems([issuer({ issuer: 'https://x5c.example/', x5c: { roots: ['root.pem'] } })], { login: { oidc: { issuer: 'https://x5c.example/', client_id: 'portcullis', session_key_file: 'session.key' } } });
    expect(found).toContain('login.oidc.issuer: "https://x5c.example/" is an x5c issuer; sign-in needs an issuer with OIDC keys');
  });

  it('names the missing root file by its full path', () => {
    expect(problems([issuer({ x5c: { roots: ['missing.pem'] } })])).toEqual([`issuers[0].x5c.roots[0]: cannot read ${join(pki.dir, 'missing.pem')}: ENOENT`]);
  });

  it('names a root file without certificates', () => {
    expect(problems([issuer({ x5c: { roots: ['empty.pem'] } })])).toEqual([`issuers[0].x5c.roots[0]: ${join(pki.dir, 'empty.pem')} holds no PEM CERTIFICATE block`]);
  });
});
