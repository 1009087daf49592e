/**
 * One node-redis client for the replay store, whatever the topology: a single server (`createClient`), a master found
 * through Sentinel (`createSentinel`) or a Cluster (`createCluster`). The store sees one small interface: connect,
 * destroy, one SET NX PX per key, WAIT on the connection that wrote the key, and a health PING of every node that takes
 * writes. Keys are one per jti (no multi-key command), so Cluster slots need nothing special.
 *
 * Every client fails fast: no offline queue (a command while disconnected is an error at once), a bounded command
 * queue, reconnection with the store's backoff. TCP keepalive is on with a short first probe, so a peer that vanished
 * without a FIN is noticed by the kernel too; a path that still acknowledges bytes but never answers is the store's job
 * (redis-replay.ts: consecutive timeouts and its own PING with a deadline; node-redis's `pingInterval` has no deadline).
 */
import type * as Redis from 'redis';

export interface RedisNodeAddress {
  readonly host: string;
  readonly port: number;
}

/** Where Redis is: exactly one of these. */
export type RedisTarget =
  | { readonly url: string }
  | { readonly sentinel: { readonly masterName: string; readonly nodes: readonly RedisNodeAddress[]; readonly password?: string } }
  | { readonly cluster: { readonly nodes: readonly RedisNodeAddress[] } };

export interface ConnectionOptions {
  readonly target: RedisTarget;
  /** Password of the data nodes (PORTCULLIS_REDIS_PASSWORD); a password in the URL wins. */
  readonly password?: string;
  readonly timeoutMs: number;
  readonly maxInFlight: number;
  readonly reconnectDelay: (retries: number) => number;
}

export interface ConnectionEvents {
  /** A socket is open (or, for Sentinel, discovery began); the handshake may still be under way. */
  opening(): void;
  /** The client (all of it, for Cluster: its topology) is connected; nothing has been answered yet. */
  connected(): void;
  /** The client lost its connection and reconnects by itself. */
  reconnecting(): void;
  error(e: unknown): void;
}

export interface Connection {
  connect(): Promise<unknown>;
  destroy(): void;
  /** SET key 1 NX PX ttl: 'OK' when set, null when it was there. */
  setNx(key: string, ttlMs: number): Promise<unknown>;
  /** WAIT n timeout, on the connection that wrote `key` (issued right after its SET, so it covers it). */
  wait(key: string, replicas: number, timeoutMs: number): Promise<number>;
  /** PING every node that takes writes: the replies, or the first failure. */
  ping(): Promise<unknown>;
}

/** Keepalive: the first probe after 5 s idle (node-redis's default is 30 s). */
const KEEPALIVE_MS = 5000;

type Client = ReturnType<typeof Redis.createClient>;
type SetOptions = { condition: 'NX'; expiration: { type: 'PX'; value: number } };
const setOptions = (ttlMs: number): SetOptions => ({ condition: 'NX', expiration: { type: 'PX', value: ttlMs } });

export function openConnection(redis: Pick<typeof Redis, 'createClient' | 'createSentinel' | 'createCluster'>, opts: ConnectionOptions, on: ConnectionEvents): Connection {
  const socket = {
    connectTimeout: Math.max(1000, opts.timeoutMs * 10),
    keepAlive: true,
    keepAliveInitialDelay: KEEPALIVE_MS,
    reconnectStrategy: (retries: number) => opts.reconnectDelay(retries),
  };
  const common = {
    disableOfflineQueue: true,
    commandsQueueMaxLength: opts.maxInFlight,
    // CLIENT SETINFO is Redis 7.2+; older servers (and managed ones) answer it with an error.
    disableClientInfo: true,
  };
  const password = opts.password ? { password: opts.password } : {};
  const t = opts.target;
  if ('url' in t) {
    const hasPassword = new URL(t.url).password !== '';
    const client = redis.createClient({ ...common, ...(hasPassword ? {} : password), url: t.url, socket });
    client.on('connect', () => on.opening()).on('ready', () => on.connected()).on('reconnecting', () => on.reconnecting()).on('error', (e: unknown) => on.error(e));
    const limited = client.withCommandOptions({ timeout: opts.timeoutMs });
    return {
      connect: () => client.connect(),
      destroy: () => client.destroy(),
      setNx: (key, ttlMs) => limited.set(key, '1', setOptions(ttlMs)),
      wait: (_key, n, ms) => limited.sendCommand(['WAIT', String(n), String(ms)]) as Promise<number>,
      ping: () => limited.ping(),
    };
  }
  if ('sentinel' in t) {
    const sentinel = redis.createSentinel({
      name: t.sentinel.masterName,
      sentinelRootNodes: t.sentinel.nodes.map((n) => ({ host: n.host, port: n.port })),
      nodeClientOptions: { ...common, ...password, socket },
      sentinelClientOptions: { disableClientInfo: true, socket, ...(t.sentinel.password ? { password: t.sentinel.password } : {}) },
      // One connection to the master: a WAIT then follows its SET on the same connection.
      masterPoolSize: 1,
      // Re-ask the Sentinels often while the master cannot be reached, and give up on a command soon: the store's
      // timeout answers the request, and the next check asks again.
      scanInterval: 1000,
      maxCommandRediscovers: 2,
    });
    sentinel.on('connect', () => on.opening()).on('ready', () => on.connected()).on('reconnecting', () => on.reconnecting()).on('error', (e: unknown) => on.error(e));
    return {
      connect: () => sentinel.connect(),
      destroy: () => void sentinel.destroy().catch(() => {}),
      setNx: (key, ttlMs) => sentinel.set(key, '1', setOptions(ttlMs)),
      wait: (_key, n, ms) => sentinel.sendCommand(false, ['WAIT', String(n), String(ms)]) as Promise<number>,
      ping: () => sentinel.ping(),
    };
  }
  const cluster = redis.createCluster({
    rootNodes: t.cluster.nodes.map((n) => ({ socket: { host: n.host, port: n.port } })),
    defaults: { ...common, ...password, socket },
    // A master that is gone: ask the cluster for the new slot owners soon after its client starts reconnecting
    // (node-redis waits 5 s by default), so a promoted replica takes its slots' checks within about a second.
    topologyRefreshOnReconnectionAttemptStrategy: 500,
  });
  cluster.on('connect', () => on.connected()).on('disconnect', () => on.reconnecting()).on('error', (e: unknown) => on.error(e));
  // A node's errors are the health check's and the checks' business; the listener keeps them from being thrown.
  cluster.on('node-error', () => {});
  const limited = cluster.withCommandOptions({ timeout: opts.timeoutMs });
  return {
    connect: () => cluster.connect(),
    destroy: () => cluster.destroy(),
    setNx: (key, ttlMs) => limited.set(key, '1', setOptions(ttlMs)),
    wait: (key, n, ms) => limited.sendCommand(key, false, ['WAIT', String(n), String(ms)]) as Promise<number>,
    // Every master must answer: a lost master's slots would refuse their checks. Its client may not exist yet
    // (never connected) or be reconnecting: then the check fails at once, as a command to it would.
    ping: () =>
      Promise.all(
        cluster.masters.map((m) => {
          const client = m.client as Client | undefined;
          return client?.isReady ? client.ping() : Promise.reject(new Error(`cluster master ${m.address} is not connected`));
        }),
      ),
  };
}
