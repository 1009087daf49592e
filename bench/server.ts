/**
 * The Portcullis under test, in its own process so the load generator never shares its event loop:
 * `node bench/server.ts CONFIG_FILE`. One process (startPortcullis does not fork; `workers:` is the entry point's
 * business, which `npm run bench -- --entry main` measures instead).
 *
 * Prints one JSON line `{"ready":true,...}` once the listeners are up and the keys are loaded. Answers
 * `{type:'stats'}` on the IPC channel with its memory usage. SIGTERM closes the listeners and exits 0, so a
 * `--cpu-prof` profile is written.
 */
import { loadConfigFile } from '../src/config/load.ts';
import { defaultRuntime } from '../src/app.ts';
import { startPortcullis } from '../src/server.ts';

const path = process.argv[2];
if (path === undefined) {
  process.stderr.write('usage: node bench/server.ts CONFIG_FILE\n');
  process.exit(2);
}

const config = loadConfigFile(path);
const running = await startPortcullis(config, defaultRuntime);

const deadline = Date.now() + 10_000;
while (!running.core.readiness.isReady()) {
  if (Date.now() > deadline) {
    process.stderr.write('bench/server: keys not loaded after 10 s\n');
    process.exit(1);
  }
  await new Promise((r) => setTimeout(r, 20));
}

process.on('message', (m: { type?: string; gc?: boolean }) => {
  if (m?.type !== 'stats') return;
  // With --expose-gc (the flood does that) a full collection first, so heapUsed is the live heap, not garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  if (m.gc && gc) gc();
  process.send?.({ type: 'stats', memory: process.memoryUsage(), collected: Boolean(m.gc && gc) });
});

process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, grpc: running.grpcAddress, http: running.httpUrl })}\n`);

const stop = (): void => {
  void running.close().finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
