/**
 * The real service for integration and end-to-end tests: `startPortcullis` (core + HTTP listener + gRPC listener) on
 * loopback port 0, its one trusted issuer's keys on a real JWKS HTTP server (test/support/jwks-server.ts) that the
 * test can rotate, break and repair while the service runs.
 *
 * Config: issuer ISSUER with audiences ['api.test', 'caddy'], identity headers sub → x-auth-subject and
 * email → x-auth-email, excludes ['/healthz', '/public/**'], the chosen original-request family, defaults otherwise
 * (cooldown 30 s). Time is a clock the test holds (starting at NOW_S, where tokens.ts signs its tokens), or real time.
 */
import { buildConfig } from '../../src/config/load.ts';
import type { Config, OriginalRequestHeaders } from '../../src/core/config.ts';
import { startPortcullis as startService, type Running } from '../../src/server.ts';
import type { KeySourceEvent } from '../../src/core/keys/source.ts';
import { startJwksServer, type Behaviour, type JwksServer } from './jwks-server.ts';
import { AUDIENCE, ISSUER, jwksOf, makeKey, NOW_S, type TestKey } from './tokens.ts';

export const EXCLUDES = ['/healthz', '/public/**'] as const;
export const IDENTITY_HEADERS = ['x-auth-subject', 'x-auth-email'] as const;
export const REALM_CHALLENGE = 'Bearer realm="portcullis"';

/** A clock the test moves by hand. */
export interface TestClock {
  now(): number;
  advance(ms: number): void;
}

export function manualClock(startMs = NOW_S * 1000): TestClock {
  let t = startMs;
  return {
    now: () => t,
    advance(ms) {
      t += ms;
    },
  };
}

export interface PortcullisOptions {
  /** Which header family carries the original request on the forward-auth endpoint. Default 'x-forwarded'. */
  readonly originalRequest?: OriginalRequestHeaders;
  /** 'real' = Date.now (sign tokens with current iat/exp); default a manual clock at NOW_S. */
  readonly clock?: TestClock | 'real';
  /** What the JWKS server does from the start. Default: serve the signing key. */
  readonly jwks?: Behaviour;
  /** Extra top-level config keys (e.g. `{ jwks: { cooldown: '0s' } }`), merged over the defaults above. */
  readonly config?: Record<string, unknown>;
  /** Signing key published by default. Default: a fresh ES256 key with kid "k1". */
  readonly key?: TestKey;
}

export interface TestPortcullis {
  readonly config: Config;
  readonly running: Running;
  readonly jwks: JwksServer;
  /** The key the JWKS server publishes at start (unless `jwks` said otherwise). */
  readonly key: TestKey;
  /** Manual clock, or undefined in real time. */
  readonly clock: TestClock | undefined;
  /** gRPC listener, "127.0.0.1:port". */
  readonly grpcAddress: string;
  /** HTTP listener, "127.0.0.1:port" (forward auth at /auth, /healthz, /readyz). */
  readonly httpAddress: string;
  /** "http://127.0.0.1:port" */
  readonly httpUrl: string;
  /** Every key-source event, in order (loaded / load_failed). */
  readonly keyEvents: KeySourceEvent[];
  /** Publish exactly these keys from now on. */
  publish(...keys: TestKey[]): void;
  close(): Promise<void>;
}

export function portcullisConfig(jwksUri: string, opts: Pick<PortcullisOptions, 'originalRequest' | 'config'> = {}): Config {
  const doc = {
    issuers: [{ issuer: ISSUER, jwks_uri: jwksUri, audiences: [AUDIENCE, 'caddy'] }],
    identity_headers: { sub: IDENTITY_HEADERS[0], email: IDENTITY_HEADERS[1] },
    excludes: [...EXCLUDES],
    forward_auth: { path: '/auth', original_request: opts.originalRequest ?? 'x-forwarded' },
    ...opts.config,
  };
  // Both listeners on port 0, set after validation: the check that grpc and http differ is about real ports.
  const validated = buildConfig(doc, 'test/support/portcullis.ts', process.cwd());
  return Object.freeze({ ...validated, listen: Object.freeze({ grpc: '127.0.0.1:0', http: '127.0.0.1:0' }) });
}

export async function startTestPortcullis(opts: PortcullisOptions = {}): Promise<TestPortcullis> {
  const key = opts.key ?? (await makeKey('ES256', 'k1'));
  const jwks = await startJwksServer(opts.jwks ?? { kind: 'serve', body: jwksOf(key) });
  const clock = opts.clock === 'real' ? undefined : (opts.clock ?? manualClock());
  const keyEvents: KeySourceEvent[] = [];
  let running: Running;
  const config = portcullisConfig(jwks.url, opts);
  try {
    running = await startService(config, {
      fetch: (url, init) => fetch(url, init),
      now: clock ? clock.now : () => Date.now(),
      random: () => 0, // no jitter: a failed load is retried after exactly max(cooldown, 1 s)
      onKeyEvent: (event) => keyEvents.push(event),
    });
  } catch (e) {
    await jwks.close();
    throw e;
  }
  return {
    config,
    running,
    jwks,
    key,
    clock,
    grpcAddress: running.grpcAddress,
    httpAddress: running.httpAddress,
    httpUrl: running.httpUrl,
    keyEvents,
    publish(...keys) {
      jwks.behaviour = { kind: 'serve', body: jwksOf(...keys) };
    },
    async close() {
      try {
        await running.close();
      } finally {
        await jwks.close();
      }
    },
  };
}
