/**
 * Watches a file by watching its DIRECTORY: Kubernetes updates a mounted ConfigMap or Secret by swapping the `..data`
 * symlink next to the file (the file's own inode never changes, so a watch on the file alone misses it), and editors
 * replace files by rename. Any change in the directory schedules one call after `debounceMs` of quiet; the caller
 * re-reads and decides whether anything it cares about changed. A directory that cannot be watched is reported once
 * and the caller keeps its other triggers (SIGHUP, polling).
 */
import { watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export type WatchFn = (path: string, onChange: () => void) => () => void;

export const DEFAULT_DEBOUNCE_MS = 200;

export function watchFileDirectory(path: string, onChange: () => void, options: { debounceMs?: number; onError?: (e: Error) => void } = {}): () => void {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let watcher: FSWatcher | undefined;
  const fire = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      if (!closed) onChange();
    }, debounceMs);
    timer.unref();
  };
  try {
    watcher = watch(dirname(path), { persistent: false }, fire);
    watcher.on('error', (e) => options.onError?.(e));
  } catch (e) {
    options.onError?.(e as Error);
  }
  return () => {
    closed = true;
    if (timer) clearTimeout(timer);
    watcher?.close();
  };
}
