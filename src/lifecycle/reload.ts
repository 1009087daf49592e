/**
 * Hot reload: the config file is re-read when its directory changes (debounced; Kubernetes swaps a `..data` symlink)
 * and on SIGHUP. The new text goes through the same loader as the start (config/load.ts), so it is validated
 * completely first:
 *  - invalid → the running config stays, every problem is logged by path, the reload is counted as an error;
 *  - a change to a setting that needs a restart (listen.*, workers, grpc.max_request_bytes, telemetry.metrics) → the
 *    whole reload is refused, naming them;
 *  - valid → `apply` switches (one process: the server swaps its snapshot; workers: the primary hands the validated
 *    text to every worker, which switches).
 * A watch event that leaves the text unchanged (another file in the directory) does nothing; SIGHUP always reloads.
 */
import { ConfigError } from '../config/load.ts';
import type { Config } from '../core/config.ts';
import type { Logger } from '../log.ts';
import { watchFileDirectory, type WatchFn } from './watch.ts';

export type ReloadTrigger = 'sighup' | 'watch';

export interface ReloaderOptions {
  /** The config file (its directory is watched). */
  readonly path: string;
  /** Reads and validates the file (loadConfigFileWithText with the command-line overrides). Throws ConfigError. */
  readonly load: () => { readonly config: Config; readonly text: string };
  /** The config that is running now. */
  readonly current: () => Config;
  /** The text the running config was read from (to ignore watch events that changed nothing). */
  readonly currentText: string;
  /** Switches to the validated config. */
  readonly apply: (config: Config, text: string) => Promise<void>;
  /** A refused reload: counted and shown on /readyz by the caller. */
  readonly refused: (problems: readonly string[]) => void;
  readonly log: Logger;
  /** Default: watchFileDirectory. */
  readonly watch?: WatchFn;
  /** Handle SIGHUP (default true). */
  readonly sighup?: boolean;
}

export interface Reloader {
  /** Reloads now. Resolves with the outcome once applied or refused. */
  reload(trigger: ReloadTrigger): Promise<'ok' | 'error' | 'unchanged'>;
  close(): void;
}

/** Settings a running process cannot change: listeners are bound and workers forked once. */
export function restartOnlyChanges(running: Config, next: Config): string[] {
  const changed: string[] = [];
  for (const key of ['grpc', 'http', 'admin'] as const) {
    if (running.listen[key] !== next.listen[key]) changed.push(`listen.${key}`);
  }
  if (running.workers !== next.workers) changed.push('workers');
  if (running.grpc.maxRequestBytes !== next.grpc.maxRequestBytes) changed.push('grpc.max_request_bytes');
  if (running.telemetry.metrics !== next.telemetry.metrics) changed.push('telemetry.metrics');
  return changed;
}

export function startReloader(o: ReloaderOptions): Reloader {
  let lastText = o.currentText;
  let queue: Promise<unknown> = Promise.resolve();

  const once = async (trigger: ReloadTrigger): Promise<'ok' | 'error' | 'unchanged'> => {
    let loaded;
    try {
      loaded = o.load();
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems : [String((e as Error)?.message ?? e)];
      // A half-written file (an editor saving) is read again on its next change event; a bad one stays refused.
      o.log.log('error', 'config reload refused: invalid configuration, the running config stays', { path: o.path, trigger, problems });
      o.refused(problems);
      return 'error';
    }
    if (trigger === 'watch' && loaded.text === lastText) return 'unchanged';
    lastText = loaded.text;
    const restart = restartOnlyChanges(o.current(), loaded.config);
    if (restart.length > 0) {
      const problems = restart.map((key) => `${key}: changing it needs a restart`);
      o.log.log('error', 'config reload refused: settings that need a restart changed, the running config stays', { path: o.path, trigger, problems });
      o.refused(problems);
      return 'error';
    }
    await o.apply(loaded.config, loaded.text);
    o.log.log('info', 'config reloaded', { path: o.path, trigger, issuers: loaded.config.issuers.map((i) => i.issuer) });
    return 'ok';
  };

  const reload = (trigger: ReloadTrigger): Promise<'ok' | 'error' | 'unchanged'> => {
    const run = queue.then(() => once(trigger));
    queue = run.catch(() => {});
    return run;
  };

  const unwatch = (o.watch ?? ((path, onChange) => watchFileDirectory(path, onChange, {
    onError: (e) => o.log.log('warn', 'cannot watch the config directory; reload with SIGHUP', { path: o.path, error: e.message }),
  })))(o.path, () => void reload('watch'));
  const onHup = (): void => void reload('sighup');
  if (o.sighup !== false) process.on('SIGHUP', onHup);

  return {
    reload,
    close() {
      unwatch();
      process.off('SIGHUP', onHup);
    },
  };
}
