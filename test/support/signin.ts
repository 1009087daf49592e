/**
 * A sign-in core for tests: the real core (createCore) configured with `login.oidc` against the scriptable provider
 * of fake-idp.ts, a clock the test moves, session keys in a temp file, and a tiny browser cookie jar.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildConfig } from '../../src/config/load.ts';
import { createCore, type Core } from '../../src/app.ts';
import type { SignIn, SignInAnswer, SignInRequest } from '../../src/core/signin/flow.ts';
import { manualClock, type TestClock } from './portcullis.ts';
import { ACCESS_AUDIENCE, CLIENT_ID, CLIENT_SECRET, startFakeIdp, type FakeIdp } from './fake-idp.ts';
import { request } from './core.ts';
import type { AuthRequest } from '../../src/core/types.ts';

export const KEY_A = 'session-key-A-0123456789abcdef0123456789abcdef';
export const KEY_B = 'session-key-B-0123456789abcdef0123456789abcdef';

export interface SignInHarness {
  readonly idp: FakeIdp;
  readonly core: Core;
  readonly signIn: SignIn;
  readonly clock: TestClock;
  /** A core over the same provider with other session keys (rotation). */
  withKeys(keys: string[]): Promise<Core>;
  close(): Promise<void>;
}

export async function startSignIn(oidc: Record<string, unknown> = {}, keys: string[] = [KEY_A]): Promise<SignInHarness> {
  const clock = manualClock(Date.now());
  const idp = await startFakeIdp(clock.now);
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-signin-'));
  writeFileSync(join(dir, 'client_secret'), `${CLIENT_SECRET}\n`);
  const cores: Core[] = [];
  const build = async (sessionKeys: string[]): Promise<Core> => {
    const file = join(dir, `keys-${cores.length}`);
    writeFileSync(file, sessionKeys.join('\n'));
    const config = buildConfig({
      listen: { grpc: '127.0.0.1:0', http: '127.0.0.1:1' },
      issuers: [{ issuer: idp.issuer, discovery: true, audiences: [ACCESS_AUDIENCE] }],
      identity_headers: { sub: 'x-auth-subject' },
      login: {
        oidc: {
          issuer: idp.issuer,
          client_id: CLIENT_ID,
          client_secret_file: 'client_secret',
          scopes: ['openid', 'email', 'offline_access'],
          session_key_file: file,
          return_hosts: ['app.example.com', '*.example.com', 'app.example.net'],
          cookie: { domain: 'example.com' },
          ...oidc,
        },
      },
    }, 'test', dir);
    const core = createCore(config, { fetch: (u, i) => fetch(u, i), now: clock.now });
    await core.start();
    cores.push(core);
    return core;
  };
  const core = await build(keys);
  return {
    idp,
    core,
    signIn: core.signIn!,
    clock,
    withKeys: build,
    async close() {
      cores.forEach((c) => c.stop());
      await idp.close();
    },
  };
}

/** A browser's cookie jar for one site (Domain and Path are asserted on the Set-Cookie strings, not modelled). */
export class Jar {
  readonly cookies = new Map<string, string>();

  apply(setCookies: readonly string[]): this {
    for (const line of setCookies) {
      const [pair] = line.split(';');
      const eq = pair!.indexOf('=');
      const name = pair!.slice(0, eq);
      if (/;\s*Max-Age=0(;|$)/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, pair!.slice(eq + 1));
    }
    return this;
  }

  header(): Record<string, string> {
    return this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([n, v]) => `${n}=${v}`).join('; ') };
  }
}

export function signInRequest(jar: Jar, query: Record<string, string> | URLSearchParams = {}, over: Partial<SignInRequest> = {}): SignInRequest {
  const headers = new Map(Object.entries(jar.header()).map(([k, v]) => [k, [v]]));
  return { host: 'app.example.com', scheme: 'https', query: new URLSearchParams(query), headers, ...over };
}

/** start → provider → callback, as one browser. Returns the callback's answer (cookies applied to `jar`). */
export async function signInFlow(h: SignInHarness, jar: Jar, rd = 'https://app.example.com/orders'): Promise<SignInAnswer> {
  const started = await h.signIn.start(signInRequest(jar, { rd }));
  jar.apply(started.setCookies);
  const back = new URL(await h.idp.authorize(started.location!));
  const answer = await h.signIn.callback(signInRequest(jar, back.searchParams));
  jar.apply(answer.setCookies);
  return answer;
}

/** A navigation (or an API call) on app.example.com carrying the jar's cookies. */
export function appRequest(jar: Jar, kind: 'navigation' | 'api' = 'navigation', path = '/orders'): AuthRequest {
  const accept: Record<string, string> = kind === 'navigation' ? { accept: 'text/html', 'sec-fetch-mode': 'navigate' } : { accept: 'application/json' };
  return request({ host: 'app.example.com', path, headers: { ...jar.header(), ...accept } });
}
