/**
 * The worker side of `workers: N` (the primary side is src/cluster.ts): the messages between them, and what a
 * worker does with the primary's: switch to a reloaded config, record a refused reload, drain, report its metrics.
 */
import { parseConfigText } from '../config/load.ts';
import type { Running } from '../server.ts';
import type { Shutdown, StopSignal } from './drain.ts';
import { mergePrometheus } from '../telemetry/group-metrics.ts';

export interface WorkerReady {
  readonly type: 'portcullis:ready';
  readonly grpc: string;
  readonly http: string;
  readonly ready: boolean;
}

/** Worker → primary. */
export type WorkerMessage =
  | WorkerReady
  | { readonly type: 'portcullis:metrics-request'; readonly id: number }
  | { readonly type: 'portcullis:metrics-report'; readonly id: number; readonly text: string | null }
  | { readonly type: 'portcullis:reloaded'; readonly id: number; readonly outcome: 'ok' | 'error' };

/** Primary → worker. */
export type PrimaryMessage =
  | { readonly type: 'portcullis:shutdown'; readonly signal: StopSignal }
  | { readonly type: 'portcullis:reload'; readonly id: number; readonly text: string }
  | { readonly type: 'portcullis:reload-refused'; readonly problems: readonly string[] }
  | { readonly type: 'portcullis:metrics-collect'; readonly id: number }
  | { readonly type: 'portcullis:metrics-response'; readonly id: number; readonly texts: readonly string[]; readonly missing: number };

const GROUP_WAIT_MS = 3000;
let nextId = 0;
const waiting = new Map<number, (m: Extract<PrimaryMessage, { type: 'portcullis:metrics-response' }>) => void>();

const send = (m: WorkerMessage): void => {
  process.send?.(m);
};

/**
 * TelemetryOptions.groupScrape in a worker: this worker's text merged with every other worker's (collected by the
 * primary). If the primary does not answer in time, this worker's text alone, with a comment saying so.
 */
export function groupScrape(local: string): Promise<string> {
  const id = ++nextId;
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      resolve(`# portcullis: the other workers did not answer in time; this is one worker's view\n${local}`);
    }, GROUP_WAIT_MS);
    waiting.set(id, (m) => {
      clearTimeout(timer);
      waiting.delete(id);
      const merged = mergePrometheus([local, ...m.texts]);
      resolve(m.missing > 0 ? `# portcullis: ${m.missing} worker(s) did not answer in time\n${merged}` : merged);
    });
    send({ type: 'portcullis:metrics-request', id });
  });
}

export interface WorkerOptions {
  readonly running: Running;
  readonly shutdown: Shutdown;
  /** The config file and command-line overrides this process started with. */
  readonly configPath: string | undefined;
  readonly listen: { grpc?: string; http?: string };
}

/** Handles the primary's messages in a worker. */
export function serveWorker(o: WorkerOptions): void {
  process.on('message', (m: PrimaryMessage) => {
    if (typeof m !== 'object' || m === null) return;
    switch (m.type) {
      case 'portcullis:shutdown':
        o.shutdown.request(m.signal);
        return;
      case 'portcullis:metrics-response':
        waiting.get(m.id)?.(m);
        return;
      case 'portcullis:metrics-collect':
        o.running.scrapeLocalMetrics().then(
          (text) => send({ type: 'portcullis:metrics-report', id: m.id, text }),
          () => send({ type: 'portcullis:metrics-report', id: m.id, text: null }),
        );
        return;
      case 'portcullis:reload-refused':
        o.running.reloadFailed(m.problems);
        return;
      case 'portcullis:reload': {
        // The primary validated this text; the same loader builds the same config here.
        let config;
        try {
          config = parseConfigText(m.text, o.configPath ?? 'config', o.listen);
        } catch (e) {
          o.running.reloadFailed([(e as Error).message]);
          send({ type: 'portcullis:reloaded', id: m.id, outcome: 'error' });
          return;
        }
        void o.running.reload(config).then(() => send({ type: 'portcullis:reloaded', id: m.id, outcome: 'ok' }));
      }
    }
  });
}
