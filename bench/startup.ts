/**
 * Start-up cost: how long a process takes from spawn to /readyz 200, and its resident memory (VmRSS from /proc)
 * once it has idled after the start. `measureStartup` is what the benchmark table's start-up rows call; run alone:
 *
 *   node bench/startup.ts [--idle-ms 3000] [--runs 3] [--workers]
 *
 * prints one JSON line per entry: the empty node:http floor, `npm start`'s command (package.json scripts.start,
 * run with the same node, without npm's own process) and the container's command (dist/main.js; built first when
 * not fresh, as the image's build stage does). All on the same Node, with the typical config (`writeTypicalConfig`:
 * two issuers, one with inline keys and one with a JWKS URL served here, routes, a policy, metrics on).
 */
import { spawn, spawnSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { freePort, pollReady, processTree, treeMemory } from './procs.ts';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** An empty node:http server answering 200 to everything (so /readyz too): the floor the start-up rows compare with. */
export const EMPTY_HTTP_SERVER = `require('node:http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');`;

export interface StartupOptions {
  /**
   * What node runs: a script path relative to the repo (`dist/main.js`, `src/main.ts`, `scripts/start.js`), or
   * `floor` for the empty node:http server.
   */
  readonly entry: string;
  /** Node's own flags before the script (what `npm start` and the image pass: PORTCULLIS_NODE_FLAGS). */
  readonly nodeArgs?: readonly string[];
  /** Config file (PORTCULLIS_CONFIG). Ignored by the floor. */
  readonly config?: string;
  /** Where /readyz answers (the config's listen.http); the floor listens there too. */
  readonly httpPort: number;
  /** How long the process idles after ready before VmRSS is read. Default 3000 ms. */
  readonly idleMs?: number;
  /** Extra environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Give up after this long. Default 30 s. */
  readonly timeoutMs?: number;
}

export interface StartupResult {
  /** Spawn to the first /readyz 200 (includes node's own start, ~40 ms for the floor). */
  readonly readyMs: number;
  /** VmRSS summed over the process and its children (cluster workers) after idling, in MB (1 MB = 2^20 bytes). */
  readonly idleRssMb: number;
  readonly processes: number;
}

/** Starts `entry`, waits for /readyz 200, idles, reads VmRSS from /proc, stops it. */
export async function measureStartup(o: StartupOptions): Promise<StartupResult> {
  const args = o.entry === 'floor' ? ['-e', EMPTY_HTTP_SERVER] : [...(o.nodeArgs ?? []), join(REPO_ROOT, o.entry)];
  const started = performance.now();
  const child = spawn(process.execPath, args, {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, ...o.env, PORT: String(o.httpPort), ...(o.config !== undefined ? { PORTCULLIS_CONFIG: o.config } : {}), NODE_ENV: 'production' },
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4000)));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${o.entry} exited (${code}) before it was ready:\n${stderr}`))));
  exited.catch(() => {});
  try {
    await Promise.race([pollReady(`http://127.0.0.1:${o.httpPort}/readyz`, o.timeoutMs ?? 30_000, 5), exited]);
    const readyMs = performance.now() - started;
    await new Promise((r) => setTimeout(r, o.idleMs ?? 3000));
    const memory = treeMemory(processTree(child.pid!));
    return { readyMs, idleRssMb: memory.rssKb / 1024, processes: memory.processes };
  } finally {
    if (child.exitCode === null) {
      const gone = new Promise((r) => child.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
  }
}


export interface TypicalConfig {
  readonly path: string;
  readonly httpPort: number;
  /** Stops the JWKS server and removes the config directory. */
  close(): Promise<void>;
}

/**
 * The typical config of the start-up target: two issuers (inline keys; a JWKS URL on loopback, served by this
 * process until `close`), identity headers, excludes, three routes and a policy, Prometheus metrics on.
 */
export async function writeTypicalConfig(options: { /** Default 1: one process (the default is one per core). */ readonly workers?: number } = {}): Promise<TypicalConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-startup-'));
  const jwk = (alg: 'RS256' | 'ES256', kid: string) => {
    const { publicKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return { ...publicKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
  };
  const remoteKeys = JSON.stringify({ keys: [jwk('RS256', 'r1')] });
  const jwks: Server = createServer((_, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(remoteKeys));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const jwksPort = (jwks.address() as { port: number }).port;
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  const path = join(dir, 'config.yaml');
  writeFileSync(path, [
    `listen: { grpc: "127.0.0.1:${grpcPort}", http: "127.0.0.1:${httpPort}" }`,
    `workers: ${options.workers ?? 1}`,
    'issuers:',
    '  - issuer: "https://login.example.com/"',
    '    audiences: ["api.example.com"]',
    `    jwks: { keys: [${JSON.stringify(jwk('ES256', 'e1'))}] }`,
    '  - issuer: "https://partners.example.com/"',
    '    audiences: ["api.example.com"]',
    '    algorithms: ["RS256"]',
    `    jwks_uri: "http://127.0.0.1:${jwksPort}/jwks"`,
    'identity_headers: { sub: x-auth-subject, email: x-auth-email }',
    'excludes: [/healthz, "/public/**"]',
    'routes:',
    '  - name: admin',
    '    match: { hosts: ["app.example.com"], paths: ["/admin/**"] }',
    '    require: { scopes: ["admin"] }',
    '  - name: reports',
    '    match: { hosts: ["app.example.com"], paths: ["/reports/**"], methods: ["GET"] }',
    '    require: { any: [{ claims: { department: { equals: finance } } }, { claims: { groups: { contains: auditors } } }] }',
    '  - name: docs',
    '    match: { hosts: ["app.example.com"], paths: ["/docs/**"] }',
    '    anonymous: optional',
    'policies:',
    '  billing:',
    '    require: { scopes: ["billing:write"] }',
    'telemetry: { metrics: true }',
    '',
  ].join('\n'));
  return {
    path,
    httpPort,
    close: async () => {
      await new Promise((r) => jwks.close(r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The script `npm start` runs (package.json scripts.start is `node SCRIPT`), measured without npm's own process. */
export function npmStartEntry(): string {
  return npmStartCommand().script;
}

/** `node [FLAGS] SCRIPT` of package.json's start script: the flags are the ones Portcullis runs with. */
export function npmStartCommand(): { readonly flags: readonly string[]; readonly script: string } {
  const start = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: { start: string } }).scripts.start;
  const words = start.split(' ');
  if (words[0] !== 'node' || words.length < 2 || !words.slice(1, -1).every((w) => w.startsWith('--'))) throw new Error(`package.json scripts.start is not "node [FLAGS] SCRIPT": ${start}`);
  return { flags: words.slice(1, -1), script: words.at(-1)! };
}

/** The node flags of `npm start` (and, pinned equal by test/deploy/dockerfile.test.ts, of the image's ENTRYPOINT). */
export const PORTCULLIS_NODE_FLAGS: readonly string[] = npmStartCommand().flags;

export function containerEntry(): string {
  const match = /^ENTRYPOINT \[((?:"[^"]+", )*)"([^"]+)"\]/m.exec(readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  if (!match || !match[1]!.startsWith('"node", ')) throw new Error('Dockerfile has no ENTRYPOINT ["node", …, "SCRIPT"]');
  return match[2]!;
}

/**
 * Builds dist/ as the image's build stage does (`npm run build`), unless it is fresh: both the container's row and
 * `npm start`'s (the launcher runs dist/ only when fresh) measure the compiled service.
 */
export async function ensureBuilt(): Promise<void> {
  const { distState } = await import('../scripts/dist.js');
  if (distState() === 'fresh') return;
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.js')], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`build failed:\n${r.stdout}${r.stderr}`);
}

export interface StartupRow {
  readonly name: string;
  readonly entry: string;
  /** Medians over the runs. */
  readonly readyMs: number;
  readonly idleRssMb: number;
  readonly processes: number;
  readonly runs: readonly StartupResult[];
}

/**
 * The start-up rows: floor, `npm start`, the container's command; with `workers`, the container's command with `workers: 2` too.
 * Every process runs with `nodeArgs` (default: PORTCULLIS_NODE_FLAGS, as npm start and the image; the bench passes its
 * --node-flags).
 */
export async function startupRows(o: { readonly runs?: number; readonly idleMs?: number; readonly workers?: boolean; readonly nodeArgs?: readonly string[] } = {}): Promise<StartupRow[]> {
  const container = containerEntry();
  await ensureBuilt();
  const cases: { name: string; entry: string; workers?: number }[] = [
    { name: 'empty node:http server', entry: 'floor' },
    { name: `npm start (node ${npmStartEntry()})`, entry: npmStartEntry() },
    { name: `container (node ${container})`, entry: container },
    ...(o.workers ? [{ name: `container, workers: 2`, entry: container, workers: 2 }] : []),
  ];
  const rows: StartupRow[] = [];
  for (const c of cases) {
    const config = await writeTypicalConfig(c.workers !== undefined ? { workers: c.workers } : {});
    try {
      const runs: StartupResult[] = [];
      for (let i = 0; i < (o.runs ?? 3); i++) {
        runs.push(await measureStartup({ entry: c.entry, nodeArgs: o.nodeArgs ?? PORTCULLIS_NODE_FLAGS, config: config.path, httpPort: config.httpPort, ...(o.idleMs !== undefined ? { idleMs: o.idleMs } : {}) }));
      }
      rows.push({ name: c.name, entry: c.entry, readyMs: median(runs.map((r) => r.readyMs)), idleRssMb: median(runs.map((r) => r.idleRssMb)), processes: runs[0]!.processes, runs });
    } finally {
      await config.close();
    }
  }
  return rows;
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { 'idle-ms': { type: 'string' }, runs: { type: 'string' }, workers: { type: 'boolean' } } });
  const rows = await startupRows({
    ...(values.runs !== undefined ? { runs: Number(values.runs) } : {}),
    ...(values['idle-ms'] !== undefined ? { idleMs: Number(values['idle-ms']) } : {}),
    workers: values.workers === true,
  });
  process.stdout.write(`node ${process.version}\n`);
  for (const r of rows) {
    process.stdout.write(`${JSON.stringify({ name: r.name, ready_ms: Math.round(r.readyMs), idle_rss_mb: Number(r.idleRssMb.toFixed(1)), processes: r.processes, runs: r.runs.map((x) => [Math.round(x.readyMs), Number(x.idleRssMb.toFixed(1))]) })}\n`);
  }
}
