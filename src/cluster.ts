/**
 * `workers: N`: the primary forks N server processes that share the listeners (node:cluster hands each accepted
 * connection to one worker). Each worker has its own caches and key sources, so the IdP sees at most one fetch per
 * worker per refresh. A worker that dies is replaced; SIGTERM/SIGINT stop them all.
 */
import cluster, { type Worker } from 'node:cluster';
import type { Logger } from './log.ts';

export interface WorkerReady {
  readonly type: 'portcullis:ready';
  readonly grpc: string;
  readonly http: string;
  readonly ready: boolean;
}

export const isWorker = (): boolean => cluster.isWorker;

/** Called in a worker once its listeners are up. */
export function reportReady(message: Omit<WorkerReady, 'type'>): void {
  process.send?.({ type: 'portcullis:ready', ...message } satisfies WorkerReady);
}

/** Runs in the primary until a stop signal; resolves with the exit code. */
export function supervise(workers: number, log: Logger, onAllReady: (first: WorkerReady) => void): Promise<number> {
  let stopping = false;
  let readyCount = 0;
  const fork = (): Worker => {
    const worker = cluster.fork();
    worker.on('message', (m: WorkerReady) => {
      if (m?.type !== 'portcullis:ready') return;
      readyCount++;
      if (readyCount === workers) onAllReady(m);
    });
    return worker;
  };
  for (let i = 0; i < workers; i++) fork();

  return new Promise((resolve) => {
    const stop = (why: string, code: number) => {
      if (stopping) return;
      stopping = true;
      log.log(code === 0 ? 'info' : 'error', 'portcullis stopping', { why, workers: Object.keys(cluster.workers ?? {}).length });
      const alive = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
      if (alive.length === 0) return resolve(code);
      let left = alive.length;
      const force = setTimeout(() => alive.forEach((w) => w.process.kill('SIGKILL')), 10_000);
      for (const w of alive) {
        w.once('exit', () => {
          if (--left === 0) {
            clearTimeout(force);
            resolve(code);
          }
        });
        w.process.kill('SIGTERM');
      }
    };
    cluster.on('exit', (worker, code, signal) => {
      if (stopping) return;
      // A worker that fails before all have started (port in use, bad key file) will fail again: give up.
      if (readyCount < workers) return stop(`worker ${worker.process.pid} failed to start (exit ${code ?? signal})`, 1);
      log.log('error', 'worker exited; starting a new one', { pid: worker.process.pid, code, signal });
      setTimeout(() => {
        if (!stopping) fork();
      }, 1000).unref();
    });
    process.once('SIGTERM', () => stop('SIGTERM', 0));
    process.once('SIGINT', () => stop('SIGINT', 0));
  });
}
