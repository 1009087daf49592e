/**
 * Browser sign-in end to end with real parts nobody here wrote: panva's oidc-provider (development login form,
 * real refresh tokens, JWT access tokens), Debian's Chromium driven by playwright-core, and Debian's caddy 2.6.2
 * running deploy/caddy/Caddyfile.signin, and Debian's nginx 1.22.1 running deploy/nginx/nginx.signin.conf, each in front of a tiny app that greets the X-Auth-Subject it receives.
 * Two subdomains (app.example.test, admin.example.test) resolve to 127.0.0.1 inside Chromium only.
 * Screenshots of every step land in test-output/signin/ (git-ignored).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildConfig } from '../../src/config/load.ts';
import { startPortcullis, type Running } from '../../src/server.ts';
import { Sealer } from '../../src/core/signin/seal.ts';
import { startProxy, type ProxyName, type RunningProxy } from '../support/proxies.ts';
import { freePort } from '../support/ports.ts';
import { OP_AUDIENCE, OP_CLIENT_ID, OP_CLIENT_SECRET, startProvider, type RunningProvider } from '../support/oidc-provider.ts';

const SHOTS = new URL('../../test-output/signin/', import.meta.url).pathname;
const SESSION_KEY = 'e2e-session-key-0123456789abcdef0123456789abcdef';
const ACCESS_TTL_S = 4;
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--host-resolver-rules=MAP *.example.test 127.0.0.1',
];

interface Stack {
  readonly port: number;
  readonly provider: RunningProvider;
  readonly portcullis: Running;
  readonly caddy: RunningProxy;
  readonly app: Server;
  readonly context: BrowserContext;
  readonly page: Page;
  /** Every URL the page navigated to since the last call. */
  navigations(): string[];
  close(): Promise<void>;
}

async function startStack(name: string, cookieDomain: string | undefined, proxyName: ProxyName = 'caddy', extraAccessTokenClaims?: Record<string, unknown>): Promise<Stack> {
  const port = await freePort();
  const site = (host: string) => `http://${host}.example.test:${port}`;
  const provider = await startProvider({
    redirectUris: [`${site('app')}/oauth2/callback`, `${site('admin')}/oauth2/callback`],
    postLogoutRedirectUris: [`${site('app')}/bye`, `${site('admin')}/bye`],
    accessTokenTtlS: ACCESS_TTL_S,
    ...(extraAccessTokenClaims ? { extraAccessTokenClaims } : {}),
  });
  const app = createServer((req, res) => {
    const who = req.headers['x-auth-subject'];
    const body = req.url === '/bye' ? '<h1>Bye</h1>' : `<h1>Hello ${typeof who === 'string' && who ? who : 'nobody'}</h1><p>${req.headers.host}${req.url}</p>`;
    res.writeHead(200, { 'content-type': 'text/html' }).end(body);
  });
  await new Promise<void>((resolve) => app.listen(0, '127.0.0.1', resolve));
  const dir = mkdtempSync(join(tmpdir(), `portcullis-e2e-${name}-`));
  writeFileSync(join(dir, 'keys'), `${SESSION_KEY}\n`);
  writeFileSync(join(dir, 'secret'), OP_CLIENT_SECRET);
  const config = buildConfig({
    listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' },
    issuers: [{ issuer: provider.issuer, discovery: true, audiences: [OP_AUDIENCE], leeway: '0s' }],
    identity_headers: { sub: 'x-auth-subject', email: 'x-auth-email' },
    excludes: ['/bye'],
    ...(proxyName === 'nginx' ? { forward_auth: { original_request: 'x-original', redirect_status: 401 } } : {}),
    login: {
      oidc: {
        issuer: provider.issuer,
        client_id: OP_CLIENT_ID,
        client_secret_file: 'secret',
        scopes: ['openid', 'email', 'offline_access', 'api'],
        session_key_file: 'keys',
        return_hosts: ['*.example.test'],
        refresh_before: '0s',
        // Plain http only because this test has no TLS; with secure: true (the default) http is refused.
        cookie: { secure: false, ...(cookieDomain ? { domain: cookieDomain } : {}) },
      },
    },
  }, 'test/e2e/signin.test.ts', dir);
  const portcullis = await startPortcullis({ ...config, listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:0' } }, { fetch: (u, i) => fetch(u, i), now: () => Date.now() });
  const caddy = await startProxy(proxyName, {
    config: proxyName === 'caddy' ? 'caddy/Caddyfile.signin' : 'nginx/nginx.signin.conf',
    port,
    authAddress: portcullis.httpAddress,
    upstreamAddress: `127.0.0.1:${(app.address() as AddressInfo).port}`,
    hosts: ['app.example.test', 'admin.example.test'],
  });
  const userData = mkdtempSync(join(tmpdir(), `portcullis-chromium-${name}-`));
  const context = await chromium.launchPersistentContext(userData, { executablePath: '/usr/bin/chromium', headless: true, args: CHROMIUM_ARGS });
  const page = context.pages()[0] ?? (await context.newPage());
  let seen: string[] = [];
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) seen.push(frame.url());
  });
  return {
    port, provider, portcullis, caddy, app, context, page,
    navigations() {
      const out = seen;
      seen = [];
      return out;
    },
    async close() {
      await context.close().catch(() => {});
      await caddy.stop();
      await portcullis.close();
      await provider.close();
      await new Promise<void>((resolve) => app.close(() => resolve()));
      rmSync(userData, { recursive: true, force: true });
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const shot = (s: Stack, name: string) => s.page.screenshot({ path: join(SHOTS, `${name}.png`) });
const site = (s: Stack, host: string, path = '/') => `http://${host}.example.test:${s.port}${path}`;

/** On the provider's pages: log in as alice when the form asks, and confirm consent, until back on the app. */
async function passProvider(s: Stack, step: string): Promise<void> {
  for (let i = 0; i < 4 && s.page.url().startsWith(s.provider.issuer); i++) {
    await shot(s, `${s.caddy.name}-${step}-provider-${i}`);
    if (await s.page.locator('input[name="login"]').count()) {
      await s.page.fill('input[name="login"]', 'alice');
      await s.page.fill('input[name="password"]', 'any');
    }
    await Promise.all([s.page.waitForNavigation(), s.page.click('button[type="submit"]')]);
  }
}

const wentToProvider = (s: Stack, urls: string[]) => urls.some((u) => u.startsWith(s.provider.issuer));
const heading = (s: Stack) => s.page.locator('h1').innerText();

describe.each(['caddy', 'nginx'] as const)('browser sign-in through %s with cookie.domain set', (proxy) => {
  let s: Stack;
  const shot = (st: Stack, name: string) => st.page.screenshot({ path: join(SHOTS, `${proxy}-${name}.png`) });
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStack(`domain-${proxy}`, 'example.test', proxy);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('first visit: the provider\'s login form, then back on the app with the identity', async () => {
    await s.page.goto(site(s, 'app', '/orders'));
    expect(s.page.url()).toContain(`${s.provider.issuer}/interaction/`);
    expect(await s.page.locator('input[name="login"]').count()).toBe(1);
    await passProvider(s, '1-first-visit');
    expect(s.page.url()).toBe(site(s, 'app', '/orders'));
    expect(await heading(s)).toBe('Hello alice');
    await shot(s, '1-first-visit-signed-in');
    const names = (await s.context.cookies()).map((c) => `${c.name}@${c.domain}`);
    expect(names).toEqual(expect.arrayContaining(['access_token@.example.test', 'portcullis_session@.example.test']));
    expect((await s.context.cookies()).find((c) => c.name === 'access_token')).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
  });

  it('a second subdomain is signed in without a new login', async () => {
    s.navigations();
    await s.page.goto(site(s, 'admin'));
    expect(await heading(s)).toBe('Hello alice');
    expect(wentToProvider(s, s.navigations())).toBe(false);
    await shot(s, '2-second-subdomain');
  });

  it('an expired access token is refreshed silently, with no provider page, and the new cookie reaches the browser', async () => {
    const before = (await s.context.cookies()).find((c) => c.name === 'access_token')!.value;
    await new Promise((r) => setTimeout(r, (ACCESS_TTL_S + 1) * 1000));
    s.navigations();
    await s.page.goto(site(s, 'app', '/after-expiry'));
    expect(await heading(s)).toBe('Hello alice');
    expect(wentToProvider(s, s.navigations())).toBe(false);
    const after = (await s.context.cookies()).find((c) => c.name === 'access_token')!.value;
    expect(after).not.toBe(before);
    await shot(s, '3-silent-refresh');
  });

  it('a revoked refresh token sends the browser to the provider again', async () => {
    const session = (await s.context.cookies()).find((c) => c.name === 'portcullis_session')!.value;
    const opened = await new Sealer([SESSION_KEY], () => Date.now()).open('session', session);
    expect(opened.ok).toBe(true);
    const rt = opened.ok ? String(opened.payload['rt']) : '';
    const revoked = await fetch(`${s.provider.issuer}/token/revocation`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`${OP_CLIENT_ID}:${OP_CLIENT_SECRET}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: rt, token_type_hint: 'refresh_token' }),
    });
    expect(revoked.status).toBe(200);
    await new Promise((r) => setTimeout(r, (ACCESS_TTL_S + 1) * 1000));
    s.navigations();
    await s.page.goto(site(s, 'app', '/after-revoke'));
    expect(wentToProvider(s, s.navigations())).toBe(true);
    await passProvider(s, '4-revoked');
    expect(await heading(s)).toBe('Hello alice');
    await shot(s, '4-revoked-signed-in-again');
  });

  it('logout signs out on both subdomains', async () => {
    await s.page.goto(site(s, 'app', `/oauth2/sign_out?rd=${encodeURIComponent(site(s, 'app', '/bye'))}`));
    await shot(s, '5-logout-provider');
    if (s.page.url().startsWith(s.provider.issuer)) {
      await Promise.all([s.page.waitForNavigation(), s.page.click('button[autofocus], button[type="submit"]')]);
    }
    expect(s.page.url()).toBe(site(s, 'app', '/bye'));
    expect((await s.context.cookies()).map((c) => c.name)).not.toContain('access_token');
    for (const host of ['app', 'admin']) {
      await s.page.goto(site(s, host));
      expect(s.page.url()).toContain(`${s.provider.issuer}/interaction/`);
      expect(await s.page.locator('input[name="login"]').count()).toBe(1);
      await shot(s, `5-logout-${host}-signed-out`);
    }
  });

  it('a tampered access cookie sends the browser to sign in', async () => {
    await passProvider(s, '6-sign-in-again');
    expect(await heading(s)).toBe('Hello alice');
    const cookie = (await s.context.cookies()).find((c) => c.name === 'access_token')!;
    const [h, p] = cookie.value.split('.');
    const payload = JSON.parse(Buffer.from(p!, 'base64url').toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, sub: 'mallory' })).toString('base64url')}.${cookie.value.split('.')[2]}`;
    await s.context.addCookies([{ ...cookie, value: forged }]);
    s.navigations();
    await s.page.goto(site(s, 'app', '/tampered'));
    expect(wentToProvider(s, s.navigations())).toBe(true);
    await shot(s, '6-tampered');
    await passProvider(s, '6-tampered');
    expect(await heading(s)).toBe('Hello alice');
  });
});

describe('browser sign-in through caddy without cookie.domain', () => {
  let s: Stack;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStack('host-only', undefined);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('signs in one subdomain only: the other goes to the provider', async () => {
    await s.page.goto(site(s, 'app'));
    await passProvider(s, '7-host-only');
    expect(await heading(s)).toBe('Hello alice');
    expect((await s.context.cookies()).find((c) => c.name === 'access_token')!.domain).toBe('app.example.test');
    s.navigations();
    await s.page.goto(site(s, 'admin'));
    expect(wentToProvider(s, s.navigations())).toBe(true);
    await shot(s, '7-host-only-second-subdomain');
  });
});

describe.each(['nginx', 'caddy'] as const)('a big access token through %s', (proxy) => {
  let s: Stack;
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    s = await startStack(`big-${proxy}`, 'example.test', proxy, { pad: 'x'.repeat(6000) });
  }, 60_000);
  afterAll(async () => {
    await s?.close();
  });

  it('is stored as numbered cookie chunks, read back joined, and refreshed as chunks', async () => {
    await s.page.goto(site(s, 'app'));
    await passProvider(s, '8-big');
    expect(await heading(s)).toBe('Hello alice');
    const chunks = async () => (await s.context.cookies()).filter((c) => c.name.startsWith('access_token')).map((c) => c.name).sort();
    const written = await chunks();
    expect(written.length).toBeGreaterThanOrEqual(2);
    expect(written).toEqual(written.map((_, i) => `access_token_${i}`));
    const joined = async () => {
      const all = await s.context.cookies();
      return written.map((name) => all.find((c) => c.name === name)!.value).join('');
    };
    const before = await joined();
    await new Promise((r) => setTimeout(r, (ACCESS_TTL_S + 1) * 1000));
    s.navigations();
    await s.page.goto(site(s, 'admin', '/after-expiry'));
    expect(await heading(s)).toBe('Hello alice');
    expect(wentToProvider(s, s.navigations())).toBe(false);
    expect(await chunks()).toEqual(written);
    expect(await joined()).not.toBe(before);
    await s.page.screenshot({ path: join(SHOTS, `${proxy}-8-big-token-refreshed.png`) });
  });
});
