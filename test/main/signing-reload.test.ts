/**
 * Generated signer keys across real reloads of the real process (issue 24 §4): ten reloads that change `ttl` keep one
 * kid in the published JWKS, and a token minted before them still verifies against it; a reload that must change the
 * key (another algorithm) signs with the new one and still publishes the old one. The timeline with an injected
 * clock: test/app-signing.test.ts and test/core/sign/keyring.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { freePorts } from '../support/ports.ts';
import { startMain, type MainProcess } from '../support/process.ts';

let main: MainProcess | undefined;
afterEach(() => {
  main?.kill();
  main = undefined;
});

describe('signer.keys.generate across reloads', { timeout: 90_000 }, () => {
  it('keeps the key through ten ttl reloads, and publishes the old key beside the new one when the algorithm changes', async () => {
    const [http, grpc] = await freePorts(2);
    const base = `http://127.0.0.1:${http}`;
    const file = join(mkdtempSync(join(tmpdir(), 'portcullis-signer-reload-')), 'portcullis.yaml');
    const config = (signer: string) => [
      'workers: 1',
      `listen: { grpc: "127.0.0.1:${grpc}", http: "127.0.0.1:${http}" }`,
      `signer: { issuer: "${base}", keys: { generate: { rotate_every: "12h" } }, ${signer} }`,
    ].join('\n');
    const mint = async (): Promise<string> => {
      const r = await fetch(`${base}/sign`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'payments.svc' } });
      expect(r.status).toBe(200);
      return r.headers.get('authorization')!.slice('Bearer '.length);
    };
    const jwks = async () => (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    const verifies = async (token: string) => jwtVerify(token, createLocalJWKSet(await jwks() as never)).then(() => true, () => false);
    const kid = (token: string) => decodeProtectedHeader(token).kid;

    writeFileSync(file, config('ttl: 5m'));
    main = startMain(['--config', file]);
    await main.waitFor('"portcullis started"');
    const first = await mint();
    for (let i = 1; i <= 10; i++) {
      writeFileSync(file, config(`ttl: ${5 + i}m`));
      await main.waitFor('"config reloaded"', i);
      const token = await mint();
      expect(kid(token)).toBe(kid(first));
      const { iat, exp } = decodeJwt(token);
      expect(exp! - iat!).toBe((5 + i) * 60); // the reload took effect
    }
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([kid(first)]);
    expect(await verifies(first)).toBe(true);

    writeFileSync(file, config('ttl: 15m, algorithm: EdDSA'));
    await main.waitFor('"config reloaded"', 11);
    const fresh = await mint();
    expect(decodeProtectedHeader(fresh).alg).toBe('EdDSA');
    expect((await jwks()).keys.map((k) => k.kid)).toEqual([kid(fresh), kid(first)]);
    expect(await verifies(first)).toBe(true);
    expect(await verifies(fresh)).toBe(true);
  });
});
