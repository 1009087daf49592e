/**
 * The `replay` section (single-use tokens): its schema and defaults, and the checks that span several keys
 * (a memory store cannot serve several workers; a redis store needs its URL).
 */
import { def, duration, oneOf, opt, section, string, type Parser } from './kit.ts';
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

const keyPrefix = string((s) => (/^[\x21-\x7e]{0,128}$/.test(s) ? null : 'must be at most 128 printable ASCII characters without spaces'));

/** `replay`: every key has its default here (store memory, no URL, prefix portcullis:jti:, 50ms, deny). */
export const replaySection = section({
  store: def(oneOf(['memory', 'redis'] as const), 'memory'),
  redis: section({ url: opt(redisUrl), key_prefix: def(keyPrefix, 'portcullis:jti:'), timeout: def(duration(1), 50) }),
  on_store_error: def(oneOf(['deny', 'allow'] as const), 'deny'),
});

type RawReplay = Exclude<ReturnType<(typeof replaySection)['parse']>, symbol>;

export function toReplayConfig(raw: RawReplay, issuers: readonly IssuerConfig[], policy: PolicyConfig, workers: number, problems: string[]): ReplayConfig {
  if (raw.store === 'redis' && raw.redis.url === undefined) problems.push('replay.redis.url: required when replay.store is redis');
  if (raw.redis.timeout > 60_000) problems.push('replay.redis.timeout: must be at most 60s (a request waits for it)');
  if (raw.store === 'memory' && workers > 1 && singleUseConfigured(issuers, policy)) {
    problems.push(
      `replay.store: memory keeps consumed jti values inside one process, but ${workers} workers run (workers defaults to the CPU count): ` +
        'a replay answered by another worker would pass. Use store: redis, or set workers: 1',
    );
  }
  return {
    store: raw.store,
    redis: { url: raw.redis.url ?? '', keyPrefix: raw.redis.key_prefix, timeoutMs: raw.redis.timeout },
    onStoreError: raw.on_store_error,
  };
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
