/** The `replay` section, `issuers[].replay` and `require.single_use`: defaults, and every mistake named by its path. */
import { describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.ts';
import { configProblems } from '../support/config.ts';
import { replayInUse } from '../../src/config/replay.ts';

const issuer = { issuer: 'https://idp.example.com/', jwks_uri: 'https://idp.example.com/jwks.json', audiences: ['api'] };
const base = { workers: 1, issuers: [issuer] };

const problems = (doc: unknown): readonly string[] => configProblems(doc);

describe('replay config', () => {
  it('defaults to nothing single-use, a memory store and on_store_error deny', () => {
    const c = buildConfig(base, 'test', process.cwd());
    expect(c.replay).toEqual({ store: 'memory', redis: { url: '', keyPrefix: 'portcullis:jti:', timeoutMs: 50, waitReplicas: 0 }, onStoreError: 'deny' });
    expect(c.issuers[0]!.replay).toBe(false);
    expect(replayInUse(c)).toBe(false);
  });

  it('parses the documented example', () => {
    const c = buildConfig({
      workers: 4,
      replay: { store: 'redis', redis: { url: 'rediss://:secret@redis.example.com:6380/2', key_prefix: 'pc:jti:', timeout: '25ms' }, on_store_error: 'allow' },
      issuers: [{ ...issuer, replay: true }],
      routes: [{ match: { paths: ['/payments/**'] }, require: { single_use: true } }],
    }, 'test', process.cwd());
    expect(c.replay).toEqual({ store: 'redis', redis: { url: 'rediss://:secret@redis.example.com:6380/2', keyPrefix: 'pc:jti:', timeoutMs: 25, waitReplicas: 0 }, onStoreError: 'allow' });
    expect(c.issuers[0]!.replay).toBe(true);
    expect(c.policy.routes[0]!.rule.singleUse).toBe(true);
    expect(replayInUse(c)).toBe(true);
  });

  it('parses a Sentinel target with its password variable, and wait_replicas', () => {
    process.env['TEST_SENTINEL_PASSWORD'] = 'x';
    try {
      const c = buildConfig({
        ...base,
        replay: { store: 'redis', redis: { sentinel: { master_name: 'portcullis', nodes: ['sentinel-0:26379', '[::1]:26380'], password_env: 'TEST_SENTINEL_PASSWORD' }, wait_replicas: 1 } },
      }, 'test', process.cwd());
      expect(c.replay!.redis).toEqual({
        url: '',
        sentinel: { masterName: 'portcullis', nodes: [{ host: 'sentinel-0', port: 26379 }, { host: '::1', port: 26380 }], passwordEnv: 'TEST_SENTINEL_PASSWORD' },
        keyPrefix: 'portcullis:jti:',
        timeoutMs: 50,
        waitReplicas: 1,
      });
    } finally {
      delete process.env['TEST_SENTINEL_PASSWORD'];
    }
  });

  it('parses a Cluster target', () => {
    const c = buildConfig({ ...base, replay: { store: 'redis', redis: { cluster: { nodes: ['10.0.0.1:6379', 'redis-1:6379'] } } } }, 'test', process.cwd());
    expect(c.replay!.redis.cluster).toEqual({ nodes: [{ host: '10.0.0.1', port: 6379 }, { host: 'redis-1', port: 6379 }] });
  });

  it.each([
    ['an issuer', { issuers: [{ ...issuer, replay: true }] }],
    ['a route', { routes: [{ match: { paths: ['/x'] }, require: { single_use: true } }] }],
    ['a named policy', { policies: { once: { require: { single_use: true } } } }],
  ])('refuses the memory store with several workers when %s is single-use', (_name, doc) => {
    expect(problems({ ...base, ...doc, workers: 3 })).toEqual([expect.stringMatching(/^replay\.store: memory keeps consumed jti values inside one process, but 3 workers run/)]);
  });

  it('accepts the memory store with several workers when nothing is single-use, and with one worker', () => {
    expect(problems({ ...base, workers: 3 })).toEqual([]);
    expect(problems({ ...base, issuers: [{ ...issuer, replay: true }] })).toEqual([]);
  });

  it.each([
    [{ replay: { store: 'redis' } }, 'replay.redis.url: required when replay.store is redis (or replay.redis.sentinel, or replay.redis.cluster)'],
    [{ replay: { redis: { url: 'redis://r:6379', cluster: { nodes: ['r:6379'] } } } }, 'replay.redis.cluster: only one of replay.redis.url, replay.redis.sentinel and replay.redis.cluster may be set (url is)'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: ['s:26379'] }, cluster: { nodes: ['r:6379'] } } } }, 'replay.redis.cluster: only one of replay.redis.url, replay.redis.sentinel and replay.redis.cluster may be set (sentinel is)'],
    [{ replay: { redis: { sentinel: { nodes: ['s:26379'] } } } }, 'replay.redis.sentinel.master_name: required'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: [] } } } }, 'replay.redis.sentinel.nodes: must not be empty'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: ['s'] } } } }, 'replay.redis.sentinel.nodes[0]: "s" must be host:port, like "redis-sentinel-0:26379"'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: ['unix:/x'] } } } }, 'replay.redis.sentinel.nodes[0]: "unix:/x" must be host:port, like "redis-sentinel-0:26379"'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: ['s:1', 's:1'] } } } }, 'replay.redis.sentinel.nodes: has duplicate entries'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: ['s:1'], password_env: 'not-a-name' } } } }, 'replay.redis.sentinel.password_env: must be the name of an environment variable, like REDIS_SENTINEL_PASSWORD'],
    [{ replay: { store: 'redis', redis: { sentinel: { master_name: 'm', nodes: ['s:1'], password_env: 'PORTCULLIS_TEST_UNSET_VARIABLE' } } } }, 'replay.redis.sentinel.password_env: the environment variable PORTCULLIS_TEST_UNSET_VARIABLE is not set'],
    [{ replay: { redis: { sentinel: { master_name: 'm', nodes: ['s:1'], master: 'x' } } } }, 'replay.redis.sentinel.master: unknown key (known: master_name, nodes, password_env)'],
    [{ replay: { redis: { cluster: { nodes: ['r:0'] } } } }, 'replay.redis.cluster.nodes[0]: "r:0" must be host:port, like "redis-sentinel-0:26379"'],
    [{ replay: { redis: { cluster: {} } } }, 'replay.redis.cluster.nodes: required'],
    [{ replay: { redis: { wait_replicas: -1 } } }, 'replay.redis.wait_replicas: must be a whole number from 0 to 16, got -1'],
    [{ replay: { store: 'etcd' } }, 'replay.store: must be one of memory, redis, got "etcd"'],
    [{ replay: { on_store_error: 'ignore' } }, 'replay.on_store_error: must be one of deny, allow, got "ignore"'],
    [{ replay: { redis: { url: 'http://redis:6379' } } }, 'replay.redis.url: must be a redis:// or rediss:// (TLS) URL'],
    [{ replay: { redis: { url: 'redis://redis:6379/x' } } }, 'replay.redis.url: the path may only be a database number, like redis://host:6379/0'],
    [{ replay: { redis: { url: 'redis://redis:6379/0?tls=1' } } }, 'replay.redis.url: must not have a query or fragment'],
    [{ replay: { redis: { url: 'not a url' } } }, 'replay.redis.url: is not a valid URL'],
    [{ replay: { redis: { timeout: 50 } } }, 'replay.redis.timeout: must be a duration like "30s", "5m" or "1h", got 50'],
    [{ replay: { redis: { timeout: '2m' } } }, 'replay.redis.timeout: must be at most 60s (a request waits for it)'],
    [{ replay: { redis: { key_prefix: 'has space' } } }, 'replay.redis.key_prefix: must be at most 128 printable ASCII characters without spaces'],
    [{ replay: { redis: { host: 'x' } } }, 'replay.redis.host: unknown key (known: url, sentinel, cluster, key_prefix, timeout, wait_replicas)'],
    [{ issuers: [{ ...issuer, replay: 'yes' }] }, 'issuers[0].replay: must be true or false, got "yes"'],
    [{ routes: [{ require: { single_use: 1 } }] }, 'routes[0].require.single_use: must be true or false, got 1'],
    [{ routes: [{ require: { any: [{ single_use: true }, { scopes: ['a'] }] } }] }, 'routes[0].require.any[0].single_use: only allowed directly under require, not inside any/all/not'],
    [{ policies: { p: { require: { all: [{ single_use: true }] } } } }, 'policies.p.require.all[0].single_use: only allowed directly under require, not inside any/all/not'],
    [{ routes: [{ require: { not: { single_use: true } } }] }, 'routes[0].require.not.single_use: only allowed directly under require, not inside any/all/not'],
  ])('names the key path of %j', (doc, problem) => {
    expect(problems({ ...base, ...doc })).toContain(problem);
  });
});
