/**
 * The replay store every worker and replica shares: Redis, through the official client (`redis`, node-redis), as a
 * single server, a Sentinel-managed master or a Cluster (redis-connection.ts builds the client).
 *
 * - One command per check, atomic on the server: `SET prefix+key 1 NX PX ttl` ('OK' = fresh, null = replayed); with
 *   `waitReplicas`, a `WAIT n timeout` right behind it on the same connection (fewer acks in time: a store error).
 * - Pipelining: node-redis writes every command issued in the same event-loop turn in one socket write.
 * - Fail fast: no offline queue, a per-check timeout raced by the check itself (node-redis's command `timeout` only
 *   covers the wait before the command is written), a bounded queue. on_store_error decides what an error means. A
 *   late SET may still land: that jti is then used up although the request got the store-error answer.
 * - Silent connections: a path that accepts bytes and never answers (a sidecar or load balancer whose far side
 *   vanished) is not an error to the client. Three checks in a row without an answer (nothing heard meanwhile), a
 *   health PING without an answer within pingDeadlineMs, or a handshake that does not finish within it: the store
 *   drops that client and opens a new one after the reconnect backoff. Errors the client reports itself (refused,
 *   auth, TLS) are left to its own reconnection, with the same backoff.
 * - Ready means Redis answered a PING on the current connection (for Cluster: every master answered), not merely that
 *   a socket is open. status() and onChange() follow it for /readyz and gRPC health.
 * - The client library is loaded in start(), only when a Redis store is configured (it costs a few hundred ms of
 *   start-up otherwise paid by every process, `portcullis explain` included).
 */
import type { ConsumeResult, ReplayStore, ReplayStoreStatus } from '../core/replay.ts';
import { openConnection, type Connection, type RedisTarget } from './redis-connection.ts';

export type { RedisNodeAddress, RedisTarget } from './redis-connection.ts';

export type ReplayStoreEvent =
  | { readonly type: 'ready'; readonly store: 'redis' }
  | { readonly type: 'down'; readonly store: 'redis'; readonly message: string }
  /** A check failed; at most one per `errorLogIntervalMs`, with how many were not reported since the last one. */
  | { readonly type: 'consume_failed'; readonly store: 'redis'; readonly message: string; readonly suppressed: number };

export interface RedisReplayOptions {
  /** redis:// or rediss:// URL (its password, if any, wins over `password`); or `target` for Sentinel and Cluster. */
  readonly url?: string;
  readonly target?: RedisTarget;
  readonly keyPrefix: string;
  readonly timeoutMs: number;
  /** PORTCULLIS_REDIS_PASSWORD, used when the URL carries none. */
  readonly password?: string;
  /** After each SET that consumed a jti: WAIT for this many replicas to acknowledge it (0: do not wait). */
  readonly waitReplicas?: number;
  /** Commands queued or awaiting a reply before new checks fail at once. Default 10 000. */
  readonly maxInFlight?: number;
  /** How often the health PING runs. Default 1 s. */
  readonly healthIntervalMs?: number;
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

/** Checks in a row that got no answer (and nothing else was heard from Redis meanwhile): the connection is dead. */
export const SILENT_CHECKS = 3;

/** The health PING's deadline: three check timeouts, at least a second (a busy event loop must not look like a dead Redis). */
export function pingDeadlineMs(timeoutMs: number): number {
  return Math.max(1000, SILENT_CHECKS * timeoutMs);
}

type State = 'idle' | 'connecting' | 'ready' | 'reconnecting' | 'closed';

export class RedisReplayStore implements ReplayStore {
  readonly #opts: RedisReplayOptions;
  readonly #target: RedisTarget;
  readonly #prefix: string;
  readonly #onEvent: (event: ReplayStoreEvent) => void;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #errorLogIntervalMs: number;
  readonly #timeoutMs: number;
  readonly #waitReplicas: number;
  readonly #listeners = new Set<() => void>();
  #redis: typeof import('redis') | undefined;
  #conn: Connection | undefined;
  /** Bumped on every new connection: events and replies of an abandoned one are ignored. */
  #generation = 0;
  #state: State = 'idle';
  #lastError: string | null = null;
  #nextErrorLog = 0;
  #suppressed = 0;
  /** Checks that timed out since anything was last heard from Redis on this connection. */
  #silent = 0;
  /** Connections dropped since Redis last answered: the reconnect backoff's step. */
  #recycles = 0;
  #probing = false;
  #healthTimer: NodeJS.Timeout | undefined;
  #reopenTimer: NodeJS.Timeout | undefined;
  #watchdog: NodeJS.Timeout | undefined;
  /** Errors the client reported: a connection that reports them is failing loudly, not silently. */
  #errors = 0;
  /** Counts every connection opened (tests, and /readyz could show it). */
  connectionsOpened = 0;

  constructor(opts: RedisReplayOptions) {
    const target = opts.target ?? (opts.url !== undefined ? { url: opts.url } : undefined);
    if (target === undefined) throw new Error('RedisReplayStore needs a url or a target');
    this.#target = target;
    this.#prefix = opts.keyPrefix;
    this.#onEvent = opts.onEvent ?? (() => {});
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? Math.random;
    this.#errorLogIntervalMs = opts.errorLogIntervalMs ?? 1000;
    this.#timeoutMs = opts.timeoutMs;
    this.#waitReplicas = opts.waitReplicas ?? 0;
    this.#opts = opts;
  }

  async consume(key: string, ttlMs: number): Promise<ConsumeResult> {
    let timer: NodeJS.Timeout | undefined;
    let setAnswered = false;
    try {
      const conn = this.#conn;
      if (conn === undefined) throw new Error(this.#lastError ? `not connected: ${this.#lastError}` : 'the replay store is not connected');
      const gen = this.#generation;
      const k = this.#prefix + key;
      const set = conn.setNx(k, Math.max(1, Math.ceil(ttlMs)));
      // Issued in the same turn as its SET, so it goes out right behind it on the same connection and covers it.
      const acked = this.#waitReplicas > 0 ? conn.wait(k, this.#waitReplicas, this.#timeoutMs) : undefined;
      // Any reply, even one after the timeout, shows the connection is alive (slow is not dead).
      for (const p of [set, acked]) p?.then(() => this.#heard(gen), () => {});
      const answer = (async () => {
        const reply = await set;
        setAnswered = true;
        if (reply === null) return 'replayed' as const;
        if (acked !== undefined) {
          const count = await acked;
          if (count < this.#waitReplicas) throw new Error(`${count} of ${this.#waitReplicas} replicas acknowledged the write within ${this.#timeoutMs} ms`);
        }
        return 'fresh' as const;
      })();
      answer.catch(() => {}); // a reply after the timeout (or its failure) is no longer anyone's business
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(setAnswered ? `replicas did not acknowledge within the ${this.#timeoutMs} ms timeout` : `no answer within the ${this.#timeoutMs} ms timeout`));
          if (!setAnswered) this.#silence(gen);
        }, this.#timeoutMs);
      });
      return await Promise.race([answer, late]);
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
    if (this.#redis !== undefined || this.#state === 'closed') return;
    this.#to('connecting');
    const redis = await import('redis');
    if ((this.#state as State) === 'closed') return; // stopped while loading
    this.#redis = redis;
    this.#open();
    this.#healthTimer = setInterval(() => this.#probe(), this.#opts.healthIntervalMs ?? 1000);
    this.#healthTimer.unref();
    let timer: NodeJS.Timeout | undefined;
    let off: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      off = this.onChange(resolve);
      timer = setTimeout(resolve, 1000);
    });
    off?.();
    clearTimeout(timer);
  }

  async stop(): Promise<void> {
    if (this.#state === 'closed') return;
    clearInterval(this.#healthTimer);
    clearTimeout(this.#reopenTimer);
    this.#drop();
    this.#to('closed');
  }

  /** A new client: it reconnects by itself after errors; a silent one is dropped and replaced (#recycle). */
  #open(): void {
    const gen = ++this.#generation;
    const current = () => gen === this.#generation && this.#state !== 'closed';
    this.#silent = 0;
    this.connectionsOpened++;
    const conn = openConnection(
      this.#redis!,
      {
        target: this.#target,
        ...(this.#opts.password ? { password: this.#opts.password } : {}),
        timeoutMs: this.#timeoutMs,
        maxInFlight: this.#opts.maxInFlight ?? 10_000,
        reconnectDelay: (retries) => reconnectDelay(retries, this.#random),
      },
      {
        // A socket that never completes its handshake is as silent as one that stops answering.
        opening: () => current() && this.#watch(`no answer to the connection handshake within ${pingDeadlineMs(this.#timeoutMs)} ms`),
        // Connected is not ready: ready is a PING answered on this connection.
        connected: () => current() && this.#probe(),
        reconnecting: () => current() && this.#to('reconnecting'),
        // An 'error' listener is mandatory (node-redis would throw otherwise); every socket error lands here.
        error: (e) => {
          if (!current()) return;
          this.#errors++;
          this.#lastError = messageOf(e);
          if (this.#state === 'ready') this.#to('reconnecting');
        },
      },
    );
    this.#conn = conn;
    conn.connect().catch((e: unknown) => {
      if (!current()) return;
      this.#recycle(messageOf(e));
    });
  }

  /** PING with a deadline: an answer makes the store ready; an error not (the client reconnects); silence recycles. */
  #probe(): void {
    const conn = this.#conn;
    if (conn === undefined || this.#probing || this.#state === 'closed') return;
    this.#probing = true;
    const gen = this.#generation;
    const deadline = pingDeadlineMs(this.#timeoutMs);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new SilentError(`no answer to PING within ${deadline} ms`)), deadline);
    });
    Promise.race([conn.ping(), late])
      .then(
        () => {
          if (gen !== this.#generation) return;
          this.#heard(gen);
          this.#to('ready');
        },
        (e: unknown) => {
          if (gen !== this.#generation) return;
          if (e instanceof SilentError) this.#recycle(e.message);
          else if (this.#state === 'ready' || this.#lastError === null) {
            // An offline client's PING fails at once: keep the connection error that says why it is offline.
            this.#lastError = messageOf(e);
            this.#to('reconnecting');
          }
        },
      )
      .finally(() => {
        clearTimeout(timer);
        this.#probing = false;
      });
  }

  /** Until the store is ready, a connection gets one PING deadline to prove itself, or it is dropped. */
  #watch(reason: string): void {
    clearTimeout(this.#watchdog);
    const gen = this.#generation;
    const errors = this.#errors;
    // A client that reported an error (refused, auth, TLS) knows it is failing and reconnects by itself: keep its reason.
    const silent = () => gen === this.#generation && errors === this.#errors && this.#state !== 'ready';
    this.#watchdog = setTimeout(() => silent() && this.#recycle(reason), pingDeadlineMs(this.#timeoutMs));
    this.#watchdog.unref();
  }

  #heard(gen: number): void {
    if (gen !== this.#generation) return;
    this.#silent = 0;
    this.#recycles = 0;
  }

  #silence(gen: number): void {
    if (gen !== this.#generation) return;
    if (++this.#silent >= SILENT_CHECKS) this.#recycle(`no answer to ${this.#silent} checks in a row`);
  }

  /** Drops the connection (its socket may look open but nothing comes back) and opens a new one after the backoff. */
  #recycle(reason: string): void {
    if (this.#state === 'closed') return;
    this.#lastError = reason;
    this.#drop();
    this.#to('reconnecting');
    clearTimeout(this.#reopenTimer);
    this.#reopenTimer = setTimeout(() => this.#open(), reconnectDelay(this.#recycles++, this.#random));
  }

  #drop(): void {
    const conn = this.#conn;
    this.#conn = undefined;
    this.#generation++;
    clearTimeout(this.#watchdog);
    this.#probing = false;
    try {
      conn?.destroy();
    } catch {
      // already closed
    }
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

class SilentError extends Error {}

/** Error text for logs and /readyz: the client's message, bounded; never a password (URLs are not echoed). */
function messageOf(e: unknown): string {
  const text = e instanceof Error ? `${e.name === 'Error' ? '' : `${e.name}: `}${e.message}` : String(e);
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
