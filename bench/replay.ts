/**
 * `node bench/replay.ts [--duration S] [--rounds N] [--connections N] [--wait-replicas] [--json]` — what a single-use check costs per request:
 * the cached forward-auth path with the jti consumed in Redis on loopback, against the same cached path without it.
 *
 * One Portcullis (bench/server.ts, one process) with two routes: `/plain/**` and `/once/**` (`require: { single_use:
 * true }`, replay store redis on a redis-server this script starts on a free loopback port, no persistence). Every
 * round signs fresh EdDSA tokens with distinct jti values and warms the verified-token cache with them on /plain
 * (twice each: the cache admits a token on its second verification, and /plain consumes nothing). Then, order
 * alternating, each token is sent exactly once to /plain (cache hit) and once to /once (cache hit + SET NX PX), by
 * the closed-loop node:net client with `--connections` connections, so concurrent checks share Redis round trips
 * through node-redis's pipelining. Target (issue 12): /once ≥ 0.5 × /plain.
 *
 * `--wait-replicas`: the cost of `replay.redis.wait_replicas: 1` (issue 24). The Redis gets a replica, and a second
 * Portcullis with the same config plus `wait_replicas: 1` takes its own pass over the same tokens on a second
 * `/once`-style route prefix (keys of another prefix, so its SETs are fresh too): each of its consuming checks waits
 * for the replica's acknowledgement (WAIT 1 50). No target: the row says what the guarantee costs.
 *
 * `--json` ends the output with one JSON line (per side, per round: rps, p50, p99 in µs, errors), which the `replay`
 * scenario of `npm run bench` reads (bench/scenarios/replay.ts).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { configDoc, forwardAuthRequestParts, makeKeys, ORIGINAL, signTokens } from './fixtures.ts';
import { freePort, spawnChild } from './procs.ts';
import type { RunResult } from './loadgen.ts';
import { rawHttp } from './node-clients.ts';
import { fmtPct, fmtRps, fmtUs, median } from './stats.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

const { values } = parseArgs({
  options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, rate: { type: 'string' }, 'wait-replicas': { type: 'boolean' }, json: { type: 'boolean' } },
});
const duration = Number(values.duration ?? 6);
const rounds = Number(values.rounds ?? 2);
const connections = Number(values.connections ?? 32);
/** Tokens per round: enough for `duration` seconds at this rate (the run stops at whichever comes first). */
const expectedRps = Number(values.rate ?? 15_000);

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-replay-'));
const redisPort = await freePort();
const waitReplicas = values['wait-replicas'] === true;
const redisArgs = (port: number) => ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
const redis = spawn('redis-server', redisArgs(redisPort), { stdio: 'ignore' });
const replicaPort = waitReplicas ? await freePort() : 0;
const replica = waitReplicas ? spawn('redis-server', [...redisArgs(replicaPort), '--replicaof', '127.0.0.1', String(redisPort)], { stdio: 'ignore' }) : undefined;
const keys = await makeKeys();

/** One Portcullis (bench/server.ts) with the /once and /plain routes, its replay store on the bench's Redis. */
async function startServer(name: string, redisExtra: Record<string, unknown>) {
  const ports = { grpc: await freePort(), http: await freePort() };
  const config = configDoc(keys, ports, {
    replay: { store: 'redis', redis: { url: `redis://127.0.0.1:${redisPort}/0`, timeout: '50ms', ...redisExtra } },
    routes: [
      { name: 'once', match: { paths: ['/once/**'] }, require: { single_use: true } },
      { name: 'plain', match: { paths: ['/plain/**'] } },
    ],
  });
  const configFile = join(dir, `${name}.json`);
  writeFileSync(configFile, JSON.stringify(config));
  // Ready means keys loaded and the Redis connection up (on_store_error deny gates readiness).
  const server = await spawnChild({ name, script: join(BENCH_DIR, 'server.ts'), args: [configFile], ready: { url: `http://127.0.0.1:${ports.http}/readyz` } });
  return { ports, server };
}
const { ports, server } = await startServer('portcullis', {});
// WAIT answers only once the replica is attached; until then the second server's checks would all be store errors.
const waiting = waitReplicas ? await startServer('portcullis-wait', { wait_replicas: 1, key_prefix: 'portcullis:jti-wait:' }) : undefined;

const parts = (path: string, port = ports.http) => {
  const { prefix, suffix } = forwardAuthRequestParts(`127.0.0.1:${port}`);
  return { prefix: prefix.replace(ORIGINAL.path, path), suffix, port };
};
const plain = parts('/plain/orders/4711');
const once = parts('/once/payments/4711');
const onceWait = waiting ? parts('/once/payments/4711', waiting.ports.http) : undefined;
const plainWait = waiting ? parts('/plain/orders/4711', waiting.ports.http) : undefined;

async function pass(route: { prefix: string; suffix: string; port: number }, tokens: readonly string[], seconds: number | undefined): Promise<RunResult> {
  let i = 0;
  return rawHttp({
    ...route,
    ...route,
    connections,
    next: () => tokens[i++],
    ...(seconds !== undefined ? { deadline: performance.now() + seconds * 1000 } : {}),
    expectStatus: 200,
  });
}

const results: { plain: RunResult[]; once: RunResult[]; wait: RunResult[] } = { plain: [], once: [], wait: [] };
const routes = { plain, once, wait: onceWait };
try {
  for (let r = 0; r < rounds; r++) {
    const tokens = await signTokens(keys.EdDSA, Math.ceil(expectedRps * duration), `replay-${r}`);
    for (let w = 0; w < 2; w++) await pass(plain, tokens, undefined); // warm: verified, then admitted to the cache
    if (plainWait) for (let w = 0; w < 2; w++) await pass(plainWait, tokens, undefined); // the second server's own cache
    const sides = onceWait ? (['plain', 'once', 'wait'] as const) : (['plain', 'once'] as const);
    const order = sides.map((_, i) => sides[(i + r) % sides.length]!);
    for (const which of order) results[which].push(await pass(routes[which]!, tokens, duration));
  }
} finally {
  await server.stop();
  await waiting?.server.stop();
  replica?.kill('SIGTERM');
  redis.kill('SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}

const row = (name: string, runs: RunResult[]) => {
  const rps = median(runs.map((x) => x.rps));
  const p50 = median(runs.map((x) => x.latency?.p50 ?? NaN));
  const p99 = median(runs.map((x) => x.latency?.p99 ?? NaN));
  const errors = runs.reduce((n, x) => n + x.errors, 0);
  const statuses: Record<string, number> = {};
  for (const x of runs) for (const [k, v] of Object.entries(x.statuses ?? {})) statuses[k] = (statuses[k] ?? 0) + v;
  const seen = Object.entries(statuses).map(([k, v]) => `${k}: ${v}`).join(', ');
  return { name, rps, line: `| ${name} | ${fmtRps(rps)} | ${fmtUs(p50)} | ${fmtUs(p99)} | ${errors} (${seen}) |` };
};
const p = row('forward_auth, cache hit (`/plain`)', results.plain);
const o = row('forward_auth, cache hit + replay check in Redis (`/once`)', results.once);
const w = waitReplicas ? row('the same with `wait_replicas: 1` (SET + WAIT 1 for the replica)', results.wait) : undefined;
process.stdout.write(
  [
    `node bench/replay.ts --duration ${duration} --rounds ${rounds} --connections ${connections}${waitReplicas ? ' --wait-replicas' : ''} (medians of ${rounds} rounds; ${new Date().toISOString()})`,
    '',
    '| Scenario | req/s | p50 | p99 | errors (statuses; 503 = replay store past its 50 ms timeout) |',
    '|---|---|---|---|---|',
    p.line,
    o.line,
    ...(w ? [w.line] : []),
    '',
    `replay / no replay: ${fmtPct(o.rps / p.rps)} (target ≥ 50 %)`,
    ...(w ? [`wait_replicas 1 / wait_replicas 0: ${fmtPct(w.rps / o.rps)} (no target: the price of closing the replication window)`] : []),
    '',
  ].join('\n'),
);
if (values.json) {
  const rounds = (runs: RunResult[]) => runs.map((x) => ({ rps: x.rps, p50: x.latency?.p50 ?? null, p99: x.latency?.p99 ?? null, errors: x.errors }));
  process.stdout.write(`${JSON.stringify({ connections, plain: rounds(results.plain), once: rounds(results.once), wait: rounds(results.wait) })}\n`);
}
