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
  /** The server process is running (not stopped). */
  readonly running: boolean;
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

export interface RedisOptions {
  readonly tls?: boolean;
  /** Run as a Sentinel (`redis-server sentinel.conf --sentinel`) with these config lines (the file must be writable). */
  readonly sentinel?: readonly string[];
}

export async function startRedis(extraArgs: readonly string[] = [], opts: RedisOptions = {}): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-redis-'));
  const port = await freePort();
  let listen = opts.tls ? ['--port', '0', '--tls-port', String(port), ...(await makeCertificates(dir))] : ['--port', String(port)];
  if (opts.sentinel) {
    await writeFile(join(dir, 'sentinel.conf'), `${opts.sentinel.join('\n')}\n`);
    listen = [join(dir, 'sentinel.conf'), '--sentinel', ...listen];
  }
  let child: ChildProcess | undefined;
  let output = '';
  let assertions: ReturnType<typeof createClient> | undefined;

  const start = async (): Promise<void> => {
    const persistence = opts.sentinel ? [] : ['--save', '', '--appendonly', 'no'];
    const c = spawn(REDIS, [...listen, '--bind', '127.0.0.1', ...persistence, '--dir', dir, ...extraArgs], {
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
    get running() {
      return child !== undefined && child.exitCode === null;
    },
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

/** Polls until `condition` holds, or fails naming `what`. */
export async function eventually(what: string, condition: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await condition().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * A Sentinel group as production runs one, made small and quick: a master, a replica of it, and three Sentinels
 * (quorum 2) that declare the master down after `downAfterMs` and promote the replica.
 */
export interface TestSentinelGroup {
  readonly masterName: string;
  readonly master: TestRedis;
  readonly replica: TestRedis;
  readonly sentinels: readonly TestRedis[];
  /** "127.0.0.1:port" of each Sentinel, for replay.redis.sentinel.nodes. */
  readonly nodes: readonly string[];
  /** The master's port as the Sentinels report it now. */
  masterPort(): Promise<number>;
  close(): Promise<void>;
}

export async function startSentinelGroup(opts: { downAfterMs?: number; masterName?: string } = {}): Promise<TestSentinelGroup> {
  const masterName = opts.masterName ?? 'portcullis';
  const master = await startRedis();
  const replica = await startRedis(['--replicaof', '127.0.0.1', String(master.port)]);
  const sentinels: TestRedis[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      sentinels.push(await startRedis([], {
        sentinel: [
          `sentinel monitor ${masterName} 127.0.0.1 ${master.port} 2`,
          `sentinel down-after-milliseconds ${masterName} ${opts.downAfterMs ?? 1000}`,
          `sentinel failover-timeout ${masterName} 5000`,
          `sentinel parallel-syncs ${masterName} 1`,
        ],
      }));
    }
    await eventually('the replica is in sync', async () => /master_link_status:up/.test(await (await replica.client()).info('replication')));
    // Each Sentinel has found the replica and the other Sentinels (they learn of each other through the master).
    await eventually('the Sentinels know each other and the replica', async () => {
      for (const s of sentinels) {
        // node-redis maps this reply to an object
        const info = (await (await s.client()).sendCommand(['SENTINEL', 'MASTER', masterName])) as unknown as Record<string, string>;
        if (Number(info['num-slaves']) < 1 || Number(info['num-other-sentinels']) < 2) return false;
      }
      return true;
    });
  } catch (e) {
    await Promise.all([master.close(), replica.close(), ...sentinels.map((s) => s.close())]);
    throw e;
  }
  return {
    masterName,
    master,
    replica,
    sentinels,
    nodes: sentinels.map((s) => `127.0.0.1:${s.port}`),
    async masterPort() {
      const reply = (await (await sentinels[0]!.client()).sendCommand(['SENTINEL', 'GET-MASTER-ADDR-BY-NAME', masterName])) as string[];
      return Number(reply[1]);
    },
    async close() {
      await Promise.all([...sentinels.map((s) => s.close()), master.close(), replica.close()]);
    },
  };
}

/**
 * A Redis Cluster of `masters` masters, each with one replica, made with `redis-cli --cluster create`. A short node
 * timeout makes a lost master's replica take over within a few seconds; `cluster-require-full-coverage no` keeps the
 * other masters' slots serving while some slots have no master (the default, yes, stops the whole cluster).
 */
export interface TestCluster {
  readonly masters: readonly TestRedis[];
  readonly replicas: readonly TestRedis[];
  /** "127.0.0.1:port" of every node, for replay.redis.cluster.nodes. */
  readonly nodes: readonly string[];
  /** The port of the master that serves `key` now (CLUSTER SLOTS on a live node). */
  masterPortOf(key: string): Promise<number>;
  close(): Promise<void>;
}

export async function startCluster(opts: { masters?: number; nodeTimeoutMs?: number } = {}): Promise<TestCluster> {
  const args = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', String(opts.nodeTimeoutMs ?? 1000), '--cluster-require-full-coverage', 'no'];
  const count = opts.masters ?? 3;
  const all: TestRedis[] = [];
  try {
    for (let i = 0; i < count * 2; i++) all.push(await startRedis(args));
    // redis-cli makes the first `count` nodes masters and gives each one replica from the rest.
    execFileSync('redis-cli', ['--cluster', 'create', ...all.map((n) => `127.0.0.1:${n.port}`), '--cluster-replicas', '1', '--cluster-yes'], { stdio: 'ignore', timeout: 30_000 });
    await eventually('the cluster is up on every node', async () => {
      for (const n of all) {
        const client = await n.client();
        if (!/cluster_state:ok/.test(String(await client.sendCommand(['CLUSTER', 'INFO'])))) return false;
        // Every replica has its master link up, or a failover test would find nothing to promote.
        if (/role:slave/.test(await client.info('replication')) && !/master_link_status:up/.test(await client.info('replication'))) return false;
      }
      return true;
    });
  } catch (e) {
    await Promise.all(all.map((n) => n.close()));
    throw e;
  }
  const live = async () => {
    const node = all.find((n) => n.running);
    if (!node) throw new Error('no cluster node is running');
    return node.client();
  };
  return {
    masters: all.slice(0, count),
    replicas: all.slice(count),
    nodes: all.map((n) => `127.0.0.1:${n.port}`),
    async masterPortOf(key) {
      const client = await live();
      const slot = Number(await client.sendCommand(['CLUSTER', 'KEYSLOT', key]));
      const slots = (await client.sendCommand(['CLUSTER', 'SLOTS'])) as [number, number, [string, number]][];
      const range = slots.find(([from, to]) => slot >= from && slot <= to);
      if (!range) throw new Error(`no master serves slot ${slot}`);
      return Number(range[2][1]);
    },
    async close() {
      await Promise.all(all.map((n) => n.close()));
    },
  };
}
