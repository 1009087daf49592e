/**
 * `workers: N`: the primary forks N server processes that share the listeners (node:cluster hands each accepted
 * connection to one worker). Each worker has its own caches and key sources, so the IdP sees at most one fetch per
 * worker per refresh. A worker that dies is replaced.
 *
 * The primary coordinates the group (messages in src/lifecycle/worker.ts):
 *  - reload: it watches the config file and validates it; a valid config's text goes to every worker, which
 *    switches; a refused one is reported to every worker (counted, shown on /readyz);
 *  - drain: SIGTERM/SIGINT are passed on as one shutdown request to every worker, which drain together; the primary
 *    exits when they have, or kills them after drain + timeout + 5 s; a second signal kills them at once;
 *  - metrics: a worker asked for /metrics asks the primary, which collects every other worker's text.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './log.ts';
import type { Config } from './core/config.ts';
import { startReloader } from './lifecycle/reload.ts';
import type { StopSignal } from './lifecycle/drain.ts';
import type { PrimaryMessage, WorkerMessage, WorkerReady } from './lifecycle/worker.ts';

export type { WorkerReady } from './lifecycle/worker.ts';

export const isWorker = (): boolean => cluster.isWorker;

/** Called in a worker once its listeners are up. */
export function reportReady(message: Omit<WorkerReady, 'type'>): void {
  process.send?.({ type: 'portcullis:ready', ...message } satisfies WorkerReady);
}

export interface SuperviseOptions {
  readonly config: Config;
  readonly log: Logger;
  readonly onAllReady: (first: WorkerReady) => void;
  /** Watch and validate this file, and hand valid versions to the workers. */
  readonly reload?: { readonly path: string; readonly text: string; readonly load: () => { config: Config; text: string } };
}

const METRICS_WAIT_MS = 2000;
const RELOAD_WAIT_MS = 30_000;

/** Runs in the primary until the workers have stopped; resolves with the exit code. */
export function supervise(o: SuperviseOptions): Promise<number> {
  const { log, config } = o;
  const workers = config.workers;
  let stopping = false;
  let stopSignal: StopSignal = 'SIGTERM';
  let readyCount = 0;
  let nextId = 0;
  let running = config;
  const pending = new Map<number, (m: WorkerMessage, from: Worker) => void>();
  const alive = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
  const send = (w: Worker, m: PrimaryMessage): void => {
    try {
      w.send(m);
    } catch {
      // a worker that is going away
    }
  };

  /** Sends to each of `targets` and waits (at most `waitMs`) for their answers to this id. */
  const ask = (targets: Worker[], make: (id: number) => PrimaryMessage, waitMs: number): Promise<WorkerMessage[]> => {
    if (targets.length === 0) return Promise.resolve([]);
    const id = ++nextId;
    return new Promise((resolve) => {
      const answers: WorkerMessage[] = [];
      const end = (): void => {
        clearTimeout(timer);
        pending.delete(id);
        resolve(answers);
      };
      const timer = setTimeout(end, waitMs);
      pending.set(id, (m) => {
        answers.push(m);
        if (answers.length === targets.length) end();
      });
      for (const w of targets) send(w, make(id));
    });
  };

  const onMessage = (worker: Worker, m: WorkerMessage): void => {
    if (typeof m !== 'object' || m === null) return;
    if (m.type === 'portcullis:ready') {
      // Stopped while it was starting: it could not hear the request then.
      if (stopping) return send(worker, { type: 'portcullis:shutdown', signal: stopSignal });
      readyCount++;
      if (readyCount === workers) o.onAllReady(m);
    } else if (m.type === 'portcullis:metrics-request') {
      const others = alive().filter((w) => w !== worker);
      void ask(others, (id) => ({ type: 'portcullis:metrics-collect', id }), METRICS_WAIT_MS).then((answers) => {
        const texts = answers.flatMap((a) => (a.type === 'portcullis:metrics-report' && a.text !== null ? [a.text] : []));
        send(worker, { type: 'portcullis:metrics-response', id: m.id, texts, missing: others.length - texts.length });
      });
    } else if ('id' in m && typeof m.id === 'number') {
      pending.get(m.id)?.(m, worker);
    }
  };

  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (m: WorkerMessage) => onMessage(worker, m));
    return worker;
  };
  for (let i = 0; i < workers; i++) fork();

  const reloader = o.reload === undefined ? undefined : startReloader({
    path: o.reload.path,
    load: o.reload.load,
    current: () => running,
    currentText: o.reload.text,
    log,
    refused: (problems) => alive().forEach((w) => send(w, { type: 'portcullis:reload-refused', problems })),
    apply: async (next, text) => {
      const answers = await ask(alive(), (id) => ({ type: 'portcullis:reload', id, text }), RELOAD_WAIT_MS);
      running = next;
      const failed = answers.filter((a) => a.type === 'portcullis:reloaded' && a.outcome !== 'ok').length;
      if (failed > 0) log.log('error', 'config reload failed in some workers', { failed, workers: alive().length });
    },
  });

  return new Promise((resolve) => {
    let force: NodeJS.Timeout | undefined;
    const finish = (code: number): void => {
      if (force) clearTimeout(force);
      reloader?.close();
      resolve(code);
    };
    const stop = (why: string, code: number, signal: StopSignal, forceMs = running.shutdown.drainMs + running.shutdown.timeoutMs + 5000): void => {
      if (stopping) return;
      stopping = true;
      stopSignal = signal;
      log.log(code === 0 ? 'info' : 'error', 'portcullis stopping', { why, workers: alive().length });
      const left = alive();
      if (left.length === 0) return finish(code);
      let count = left.length;
      force = setTimeout(() => left.forEach((w) => w.process.kill('SIGKILL')), forceMs);
      for (const w of left) {
        w.once('exit', () => {
          if (--count === 0) finish(code);
        });
        send(w, { type: 'portcullis:shutdown', signal });
      }
    };
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      // A worker that fails before all have started (port in use, bad key file) will fail again: give up.
      if (readyCount < workers) return stop(`worker ${worker.process.pid} failed to start (exit ${code ?? signal})`, 1, 'SIGINT', 2000);
      log.log('error', 'worker exited; starting a new one', { pid: worker.process.pid, code, signal });
      setTimeout(() => {
        if (!stopping) fork();
      }, 1000).unref();
    });
    const onSignal = (signal: StopSignal): void => {
      if (stopping) {
        log.log('warn', 'portcullis exiting at once: second signal', { signal });
        alive().forEach((w) => w.process.kill('SIGKILL'));
        finish(1);
        return;
      }
      stop(signal, 0, signal);
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));
  });
}
