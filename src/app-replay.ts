/**
 * Wires single-use tokens from a frozen config: the store (Redis adapter or the one-process memory store), the
 * core's SingleUse step, and what the store's state means for readiness. DPoP proof jti values (core/bind/dpop.ts)
 * go to this store too; without one (memory store, nothing single-use) app-bind.ts gives them a memory store of their
 * own, and a configured Redis store is always built, since any request may bring a DPoP-bound token.
 *
 * Readiness: with on_store_error deny, a store that is not connected makes the service not ready (the issuers with
 * replay: true report ready: false in /readyz), because every single-use request would be refused with 503. With
 * on_store_error allow it never blocks readiness; /readyz still shows its state.
 */
import type { Config, IssuerConfig, ReplayConfig } from './core/config.ts';
import { replayInUse } from './config/replay.ts';
import { MemoryReplayStore, type ReplayStore } from './core/replay.ts';
import { SingleUse } from './core/single-use.ts';
import { RedisReplayStore, type RedisTarget } from './stores/redis-replay.ts';
import type { Runtime } from './app.ts';

export interface Replay {
  readonly store: ReplayStore;
  readonly singleUse: SingleUse;
  /** on_store_error deny: the store's connection gates readiness. */
  readonly blocksReadiness: boolean;
  ready(): boolean;
  /** The /readyz fields of one issuer; `ready` false when its tokens would all be refused. */
  issuerDetails(issuer: IssuerConfig): { readonly ready: boolean; readonly fields: Record<string, unknown> };
  details(): Record<string, unknown>;
}

/** `store`: the running store, kept across a config reload while `replay` is unchanged (its consumed ids stay). */
export function createReplay(config: Config, runtime: Runtime, store_?: ReplayStore): Replay | null {
  const replay = config.replay;
  if (replay === undefined || !replayInUse(config)) return null;
  const store: ReplayStore = store_ ??
    (replay.store === 'redis'
      ? new RedisReplayStore({
          target: redisTarget(replay.redis),
          keyPrefix: replay.redis.keyPrefix,
          timeoutMs: replay.redis.timeoutMs,
          waitReplicas: replay.redis.waitReplicas,
          ...passwordOf(runtime),
          ...(runtime.onReplayEvent ? { onEvent: runtime.onReplayEvent } : {}),
          now: runtime.now,
          ...(runtime.random ? { random: runtime.random } : {}),
        })
      : new MemoryReplayStore({ now: runtime.now }));
  const blocksReadiness = replay.onStoreError === 'deny';
  const ready = () => !blocksReadiness || store.status().ready;
  const rules = [...new Set([...config.policy.routes.map((r) => r.rule), ...config.policy.policies.values()])].filter((r) => r.singleUse === true).map((r) => r.name);
  return {
    store,
    singleUse: new SingleUse(store, replay, config.issuers, runtime.now),
    blocksReadiness,
    ready,
    issuerDetails: (issuer) => ({
      ready: issuer.replay !== true || ready(),
      fields: { single_use: issuer.replay === true },
    }),
    details: () => {
      const st = store.status();
      return {
        kind: st.kind,
        ready: st.ready,
        state: st.state,
        last_error: st.lastError,
        on_store_error: replay.onStoreError,
        blocks_readiness: blocksReadiness,
        single_use_rules: rules,
      };
    },
  };
}

function redisTarget(redis: ReplayConfig['redis']): RedisTarget {
  if (redis.sentinel) {
    const { masterName, nodes, passwordEnv } = redis.sentinel;
    const password = passwordEnv ? process.env[passwordEnv] : undefined;
    return { sentinel: { masterName, nodes, ...(password ? { password } : {}) } };
  }
  if (redis.cluster) return { cluster: { nodes: redis.cluster.nodes } };
  return { url: redis.url };
}

function passwordOf(runtime: Runtime): { password?: string } {
  const password = runtime.redisPassword ?? process.env['PORTCULLIS_REDIS_PASSWORD'];
  return password ? { password } : {};
}
