/**
 * `portcullis explain` for an x5c issuer (in process, real config file, real certificates from openssl): it lists the
 * configured roots instead of keys, shows the chain it built by subjects (never keys or certificate bytes), and for
 * each x5c deny reason prints the reason and a hint.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runExplain } from '../src/cli/explain.ts';
import { TestPki, type IssuedCert } from './support/pki.ts';
import { PROVISIONER, PROXY_AUDIENCE, stepX5cToken } from './support/x5c.ts';

const NOW = Math.floor(Date.now() / 1000) * 1000;
let pki: TestPki;
let config: string;
let root: IssuedCert, int: IssuedCert, leaf: IssuedCert, expired: IssuedCert;

async function explain(token: string): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runExplain(['--config', config, '--at', String(NOW / 1000), token], { out: (t) => (out += t), err: (t) => (out += t) });
  return { code, out };
}

beforeAll(() => {
  pki = new TestPki(NOW);
  root = pki.ca('root');
  int = pki.ca('int', root);
  leaf = pki.leaf('leaf', int);
  expired = pki.leaf('expired', int, { notBefore: NOW - 10 * 86_400_000, notAfter: NOW - 86_400_000 });
  config = join(pki.dir, 'portcullis.yaml');
  writeFileSync(config, `issuers:\n  - issuer: ${PROVISIONER}\n    x5c:\n      roots: [root.pem]\n    audiences: ["${PROXY_AUDIENCE}"]\n`);
});
afterAll(() => pki?.cleanup());

describe('portcullis explain with an x5c issuer', () => {
  it('lists the roots and shows the chain it built, subjects only', async () => {
    const { code, out } = await explain(await stepX5cToken(leaf, NOW, { chain: [int] }));
    expect(code).toBe(0);
    expect(out).toContain(`✔ ${PROVISIONER}: 1 root (CN=root,O=Portcullis Test) from x5c roots ${root.pemFile}`);
    expect(out).toContain('✔ x5c chain: leaf CN=leaf,O=Portcullis Test ← CN=int,O=Portcullis Test ← CN=root,O=Portcullis Test (configured root)');
    expect(out).not.toContain(leaf.x5c.slice(0, 40));
    expect(out).toContain('decision: ALLOW');
  });

  it.each([
    ['x5c_expired', () => stepX5cToken(expired, NOW, { chain: [int] }), 'renew the leaf'],
    ['x5c_untrusted', () => stepX5cToken(leaf, NOW), "x5c.roots"],
    ['x5c_malformed', () => stepX5cToken(leaf, NOW, { x5c: [leaf.x5c.replace(/\+/g, '-').replace(/\//g, '_')] }), 'standard-base64'],
  ])('explains %s with a hint', async (reason, make, hint) => {
    const { code, out } = await explain(await make());
    expect(code).toBe(1);
    expect(out).toMatch(/✘ x5c chain: /);
    expect(out).toContain(`decision: DENY 401 ${reason}`);
    expect(out).toMatch(new RegExp(`hint: .*${hint.replace('.', '\\.')}`));
  });
});
