/**
 * `portcullis explain` on rules with claim paths, prefix, not and a path template: every condition is a line with
 * its outcome and key path (not only the rule's verdict), and the route line names the template's values.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExplain } from '../../src/cli/explain.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

const ISSUER = 'https://idp.test/';
let dir: string;
let config: string;
let key: TestKey;
const now = Math.floor(Date.now() / 1000);

beforeAll(async () => {
  key = await makeKey('ES256', 'k1');
  dir = mkdtempSync(join(tmpdir(), 'portcullis-explain-rules-'));
  writeFileSync(join(dir, 'jwks.json'), JSON.stringify(jwksOf(key)));
  config = join(dir, 'portcullis.yaml');
  writeFileSync(config, `
issuers:
  - issuer: "${ISSUER}"
    jwks_file: jwks.json
    audiences: ["api.test"]
    algorithms: [ES256]
routes:
  - name: tenant-admin
    match: { paths: ["/tenants/{tenant}/admin/**"] }
    require:
      claims:
        realm_access.roles: { contains: admin }
        sub: { prefix: "spiffe://prod.example/" }
      not: { claims: { role: { equals: guest } } }
`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function explain(claims: Record<string, unknown>): Promise<{ code: number; out: string }> {
  const token = await signToken(key, { iat: now - 60, exp: now + 600, ...claims });
  let out = '';
  const code = await runExplain(['--config', config, '--path', '/tenants/acme/admin/users', token], { out: (t) => (out += t), err: (t) => (out += t) });
  return { code, out };
}

describe('portcullis explain on claim-path rules', () => {
  it('shows each condition holding, and the template value', async () => {
    const r = await explain({ sub: 'spiffe://prod.example/ns/a/sa/b', realm_access: { roles: ['admin'] } });
    expect(r.code).toBe(0);
    expect(r.out).toContain('✔ route: rule tenant-admin (anonymous required) with tenant="acme"');
    expect(r.out).toContain('✔ require.claims.realm_access.roles: claim "realm_access.roles" must contain "admin": holds');
    expect(r.out).toContain('✔ require.claims.sub: claim "sub" must start with "spiffe://prod.example/": holds');
    expect(r.out).toContain('✘ require.not.claims.role: claim "role" must equal "guest"');
    expect(r.out).toContain('✔ require.not: holds');
  });

  it('shows every failing condition, not only the first, and the verdict', async () => {
    const r = await explain({ sub: 'alice', realm_access: { roles: ['user'] }, role: 'guest' });
    expect(r.code).toBe(1);
    expect(r.out).toContain('✘ require.claims.realm_access.roles: claim "realm_access.roles" must contain "admin"');
    expect(r.out).toContain('✘ require.claims.sub: claim "sub" must start with "spiffe://prod.example/"');
    expect(r.out).toContain('✘ require.not: must not hold, but does: claim "role" must equal "guest"');
    expect(r.out).toContain('✘ requirements: claim "realm_access.roles" must contain "admin"');
    expect(r.out).toContain('DENY 403 requirement_not_met');
  });

  it('says an ambiguous claim path cannot be decided', async () => {
    const r = await explain({ sub: 'spiffe://prod.example/x', realm_access: { roles: ['admin'] }, 'realm_access.roles': ['admin'] });
    expect(r.code).toBe(1);
    expect(r.out).toContain('✘ require.claims.realm_access.roles: claim "realm_access.roles" is ambiguous in this token: it resolves in more than one way');
  });
});
