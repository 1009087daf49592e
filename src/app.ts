/**
 * Wires the core from a frozen config: one key source per issuer, the verifier, the authorizer and readiness.
 * I/O (fetch, file watches) and time (now) are injected so tests control them.
 *
 * A reload builds a new core from the new config and the running one (`createCore(next, runtime, previous)`):
 *  - an issuer whose key settings (its key location and the global `jwks` section) did not change keeps its key
 *    source: loaded keys, background schedule, no fetch on reload;
 *  - an issuer whose whole config did not change also keeps its TrustedIssuer, so its cached tokens stay cached;
 *    the verifier only answers from the cache for its own TrustedIssuer objects, so the cached tokens of removed or
 *    changed issuers stop working at once (changed ones are verified again, against keys already loaded);
 *  - the token cache is kept (unless `cache` limits changed) and its remembered failures are forgotten: a token
 *    refused as `issuer_unknown` may be fine under the new config;
 *  - the replay store (its consumed token ids, its Redis connection) is kept while `replay` is unchanged, and the
 *    signer while `signer` is unchanged; a changed signer is built after the previous one (signing.ts): generated
 *    keys are kept, and keys it no longer has stay published until their tail ends; sign-in is rebuilt (it holds no
 *    state of its own).
 * After the swap, `retire(previous, next)` stops what the new core did not take over.
 */
import type { Config, IssuerConfig } from './core/config.ts';
import type { Authorizer, Readiness } from './core/types.ts';
import { KeySource, type KeySourceEvent } from './core/keys/source.ts';
import { discoveryLoader, fileLoader, httpLoader, inlineLoader, type FetchLike } from './core/keys/loaders.ts';
import { insecureUrlProblem } from './config/schema.ts';
import { Verifier } from './core/verify.ts';
import { TokenCache } from './core/cache.ts';
import { CoreAuthorizer } from './core/authorizer.ts';
import { createReplay, type Replay } from './app-replay.ts';
import { createBinder } from './app-bind.ts';
import type { ReplayStoreEvent } from './stores/redis-replay.ts';
import { createSigning, type Signing } from './signing.ts';
import type { SigningKeyEvent } from './core/sign/source.ts';
import type { KeyDirResult } from './core/sign/key-dir.ts';
import { Idp, type HttpFetch } from './core/signin/idp.ts';
import { Sealer } from './core/signin/seal.ts';
import { SignIn } from './core/signin/flow.ts';
import { RefreshingAuthorizer } from './core/signin/refresh.ts';
import { X5cTrust } from './core/keys/x5c-trust.ts';
import type { TrustedIssuer } from './core/verify.ts';
import type { ReplayStore } from './core/replay.ts';
import { watchFileDirectory, type WatchFn } from './lifecycle/watch.ts';
import type { IntrospectionEvent } from './core/introspection/client.ts';
import { trustedIssuer } from './app-introspection.ts';

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
  /** Watches a `jwks_file` (its directory): a change reloads the keys at once. Absent = polling only. */
  readonly watch?: WatchFn;
  /** Introspection calls (outcome, latency) and refused client credentials (once per interval): telemetry and logs. */
  readonly onIntrospectionEvent?: (event: IntrospectionEvent) => void;
}

export const defaultRuntime: Runtime = {
  fetch: (url, init) => fetch(url, init),
  now: () => Date.now(),
  watch: (path, onChange) => watchFileDirectory(path, onChange),
};

/** One issuer's key source and what it needs stopped with it; shared by every core that reuses it. */
interface IssuerKeys {
  /** The key settings it was built from: equal fingerprints → the source is reused. */
  readonly fingerprint: string;
  readonly source: KeySource | X5cTrust;
  stop(): void;
}

/** What a reload compares and carries over; not for transports. */
interface CoreState {
  readonly keys: ReadonlyMap<string, IssuerKeys>;
  readonly trusted: ReadonlyMap<string, TrustedIssuer>;
  readonly cacheLimits: string;
  readonly replayConfig: string;
  readonly signerConfig: string;
  /** Sources this core created (start() loads only these). */
  readonly created: readonly (KeySource | X5cTrust)[];
  readonly newStore: boolean;
  readonly newSigning: boolean;
}

const coreState = new WeakMap<Core, CoreState>();

export interface Core {
  readonly authorizer: Authorizer;
  readonly verifier: Verifier;
  readonly readiness: Readiness;
  /** One per issuer: a JWKS source, or an x5c issuer's roots (ready from the start: nothing to fetch). */
  readonly sources: readonly (KeySource | X5cTrust)[];
  /** The replay store (single-use token jti values, DPoP proof jti values) and its readiness rule; null only without a `replay` config. */
  readonly replay: Replay | null;
  /** The signer (`signer:`), when configured. */
  readonly signing?: Signing;
  /** Browser sign-in (login.oidc), when configured: the HTTP listener serves its endpoints. */
  readonly signIn?: SignIn;
  /** Loads every issuer's keys once (failures leave the service up but not ready) and starts background refresh. */
  start(): Promise<void>;
  stop(): void;
}

export function createCore(config: Config, runtime: Runtime, previous?: Core): Core {
  const before = previous === undefined ? undefined : coreState.get(previous);
  const keys = new Map<string, IssuerKeys>();
  const trusted = new Map<string, TrustedIssuer>();
  const created: (KeySource | X5cTrust)[] = [];
  for (const issuer of config.issuers) {
    const fingerprint = keyFingerprint(issuer, config);
    let handle = before?.keys.get(issuer.issuer);
    if (handle === undefined || handle.fingerprint !== fingerprint) {
      handle = issuerKeys(issuer, config, runtime, fingerprint);
      created.push(handle.source);
    }
    keys.set(issuer.issuer, handle);
    const old = before?.trusted.get(issuer.issuer);
    trusted.set(issuer.issuer, old !== undefined && old.keys === handle.source && JSON.stringify(old.config) === JSON.stringify(issuer) ? old : trustedIssuer(issuer, handle.source, runtime));
  }
  const sources = config.issuers.map((i) => keys.get(i.issuer)!.source);
  const cacheLimits = JSON.stringify(config.cache);
  let cache: TokenCache;
  if (previous !== undefined && before?.cacheLimits === cacheLimits) {
    cache = previous.verifier.cache;
    cache.forgetFailures();
  } else {
    cache = new TokenCache(config.cache);
    if (previous !== undefined) Object.assign(cache.stats, previous.verifier.cache.stats);
  }
  const verifier = new Verifier([...trusted.values()], runtime.now, cache);
  const replayConfig = JSON.stringify(config.replay ?? null);
  const keptStore: ReplayStore | undefined = before?.replayConfig === replayConfig ? previous?.replay?.store : undefined;
  const replay = createReplay(config, runtime, keptStore);
  const signerConfig = JSON.stringify(config.signer ?? null);
  const keptSigning = before?.signerConfig === signerConfig ? previous?.signing : undefined;
  const signing = config.signer === undefined ? undefined : keptSigning ?? createSigning(config.signer, {
    now: runtime.now,
    ...(runtime.onSigningEvent ? { onSigningEvent: runtime.onSigningEvent } : {}),
    ...(runtime.loadSigningKeys ? { loadKeys: runtime.loadSigningKeys } : {}),
  }, previous?.signing);
  const newStore = replay !== null && replay.store !== keptStore;
  const newSigning = signing !== undefined && signing !== keptSigning;
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
  const core = new CoreAuthorizer(config, verifier, replay?.singleUse ?? null, signing?.minter, createBinder(config, replay?.store ?? null, runtime.now));
  const signIn = config.signIn === undefined ? undefined : createSignIn(config, runtime, verifier, sources);
  const result: Core = {
    authorizer: signIn === undefined ? core : new RefreshingAuthorizer(core, signIn, { forwardToken: config.policy.forwardToken, now: runtime.now }),
    ...(signIn !== undefined ? { signIn } : {}),
    verifier,
    readiness,
    sources,
    replay,
    ...(signing !== undefined ? { signing } : {}),
    start: async () => {
      if (newSigning) signing!.source.start(); // a bad key directory stops the start, naming the files
      await Promise.all([...created.map((s) => s.start()), newStore ? replay!.store.start() : undefined]);
    },
    stop: () => {
      signing?.source.stop();
      keys.forEach((k) => k.stop());
      void replay?.store.stop();
    },
  };
  coreState.set(result, { keys, trusted, cacheLimits, replayConfig, signerConfig, created, newStore, newSigning });
  return result;
}

/** After a swap from `previous` to `next`: stops the key sources, file watches, replay store and signer `next` did not take over. */
export function retire(previous: Core, next: Core): void {
  const kept = new Set(coreState.get(next)?.keys.values());
  for (const handle of coreState.get(previous)?.keys.values() ?? []) if (!kept.has(handle)) handle.stop();
  if (previous.replay !== null && previous.replay.store !== next.replay?.store) void previous.replay.store.stop();
  if (previous.signing !== undefined && previous.signing !== next.signing) previous.signing.source.stop();
}

/** Everything a key source is built from: same fingerprint, same source. */
function keyFingerprint(issuer: IssuerConfig, config: Config): string {
  return JSON.stringify([issuer.issuer, issuer.jwksUri, issuer.jwksFile, issuer.jwks, issuer.discoveryUrl, issuer.allowInsecureHttp, issuer.x5c, issuer.leewayMs, config.jwks]);
}

function issuerKeys(issuer: IssuerConfig, config: Config, runtime: Runtime, fingerprint: string): IssuerKeys {
  const source = keySource(issuer, config, runtime);
  let unwatch: (() => void) | undefined;
  if (issuer.jwksFile !== undefined && runtime.watch !== undefined && source instanceof KeySource) {
    // A mounted Secret changes by a symlink swap: reload at once instead of waiting for the next poll.
    unwatch = runtime.watch(issuer.jwksFile, () => void source.reload());
  }
  return {
    fingerprint,
    source,
    stop: () => {
      unwatch?.();
      source.stop();
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
