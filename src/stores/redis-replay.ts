/**
 * The replay store every worker and replica shares: Redis, through the official client (`redis`, node-redis).
 *
 * - One command per check, atomic on the server: `SET prefix+key 1 NX PX ttl` ('OK' = fresh, null = replayed).
 * - Pipelining: node-redis writes every command issued in the same event-loop turn in one socket write, so
 *   concurrent checks share round trips without us batching anything.
 * - Fail fast: no offline queue (a check while disconnected is an error at once, not a wait), a per-check timeout,
 *   and a bounded queue of commands in flight. on_store_error decides what an error means. node-redis's own command
 *   `timeout` only covers the wait before the command is written (it is dropped once sent), so the check races its
 *   own timer too: a Redis that accepted the command but answers late is a timeout as well. (Such a late SET may
 *   still land: that jti is then used up although the request got the store-error answer.)
 * - Reconnects by itself with capped exponential backoff and jitter, forever; status() and onChange() follow the
 *   connection for /readyz and gRPC health.
 * - The client library is loaded in start(), only when a Redis store is configured (it costs a few hundred ms of
 *   start-up otherwise paid by every process, `portcullis explain` included).
 */
import type { createClient } from 'redis';
import type { ConsumeResult, ReplayStore, ReplayStoreStatus } from '../core/replay.ts';

export type ReplayStoreEvent =
  | { readonly type: 'ready'; readonly store: 'redis' }
  | { readonly type: 'down'; readonly store: 'redis'; readonly message: string }
  /** A check failed; at most one per `errorLogIntervalMs`, with how many were not reported since the last one. */
  | { readonly type: 'consume_failed'; readonly store: 'redis'; readonly message: string; readonly suppressed: number };

export interface RedisReplayOptions {
  /** redis:// or rediss:// URL; its password (if any) wins over `password`. */
  readonly url: string;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  /** PORTCULLIS_REDIS_PASSWORD, used when the URL carries none. */
  readonly password?: string;
  /** Commands queued or awaiting a reply before new checks fail at once. Default 10 000. */
  readonly maxInFlight?: number;
  readonly onEvent?: (event: ReplayStoreEvent) => void;
  readonly now?: () => number;
  readonly random?: () => number;
  readonly errorLogIntervalMs?: number;
}

/** Backoff between reconnection attempts: 50 ms doubling to 2 s, with up to 50% jitter so replicas do not stampede. */
export function reconnectDelay(retries: number, random: () => number): number {
  const base = Math.min(2000, 50 * 2 ** Math.min(retries, 6));
  return Math.round(base * (0.5 + random() / 2));
}

type State = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closed';
/** What this store keeps of the client: connect once, destroy on stop (commands go through #set). */
interface Connection {
  connect(): Promise<unknown>;
  destroy(): void;
}
type SetNxPx = { condition: 'NX'; expiration: { type: 'PX'; value: number } };

export class RedisReplayStore implements ReplayStore {
  readonly #opts: RedisReplayOptions;
  #client: Connection | undefined;
  #set: ((key: string, value: string, options: SetNxPx) => Promise<unknown>) | undefined;
  readonly #prefix: string;
  readonly #onEvent: (event: ReplayStoreEvent) => void;
  readonly #now: () => number;
  readonly #errorLogIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #listeners = new Set<() => void>();
  #state: State = 'idle';
  #lastError: string | null = null;
  #nextErrorLog = 0;
  #suppressed = 0;

  constructor(opts: RedisReplayOptions) {
    this.#prefix = opts.keyPrefix;
    this.#onEvent = opts.onEvent ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#errorLogIntervalMs = opts.errorLogIntervalMs ?? 1000;
    this.#timeoutMs = opts.timeoutMs;
    this.#opts = opts;
  }

  #createClient(create: typeof createClient): Connection {
    const opts = this.#opts;
    const random = opts.random ?? Math.random;
    const hasPassword = new URL(opts.url).password !== '';
    const client = create({
      url: opts.url,
      ...(!hasPassword && opts.password ? { password: opts.password } : {}),
      disableOfflineQueue: true,
      commandsQueueMaxLength: opts.maxInFlight ?? 10_000,
      // CLIENT SETINFO is Redis 7.2+; older servers (and managed ones) answer it with an error.
      disableClientInfo: true,
      socket: {
        connectTimeout: Math.max(1000, opts.timeoutMs * 10),
        reconnectStrategy: (retries: number) => reconnectDelay(retries, random),
      },
    });
    const limited = client.withCommandOptions({ timeout: opts.timeoutMs });
    this.#set = (key, value, options) => limited.set(key, value, options);
    client.on('connect', () => this.#to(this.#state === 'reconnecting' ? 'reconnecting' : 'connecting'));
    client.on('ready', () => this.#to('ready'));
    client.on('reconnecting', () => this.#to('reconnecting'));
    client.on('end', () => this.#to('closed'));
    // An 'error' listener is mandatory (node-redis would throw otherwise); every socket error lands here.
    client.on('error', (e: unknown) => {
      this.#lastError = messageOf(e);
      if (this.#state === 'ready' || this.#state === 'connecting' || this.#state === 'idle') this.#to('reconnecting');
    });
    return client;
  }

  async consume(key: string, ttlMs: number): Promise<ConsumeResult> {
    let timer: NodeJS.Timeout | undefined;
    try {
      if (this.#set === undefined) throw new Error('the replay store is not started');
      const set = this.#set(this.#prefix + key, '1', { condition: 'NX', expiration: { type: 'PX', value: Math.max(1, Math.ceil(ttlMs)) } });
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within the ${this.#timeoutMs} ms timeout`)), this.#timeoutMs);
      });
      set.catch(() => {}); // a reply after the timeout (or its failure) is no longer anyone's business
      const reply = await Promise.race([set, late]);
      return reply === null ? 'replayed' : 'fresh';
    } catch (e) {
      const message = messageOf(e);
      this.#reportFailure(message);
      return { error: message };
    } finally {
      clearTimeout(timer);
    }
  }

  status(): ReplayStoreStatus {
    return { kind: 'redis', ready: this.#state === 'ready', state: this.#state === 'idle' ? 'connecting' : this.#state, lastError: this.#lastError };
  }

  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Connects in the background; waits at most a second so the first requests usually find it ready. */
  async start(): Promise<void> {
    if (this.#client !== undefined || this.#state === 'closed') return;
    this.#to('connecting');
    const { createClient } = await import('redis');
    if ((this.#state as State) === 'closed') return; // stopped while loading
    const client = (this.#client = this.#createClient(createClient));
    const connected = client.connect().then(
      () => undefined,
      (e: unknown) => {
        this.#lastError = messageOf(e);
      },
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([connected, new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)))]);
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    if (this.#state === 'closed') return;
    try {
      this.#client?.destroy();
    } catch {
      // already closed
    }
    this.#to('closed');
  }

  #to(state: State): void {
    if (this.#state === 'closed' || state === this.#state) return;
    const wasReady = this.#state === 'ready';
    this.#state = state;
    if (state === 'ready') {
      this.#lastError = null;
      this.#onEvent({ type: 'ready', store: 'redis' });
    } else if (wasReady) {
      this.#onEvent({ type: 'down', store: 'redis', message: this.#lastError ?? 'connection lost' });
    }
    if (wasReady !== (state === 'ready')) for (const listener of this.#listeners) listener();
  }

  #reportFailure(message: string): void {
    const now = this.#now();
    if (now < this.#nextErrorLog) {
      this.#suppressed++;
      return;
    }
    this.#nextErrorLog = now + this.#errorLogIntervalMs;
    this.#onEvent({ type: 'consume_failed', store: 'redis', message, suppressed: this.#suppressed });
    this.#suppressed = 0;
  }
}

/** Error text for logs and /readyz: the client's message, bounded; never a password (URLs are not echoed). */
function messageOf(e: unknown): string {
  const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
