/**
 * Load generators. The C tools do the repeated-request scenarios because on 2 cores the generator must cost far
 * less than the server: h2load (nghttp2) for gRPC (one prebuilt length-prefixed CheckRequest as the POST body,
 * `content-type: application/grpc`, `te: trailers`) and for fixed-rate latency (`--rps` per client, per-request
 * durations from `--log-file`); wrk for HTTP forward auth at saturation.
 *
 * Unique tokens: bench/token-load.ts (wrk + Lua token list; a node:http2 client with one frame per token). The
 * Node stand-ins for machines without the C tools, and the count-mode client of the RSS flood: bench/node-clients.ts.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { latencyOf, type Latency } from './stats.ts';

export interface RunResult {
  readonly tool: string;
  /** Requests completed in the measured window. */
  readonly requests: number;
  /** Requests that failed: transport errors, timeouts, or a status other than the expected one. */
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
  readonly latency: Latency | undefined;
  /** Status → count, where the tool reports it per status. */
  readonly statuses?: Readonly<Record<string, number>>;
  /** Anything the reader should know about this run (e.g. possible coordinated omission). */
  readonly note?: string;
  /** pid of the generator process, when it is one (for CPU accounting). */
  readonly pid?: number;
}

// ---------------------------------------------------------------- tools

export function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return undefined;
}

/**
 * wrk and h2load from Debian (packages wrk and nghttp2-client), installed if missing and apt-get is usable
 * (root, or BENCH_NO_INSTALL unset). Returns which are there, with a message for each that is not.
 */
export function ensureTools(log: (s: string) => void): { wrk: boolean; h2load: boolean; notes: string[] } {
  const notes: string[] = [];
  const missing = () => [['wrk', 'wrk'], ['h2load', 'nghttp2-client']].filter(([cmd]) => which(cmd!) === undefined).map(([, pkg]) => pkg!);
  let pkgs = missing();
  if (pkgs.length > 0) {
    const apt = which('apt-get');
    const root = process.getuid?.() === 0;
    if (process.env.BENCH_NO_INSTALL === '1') {
      notes.push(`not installing ${pkgs.join(', ')}: BENCH_NO_INSTALL=1`);
    } else if (apt === undefined || !root) {
      notes.push(`cannot install ${pkgs.join(', ')}: ${apt === undefined ? 'no apt-get on this machine' : 'not root'}; falling back to the Node generators where possible`);
    } else {
      log(`installing ${pkgs.join(', ')} with apt-get…`);
      const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
      let r = spawnSync(apt, ['install', '-y', '--no-install-recommends', ...pkgs], { env, encoding: 'utf8' });
      if (r.status !== 0) {
        spawnSync(apt, ['update'], { env, encoding: 'utf8' });
        r = spawnSync(apt, ['install', '-y', '--no-install-recommends', ...pkgs], { env, encoding: 'utf8' });
      }
      if (r.status !== 0) notes.push(`apt-get install ${pkgs.join(' ')} failed (${(r.stderr ?? '').trim().split('\n').pop()}); falling back to the Node generators where possible`);
    }
    pkgs = missing();
  }
  return { wrk: which('wrk') !== undefined, h2load: which('h2load') !== undefined, notes };
}

export function toolVersions(): Record<string, string> {
  const out: Record<string, string> = {};
  const h = spawnSync('h2load', ['--version'], { encoding: 'utf8' });
  if (h.status === 0) out.h2load = h.stdout.trim().replace(/^h2load\s+/, '');
  const w = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const wv = /wrk\s+(\S+)/.exec(`${w.stdout}${w.stderr}`);
  if (wv) out.wrk = wv[1]!;
  return out;
}

function runTool(cmd: string, args: readonly string[], onSpawn?: (pid: number) => void): Promise<{ code: number; out: string; pid: number }> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.once('error', reject);
    if (p.pid !== undefined) onSpawn?.(p.pid);
    // 'close', not 'exit': the exit can be seen before the last of stdout is read (an h2load summary went missing so).
    p.once('close', (code) => resolve({ code: code ?? 1, out, pid: p.pid ?? 0 }));
  });
}

// ---------------------------------------------------------------- h2load

export interface H2loadOptions {
  readonly url: string;
  readonly clients: number;
  /** Max concurrent streams per client (`-m`); for --h1 it is pipelining depth, keep 1. */
  readonly streams: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** Requests per second per client (open-loop pacing); omit for saturation. */
  readonly rpsPerClient?: number;
  readonly h1?: boolean;
  readonly dataFile?: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly logFile: string;
  readonly onSpawn?: (pid: number) => void;
}

const ms = (s: number): string => `${Math.max(1, Math.round(s * 1000))}ms`;

export async function h2load(o: H2loadOptions): Promise<RunResult> {
  const args = [
    '-t1', `-c${o.clients}`, `-m${o.streams}`, `--duration=${ms(o.durationS)}`, `--warm-up-time=${ms(o.warmupS)}`,
    ...(o.rpsPerClient !== undefined ? [`--rps=${o.rpsPerClient}`] : []),
    ...(o.h1 ? ['--h1'] : []),
    ...(o.dataFile !== undefined ? ['-d', o.dataFile] : []),
    ...o.headers.flatMap(([k, v]) => ['-H', `${k}: ${v}`]),
    `--log-file=${o.logFile}`,
    o.url,
  ];
  rmSync(o.logFile, { force: true }); // h2load appends to an existing log
  const { code, out, pid } = await runTool('h2load', args, o.onSpawn);
  const req = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  const fin = /finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(out);
  if (code !== 0 || !req || !fin) throw new Error(`h2load failed (exit ${code}):\n${out.slice(-2000)}`);
  const durations: number[] = [];
  for (const line of readFileSync(o.logFile, 'utf8').split('\n')) {
    const tab = line.lastIndexOf('\t');
    if (tab > 0) durations.push(Number(line.slice(tab + 1)));
  }
  const done = Number(req[3]);
  const errors = Number(req[5]) + Number(req[6]) + Number(req[7]) + Number(codes?.[3] ?? 0) + Number(codes?.[4] ?? 0);
  return {
    tool: 'h2load',
    requests: done,
    errors,
    seconds: o.durationS,
    rps: Number(fin[1]),
    latency: latencyOf(Float64Array.from(durations)),
    statuses: { '2xx': Number(codes?.[1] ?? 0), '4xx': Number(codes?.[3] ?? 0), '5xx': Number(codes?.[4] ?? 0) },
    pid,
  };
}

/**
 * HTTP/1.1 at a fixed total rate: `processes` h2load processes with one keep-alive connection each, started
 * staggered so their send instants interleave. (One h2load with many clients fires every client's timer at the same
 * instant, which turns "1,000 rps" into bursts of N requests every N ms.) A connection whose previous answer is late
 * sends its next request late and times it from then, so latencies above the per-connection interval are understated
 * (coordinated omission): the caller flags runs whose max exceeds it.
 */
export async function h2loadH1Rate(o: Omit<H2loadOptions, 'clients' | 'streams' | 'rpsPerClient' | 'h1'> & { rate: number; processes: number }): Promise<RunResult & { intervalUs: number }> {
  const per = o.rate / o.processes;
  const runs: Promise<RunResult>[] = [];
  const logs: string[] = [];
  for (let i = 0; i < o.processes; i++) {
    const logFile = `${o.logFile}.${i}`;
    logs.push(logFile);
    runs.push(h2load({ ...o, logFile, h1: true, clients: 1, streams: 1, rpsPerClient: per }));
    await new Promise((r) => setTimeout(r, 1000 / per / o.processes));
  }
  const results = await Promise.all(runs);
  const durations: number[] = [];
  for (const f of logs) {
    for (const line of readFileSync(f, 'utf8').split('\n')) {
      const tab = line.lastIndexOf('\t');
      if (tab > 0) durations.push(Number(line.slice(tab + 1)));
    }
  }
  return {
    tool: `h2load ×${o.processes}`,
    requests: results.reduce((a, r) => a + r.requests, 0),
    errors: results.reduce((a, r) => a + r.errors, 0),
    seconds: o.durationS,
    rps: results.reduce((a, r) => a + r.rps, 0),
    latency: latencyOf(Float64Array.from(durations)),
    intervalUs: 1e6 / per,
  };
}

// ---------------------------------------------------------------- wrk

export interface WrkOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  readonly headers: readonly (readonly [string, string])[];
  readonly onSpawn?: (pid: number) => void;
  /** A Lua script (`-s`) and the arguments after `--` that its init() receives. */
  readonly script?: string;
  readonly scriptArgs?: readonly string[];
}

function usOf(value: string, unit: string): number {
  const v = Number(value);
  return unit === 'us' ? v : unit === 'ms' ? v * 1000 : unit === 's' ? v * 1e6 : unit === 'm' ? v * 6e7 : Number.NaN;
}

export async function wrk(o: WrkOptions): Promise<RunResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${Math.max(1, Math.round(o.durationS))}s`, '--latency', '--timeout', '5s',
    ...(o.script !== undefined ? ['-s', o.script] : []),
    ...o.headers.flatMap(([k, v]) => ['-H', `${k}: ${v}`]), o.url, ...(o.scriptArgs?.length ? ['--', ...o.scriptArgs] : [])];
  const { code, out, pid } = await runTool('wrk', args, o.onSpawn);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = /(\d+) requests in ([\d.]+)(m?s|m)/.exec(out);
  if (code !== 0 || !rps || !total) throw new Error(`wrk failed (exit ${code}):\n${out.slice(-2000)}`);
  const pct = (p: string): number | undefined => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? usOf(m[1]!, m[2]!) : undefined;
  };
  const maxM = /Latency\s+[\d.]+\w+\s+[\d.]+\w+\s+([\d.]+)(us|ms|s|m)/.exec(out);
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  const sockErrors = sock ? Number(sock[1]) + Number(sock[2]) + Number(sock[3]) + Number(sock[4]) : 0;
  const p50 = pct('50');
  const p90 = pct('90');
  const p99 = pct('99');
  const max = maxM ? usOf(maxM[1]!, maxM[2]!) : Number.NaN;
  return {
    tool: 'wrk',
    requests: Number(total[1]),
    errors: non2xx + sockErrors,
    seconds: o.durationS,
    rps: Number(rps[1]),
    latency: p50 === undefined ? undefined : { p50, p90: p90 ?? Number.NaN, p99: p99 ?? Number.NaN, p999: Number.NaN, max, samples: Number(total[1]) },
    pid,
  };
}
