/**
 * `npm run bench` — Portcullis measured side by side with its floors, in the same run, on the same machine.
 * `npm run bench -- --help` lists the options. See bench/README.md for what each scenario and floor is.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, credentials } from '@grpc/grpc-js';
import {
  ALGS, AUDIENCE, CHECK_PATH, ISSUER, configDoc, decodeCheckResponse, encodeCheckRequest, forwardAuthHeaders,
  forwardAuthRequestParts, grpcFrame, jwksOf, makeKeys, signTokens, type Alg, type BenchKey,
} from './fixtures.ts';
import { freePort, processTree, spawnChild, treeMemory, type Child } from './procs.ts';
import { ensureTools, h2load, h2loadH1Rate, rawGrpc, rawHttp, toolVersions, wrk, type RunResult } from './loadgen.ts';
import { CpuMeter, machineInfo, waitQuiet, type CpuWindow, type MachineInfo } from './machine.ts';
import { fmtMb, fmtPct, fmtRps, fmtUs, median } from './stats.ts';
import { summarizeProfile } from './profile.ts';
import type { GrpcFloorOptions, HttpFloorOptions, JoseFloorOptions } from './floors.ts';
import type { MicroInput, MicroResult } from './micro.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
const REPO = resolve(BENCH_DIR, '..');

// ---------------------------------------------------------------- options

const SCENARIOS = ['micro', 'grpc', 'http', 'unique', 'latency', 'tracing', 'workers', 'flood'] as const;
type Scenario = (typeof SCENARIOS)[number];

const HELP = `npm run bench [-- options]      (every option also as an env var, e.g. BENCH_DURATION=5)

  --quick                 smoke check, < 1 minute: 1 s runs, 1 round, small token sets   [BENCH_QUICK=1]
  --duration S            seconds per measured run (default 6; quick 1)                  [BENCH_DURATION]
  --rounds N              target/floor pairs per scenario, order alternating (default 2) [BENCH_ROUNDS]
  --scenarios LIST        comma list of ${SCENARIOS.join(',')}
                          (default all; quick leaves out workers)                        [BENCH_SCENARIOS]
  --unique-tokens N       distinct tokens per algorithm per round (default 15000; quick 2000) [BENCH_UNIQUE_TOKENS]
  --flood-tokens N        tokens in the RSS flood (default 1000000; quick 20000)          [BENCH_FLOOD_TOKENS]
  --flood-alg ALG         RS256 | ES256 | EdDSA (default EdDSA: the cheapest to sign)     [BENCH_FLOOD_ALG]
  --entry server|main     server: bench/server.ts calls startPortcullis in one process (default);
                          main: src/main.ts --config, the real entry point (workers, whatever main wires) [BENCH_ENTRY]
  --config-json JSON      merged into the Portcullis config, e.g. '{"cache":{"max_entries":0}}' [BENCH_CONFIG_JSON]
  --cpu-prof              write V8 CPU profiles of the Portcullis children and summarize them [BENCH_CPU_PROF=1]
  --wait-quiet S          before each run wait up to S s for other processes to go quiet
                          (default 20, quick 0; at most 90 s in all); in full mode a run
                          disturbed by other processes (≥ 0.3 cores) is repeated once            [BENCH_WAIT_QUIET]
  --out DIR               where results, configs and logs go (default bench/results, git-ignored)        [BENCH_OUT]
`;

function options() {
  const { values } = parseArgs({
    options: {
      quick: { type: 'boolean' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      scenarios: { type: 'string' },
      'unique-tokens': { type: 'string' },
      'flood-tokens': { type: 'string' },
      'flood-alg': { type: 'string' },
      entry: { type: 'string' },
      'config-json': { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      'wait-quiet': { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const env = process.env;
  const quick = values.quick ?? env.BENCH_QUICK === '1';
  const num = (v: string | undefined, fallback: number, name: string): number => {
    if (v === undefined || v === '') return fallback;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`${name}: "${v}" is not a positive number`);
    return n;
  };
  const list = (values.scenarios ?? env.BENCH_SCENARIOS)?.split(',').map((s) => s.trim()).filter(Boolean);
  for (const s of list ?? []) if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`unknown scenario "${s}" (known: ${SCENARIOS.join(', ')})`);
  const scenarios = new Set<Scenario>((list as Scenario[] | undefined) ?? SCENARIOS.filter((s) => !(quick && s === 'workers')));
  const entry = values.entry ?? env.BENCH_ENTRY ?? 'server';
  if (entry !== 'server' && entry !== 'main') throw new Error(`--entry must be server or main, not "${entry}"`);
  const floodAlg = (values['flood-alg'] ?? env.BENCH_FLOOD_ALG ?? 'EdDSA') as Alg;
  if (!ALGS.includes(floodAlg)) throw new Error(`--flood-alg must be one of ${ALGS.join(', ')}`);
  const configJson = values['config-json'] ?? env.BENCH_CONFIG_JSON;
  return {
    quick,
    durationS: num(values.duration ?? env.BENCH_DURATION, quick ? 1 : 6, '--duration'),
    rounds: Math.round(num(values.rounds ?? env.BENCH_ROUNDS, quick ? 1 : 2, '--rounds')),
    scenarios,
    uniqueTokens: Math.round(num(values['unique-tokens'] ?? env.BENCH_UNIQUE_TOKENS, quick ? 2000 : 15_000, '--unique-tokens')),
    floodTokens: Math.round(num(values['flood-tokens'] ?? env.BENCH_FLOOD_TOKENS, quick ? 20_000 : 1_000_000, '--flood-tokens')),
    floodAlg,
    entry: entry as 'server' | 'main',
    extraConfig: configJson ? (JSON.parse(configJson) as Record<string, unknown>) : {},
    cpuProf: values['cpu-prof'] ?? env.BENCH_CPU_PROF === '1',
    waitQuietS: values['wait-quiet'] ?? env.BENCH_WAIT_QUIET ? Number(values['wait-quiet'] ?? env.BENCH_WAIT_QUIET) : quick ? 0 : 20,
    out: resolve(REPO, values.out ?? env.BENCH_OUT ?? 'bench/results'),
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
  };
}

const opt = options();
const warmupS = opt.quick ? 0.5 : 1;
/** A path in the output directory, which is (re)created first: other people's tools may clean temp directories. */
function outPath(...parts: string[]): string {
  const p = join(opt.out, ...parts);
  mkdirSync(dirname(p), { recursive: true });
  return p;
}
const log = (s: string): void => void process.stderr.write(`[bench ${((performance.now() - T0) / 1000).toFixed(0).padStart(3)}s] ${s}\n`);
const T0 = performance.now();
const children: Child[] = [];
const warnings: string[] = [];
let quietBudgetMs = Math.min(opt.waitQuietS * 10_000, 90_000);
let noisyRetries = 8;

// ---------------------------------------------------------------- measured runs

interface Measured extends RunResult {
  readonly cpu: CpuWindow;
  readonly waitedMs: number;
}

/**
 * One measured run. In full mode the machine is first given a chance to go quiet, and a repeatable run during which
 * other processes used ≥ 0.3 cores is run once more (a few times per bench at most). Runs that consume unique tokens
 * are not repeatable: the second try would be served from the cache.
 */
async function measure(server: Child, what: string, fn: (meter: CpuMeter) => Promise<RunResult>, repeatable = true): Promise<Measured> {
  for (let attempt = 0; ; attempt++) {
    let waitedMs = 0;
    if (opt.waitQuietS > 0 && quietBudgetMs > 0) {
      const q = await waitQuiet(Math.min(opt.waitQuietS * 1000, quietBudgetMs));
      waitedMs = q.waitedMs;
      quietBudgetMs -= q.waitedMs;
      if (q.busyCores >= 0.25) log(`  machine still busy (${q.busyCores.toFixed(2)} cores used by others) — measuring anyway`);
    }
    const meter = new CpuMeter(processTree(server.pid));
    const r = await fn(meter);
    const cpu = meter.stop();
    const lat = r.latency ? `p50 ${fmtUs(r.latency.p50)} p99 ${fmtUs(r.latency.p99)}` : '';
    log(`  ${what}: ${fmtRps(r.rps)} rps ${lat} | server ${cpu.serverCores.toFixed(2)} cores, generator ${cpu.generatorCores.toFixed(2)}, others ${cpu.otherCores.toFixed(2)}${r.errors ? ` | ${r.errors} ERRORS` : ''}`);
    if (repeatable && attempt === 0 && cpu.otherCores >= 0.3 && noisyRetries > 0 && !opt.quick) {
      noisyRetries--;
      log('  other processes were busy during that run: repeating it');
      continue;
    }
    if (r.errors > 0) warnings.push(`${what}: ${r.errors} of ${r.requests} requests failed or got an unexpected status`);
    return { ...r, cpu, waitedMs };
  }
}

interface Summary {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly errors: number;
  readonly serverCores: number;
  readonly otherCores: number;
  readonly runs: readonly Measured[];
}

function summarize(runs: readonly Measured[]): Summary {
  const pick = (f: (m: Measured) => number | undefined): number => median(runs.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x)));
  return {
    rps: pick((r) => r.rps),
    p50: pick((r) => r.latency?.p50),
    p99: pick((r) => r.latency?.p99),
    p999: pick((r) => r.latency?.p999),
    max: Math.max(...runs.map((r) => r.latency?.max ?? 0)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    serverCores: pick((r) => r.cpu.serverCores),
    otherCores: Math.max(...runs.map((r) => r.cpu.otherCores)),
    runs,
  };
}

/** Target and floor back to back, `rounds` times, the order alternating (F T, T F, …) so drift hits both alike. */
async function sideBySide(
  target: { child: Child; run: (m: CpuMeter, round: number) => Promise<RunResult> },
  floor: { child: Child; run: (m: CpuMeter, round: number) => Promise<RunResult> },
  label: string,
  repeatable = true,
): Promise<{ target: Summary; floor: Summary }> {
  const t: Measured[] = [];
  const f: Measured[] = [];
  for (let r = 0; r < opt.rounds; r++) {
    const order = r % 2 === 0 ? (['floor', 'target'] as const) : (['target', 'floor'] as const);
    for (const side of order) {
      if (side === 'floor') f.push(await measure(floor.child, `${label} floor #${r + 1}`, (m) => floor.run(m, r), repeatable));
      else t.push(await measure(target.child, `${label} portcullis #${r + 1}`, (m) => target.run(m, r), repeatable));
    }
  }
  return { target: summarize(t), floor: summarize(f) };
}

// ---------------------------------------------------------------- report rows

interface Row {
  readonly scenario: string;
  readonly how: string;
  readonly target: string;
  readonly floor: string;
  readonly ratio: string;
  readonly goal: string;
  readonly verdict: string;
  readonly notes: string;
}
const rows: Row[] = [];
const extraNotes: string[] = [];

const perf = (s: Summary, withRps = true): string =>
  [withRps ? `${fmtRps(s.rps)} rps` : '', `p50 ${fmtUs(s.p50)}`, `p99 ${fmtUs(s.p99)}`].filter(Boolean).join(', ');

function verdict(ok: boolean | undefined, miss: string): string {
  if (ok === undefined) return '–';
  return ok ? 'met' : `**missed** ${miss}`;
}

function ratioRow(scenario: string, how: string, s: { target: Summary; floor: Summary }, floorLabel: string, goal: number, notes: string[]): void {
  const ratio = s.target.rps / s.floor.rps;
  const ok = s.target.errors === 0 && s.floor.errors === 0 ? ratio >= goal : false;
  const shortBy = `by ${((goal - ratio) * 100).toFixed(0)} points`;
  rows.push({
    scenario,
    how,
    target: perf(s.target),
    floor: `${floorLabel}: ${perf(s.floor)}`,
    ratio: fmtPct(ratio),
    goal: `≥ ${(goal * 100).toFixed(0)} %`,
    verdict: s.target.errors || s.floor.errors ? '**errors**' : verdict(ok, shortBy),
    notes: [`server CPU ${s.target.serverCores.toFixed(2)} vs ${s.floor.serverCores.toFixed(2)} cores`, ...notes, noise(s.target, s.floor)].filter(Boolean).join('; '),
  });
}

function noise(...s: Summary[]): string {
  const other = Math.max(...s.map((x) => x.otherCores));
  return other >= 0.15 ? `⚠ other processes used up to ${other.toFixed(2)} cores during these runs` : '';
}

// ---------------------------------------------------------------- servers

interface PortcullisInstance {
  readonly child: Child;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly profDir: string | undefined;
}

async function startPortcullis(name: string, keys: Record<Alg, BenchKey>, o: { env?: NodeJS.ProcessEnv; replaceEnv?: boolean; extra?: Record<string, unknown>; entry?: 'server' | 'main'; nodeArgs?: string[] } = {}): Promise<PortcullisInstance> {
  const grpcPort = await freePort();
  let httpPort = await freePort();
  while (httpPort === grpcPort) httpPort = await freePort();
  const entry = o.entry ?? opt.entry;
  const doc = configDoc(keys, { grpc: grpcPort, http: httpPort }, { ...opt.extraConfig, ...o.extra });
  const file = outPath(`${name}.config.json`);
  writeFileSync(file, JSON.stringify(doc, null, 2));
  const profDir = opt.cpuProf ? outPath('prof', name) : undefined;
  if (profDir) mkdirSync(profDir, { recursive: true });
  const child = await spawnChild({
    name,
    script: entry === 'main' ? join(REPO, 'src/main.ts') : join(BENCH_DIR, 'server.ts'),
    args: entry === 'main' ? ['--config', file] : [file],
    ...(o.env ? { env: o.env } : {}),
    ...(o.replaceEnv ? { replaceEnv: true } : {}),
    nodeArgs: [...(o.nodeArgs ?? []), ...(profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [])],
    ready: entry === 'main' ? { url: `http://127.0.0.1:${httpPort}/readyz` } : { line: true },
  });
  children.push(child);
  return { child, grpcPort, httpPort, profDir };
}

async function startFloor(kind: 'grpc' | 'http' | 'jose', o: GrpcFloorOptions | HttpFloorOptions | JoseFloorOptions, name: string = kind): Promise<Child> {
  const file = outPath(`floor-${name}.json`);
  writeFileSync(file, JSON.stringify(o));
  const child = await spawnChild({ name: `floor-${name}`, script: join(BENCH_DIR, 'floors.ts'), args: [kind, file], ready: { line: true } });
  children.push(child);
  return child;
}

async function stopChild(c: Child): Promise<void> {
  await c.stop();
  const i = children.indexOf(c);
  if (i >= 0) children.splice(i, 1);
}

// ---------------------------------------------------------------- preflight: the answers the floors repeat

function grpcCall(port: number, message: Buffer): Promise<Buffer> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<Buffer>((resolvePromise, reject) => {
    client.makeUnaryRequest(CHECK_PATH, (b: Buffer) => b, (b: Buffer) => b, message, (err, value) => (err || !value ? reject(err ?? new Error('no response')) : resolvePromise(value)));
  }).finally(() => client.close());
}

function httpGet(port: number, headers: readonly (readonly [string, string])[]): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolvePromise, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path: '/auth', method: 'GET', headers: Object.fromEntries(headers), agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d)).on('end', () => resolvePromise({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const HOP = new Set(['date', 'connection', 'keep-alive', 'content-length', 'transfer-encoding']);

// ---------------------------------------------------------------- tracing


/** A loopback OTLP/HTTP sink that accepts and counts exports, so "tracing on" has somewhere to send. */
async function otlpSink(): Promise<{ port: number; count: () => number; close: () => void }> {
  let n = 0;
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as { port: number }).port, count: () => n, close: () => server.close() };
}

// ---------------------------------------------------------------- main

async function main(): Promise<void> {
  const machine = machineInfo(REPO);
  log(`${machine.cpu}, ${machine.cores} cores, node ${machine.node}; scenarios: ${[...opt.scenarios].join(', ')}; ${opt.durationS} s × ${opt.rounds} round(s)`);
  const tools = ensureTools(log);
  for (const n of tools.notes) {
    log(n);
    warnings.push(n);
  }
  const versions = toolVersions();

  const keys = await makeKeys();
  const main = await startPortcullis('portcullis', keys);
  log(`portcullis (${opt.entry === 'main' ? 'src/main.ts' : 'bench/server.ts'}) pid ${main.child.pid}: grpc :${main.grpcPort}, http :${main.httpPort}`);

  // The cache-hit request: one RS256 token (the commonest IdP default), the same every time.
  const [hitToken] = await signTokens(keys.RS256, 1, 'hit', 1);
  const checkBody = encodeCheckRequest(hitToken!);
  const bodyFile = outPath('check-request.bin');
  writeFileSync(bodyFile, grpcFrame(checkBody));

  const grpcAnswer = await grpcCall(main.grpcPort, checkBody);
  const decoded = decodeCheckResponse(grpcAnswer) as { status?: { code?: number }; ok_response?: unknown };
  if (decoded.status?.code !== 0 || !decoded.ok_response) throw new Error(`preflight: Portcullis did not allow the cache-hit CheckRequest: ${JSON.stringify(decoded).slice(0, 500)}`);
  const faHeaders = forwardAuthHeaders(hitToken!);
  const httpAnswer = await httpGet(main.httpPort, faHeaders);
  if (httpAnswer.status !== 200) throw new Error(`preflight: Portcullis answered ${httpAnswer.status} to the forward-auth request: ${httpAnswer.body}`);
  const floorHeaders = Object.fromEntries(Object.entries(httpAnswer.headers).filter(([k]) => !HOP.has(k)).map(([k, v]) => [k, String(v)]));
  log(`preflight: Check allowed (${grpcAnswer.length} B response), forward auth 200 (${Object.keys(floorHeaders).join(', ') || 'no headers'})`);

  const floorPorts = { grpc: await freePort(), http: await freePort(), jose: await freePort() };
  const [grpcFloor, httpFloor, joseFloor] = await Promise.all([
    startFloor('grpc', { port: floorPorts.grpc, response: grpcAnswer.toString('base64') }),
    startFloor('http', { port: floorPorts.http, status: 200, headers: floorHeaders, body: httpAnswer.body }),
    startFloor('jose', { port: floorPorts.jose, jwks: jwksOf(keys), issuer: ISSUER, audience: AUDIENCE, algorithms: [...ALGS], subjectHeader: 'x-auth-subject' }),
  ]);
  const floorGrpcAnswer = await grpcCall(floorPorts.grpc, checkBody);
  if (!floorGrpcAnswer.equals(grpcAnswer)) warnings.push('the gRPC floor does not answer byte for byte what Portcullis answered (re-encoding differs); compare sizes');
  if ((await httpGet(floorPorts.http, faHeaders)).status !== 200) throw new Error('preflight: the HTTP floor did not answer 200');
  if ((await httpGet(floorPorts.jose, faHeaders)).status !== 200) throw new Error('preflight: the jose floor did not accept the token');

  const grpcHeaders = [['content-type', 'application/grpc'], ['te', 'trailers']] as const;
  const grpcSat = { clients: 4, streams: 16 };
  const httpConns = 32;
  const runGrpc = (port: number, name: string) => (m: CpuMeter): Promise<RunResult> =>
    tools.h2load
      ? h2load({ url: `http://127.0.0.1:${port}${CHECK_PATH}`, ...grpcSat, durationS: opt.durationS, warmupS, dataFile: bodyFile, headers: grpcHeaders, logFile: outPath(`h2load-${name}.log`), onSpawn: (pid) => m.generator(pid) })
      : rawGrpc({ port, path: CHECK_PATH, body: grpcFrame(checkBody), concurrency: grpcSat.clients * grpcSat.streams, durationS: opt.durationS });
  const grpcHow = tools.h2load ? `h2load, ${grpcSat.clients} conns × ${grpcSat.streams} streams` : `node:http2 client, ${grpcSat.clients * grpcSat.streams} in flight (h2load missing)`;
  const { prefix: faPrefix, suffix: faSuffix } = forwardAuthRequestParts('127.0.0.1');
  const runHttp = (port: number) => async (m: CpuMeter): Promise<RunResult> => {
    if (tools.wrk) {
      await wrk({ url: `http://127.0.0.1:${port}/auth`, connections: httpConns, durationS: 1, headers: faHeaders }); // warm-up, not measured
      return wrk({ url: `http://127.0.0.1:${port}/auth`, connections: httpConns, durationS: opt.durationS, headers: faHeaders, onSpawn: (pid) => m.generator(pid) });
    }
    return rawHttp({ port, prefix: faPrefix, suffix: faSuffix, connections: httpConns, next: () => hitToken, deadline: performance.now() + opt.durationS * 1000 });
  };
  const httpHow = tools.wrk ? `wrk, ${httpConns} conns` : `node:net client, ${httpConns} conns (wrk missing)`;
  const floorSummaries: { grpc?: Summary; http?: Summary } = {};

  // ---- micro: raw node:crypto and jose per operation
  let micro: MicroResult[] | undefined;
  if (opt.scenarios.has('micro') || opt.scenarios.has('unique')) {
    log('micro: raw node:crypto verify vs jose jwtVerify, in-process');
    const input: MicroInput = { seconds: opt.quick ? 0.4 : 1.5, issuer: ISSUER, audience: AUDIENCE, algs: {} };
    for (const alg of ALGS) (input.algs as Record<string, unknown>)[alg] = { jwk: keys[alg].jwk, tokens: await signTokens(keys[alg], 500, 'micro') };
    const file = outPath('micro-input.json');
    writeFileSync(file, JSON.stringify(input));
    const out = await new Promise<string>((res, rej) =>
      execFile(process.execPath, ['--no-warnings', join(BENCH_DIR, 'micro.ts'), file], { maxBuffer: 1 << 20 }, (e, stdout) => (e ? rej(e) : res(stdout))));
    micro = JSON.parse(out.trim().split('\n').pop()!) as MicroResult[];
    for (const m of micro) log(`  ${m.alg}: raw ${m.rawUs.toFixed(1)} µs/op, jose ${m.joseUs.toFixed(1)} µs/op one at a time, 64 in flight ${fmtRps(m.jose64PerS)}/s on ${m.jose64Cores.toFixed(2)} cores = ${joseCpuUs(m).toFixed(1)} µs CPU/op`);
  }

  // ---- gRPC Check, cache hit
  if (opt.scenarios.has('grpc')) {
    log('gRPC Check, cache hit');
    const s = await sideBySide({ child: main.child, run: runGrpc(main.grpcPort, 'portcullis') }, { child: grpcFloor, run: runGrpc(floorPorts.grpc, 'floor') }, 'grpc cache-hit');
    floorSummaries.grpc = s.floor;
    ratioRow('gRPC Check, cache hit', grpcHow, s, 'empty grpc-js server', 0.9, [`response ${grpcAnswer.length} B, same bytes from both`]);
  }

  // ---- HTTP forward auth, cache hit
  if (opt.scenarios.has('http')) {
    log('HTTP forward_auth, cache hit');
    const s = await sideBySide({ child: main.child, run: runHttp(main.httpPort) }, { child: httpFloor, run: runHttp(floorPorts.http) }, 'http cache-hit');
    floorSummaries.http = s.floor;
    ratioRow('HTTP forward_auth, cache hit', httpHow, s, 'empty node:http handler', 0.85, []);
  }

  // ---- unique tokens: every request a token never seen before
  if (opt.scenarios.has('unique')) {
    // Is the Node client fast enough? It must out-run every verify server by far; check it on the empty floor.
    const genCheck = await measure(httpFloor, 'node:net client on the empty floor', () =>
      rawHttp({ port: floorPorts.http, prefix: faPrefix, suffix: faSuffix, connections: httpConns, next: () => hitToken, deadline: performance.now() + Math.min(3, opt.durationS) * 1000 }));
    const genNote = `client check: the node:net client drives the empty node:http floor at ${fmtRps(genCheck.rps)} rps${floorSummaries.http ? ` (${tools.wrk ? 'wrk' : 'same client'}: ${fmtRps(floorSummaries.http.rps)})` : ''}`;
    extraNotes.push(genNote);
    for (const alg of ALGS) {
      const n = opt.uniqueTokens;
      log(`unique tokens ${alg}: signing ${opt.rounds} × ${n} + 500 warm-up`);
      const t0 = performance.now();
      const tokens = await signTokens(keys[alg], opt.rounds * n + 500, `u${alg}`);
      log(`  signed in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      const warm = tokens.slice(opt.rounds * n);
      for (const port of [main.httpPort, floorPorts.jose]) {
        let i = 0;
        await rawHttp({ port, prefix: faPrefix, suffix: faSuffix, connections: httpConns, next: () => warm[i++] });
      }
      const runUnique = (port: number) => (_m: CpuMeter, round: number): Promise<RunResult> => {
        let i = round * n;
        const end = (round + 1) * n;
        return rawHttp({ port, prefix: faPrefix, suffix: faSuffix, connections: httpConns, next: () => (i < end ? tokens[i++] : undefined) });
      };
      const s = await sideBySide({ child: main.child, run: runUnique(main.httpPort) }, { child: joseFloor, run: runUnique(floorPorts.jose) }, `unique ${alg}`, false);
      const mi = micro?.find((m) => m.alg === alg);
      const notes = mi
        ? [`physical floor: raw node:crypto ${mi.rawUs.toFixed(1)} µs/op = ${fmtRps(1e6 / mi.rawUs)}/s on one core → Portcullis at ${fmtPct(s.target.rps / (1e6 / mi.rawUs))} of it; jose costs ${joseCpuUs(mi).toFixed(0)} µs of CPU per verify (${(joseCpuUs(mi) / mi.rawUs).toFixed(1)}× raw)`]
        : [];
      ratioRow(`Unique tokens, ${alg}`, `node:net client, ${httpConns} conns, ${n.toLocaleString('en-US')} tokens per run, each sent once`, s, 'bare jose jwtVerify server', 0.85, notes);
    }
  }

  // ---- latency at fixed rates
  if (opt.scenarios.has('latency')) {
    if (!tools.h2load) {
      rows.push({ scenario: 'Latency at 1,000 / 5,000 rps', how: '–', target: 'skipped: needs h2load (nghttp2-client)', floor: '–', ratio: '–', goal: 'p99 < 1 ms at 1,000 rps', verdict: '–', notes: '' });
    } else {
      const lat = opt.quick ? { d: 1, w: 0.3 } : { d: opt.durationS, w: 1 };
      for (const rate of [1000, 5000]) {
        // gRPC: one HTTP/2 connection (as Envoy keeps per worker), paced by h2load's timer; up to 256 streams in
        // flight, so a slow answer never holds back the next send (open loop, no coordinated omission).
        const grpcRun = (port: number, name: string) => (m: CpuMeter) =>
          h2load({ url: `http://127.0.0.1:${port}${CHECK_PATH}`, clients: 1, streams: 256, rpsPerClient: rate, durationS: lat.d, warmupS: lat.w, dataFile: bodyFile, headers: grpcHeaders, logFile: outPath(`h2load-rate-${name}.log`), onSpawn: (pid) => m.generator(pid) });
        // HTTP/1.1: one request in flight per connection, so several staggered connections (a proxy's pool).
        const processes = Math.ceil(rate / 250);
        let intervalUs = 0;
        const httpRun = (port: number, name: string) => async (m: CpuMeter): Promise<RunResult> => {
          const r = await h2loadH1Rate({ url: `http://127.0.0.1:${port}/auth`, rate, processes, durationS: lat.d, warmupS: lat.w, headers: faHeaders, logFile: outPath(`h2load-rate-${name}.log`), onSpawn: (pid) => m.generator(pid) });
          intervalUs = r.intervalUs;
          return r;
        };
        log(`latency at ${rate} rps`);
        const gF = summarize([await measure(grpcFloor, `gRPC @${rate} floor`, grpcRun(floorPorts.grpc, 'floor-grpc'))]);
        const gT = summarize([await measure(main.child, `gRPC @${rate} portcullis`, grpcRun(main.grpcPort, 'portcullis-grpc'))]);
        const hF = summarize([await measure(httpFloor, `HTTP @${rate} floor`, httpRun(floorPorts.http, 'floor-http'))]);
        const hT = summarize([await measure(main.child, `HTTP @${rate} portcullis`, httpRun(main.httpPort, 'portcullis-http'))]);
        const goal = rate === 1000 ? 'p99 < 1 ms' : '–';
        const lv = (s: Summary): string => (rate === 1000 ? verdict(s.p99 < 1000, `by ${fmtUs(s.p99 - 1000)}`) : '–');
        const sustained = (s: Summary): string => (s.rps < rate * 0.95 ? `⚠ only ${fmtRps(s.rps)} rps sustained` : '');
        const tail = (s: Summary): string => `p99.9 ${fmtUs(s.p999)}, max ${fmtUs(s.max)}`;
        rows.push({
          scenario: `gRPC Check latency at ${rate.toLocaleString('en-US')} rps, cache hit`,
          how: 'h2load --rps, 1 HTTP/2 conn, ≤ 256 streams in flight (open loop)',
          target: perf(gT, false),
          floor: `empty grpc-js: ${perf(gF, false)}`,
          ratio: '–',
          goal,
          verdict: lv(gT),
          notes: [`Portcullis ${tail(gT)}; floor ${tail(gF)}`, sustained(gT), noise(gT, gF)].filter(Boolean).join('; '),
        });
        rows.push({
          scenario: `HTTP forward_auth latency at ${rate.toLocaleString('en-US')} rps, cache hit`,
          how: `${processes} h2load processes × 1 keep-alive conn × ${fmtRps(rate / processes)} rps, staggered`,
          target: perf(hT, false),
          floor: `empty node:http: ${perf(hF, false)}`,
          ratio: '–',
          goal,
          verdict: lv(hT),
          notes: [
            `Portcullis ${tail(hT)}; floor ${tail(hF)}`,
            Math.max(hT.max, hF.max) >= intervalUs ? `answers slower than a connection's ${fmtUs(intervalUs)} send interval delay its next send, timed from the actual send: the tail beyond ${fmtUs(intervalUs)} is understated (coordinated omission)` : '',
            sustained(hT),
            noise(hT, hF),
          ].filter(Boolean).join('; '),
        });
      }
    }
  }

  // ---- tracing on vs off
  if (opt.scenarios.has('tracing')) {
      log('tracing on vs off');
      const sink = await otlpSink();
      // The SDK is set up by the composition root (src/main.ts), so both sides run the real entry point, one process.
      const offEnv: NodeJS.ProcessEnv = { ...process.env };
      for (const k of Object.keys(offEnv)) if (k.startsWith('OTEL_')) delete offEnv[k];
      const onEnv: NodeJS.ProcessEnv = {
        ...offEnv,
        OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_PROTOCOL: 'http/protobuf', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sink.port}`,
        OTEL_TRACES_SAMPLER: 'always_on', OTEL_SERVICE_NAME: 'portcullis-bench',
        ...(JSON.parse(process.env.BENCH_TRACING_ENV ?? '{}') as Record<string, string>),
      };
      const [on, off] = await Promise.all([
        startPortcullis('portcullis-tracing-on', keys, { entry: 'main', env: onEnv, replaceEnv: true, extra: { workers: 1, ...(JSON.parse(process.env.BENCH_TRACING_CONFIG_JSON ?? '{}') as Record<string, unknown>) } }),
        startPortcullis('portcullis-tracing-off', keys, { entry: 'main', env: offEnv, replaceEnv: true, extra: { workers: 1 } }),
      ]);
      const g = await sideBySide({ child: on.child, run: runGrpc(on.grpcPort, 'tracing-on') }, { child: off.child, run: runGrpc(off.grpcPort, 'tracing-off') }, 'gRPC tracing on/off');
      const h = await sideBySide({ child: on.child, run: runHttp(on.httpPort) }, { child: off.child, run: runHttp(off.httpPort) }, 'HTTP tracing on/off');
      await Promise.all([stopChild(on.child), stopChild(off.child)]); // before closing the sink: they flush on the way out
      sink.close();
      const exported = sink.count();
      const note = exported > 0 ? `src/main.ts, sampler always_on, OTLP/HTTP to a loopback sink that received ${exported} export requests` : '⚠ the loopback OTLP sink received nothing: tracing was probably not on (is it wired in src/main.ts? BENCH_TRACING_ENV / BENCH_TRACING_CONFIG_JSON add settings)';
      for (const [name, s] of [['gRPC Check', g], ['HTTP forward_auth', h]] as const) {
        const r = s.target.rps / s.floor.rps;
        rows.push({ scenario: `Tracing on vs off, ${name}, cache hit`, how: name === 'gRPC Check' ? grpcHow : httpHow, target: `on: ${perf(s.target)}`, floor: `off: ${perf(s.floor)}`, ratio: fmtPct(r), goal: '–', verdict: '–', notes: [note, noise(s.target, s.floor)].filter(Boolean).join('; ') });
      }
  }

  // ---- workers (informational): the real entry point with workers: 2, against the same one-process floors
  if (opt.scenarios.has('workers')) {
    const workers = 2;
    log(`workers: src/main.ts with workers: ${workers}`);
    const w = await startPortcullis('portcullis-workers', keys, { entry: 'main', extra: { workers } });
    await new Promise((r) => setTimeout(r, 1000)); // let every worker finish starting
    const gw = summarize([await measure(w.child, `gRPC workers=${workers}`, runGrpc(w.grpcPort, 'workers'))]);
    const hw = summarize([await measure(w.child, `HTTP workers=${workers}`, runHttp(w.httpPort))]);
    const tree = processTree(w.child.pid).length;
    for (const [name, s, f, how] of [['gRPC Check', gw, floorSummaries.grpc, grpcHow], ['HTTP forward_auth', hw, floorSummaries.http, httpHow]] as const) {
      rows.push({
        scenario: `${name}, cache hit, workers: ${workers} (informational)`,
        how: `${how}; src/main.ts, ${tree} processes`,
        target: perf(s),
        floor: f ? `one-process floor above: ${fmtRps(f.rps)} rps` : '–',
        ratio: f ? fmtPct(s.rps / f.rps) : '–',
        goal: '–',
        verdict: '–',
        notes: [`server CPU ${s.serverCores.toFixed(2)} cores, generator ${median(s.runs.map((r) => r.cpu.generatorCores)).toFixed(2)}: on 2 cores the workers and the generator share the machine`, noise(s)].filter(Boolean).join('; '),
      });
    }
    await stopChild(w.child);
  }

  // ---- flood: N unique tokens against a fresh instance, RSS sampled throughout
  if (opt.scenarios.has('flood')) {
    const n = opt.floodTokens;
    log(`flood: signing ${n.toLocaleString('en-US')} ${opt.floodAlg} tokens`);
    const t0 = performance.now();
    const tokens = await signTokens(keys[opt.floodAlg], n, 'flood');
    const signS = (performance.now() - t0) / 1000;
    log(`  signed in ${signS.toFixed(1)} s`);
    // --expose-gc only so that, after the flood, a full collection can tell the live heap from uncollected garbage.
    const f = await startPortcullis('portcullis-flood', keys, { nodeArgs: ['--expose-gc'] });
    const tree = (): number[] => processTree(f.child.pid);
    const base = treeMemory(tree());
    const curve: { done: number; rssKb: number }[] = [];
    let done = 0;
    let i = 0;
    let peakHeapTotal = 0;
    let heapPolls = 0;
    const r = await measure(f.child, `flood ${n} tokens`, () => {
      const sampler = setInterval(() => {
        const m = treeMemory(tree());
        curve.push({ done, rssKb: m.rssKb });
        // The V8 heap's committed size, once a second (the child answers over IPC).
        if (heapPolls++ % 4 === 0) void f.child.memory().then((mu) => (peakHeapTotal = Math.max(peakHeapTotal, mu?.heapTotal ?? 0)));
      }, 250);
      return rawHttp({ port: f.httpPort, prefix: faPrefix, suffix: faSuffix, connections: httpConns, next: () => tokens[i++], onProgress: (d) => (done = d) })
        .finally(() => clearInterval(sampler));
    }, false);
    const end = treeMemory(tree());
    const mem = await f.child.memory();
    const live = await f.child.memory(true);
    const afterGc = treeMemory(tree());
    const hwmKb = end.hwmKb;
    const deciles = [0.1, 0.25, 0.5, 0.75, 1].map((q) => {
      const at = curve.find((c) => c.done >= q * n) ?? curve[curve.length - 1];
      return `${(q * 100).toFixed(0)} %: ${at ? fmtMb(at.rssKb) : '–'}`;
    });
    const configured = (opt.extraConfig.cache as { max_entries?: number } | undefined)?.max_entries;
    rows.push({
      scenario: `${n.toLocaleString('en-US')} unique tokens (${opt.floodAlg}), RSS`,
      how: `fresh instance, node:net client, ${httpConns} conns, each token once (signed beforehand in ${signS.toFixed(0)} s on worker threads)`,
      target: `peak RSS ${fmtMb(hwmKb)} (VmHWM${end.processes > 1 ? `, summed over ${end.processes} processes` : ''}); ${fmtRps(r.rps)} rps`,
      floor: `at start ${fmtMb(base.rssKb)}, at end ${fmtMb(end.rssKb)}`,
      ratio: '–',
      goal: '< 300 MB',
      verdict: r.errors ? '**errors**' : verdict(hwmKb < 300 * 1024, `by ${fmtMb(hwmKb - 300 * 1024)}`),
      notes: [
        `RSS along the flood: ${deciles.join(', ')}`,
        peakHeapTotal || mem ? `V8 heap committed up to ${fmtMb(Math.max(peakHeapTotal, mem?.heapTotal ?? 0) / 1024)} during the flood` : '',
        mem ? `at the end ${fmtMb(mem.heapTotal / 1024)} committed, ${fmtMb(mem.heapUsed / 1024)} used, external ${fmtMb(mem.external / 1024)}` : '',
        live?.collected ? `after a full GC ${fmtMb(live.heapUsed / 1024)} live (RSS stays ${fmtMb(afterGc.rssKb)}: V8 keeps the pages it grew into)` : '',
        `cache max_entries ${configured ?? 'default'}`,
        n < 1_000_000 ? `⚠ ${n.toLocaleString('en-US')} tokens, not 1,000,000 (--flood-tokens)` : '',
        noise(summarize([r])),
      ].filter(Boolean).join('; '),
    });
    await stopChild(f.child);
  }

  // ---- profiles
  await Promise.all([...children].map((c) => stopChild(c)));
  const profiles: string[] = [];
  if (opt.cpuProf) {
    const root = outPath('prof');
    if (existsSync(root)) {
      for (const dir of readdirSync(root)) {
        for (const file of readdirSync(join(root, dir)).filter((f) => f.endsWith('.cpuprofile'))) {
          const s = summarizeProfile(join(root, dir, file), 12);
          profiles.push(`#### ${dir} (${file}): ${s.totalMs.toFixed(0)} ms, idle ${s.idlePct.toFixed(0)} %\n\nSelf time by package/file: ${s.topFiles.map((f) => `${f.file} ${f.pct.toFixed(1)} %`).join(', ')}\n\n${s.topFunctions.map((f) => `- ${f.pct.toFixed(1)} % ${f.name}`).join('\n')}\n`);
        }
      }
    }
  }

  const md = report(machine, versions, micro, profiles);
  const stamp = machine.date.replace(/[:]/g, '').replace(/-/g, '');
  const mdFile = outPath(`results-${stamp}.md`);
  writeFileSync(mdFile, md);
  writeFileSync(outPath(`results-${stamp}.json`), JSON.stringify({ machine, versions, options: { ...opt, scenarios: [...opt.scenarios] }, rows, micro, warnings, notes: extraNotes }, null, 2));
  process.stdout.write(`\n${md}\n`);
  log(`done in ${((performance.now() - T0) / 1000).toFixed(0)} s; written to ${relative(REPO, mdFile)}`);
}

/** CPU µs one jose verification costs, from the 64-in-flight run (cores used / verifications per second). */
const joseCpuUs = (m: MicroResult): number => (m.jose64Cores * 1e6) / m.jose64PerS;

function report(machine: MachineInfo, versions: Record<string, string>, micro: MicroResult[] | undefined, profiles: string[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const lines: string[] = [];
  lines.push(`**Machine:** ${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, Linux ${machine.kernel}; Node ${machine.node}; ${Object.entries(versions).map(([k, v]) => `${k} ${v}`).join(', ') || 'no external load generators'}  `);
  lines.push(`**Date:** ${machine.date}  `);
  lines.push(`**Command:** \`${opt.command}\` (${opt.durationS} s per run, ${opt.rounds} round${opt.rounds > 1 ? 's' : ''} alternating target/floor${opt.quick ? ', quick mode' : ''})  `);
  lines.push(`**Portcullis:** ${opt.entry === 'main' ? 'src/main.ts --config' : 'bench/server.ts (startPortcullis in one process, default telemetry: metrics on, no decision log, no OpenTelemetry SDK)'}, commit ${machine.commit}${Object.keys(opt.extraConfig).length ? `, config ${JSON.stringify(opt.extraConfig)}` : ''}; servers and floors each in their own process, load generators on the same machine`);
  lines.push('');
  lines.push('| Scenario | How | Portcullis | Floor | Portcullis / floor | Target | Result | Notes |');
  lines.push('|---|---|---|---|---|---|---|---|');
  for (const r of rows) lines.push(`| ${[r.scenario, r.how, r.target, r.floor, r.ratio, r.goal, r.verdict, r.notes].map(esc).join(' | ')} |`);
  if (micro) {
    lines.push('');
    lines.push('| Algorithm | raw node:crypto verify (one core) | jose jwtVerify, one at a time (wall) | jose jwtVerify, 64 in flight | jose CPU per verify | jose CPU / raw |');
    lines.push('|---|---|---|---|---|---|');
    for (const m of micro) {
      const cpuUs = joseCpuUs(m);
      lines.push(`| ${m.alg} | ${m.rawUs.toFixed(1)} µs/op (${fmtRps(1e6 / m.rawUs)}/s) | ${m.joseUs.toFixed(1)} µs/op | ${fmtRps(m.jose64PerS)}/s on ${m.jose64Cores.toFixed(2)} cores | ${cpuUs.toFixed(1)} µs | ${(cpuUs / m.rawUs).toFixed(2)}× |`);
    }
    lines.push('');
    lines.push('jose verifies through WebCrypto, whose jobs run on libuv\'s threadpool: one at a time, each pays a thread hand-off (wall time); with many in flight the CPU per verify is what counts, and it spreads over both cores.');
  }
  const notes = [...extraNotes, ...warnings.map((w) => `⚠ ${w}`)];
  if (notes.length) {
    lines.push('');
    for (const n of notes) lines.push(`- ${n}`);
  }
  if (profiles.length) {
    lines.push('');
    lines.push('### CPU profiles (--cpu-prof)');
    lines.push('');
    lines.push(...profiles);
  }
  return lines.join('\n');
}

const cleanup = (): void => {
  for (const c of children) c.proc.kill('SIGKILL');
};
process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});
main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${(e as Error).stack ?? String(e)}\n`);
  cleanup();
  process.exit(1);
});
