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
import { createReplay, type Replay } from './app-replay.ts';
import type { ReplayStoreEvent } from './stores/redis-replay.ts';
import { createSigning, type Signing } from './signing.ts';
import type { SigningKeyEvent } from './core/sign/source.ts';
import type { KeyDirResult } from './core/sign/key-dir.ts';
import { Idp, type HttpFetch } from './core/signin/idp.ts';
import { Sealer } from './core/signin/seal.ts';
import { SignIn } from './core/signin/flow.ts';
import { RefreshingAuthorizer } from './core/signin/refresh.ts';
import { X5cTrust } from './core/keys/x5c-trust.ts';

export interface Runtime {
  readonly fetch: FetchLike;
  readonly now: () => number;
  readonly random?: () => number;
  readonly onKeyEvent?: (event: KeySourceEvent) => void;
  /** Replay store connection changes and (rate-limited) failed checks: main logs them. */
  readonly onReplayEvent?: (event: ReplayStoreEvent) => void;
  /** Redis password when the URL has none; default PORTCULLIS_REDIS_PASSWORD. */
  readonly redisPassword?: string;
  /** Signing key events (loaded, load failed: the reason, never key material). */
  readonly onSigningEvent?: (event: SigningKeyEvent) => void;
  /** Replaces the signing key directory reader (tests). */
  readonly loadSigningKeys?: () => KeyDirResult;
}

export const defaultRuntime: Runtime = {
  fetch: (url, init) => fetch(url, init),
  now: () => Date.now(),
};

export interface Core {
  readonly authorizer: Authorizer;
  readonly verifier: Verifier;
  readonly readiness: Readiness;
  /** One per issuer: a JWKS source, or an x5c issuer's roots (ready from the start: nothing to fetch). */
  readonly sources: readonly (KeySource | X5cTrust)[];
  /** The single-use token store and its readiness rule; null when no issuer or rule asks for single use. */
  readonly replay: Replay | null;
  /** The signer (`signer:`), when configured. */
  readonly signing?: Signing;
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
  const replay = createReplay(config, runtime);
  const signing = config.signer === undefined ? undefined : createSigning(config.signer, {
    now: runtime.now,
    ...(runtime.onSigningEvent ? { onSigningEvent: runtime.onSigningEvent } : {}),
    ...(runtime.loadSigningKeys ? { loadKeys: runtime.loadSigningKeys } : {}),
  });
  const readiness: Readiness = {
    isReady: () => sources.every((s) => s.isReady()) && (replay?.ready() ?? true) && (signing === undefined || signing.source.isReady()),
    details: () => ({
      issuers: sources.map((s, i) => {
        const st = s.status();
        const single = replay?.issuerDetails(config.issuers[i]!);
        return { issuer: st.issuer, ready: st.ready && (single?.ready ?? true), keys: st.keys.length, fetched_at: iso(st.fetchedAt), last_error: st.lastError, ...single?.fields };
      }),
      ...(replay ? { replay_store: replay.details() } : {}),
      ...(signing !== undefined ? { signer: { ready: signing.source.isReady(), last_error: signing.source.status().last_error } } : {}),
    }),
    onChange(listener) {
      const offs = [
        ...[...sources, ...(signing ? [signing.source] : [])].map((s) => s.onChange(listener)),
        ...(replay ? [replay.store.onChange(listener)] : []),
      ];
      return () => offs.forEach((off) => off());
    },
  };
  const core = new CoreAuthorizer(config, verifier, replay?.singleUse ?? null, signing?.minter);
  const signIn = config.signIn === undefined ? undefined : createSignIn(config, runtime, verifier, sources);
  return {
    authorizer: signIn === undefined ? core : new RefreshingAuthorizer(core, signIn, { forwardToken: config.policy.forwardToken, now: runtime.now }),
    ...(signIn !== undefined ? { signIn } : {}),
    verifier,
    readiness,
    sources,
    replay,
    ...(signing !== undefined ? { signing } : {}),
    start: async () => {
      signing?.source.start(); // a bad key directory stops the start, naming the files
      await Promise.all([...sources.map((s) => s.start()), replay?.store.start()]);
    },
    stop: () => {
      signing?.source.stop();
      sources.forEach((s) => s.stop());
      void replay?.store.stop();
    },
  };
}

/** Sign-in's issuer is never an x5c issuer (config/load.ts refuses it). */
function jwksSource(source: KeySource | X5cTrust): KeySource {
  if (source instanceof X5cTrust) throw new Error(`sign-in issuer ${source.issuer} is an x5c issuer`);
  return source;
}

function createSignIn(config: Config, runtime: Runtime, verifier: Verifier, sources: readonly (KeySource | X5cTrust)[]): SignIn {
  const c = config.signIn!;
  const i = config.issuers.findIndex((x) => x.issuer === c.issuer);
  const idp = new Idp({
    config: c,
    // The token endpoint needs POST bodies: the runtime's fetch is the global fetch (or a test's stand-in for it).
    fetch: runtime.fetch as unknown as HttpFetch,
    now: runtime.now,
    timeoutMs: config.jwks.timeoutMs,
    keys: jwksSource(sources[i]!),
    algorithms: config.issuers[i]!.algorithms,
  });
  return new SignIn({ config: c, idp, sealer: new Sealer(c.sessionKeys, runtime.now), verifier });
}

function keySource(issuer: IssuerConfig, config: Config, runtime: Runtime): KeySource | X5cTrust {
  if (issuer.x5c !== undefined) {
    return new X5cTrust({ issuer: issuer.issuer, roots: issuer.x5c.roots, extendedKeyUsage: issuer.x5c.extendedKeyUsage, leewayMs: issuer.leewayMs, now: runtime.now });
  }
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
    ...(core.signing !== undefined ? { signer: core.signing.source.status() } : {}),
  };
}
