/**
 * DPoP behind real Caddy and nginx (deploy/ configs): the client's DPoP header reaches forward auth (Caddy passes
 * every client header; nginx's auth_request subrequest passes them like Authorization), a replayed proof is refused,
 * and with dpop.nonce the use_dpop_nonce challenge and its DPoP-Nonce reach the client. nginx passes on only the
 * first WWW-Authenticate line of the 401: it must be the DPoP one.
 *
 * htu: Caddy reports the Host with its port in X-Forwarded-Host; nginx's X-Original-Host is $host, without the port
 * (deploy/nginx/nginx.conf), so behind nginx on this test's free port the client's proofs name the port-less URL.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestPortcullis } from '../support/portcullis.ts';
import { OP_AUDIENCE, startProvider, type RunningProvider } from '../support/oidc-provider.ts';
import { useProxyStack } from '../support/proxy-stack.ts';
import type { ProxyName } from '../support/proxies.ts';
import { dpopClient, proofHeaders, type DpopClient } from '../support/dpop-client.ts';

let op: RunningProvider;
let alice: DpopClient;
let token: string;
const dir = mkdtempSync(join(tmpdir(), 'dpop-proxies-'));
writeFileSync(join(dir, 'nonce-secret'), 'a nonce secret shared by every replica, 32+ bytes');

beforeAll(async () => {
  op = await startProvider({ redirectUris: ['http://127.0.0.1/cb'], postLogoutRedirectUris: [], accessTokenTtlS: 600, dpop: true });
  alice = await dpopClient(op.issuer);
  token = await alice.token();
});
afterAll(async () => {
  await op?.close();
});

describe.each<ProxyName>(['caddy', 'nginx'])('DPoP behind %s', (name) => {
  const stack = useProxyStack(name, async () => {
    const p = await startTestPortcullis({
      clock: 'real',
      originalRequest: name === 'nginx' ? 'x-original' : 'x-forwarded',
      config: {
        issuers: [{ issuer: op.issuer, discovery: true, audiences: [OP_AUDIENCE] }],
        workers: 1,
        dpop: { nonce: true, nonce_secret_file: join(dir, 'nonce-secret') },
        ...(name === 'nginx' ? { forward_auth: { path: '/auth', original_request: 'x-original', redirect_status: 401 } } : {}),
      },
    });
    return { auth: p, address: p.httpAddress };
  });
  const url = () => (name === 'nginx' ? 'http://127.0.0.1/orders' : `${stack.proxy.url}/orders`);
  const call = () => proofHeaders(alice.handle(), token, 'GET', url());

  it('answers use_dpop_nonce with the DPoP challenge first and a DPoP-Nonce, then allows the retry with it', async () => {
    const first = await stack.client('GET', '/orders', Object.entries(await call()));
    expect(first.status).toBe(401);
    expect(first.headers['www-authenticate']?.[0]).toMatch(/^DPoP realm="portcullis", algs="[^"]+", error="use_dpop_nonce"/);
    const nonce = first.headers['dpop-nonce']?.[0];
    expect(nonce).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(stack.reached()).toHaveLength(0);

    const h = await proofHeaders(alice.handle(), token, 'GET', url(), nonce);
    const ok = await stack.client('GET', '/orders', Object.entries(h));
    expect(ok.status).toBe(200);
    expect(stack.reached()).toHaveLength(1);

    const replayed = await stack.client('GET', '/orders', Object.entries(h));
    expect(replayed.status).toBe(401);
    expect(replayed.headers['www-authenticate']?.[0]).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
    expect(stack.reached()).toHaveLength(1);
  });

  it('refuses the DPoP-bound token sent as Bearer, the DPoP challenge first', async () => {
    const r = await stack.client('GET', '/orders', [['authorization', `Bearer ${token}`]]);
    expect(r.status).toBe(401);
    expect(r.headers['www-authenticate']?.[0]).toMatch(/^DPoP .*error="invalid_token"/);
    expect(stack.reached()).toHaveLength(0);
  });
});
