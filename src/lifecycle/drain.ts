/**
 * Shutdown with a drain, for rolling updates: Kubernetes sends SIGTERM and, at the same time, starts removing the pod
 * from its endpoints; Envoy and the proxies keep sending for a few seconds.
 *
 *   SIGTERM  → not ready at once (/readyz 503, gRPC health NOT_SERVING); answers continue normally
 *   + drain  → listeners stop accepting; idle connections closed (HTTP/2 GOAWAY, HTTP/1.1 close); in-flight
 *              requests finish, cut after `timeout`
 *   then     → exit 0
 *
 * SIGINT (a person at a terminal) skips the drain wait. A second signal exits at once (exit code 1). `request`
 * (the primary's message to a worker) starts the same shutdown but never counts as the second signal: a Ctrl-C
 * reaches the workers both directly and through the primary.
 */
import type { Logger } from '../log.ts';

export type StopSignal = 'SIGTERM' | 'SIGINT';

export interface ShutdownOptions {
  readonly drainMs: number;
  readonly timeoutMs: number;
  /** Not ready from now on; answers continue. */
  readonly beginDrain: () => void;
  /** Stop accepting, close idle connections, finish in-flight requests within `timeoutMs`. */
  readonly close: (timeoutMs: number) => Promise<void>;
  readonly exit: (code: number) => void;
  readonly log: Logger;
  /** Injected timer (tests). Default setTimeout. */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface Shutdown {
  /** A signal arrived (counts towards "a second signal exits at once"). */
  signal(signal: StopSignal): void;
  /** The primary asked this worker to stop (idempotent). */
  request(signal: StopSignal): void;
  /** Resolves once the process is about to exit. */
  readonly done: Promise<number>;
}

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function createShutdown(o: ShutdownOptions): Shutdown {
  let started = false;
  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const run = async (signal: StopSignal): Promise<void> => {
    const drainMs = signal === 'SIGINT' ? 0 : o.drainMs;
    o.log.log('info', 'portcullis draining: not ready, still answering', { signal, drain_ms: drainMs, timeout_ms: o.timeoutMs });
    o.beginDrain();
    if (drainMs > 0) await (o.sleep ?? defaultSleep)(drainMs);
    o.log.log('info', 'portcullis closing listeners: in-flight requests finish', { timeout_ms: o.timeoutMs });
    let code = 0;
    try {
      await o.close(o.timeoutMs);
    } catch (e) {
      o.log.log('error', 'portcullis close failed', { error: (e as Error).message });
      code = 1;
    }
    o.log.log('info', 'portcullis stopped', { code });
    finish(code);
    o.exit(code);
  };

  const start = (signal: StopSignal): void => {
    started = true;
    void run(signal);
  };

  return {
    signal(signal) {
      if (started) {
        o.log.log('warn', 'portcullis exiting at once: second signal', { signal });
        finish(1);
        o.exit(1);
        return;
      }
      start(signal);
    },
    request(signal) {
      if (!started) start(signal);
    },
    done,
  };
}
