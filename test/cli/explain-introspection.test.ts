/**
 * `portcullis explain` with an opaque token: the real provider (panva's oidc-provider) introspects it, and explain
 * says so in plain words, never printing the token or the client secret.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runExplain } from '../../src/cli/explain.ts';
import { OP_AUDIENCE, OP_CLIENT_ID, OP_CLIENT_SECRET, startProvider, type RunningProvider } from '../support/oidc-provider.ts';

let provider: RunningProvider;
let config: string;

beforeAll(async () => {
  provider = await startProvider({ redirectUris: ['http://127.0.0.1/cb'], postLogoutRedirectUris: [], accessTokenTtlS: 300, introspection: { clientKey: generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey } });
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-explain-introspection-'));
  writeFileSync(join(dir, 'secret'), OP_CLIENT_SECRET);
  config = join(dir, 'portcullis.yaml');
  writeFileSync(config, `workers: 1
issuers:
  - issuer: "${provider.issuer}"
    discovery: true
    audiences: ["${OP_AUDIENCE}"]
    introspection: { client_id: ${OP_CLIENT_ID}, client_secret_file: secret, opaque_tokens: true }
`);
});
afterAll(() => provider?.close());

async function explain(token: string): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runExplain(['--config', config, token], { out: (t) => (out += t), err: (t) => (out += t) });
  return { code, out };
}

describe('portcullis explain with an opaque token', () => {
  it('shows the introspection and the answer\'s checks, then the allow', async () => {
    const token = await provider.issueOpaque('alice');
    const r = await explain(token);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain(`not a compact JWS: introspected at ${provider.issuer} (opaque_tokens)`);
    expect(r.out).toContain(`✔ introspection: ${provider.issuer} says the token is active`);
    expect(r.out).toMatch(/✔ claim aud: /);
    expect(r.out).not.toContain(token);
    expect(r.out).not.toContain(OP_CLIENT_SECRET);
  });

  it('names token_inactive and its hint for a token the provider does not know', async () => {
    const r = await explain('at_nobody_issued_this_0123456789');
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENY 401 token_inactive');
    expect(r.out).toContain('hint: the issuer\'s introspection endpoint says this token is not active');
  });
});
