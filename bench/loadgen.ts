/**
 * Load generators. The C tools do the repeated-request scenarios because on 2 cores the generator must cost far
 * less than the server: h2load (nghttp2) for gRPC (one prebuilt length-prefixed CheckRequest as the POST body,
 * `content-type: application/grpc`, `te: trailers`) and for fixed-rate latency (`--rps` per client, per-request
 * durations from `--log-file`); wrk for HTTP forward auth at saturation.
 *
 * Unique tokens need a different Authorization header on every request, which neither tool does without Lua, and a
 * count (each token exactly once) rather than a duration: `rawHttp` is a minimal HTTP/1.1 keep-alive client on
 * node:net (no parser objects, no agent; a few µs per request), checked against wrk on the empty floor in each run.
 * `rawGrpc` (node:http2, prebuilt frame) stands in for h2load where it cannot be installed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as h2connect, constants as h2c } from 'node:http2';
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
    p.once('exit', (code) => resolve({ code: code ?? 1, out, pid: p.pid ?? 0 }));
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

// ---------------------------------------------------------------- raw HTTP/1.1 client (node:net)

export interface RawHttpOptions {
  readonly port: number;
  readonly prefix: string;
  readonly suffix: string;
  readonly connections: number;
  /** The next token to send, or undefined when there is none left. */
  readonly next: () => string | undefined;
  /** Stop sending at this performance.now() time (duration mode). */
  readonly deadline?: number;
  readonly expectStatus?: number;
  /** Called after every completed request (e.g. to sample memory); keep it cheap. */
  readonly onProgress?: (done: number) => void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const LAST_CHUNK = Buffer.from('\r\n0\r\n\r\n');

/** Closed loop: each connection sends its next request when the previous answer has arrived. */
export function rawHttp(o: RawHttpOptions): Promise<RunResult> {
  const expect = o.expectStatus ?? 200;
  return new Promise((resolve) => {
    const latencies: number[] = [];
    const statuses: Record<string, number> = {};
    let done = 0;
    let errors = 0;
    let open = 0;
    const start = performance.now();
    let last = start;
    const finish = (): void => {
      if (--open > 0) return;
      const seconds = (last - start) / 1000;
      resolve({
        tool: 'node:net client',
        requests: done,
        errors,
        seconds,
        rps: done / seconds,
        latency: latencyOf(Float64Array.from(latencies)),
        statuses,
      });
    };
    for (let c = 0; c < o.connections; c++) {
      open++;
      const socket: Socket = netConnect({ port: o.port, host: '127.0.0.1', noDelay: true });
      let buf: Buffer | null = null;
      let sentAt = 0;
      let inFlight = false;
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        socket.destroy();
        finish();
      };
      const send = (): void => {
        const token = o.deadline !== undefined && performance.now() >= o.deadline ? undefined : o.next();
        if (token === undefined) return close();
        inFlight = true;
        sentAt = performance.now();
        socket.write(o.prefix + token + o.suffix, 'latin1');
      };
      socket.once('connect', send);
      socket.on('data', (chunk: Buffer) => {
        buf = buf === null ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          const he: number = buf.indexOf(CRLFCRLF);
          if (he < 0) return;
          const head = buf.toString('latin1', 0, he);
          let end: number;
          const cl = /\r\ncontent-length:[ \t]*(\d+)/i.exec(head);
          if (cl) end = he + 4 + Number(cl[1]);
          else if (/\r\ntransfer-encoding:[ \t]*chunked/i.test(head)) {
            const z = buf.indexOf(LAST_CHUNK, he + 2);
            if (z < 0) return;
            end = z + LAST_CHUNK.length;
          } else end = he + 4;
          if (buf.length < end) return;
          const status = Number(head.slice(9, 12));
          const now = performance.now();
          latencies.push((now - sentAt) * 1000);
          last = now;
          done++;
          statuses[status] = (statuses[status] ?? 0) + 1;
          if (status !== expect) errors++;
          inFlight = false;
          buf = end < buf.length ? buf.subarray(end) : null;
          o.onProgress?.(done);
          if (buf !== null) continue;
          send();
          return;
        }
      });
      socket.on('error', () => {
        if (inFlight) errors++;
        close();
      });
      socket.on('close', close);
    }
  });
}

// ---------------------------------------------------------------- raw gRPC client (node:http2), h2load's stand-in

export interface RawGrpcOptions {
  readonly port: number;
  readonly path: string;
  /** The framed request message. */
  readonly body: Buffer;
  readonly concurrency: number;
  readonly durationS: number;
}

export function rawGrpc(o: RawGrpcOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const session = h2connect(`http://127.0.0.1:${o.port}`);
    const latencies: number[] = [];
    let done = 0;
    let errors = 0;
    let active = 0;
    const start = performance.now();
    const deadline = start + o.durationS * 1000;
    const one = (): void => {
      if (performance.now() >= deadline) {
        if (active === 0) {
          session.close();
          const seconds = (performance.now() - start) / 1000;
          resolve({ tool: 'node:http2 client', requests: done, errors, seconds, rps: done / seconds, latency: latencyOf(Float64Array.from(latencies)) });
        }
        return;
      }
      active++;
      const t0 = performance.now();
      const req = session.request({
        [h2c.HTTP2_HEADER_METHOD]: 'POST',
        [h2c.HTTP2_HEADER_PATH]: o.path,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      let grpcStatus = '';
      req.on('trailers', (t) => (grpcStatus = String(t['grpc-status'] ?? '')));
      req.on('data', () => {});
      req.on('close', () => {
        active--;
        done++;
        if (grpcStatus !== '0') errors++;
        latencies.push((performance.now() - t0) * 1000);
        one();
      });
      req.on('error', () => {});
      req.end(o.body);
    };
    session.once('connect', () => {
      for (let i = 0; i < o.concurrency; i++) one();
    });
    session.on('error', () => {});
  });
}
