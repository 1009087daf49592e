/**
 * A real redis-server (Debian package redis-server) for the replay tests: its own temp dir, a free loopback port, no
 * persistence (`--save '' --appendonly no`). stop() and start() again on the same port let a test take Redis away
 * mid-run and bring it back. Killed as a last resort when the test process exits.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'redis';
import { freePort, waitForPort } from './ports.ts';

const REDIS = process.env['PORTCULLIS_TEST_REDIS'] ?? 'redis-server';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface TestRedis {
  readonly port: number;
  /** "redis://127.0.0.1:port/0" */
  readonly url: string;
  /** A plain client for assertions (PTTL, EXISTS), connected lazily, closed by close(). */
  client(): Promise<ReturnType<typeof createClient>>;
  /** Stops the server (SIGKILL: an abrupt outage, as a crash or a network cut looks to clients). */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startRedis(extraArgs: readonly string[] = []): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-redis-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  let output = '';
  let assertions: ReturnType<typeof createClient> | undefined;

  const start = async (): Promise<void> => {
    const c = spawn(REDIS, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    live.add(c);
    c.stdout!.on('data', (d) => (output = (output + d).slice(-8192)));
    c.stderr!.on('data', (d) => (output = (output + d).slice(-8192)));
    c.once('exit', () => live.delete(c));
    try {
      await waitForPort(port);
    } catch (e) {
      throw new Error(`redis-server did not start: ${(e as Error).message}\n${output}`);
    }
  };
  const stop = async (): Promise<void> => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };

  await start();
  const url = `redis://127.0.0.1:${port}/0`;
  return {
    port,
    url,
    async client() {
      if (!assertions) {
        assertions = createClient({ url, socket: { reconnectStrategy: 50 } });
        assertions.on('error', () => {});
        await assertions.connect();
      }
      return assertions;
    },
    stop,
    start,
    async close() {
      assertions?.destroy();
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
