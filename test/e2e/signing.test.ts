/**
 * Both halves with real parts: a client app calls a receiving app through REAL Caddy as its outbound proxy
 * (forward_auth to Portcullis A's /sign, copy_headers Authorization, deploy/caddy/Caddyfile.signer), then a receiving
 * REAL Caddy (deploy/caddy/Caddyfile) whose Portcullis B verifies with `discovery: true` against A. A key rotation
 * (new key file added, old one removed after the switch) happens under a steady stream of calls, none of which fail.
 * Token exchange at the edge runs through Caddy with deploy/caddy/Caddyfile.exchange.
 *
 * Not here: replaying a captured request at the receiver needs replay protection (issue 12, built in parallel).
 */
import { decodeJwt, decodeProtectedHeader, createRemoteJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { freePort } from '../support/ports.ts';
import { startCaddy, type RunningProxy } from '../support/proxies.ts';
import { startRecordingUpstream, type RecordingUpstream } from '../support/upstream.ts';
import { keyDir, type KeyDir } from '../support/signing.ts';
import { send } from '../transports/http/fixtures.ts';
import { jwksOf, makeKey, signToken, type TestKey } from '../support/tokens.ts';

const DESTINATION = 'payments.test';
const AUDIENCE = `http://${DESTINATION}`;
const runtime = { fetch: (u: string, i: RequestInit) => fetch(u, i), now: () => Date.now() } as const;

let keys: KeyDir;
let idp: TestKey;
let issuer: string;
let signer: Running;
let verifier: Running;
let app: RecordingUpstream;
let receiving: RunningProxy;
let outbound: RunningProxy;

const config = (doc: Record<string, unknown>) => buildConfig({ workers: 1, ...doc }, 'test/e2e/signing.test.ts', process.cwd());

beforeAll(async () => {
  keys = keyDir();
  keys.add({ activateAt: Date.now() - 60_000 });
  idp = await makeKey('ES256', 'idp');
  const port = await freePort();
  issuer = `http://127.0.0.1:${port}`;
  signer = await startPortcullis(config({
    listen: { grpc: '127.0.0.1:0', http: `127.0.0.1:${port}` },
    // A short lead so the rotation fits in a test; the verifier refreshes well within it.
    signer: { issuer, keys: { dir: keys.path }, publish_lead: '3s', claims: { team: 'checkout' } },
    issuers: [{ issuer: 'https://idp.test/', jwks: jwksOf(idp), audiences: ['api.test'] }],
    routes: [{ match: { paths: ['/exchange/**'] }, sign: { claims_from_token: ['sub', 'email'] } }],
  }), runtime);
  verifier = await startPortcullis(config({
    listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
    issuers: [{ issuer, discovery: true, audiences: [AUDIENCE], max_ttl: '5m' }],
    identity_headers: { sub: 'x-auth-subject' },
    jwks: { refresh_interval: '1s', min_refresh: '1s' },
  }), runtime);
  app = await startRecordingUpstream();
  receiving = await startCaddy({ authAddress: verifier.httpAddress, upstreamAddress: app.address, anyHost: true });
  outbound = await startCaddy({ authAddress: signer.httpAddress, upstreamAddress: `127.0.0.1:${receiving.port}`, config: 'caddy/Caddyfile.signer', anyHost: true });
}, 30_000);

afterAll(async () => {
  await Promise.allSettled([outbound?.stop(), receiving?.stop()]);
  await Promise.allSettled([signer?.close(), verifier?.close(), app?.close()]);
  keys?.cleanup();
});

/** The client app's call: to the destination, through its outbound proxy. */
function call(headers: readonly (readonly [string, string])[] = []) {
  return send(outbound.url, { path: '/charge', headers: [['host', DESTINATION], ...headers] });
}

function lastToken(): string {
  const auth = app.requests.at(-1)?.headers.authorization;
  expect(auth).toHaveLength(1);
  return auth![0]!.replace(/^Bearer /, '');
}

describe('Caddy as the outbound proxy, a receiving Caddy + Portcullis verifying by discovery', () => {
  it('carries a call; the receiving app sees a token with the right iss, aud and a 128-bit jti', async () => {
    const res = await call();
    expect(res.status, `${res.body}\n${outbound.output()}\n${receiving.output()}`).toBe(200);
    const claims = decodeJwt(lastToken());
    expect(claims).toMatchObject({ iss: issuer, aud: AUDIENCE, team: 'checkout' });
    expect(Buffer.from(claims.jti!, 'base64url')).toHaveLength(16);
    const second = await call();
    expect(second.status).toBe(200);
    expect(decodeJwt(lastToken()).jti).not.toBe(claims.jti);
  });

  it('refuses a call that carries its own Authorization before it leaves', async () => {
    const before = app.requests.length;
    const res = await call([['authorization', 'Bearer smuggled']]);
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body).reason).toBe('authorization_present');
    expect(app.requests.length).toBe(before);
  });

  it('rotates keys (new file added, old removed after the switch) without one failed call', async () => {
    const first = decodeProtectedHeader(lastToken()).kid!;
    const failures: string[] = [];
    const kids = new Set<string>();
    let running = true;
    const traffic = (async () => {
      while (running) {
        const res = await call();
        if (res.status !== 200) failures.push(`${res.status} ${res.body}`);
        else kids.add(decodeProtectedHeader(lastToken()).kid!);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // The CronJob's step: the next key, activating after the lead.
    const next = keys.add({ activateAt: Date.now() + 4_000 });
    const deadline = Date.now() + 20_000;
    while (!kids.has(next) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    keys.remove(first);
    await new Promise((r) => setTimeout(r, 3_000)); // polls see the removal; calls go on with the new key
    running = false;
    await traffic;
    expect(failures).toEqual([]);
    expect([...kids]).toEqual([first, next]);
    // The old key is still published: tokens it signed may still be in flight.
    const published = (await (await fetch(`${issuer}/.well-known/jwks.json`)).json()) as { keys: { kid: string }[] };
    expect(published.keys.map((k: { kid: string }) => k.kid)).toEqual([next, first]);
  }, 40_000);
});

describe('token exchange at the edge through Caddy', () => {
  let edge: RunningProxy;
  let upstream: RecordingUpstream;
  beforeAll(async () => {
    upstream = await startRecordingUpstream();
    edge = await startCaddy({ authAddress: signer.httpAddress, upstreamAddress: upstream.address, config: 'caddy/Caddyfile.exchange' });
  });
  afterAll(async () => {
    await edge?.stop();
    await upstream?.close();
  });

  it('the upstream receives only the internal token, and it verifies against the published JWKS', async () => {
    const external = await signToken(idp, { sub: 'alice', email: 'alice@example.test', exp: Math.floor(Date.now() / 1000) + 600, iat: Math.floor(Date.now() / 1000) });
    const res = await send(edge.url, { path: '/exchange/orders', headers: [['authorization', `Bearer ${external}`]] });
    expect(res.status, `${res.body}\n${edge.output()}`).toBe(200);
    const seen = upstream.requests.at(-1)!;
    const all = JSON.stringify(seen.rawHeaders);
    expect(all).not.toContain(external);
    expect(seen.headers.authorization).toHaveLength(1);
    const internal = seen.headers.authorization![0]!.replace(/^Bearer /, '');
    const { payload } = await jwtVerify(internal, createRemoteJWKSet(new URL(`${issuer}/.well-known/jwks.json`)), { issuer, audience: `http://127.0.0.1:${edge.port}` });
    expect(payload).toMatchObject({ sub: 'alice', email: 'alice@example.test', team: 'checkout' });
    expect(seen.headers['x-auth-subject']).toEqual(['alice']);
  });

  it('never exchanges a token that does not verify', async () => {
    const forged = await signToken(await makeKey('ES256', 'idp'));
    const before = upstream.requests.length;
    const res = await send(edge.url, { path: '/exchange/orders', headers: [['authorization', `Bearer ${forged}`]] });
    expect(res.status).toBe(401);
    expect(upstream.requests.length).toBe(before);
  });
});
