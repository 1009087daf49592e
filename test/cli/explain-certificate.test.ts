/**
 * `portcullis explain --client-cert FILE` for certificate-bound tokens (in process, real config file, certificates
 * from openssl): the binding is a check of its own, passed with the bound certificate and explained with a hint
 * without it or with another one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExplain } from '../../src/cli/explain.ts';
import { clientPki, x5tS256, type ClientPki } from '../support/client-certs.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, signToken } from '../support/tokens.ts';

let c: ClientPki;
let config: string;
let token: string;

async function explain(...args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runExplain(['--config', config, '--at', String(NOW_S), ...args, token], { out: (t) => (out += t), err: (t) => (out += t) });
  return { code, out };
}

beforeAll(async () => {
  c = clientPki(NOW_S * 1000);
  const key = await makeKey('ES256', 'k1');
  writeFileSync(join(c.pki.dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  config = join(c.pki.dir, 'portcullis.yaml');
  writeFileSync(config, `issuers:\n  - issuer: "${ISSUER}"\n    jwks_file: jwks.json\n    audiences: [${AUDIENCE}]\nclient_certificate: {}\n`);
  token = await signToken(key, { cnf: { 'x5t#S256': x5tS256(c.alice) } });
});
afterAll(() => c?.pki.cleanup());

describe('portcullis explain with a certificate-bound token', () => {
  it('passes the binding with the certificate the token is bound to', async () => {
    const { code, out } = await explain('--client-cert', c.alice.pemFile);
    expect(out).toContain(`✔ certificate binding: the client certificate has the token's thumbprint ${x5tS256(c.alice)}`);
    expect(out).toContain('decision: ALLOW');
    expect(code).toBe(0);
  });

  it.each([
    ['without a certificate', [], 'certificate_missing', /include_peer_certificate/],
    ['with another certificate', ['--client-cert', 'MALLORY'], 'certificate_binding_mismatch', /the certificate the token was requested with/],
  ])('explains the deny %s with a hint', async (_name, args, reason, hint) => {
    const { code, out } = await explain(...args.map((a) => (a === 'MALLORY' ? c.mallory.pemFile : a)));
    expect(out).toMatch(/✘ certificate binding: /);
    expect(out).toContain(`decision: DENY 401 ${reason}`);
    expect(out).toMatch(hint);
    expect(code).toBe(1);
  });

  it('refuses a --client-cert file without exactly one certificate as a usage error', async () => {
    const { code, out } = await explain('--client-cert', config);
    expect(code).toBe(2);
    expect(out).toContain('must hold exactly one PEM certificate (holds 0)');
  });
});
