/** The assembled service (core + both listeners) over real sockets: admin views and file-based keys. */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { startPortcullis, type Running } from '../src/server.ts';
import { buildConfig } from '../src/config/load.ts';
import { jwksOf, makeKey, signToken, ISSUER, NOW_S } from './support/tokens.ts';
import { startJwksServer, type JwksServer } from './support/jwks-server.ts';

interface KeysView {
  issuers: { issuer: string; fetched_at: string; last_error: string | null; keys: { kid: string }[] }[];
}

let running: Running | undefined;
let jwks: JwksServer | undefined;
afterEach(async () => {
  await running?.close();
  await jwks?.close();
  running = jwks = undefined;
});

const now = () => NOW_S * 1000;
const runtime = { fetch: (u: string, i: Parameters<typeof fetch>[1]) => fetch(u, i), now };

function config(issuer: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return buildConfig({ listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' }, issuers: [{ issuer: ISSUER, audiences: ['api.test'], ...issuer }], ...extra }, 'test', process.cwd());
}

const ask = (token: string) =>
  fetch(`${running!.httpUrl}/auth`, { headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', authorization: `Bearer ${token}` } });

describe('GET /keys', () => {
  it('shows each issuer key state with public members only, even when the JWKS leaks a private key', async () => {
    const leaky = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
    jwks = await startJwksServer({ kind: 'serve', body: { keys: [{ ...leaky, kid: 'leaky', use: 'sig' }] } });
    running = await startPortcullis(config({ jwks_uri: jwks.url }), runtime);
    const view = (await (await fetch(`${running.httpUrl}/keys`)).json()) as KeysView;
    expect(view.issuers[0]!).toMatchObject({ issuer: ISSUER, source: jwks.url, ready: true, last_error: null, keys: [{ kid: 'leaky', kty: 'EC', crv: 'P-256' }] });
    expect(view.issuers[0]!.fetched_at).toBe(new Date(now()).toISOString());
    expect(JSON.stringify(view)).not.toContain(String(leaky.d));
  });

  it('refuses other methods', async () => {
    running = await startPortcullis(config({ jwks: jwksOf(await makeKey('ES256', 'k')) }), runtime);
    expect((await fetch(`${running.httpUrl}/keys`, { method: 'DELETE' })).status).toBe(405);
  });
});

describe('GET /readyz', () => {
  it('says which issuer is not ready and why, and follows the IdP coming back', async () => {
    const key = await makeKey('ES256', 'k1');
    jwks = await startJwksServer({ kind: 'status', status: 503 });
    running = await startPortcullis(config({ jwks_uri: jwks.url }, { jwks: { cooldown: '0s' } }), runtime);
    const down = await fetch(`${running.httpUrl}/readyz`);
    expect(down.status).toBe(503);
    expect(await down.json()).toMatchObject({ status: 'not_ready', issuers: [{ issuer: ISSUER, ready: false, last_error: expect.stringContaining('HTTP 503') }] });
    expect((await ask(await signToken(key))).status).toBe(503);
    jwks.behaviour = { kind: 'serve', body: jwksOf(key) };
    expect((await ask(await signToken(key))).status).toBe(200);
    expect((await fetch(`${running.httpUrl}/readyz`)).status).toBe(200);
  });
});

describe('jwks_file', () => {
  it('picks up a rotated key file and never replaces good keys with a broken file', async () => {
    const [k1, k2, k3] = await Promise.all([makeKey('ES256', 'k1'), makeKey('ES256', 'k2'), makeKey('ES256', 'k3')]);
    const file = join(mkdtempSync(join(tmpdir(), 'portcullis-keys-')), 'jwks.json');
    writeFileSync(file, JSON.stringify(jwksOf(k1)));
    running = await startPortcullis(config({ jwks_file: file }, { jwks: { cooldown: '0s' } }), runtime);
    expect((await ask(await signToken(k1))).status).toBe(200);
    // A mounted secret is rewritten with both keys: the new kid is picked up on first use.
    writeFileSync(file, JSON.stringify(jwksOf(k1, k2)));
    expect((await ask(await signToken(k2))).status).toBe(200);
    // A half-written file keeps the last good keys.
    writeFileSync(file, '{"keys": [');
    expect((await ask(await signToken(k3))).status).toBe(401);
    expect((await ask(await signToken(k1, { jti: 'fresh' }))).status).toBe(200);
    const view = (await (await fetch(`${running.httpUrl}/keys`)).json()) as KeysView;
    expect(view.issuers[0]!.last_error).toContain('is not JSON');
    expect(view.issuers[0]!.keys.map((k: { kid: string }) => k.kid)).toEqual(['k1', 'k2']);
  });
});
