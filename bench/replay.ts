/**
 * `node bench/replay.ts [--duration S] [--rounds N] [--connections N]` — what a single-use check costs per request:
 * the cached forward-auth path with the jti consumed in Redis on loopback, against the same cached path without it.
 *
 * One Portcullis (bench/server.ts, one process) with two routes: `/plain/**` and `/once/**` (`require: { single_use:
 * true }`, replay store redis on a redis-server this script starts on a free loopback port, no persistence). Every
 * round signs fresh EdDSA tokens with distinct jti values and warms the verified-token cache with them on /plain
 * (twice each: the cache admits a token on its second verification, and /plain consumes nothing). Then, order
 * alternating, each token is sent exactly once to /plain (cache hit) and once to /once (cache hit + SET NX PX), by
 * the closed-loop node:net client with `--connections` connections, so concurrent checks share Redis round trips
 * through node-redis's pipelining. Target (issue 12): /once ≥ 0.5 × /plain.
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
  options: { duration: { type: 'string' }, rounds: { type: 'string' }, connections: { type: 'string' }, rate: { type: 'string' } },
});
const duration = Number(values.duration ?? 6);
const rounds = Number(values.rounds ?? 2);
const connections = Number(values.connections ?? 32);
/** Tokens per round: enough for `duration` seconds at this rate (the run stops at whichever comes first). */
const expectedRps = Number(values.rate ?? 15_000);

const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-replay-'));
const redisPort = await freePort();
const redis = spawn('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
const keys = await makeKeys();
const ports = { grpc: await freePort(), http: await freePort() };
const config = configDoc(keys, ports, {
  replay: { store: 'redis', redis: { url: `redis://127.0.0.1:${redisPort}/0`, timeout: '50ms' } },
  routes: [
    { name: 'once', match: { paths: ['/once/**'] }, require: { single_use: true } },
    { name: 'plain', match: { paths: ['/plain/**'] } },
  ],
});
const configFile = join(dir, 'portcullis.json');
writeFileSync(configFile, JSON.stringify(config));
// Ready means keys loaded and the Redis connection up (on_store_error deny gates readiness).
const server = await spawnChild({ name: 'portcullis', script: join(BENCH_DIR, 'server.ts'), args: [configFile], ready: { url: `http://127.0.0.1:${ports.http}/readyz` } });

const parts = (path: string) => {
  const { prefix, suffix } = forwardAuthRequestParts(`127.0.0.1:${ports.http}`);
  return { prefix: prefix.replace(ORIGINAL.path, path), suffix };
};
const plain = parts('/plain/orders/4711');
const once = parts('/once/payments/4711');

async function pass(route: { prefix: string; suffix: string }, tokens: readonly string[], seconds: number | undefined): Promise<RunResult> {
  let i = 0;
  return rawHttp({
    port: ports.http,
    ...route,
    connections,
    next: () => tokens[i++],
    ...(seconds !== undefined ? { deadline: performance.now() + seconds * 1000 } : {}),
    expectStatus: 200,
  });
}

const results: { plain: RunResult[]; once: RunResult[] } = { plain: [], once: [] };
try {
  for (let r = 0; r < rounds; r++) {
    const tokens = await signTokens(keys.EdDSA, Math.ceil(expectedRps * duration), `replay-${r}`);
    for (let w = 0; w < 2; w++) await pass(plain, tokens, undefined); // warm: verified, then admitted to the cache
    const order = r % 2 === 0 ? (['plain', 'once'] as const) : (['once', 'plain'] as const);
    for (const which of order) results[which].push(await pass(which === 'plain' ? plain : once, tokens, duration));
  }
} finally {
  await server.stop();
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
process.stdout.write(
  [
    `node bench/replay.ts --duration ${duration} --rounds ${rounds} --connections ${connections} (medians of ${rounds} rounds; ${new Date().toISOString()})`,
    '',
    '| Scenario | req/s | p50 | p99 | errors (statuses; 503 = replay store past its 50 ms timeout) |',
    '|---|---|---|---|---|',
    p.line,
    o.line,
    '',
    `replay / no replay: ${fmtPct(o.rps / p.rps)} (target ≥ 50 %)`,
    '',
  ].join('\n'),
);
