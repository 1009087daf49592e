/**
 * Watches a file by watching its DIRECTORY: Kubernetes updates a mounted ConfigMap or Secret by swapping the `..data`
 * symlink next to the file (the file's own inode never changes, so a watch on the file alone misses it), and editors
 * replace files by rename. Any event in the directory schedules a look after `debounceMs` of quiet; `onChange` runs
 * only when the file itself (followed through symlinks: inode, size, mtime) differs from the last look, so reading
 * a file (an atime change) or changes to its neighbours never trigger it. A directory that cannot be watched is reported once
 * and the caller keeps its other triggers (SIGHUP, polling).
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';

export type WatchFn = (path: string, onChange: () => void) => () => void;

export const DEFAULT_DEBOUNCE_MS = 200;

export function watchFileDirectory(path: string, onChange: () => void, options: { debounceMs?: number; onError?: (e: Error) => void } = {}): () => void {
  const debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let watcher: FSWatcher | undefined;
  let last = signature(path);
  const fire = (): void => {
    if (closed) return;
    if (timer) clearTimeout(timer);
    timer = setTimeout(() => {
      timer = null;
      const now = signature(path);
      if (closed || now === last) return;
      last = now;
      onChange();
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

function signature(path: string): string {
  try {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  } catch (e) {
    return `missing:${(e as NodeJS.ErrnoException).code ?? ''}`;
  }
}
