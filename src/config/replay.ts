/**
 * The `replay` section (single-use tokens): its schema and defaults, and the checks that span several keys
 * (a memory store cannot serve several workers; a redis store needs its URL).
 */
import { array, def, duration, integer, object, oneOf, opt, req, section, string, type Parser } from './kit.ts';
import { parseListenAddress } from './listen.ts';
import type { Config, IssuerConfig, ReplayConfig } from '../core/config.ts';
import type { PolicyConfig } from '../core/policy/types.ts';

const redisUrl: Parser<string> = string((s) => {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return 'is not a valid URL';
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return 'must be a redis:// or rediss:// (TLS) URL';
  if (u.hostname === '') return 'needs a host';
  if (!/^\/?\d*$/.test(u.pathname)) return 'the path may only be a database number, like redis://host:6379/0';
  if (u.search !== '' || u.hash !== '') return 'must not have a query or fragment';
  return null;
});

/** A Sentinel or Cluster node: "host:port" (IPv6 in brackets), parsed by the one host:port parser. */
const redisNode: Parser<string> = string((s) => {
  const t = parseListenAddress(s);
  return 'problem' in t || 'path' in t || t.port === 0 ? `"${s}" must be host:port, like "redis-sentinel-0:26379"` : null;
});
const nodes = array(redisNode, { min: 1, unique: true });
const envName = string((s) => (/^[A-Za-z_][A-Za-z0-9_]*$/.test(s) ? null : 'must be the name of an environment variable, like REDIS_SENTINEL_PASSWORD'));
const masterName = string((s) => (/^[\x21-\x7e]{1,128}$/.test(s) ? null : 'must be 1 to 128 printable ASCII characters without spaces'));

const keyPrefix = string((s) => (/^[\x21-\x7e]{0,128}$/.test(s) ? null : 'must be at most 128 printable ASCII characters without spaces'));

/**
 * `replay`: every key has its default here (store memory; no url, sentinel or cluster; prefix portcullis:jti:, 50ms,
 * wait_replicas 0, deny).
 */
export const replaySection = section({
  store: def(oneOf(['memory', 'redis'] as const), 'memory', 'where consumed jti values live: memory (one process; refused with workers > 1) or redis'),
  redis: section({
    url: opt(redisUrl, 'one Redis: redis:// or rediss:// (TLS); password in the URL or PORTCULLIS_REDIS_PASSWORD; exactly one of url, sentinel, cluster with store: redis'),
    sentinel: opt(object({
      master_name: req(masterName, 'the master name the Sentinels monitor'),
      nodes: req(nodes, 'Sentinel addresses, host:port'),
      password_env: opt(envName, 'environment variable holding the Sentinels\' password (the data nodes use PORTCULLIS_REDIS_PASSWORD)'),
    }), 'Redis Sentinel: the client follows the promoted master'),
    cluster: opt(object({ nodes: req(nodes, 'seed nodes, host:port') }), 'Redis Cluster: one key per jti, routed by slot'),
    key_prefix: def(keyPrefix, 'portcullis:jti:', 'prepended to every key'),
    timeout: def(duration(1), 50, 'a check without an answer by then is a store error'),
    wait_replicas: def(integer(0, 16), 0, 'after each SET, WAIT for this many replicas within timeout; fewer is a store error (on_store_error decides)'),
  }, 'the Redis replay store'),
  on_store_error: def(oneOf(['deny', 'allow'] as const), 'deny', 'store failing: deny (503 replay_store_unavailable, not ready) or allow (allowed, logged, counted)'),
}, 'single-use tokens: where consumed jti values live (docs/replay.md)');

type RawReplay = Exclude<ReturnType<(typeof replaySection)['parse']>, symbol>;

export function toReplayConfig(raw: RawReplay, issuers: readonly IssuerConfig[], policy: PolicyConfig, workers: number, problems: string[]): ReplayConfig {
  const r = raw.redis;
  const targets = (['url', 'sentinel', 'cluster'] as const).filter((k) => r[k] !== undefined);
  if (raw.store === 'redis' && targets.length === 0) problems.push('replay.redis.url: required when replay.store is redis (or replay.redis.sentinel, or replay.redis.cluster)');
  for (const extra of targets.slice(1)) problems.push(`replay.redis.${extra}: only one of replay.redis.url, replay.redis.sentinel and replay.redis.cluster may be set (${targets[0]} is)`);
  const passwordEnv = r.sentinel?.password_env;
  if (raw.store === 'redis' && passwordEnv !== undefined && !process.env[passwordEnv]) {
    problems.push(`replay.redis.sentinel.password_env: the environment variable ${passwordEnv} is not set`);
  }
  if (r.timeout > 60_000) problems.push('replay.redis.timeout: must be at most 60s (a request waits for it)');
  if (raw.store === 'memory' && workers > 1 && singleUseConfigured(issuers, policy)) {
    problems.push(
      `replay.store: memory keeps consumed jti values inside one process, but ${workers} workers run (workers defaults to the CPU count): ` +
        'a replay answered by another worker would pass. Use store: redis, or set workers: 1',
    );
  }
  return {
    store: raw.store,
    redis: {
      url: r.url ?? '',
      ...(r.sentinel ? { sentinel: { masterName: r.sentinel.master_name, nodes: r.sentinel.nodes.map(nodeAddress), ...(passwordEnv ? { passwordEnv } : {}) } } : {}),
      ...(r.cluster ? { cluster: { nodes: r.cluster.nodes.map(nodeAddress) } } : {}),
      keyPrefix: r.key_prefix,
      timeoutMs: r.timeout,
      waitReplicas: r.wait_replicas,
    },
    onStoreError: raw.on_store_error,
  };
}

function nodeAddress(address: string): { host: string; port: number } {
  const t = parseListenAddress(address) as { host: string; port: number };
  return { host: t.host, port: t.port };
}

function singleUseConfigured(issuers: readonly IssuerConfig[], policy: PolicyConfig): boolean {
  return issuers.some((i) => i.replay === true) || [...policy.routes.map((r) => r.rule), ...policy.policies.values()].some((r) => r.singleUse === true);
}

/**
 * The store is needed (and gates readiness with on_store_error deny): some issuer or rule asks for single-use tokens,
 * or a Redis store is configured (DPoP proof jti values go there too, whatever is single-use).
 */
export function replayInUse(config: Pick<Config, 'issuers' | 'policy' | 'replay'>): boolean {
  return singleUseConfigured(config.issuers, config.policy) || config.replay?.store === 'redis';
}
