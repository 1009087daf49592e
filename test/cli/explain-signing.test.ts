/** `portcullis explain` on a signing rule: the decision and the signer's keys in plain words, never a token or key. */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runExplain } from '../../src/cli/explain.ts';
import { keyDir } from '../support/signing.ts';

const dir = keyDir();
afterAll(() => dir.cleanup());

async function explain(args: string[]): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runExplain(args, { out: (t) => (out += t), err: (t) => (out += t) });
  return { code, out };
}

describe('portcullis explain with a signer', () => {
  it('shows the signing key by kid and state and the minted header by size only', async () => {
    const kid = dir.add({ activateAt: Date.now() - 60_000 });
    const secret = JSON.parse(readFileSync(join(dir.path, readdirSync(dir.path).find((n) => n.endsWith('.json'))!), 'utf8')).d as string;
    const config = join(dir.path, 'portcullis.yaml');
    writeFileSync(config, `workers: 1\nsigner: { issuer: "https://orders.svc", keys: { dir: "${dir.path}" } }\npolicies: { outbound: { sign: true } }\n`);
    const r = await explain(['--config', config, '--policy', 'outbound', '--host', 'payments.svc']);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`✔ signer: ${kid} signing from dir:${dir.path}`);
    expect(r.out).toContain('✔ sign: minted a token for authorization');
    expect(r.out).toMatch(/minted token set in authorization \(\d+ bytes, not shown\)/);
    expect(r.out).not.toContain('eyJ');
    expect(r.out).not.toContain(secret);
  });

  it('names the refusal and its hint', async () => {
    const config = join(dir.path, 'portcullis.yaml');
    const r = await explain(['--config', config, '--policy', 'outbound', '--host', 'payments.svc', '--header', 'Authorization: Bearer x.y.z']);
    expect(r.code).toBe(1);
    expect(r.out).toContain('DENY 403 authorization_present');
    expect(r.out).toContain('hint: a signing rule refuses a call that already carries the header');
  });
});
