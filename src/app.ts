/**
 * Wires the core from a frozen config: one key source per issuer, the verifier, the authorizer and readiness.
 * I/O (fetch) and time (now) are injected so tests control them.
 */
import type { Config, IssuerConfig } from './config/types.ts';
import type { Authorizer, Readiness } from './core/types.ts';
import { KeySource, type KeySourceEvent } from './core/keys/source.ts';
import { discoveryLoader, fileLoader, httpLoader, inlineLoader, type FetchLike } from './core/keys/loaders.ts';
import { insecureUrlProblem } from './config/schema.ts';
import { Verifier } from './core/verify.ts';
import { TokenCache } from './core/cache.ts';
import { CoreAuthorizer } from './core/authorizer.ts';
import { Idp, type HttpFetch } from './core/signin/idp.ts';
import { Sealer } from './core/signin/seal.ts';
import { SignIn } from './core/signin/flow.ts';
import { RefreshingAuthorizer } from './core/signin/refresh.ts';

export interface Runtime {
  readonly fetch: FetchLike;
  readonly now: () => number;
  readonly random?: () => number;
  readonly onKeyEvent?: (event: KeySourceEvent) => void;
}

export const defaultRuntime: Runtime = {
  fetch: (url, init) => fetch(url, init),
  now: () => Date.now(),
};

export interface Core {
  readonly authorizer: Authorizer;
  readonly verifier: Verifier;
  readonly readiness: Readiness;
  readonly sources: readonly KeySource[];
  /** Browser sign-in (login.oidc), when configured: the HTTP listener serves its endpoints. */
  readonly signIn?: SignIn;
  /** Loads every issuer's keys once (failures leave the service up but not ready) and starts background refresh. */
  start(): Promise<void>;
  stop(): void;
}

export function createCore(config: Config, runtime: Runtime): Core {
  const sources = config.issuers.map((issuer) => keySource(issuer, config, runtime));
  const verifier = new Verifier(
    config.issuers.map((c, i) => ({ config: c, keys: sources[i]! })),
    runtime.now,
    new TokenCache(config.cache),
  );
  const readiness: Readiness = {
    isReady: () => sources.every((s) => s.isReady()),
    details: () => ({
      issuers: sources.map((s) => {
        const st = s.status();
        return { issuer: st.issuer, ready: st.ready, keys: st.keys.length, fetched_at: iso(st.fetchedAt), last_error: st.lastError };
      }),
    }),
    onChange(listener) {
      const offs = sources.map((s) => s.onChange(listener));
      return () => offs.forEach((off) => off());
    },
  };
  const core = new CoreAuthorizer(config, verifier);
  const signIn = config.signIn === undefined ? undefined : createSignIn(config, runtime, verifier, sources);
  return {
    authorizer: signIn === undefined ? core : new RefreshingAuthorizer(core, signIn, { forwardToken: config.policy.forwardToken, now: runtime.now }),
    ...(signIn !== undefined ? { signIn } : {}),
    verifier,
    readiness,
    sources,
    start: async () => {
      await Promise.all(sources.map((s) => s.start()));
    },
    stop: () => sources.forEach((s) => s.stop()),
  };
}

function createSignIn(config: Config, runtime: Runtime, verifier: Verifier, sources: readonly KeySource[]): SignIn {
  const c = config.signIn!;
  const i = config.issuers.findIndex((x) => x.issuer === c.issuer);
  const idp = new Idp({
    config: c,
    // The token endpoint needs POST bodies: the runtime's fetch is the global fetch (or a test's stand-in for it).
    fetch: runtime.fetch as unknown as HttpFetch,
    now: runtime.now,
    timeoutMs: config.jwks.timeoutMs,
    keys: sources[i]!,
    algorithms: config.issuers[i]!.algorithms,
  });
  return new SignIn({ config: c, idp, sealer: new Sealer(c.sessionKeys, runtime.now), verifier });
}

function keySource(issuer: IssuerConfig, config: Config, runtime: Runtime): KeySource {
  const { jwks } = config;
  let location: string;
  let load;
  if (issuer.jwksUri !== undefined) {
    location = issuer.jwksUri;
    load = httpLoader({ url: issuer.jwksUri, fetch: runtime.fetch, timeoutMs: jwks.timeoutMs, maxBytes: jwks.maxBytes });
  } else if (issuer.discoveryUrl !== undefined) {
    location = issuer.discoveryUrl;
    load = discoveryLoader({
      discoveryUrl: issuer.discoveryUrl,
      issuer: issuer.issuer,
      fetch: runtime.fetch,
      timeoutMs: jwks.timeoutMs,
      maxBytes: jwks.maxBytes,
      checkJwksUri: (url) => insecureUrlProblem(url, issuer.allowInsecureHttp),
    });
  } else if (issuer.jwksFile !== undefined) {
    location = `file:${issuer.jwksFile}`;
    load = fileLoader(issuer.jwksFile);
  } else {
    location = 'inline';
    load = inlineLoader(issuer.jwks);
  }
  return new KeySource({
    issuer: issuer.issuer,
    location,
    load,
    now: runtime.now,
    refreshIntervalMs: issuer.jwksFile !== undefined ? Math.min(jwks.refreshIntervalMs, 10_000) : jwks.refreshIntervalMs,
    minRefreshMs: jwks.minRefreshMs,
    cooldownMs: jwks.cooldownMs,
    maxStaleMs: issuer.jwksUri !== undefined || issuer.discoveryUrl !== undefined ? jwks.maxStaleMs : Number.POSITIVE_INFINITY,
    static: issuer.jwks !== undefined,
    ...(runtime.random ? { random: runtime.random } : {}),
    ...(runtime.onKeyEvent ? { onEvent: runtime.onKeyEvent } : {}),
  });
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The GET /keys admin view: every issuer's key state, public JWK members only. */
export function keysView(core: Core): unknown {
  return {
    issuers: core.sources.map((s) => {
      const st = s.status();
      return {
        issuer: st.issuer,
        source: st.location,
        ready: st.ready,
        fetched_at: iso(st.fetchedAt),
        last_attempt_at: iso(st.lastAttemptAt),
        last_error: st.lastError,
        keys: st.keys,
      };
    }),
  };
}
