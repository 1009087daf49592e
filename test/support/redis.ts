/**
 * A real redis-server (Debian package redis-server) for the replay tests: its own temp dir, a free loopback port, no
 * persistence (`--save '' --appendonly no`). stop() and start() again on the same port let a test take Redis away
 * mid-run and bring it back. Killed as a last resort when the test process exits. With `tls`, Redis serves TLS only
 * (`rediss://localhost:port`), with a server certificate from a throwaway CA made by openssl (`caPem`).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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
  /** "redis://127.0.0.1:port/0", or with tls "rediss://localhost:port/0" */
  readonly url: string;
  /** With tls: the CA that signed the server certificate (PEM). */
  readonly caPem?: string;
  /** A plain client for assertions (PTTL, EXISTS), connected lazily, closed by close(). */
  client(): Promise<ReturnType<typeof createClient>>;
  /** Stops the server (SIGKILL: an abrupt outage, as a crash or a network cut looks to clients). */
  stop(): Promise<void>;
  /** Starts it again on the same port (empty: no persistence). */
  start(): Promise<void>;
  close(): Promise<void>;
}

async function makeCertificates(dir: string): Promise<string[]> {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  ssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=portcullis test CA');
  ssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  await writeFile(join(dir, 'ext.cnf'), 'subjectAltName=DNS:localhost,IP:127.0.0.1\n');
  ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'ext.cnf');
  return ['--tls-cert-file', 'server.pem', '--tls-key-file', 'server.key', '--tls-ca-cert-file', 'ca.pem', '--tls-auth-clients', 'no'];
}

export async function startRedis(extraArgs: readonly string[] = [], opts: { tls?: boolean } = {}): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-redis-'));
  const port = await freePort();
  const listen = opts.tls ? ['--port', '0', '--tls-port', String(port), ...(await makeCertificates(dir))] : ['--port', String(port)];
  let child: ChildProcess | undefined;
  let output = '';
  let assertions: ReturnType<typeof createClient> | undefined;

  const start = async (): Promise<void> => {
    const c = spawn(REDIS, [...listen, '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, ...extraArgs], {
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
  const url = opts.tls ? `rediss://localhost:${port}/0` : `redis://127.0.0.1:${port}/0`;
  const caPem = opts.tls ? await readFile(join(dir, 'ca.pem'), 'utf8') : undefined;
  return {
    port,
    url,
    ...(caPem !== undefined ? { caPem } : {}),
    async client() {
      if (!assertions) {
        assertions = createClient({ url, socket: caPem !== undefined ? { reconnectStrategy: 50, tls: true, ca: caPem } : { reconnectStrategy: 50 } });
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
