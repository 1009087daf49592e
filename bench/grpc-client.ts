/**
 * A minimal gRPC load generator in its own process (`node bench/grpc-client.ts OPTIONS_JSON_FILE`): node:http2
 * sessions sending prebuilt length-prefixed CheckRequest frames, one frame per request, closed loop with a fixed
 * number of streams in flight. h2load cannot send a different body per request; this can, so every request carries a
 * token the server has never seen. It is checked against h2load on the empty grpc-js floor in each run (the
 * `unique-grpc` scenario), so that it is known not to be the bottleneck.
 *
 * The frames file is the frames back to back (each carries its own 5-byte length prefix). Without `cycle` each frame
 * is sent once and the run ends when they are used up (or at the deadline); with `cycle` they repeat until the
 * deadline. Every answer must be grpc-status 0 AND a CheckResponse whose status code is 0 (an allow): ext_authz
 * denies travel as OK responses, so a server that denied everything would otherwise look fast. Prints one JSON line:
 * a RunResult (bench/loadgen.ts), with `statuses` counting allow / deny / grpc-N.
 */
import { readFileSync } from 'node:fs';
import { connect, constants as h2c, type ClientHttp2Session } from 'node:http2';
import { latencyOf } from './stats.ts';

export interface GrpcClientOptions {
  readonly port: number;
  readonly path: string;
  readonly framesFile: string;
  readonly connections: number;
  /** Streams in flight per connection. */
  readonly streams: number;
  readonly durationS: number;
  /** Not measured: requests before this many seconds have passed (only meaningful with `cycle`). */
  readonly warmupS?: number;
  readonly cycle?: boolean;
}

const o = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as GrpcClientOptions;
const all = readFileSync(o.framesFile);
const frames: Buffer[] = [];
for (let at = 0; at + 5 <= all.length; ) {
  const end = at + 5 + all.readUInt32BE(at + 1);
  frames.push(all.subarray(at, end));
  at = end;
}
if (frames.length === 0) throw new Error(`no frames in ${o.framesFile}`);

const headers = {
  [h2c.HTTP2_HEADER_METHOD]: 'POST',
  [h2c.HTTP2_HEADER_PATH]: o.path,
  [h2c.HTTP2_HEADER_SCHEME]: 'http',
  [h2c.HTTP2_HEADER_AUTHORITY]: `127.0.0.1:${o.port}`,
  'content-type': 'application/grpc',
  te: 'trailers',
};

const latencies: number[] = [];
const statuses: Record<string, number> = {};
let next = 0;
let done = 0;
let errors = 0;
let active = 0;
const t0 = performance.now();
const measureFrom = t0 + (o.warmupS ?? 0) * 1000;
const deadline = measureFrom + o.durationS * 1000;
let first = Number.NaN;
let last = t0;
const sessions: ClientHttp2Session[] = [];

function frame(): Buffer | undefined {
  if (performance.now() >= deadline) return undefined;
  if (next >= frames.length) {
    if (!o.cycle) return undefined;
    next = 0;
  }
  return frames[next++];
}

function one(session: ClientHttp2Session): void {
  const body = frame();
  if (body === undefined) {
    if (active === 0) finish();
    return;
  }
  active++;
  const sent = performance.now();
  const req = session.request(headers, { endStream: false });
  let grpcStatus = '';
  const chunks: Buffer[] = [];
  req.on('response', (h) => {
    if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']); // trailers-only answer
  });
  req.on('trailers', (t) => (grpcStatus = String(t['grpc-status'] ?? '')));
  req.on('data', (d: Buffer) => chunks.push(d));
  req.on('error', () => {});
  req.on('close', () => {
    active--;
    const now = performance.now();
    if (sent >= measureFrom) {
      if (Number.isNaN(first)) first = sent;
      done++;
      last = now;
      const outcome = grpcStatus !== '0' ? `grpc-${grpcStatus || 'none'}` : checkCode(Buffer.concat(chunks)) === 0 ? 'allow' : 'deny';
      statuses[outcome] = (statuses[outcome] ?? 0) + 1;
      if (outcome !== 'allow') errors++;
      latencies.push((now - sent) * 1000);
    }
    one(session);
  });
  req.end(body);
}

/** The CheckResponse's status.code (field 1 → field 1) in a length-prefixed gRPC message; -1 if unreadable. */
function checkCode(framed: Buffer): number {
  if (framed.length < 5) return -1;
  const msg = framed.subarray(5, 5 + framed.readUInt32BE(1));
  const varint = (b: Buffer, at: number): [number, number] => {
    let v = 0;
    let mul = 1;
    for (let i = at; i < b.length; i++) {
      v += (b[i]! & 0x7f) * mul;
      if ((b[i]! & 0x80) === 0) return [v, i + 1];
      mul *= 128;
    }
    return [-1, b.length];
  };
  /** Each top-level field of `b`: number, wire type, and value (varint) or bytes (length-delimited). */
  const field = (b: Buffer, want: number, wire: number): Buffer | number | undefined => {
    for (let at = 0; at < b.length; ) {
      const [tag, next] = varint(b, at);
      if (tag < 0) return undefined;
      const num = Math.floor(tag / 8);
      const wt = tag % 8;
      at = next;
      if (wt === 0) {
        const [v, n] = varint(b, at);
        if (num === want && wire === 0) return v;
        at = n;
      } else if (wt === 2) {
        const [len, n] = varint(b, at);
        if (num === want && wire === 2) return b.subarray(n, n + len);
        at = n + len;
      } else if (wt === 1) at += 8;
      else if (wt === 5) at += 4;
      else return undefined;
    }
    return undefined;
  };
  const status = field(msg, 1, 2);
  if (!(status instanceof Buffer)) return 0; // no status: code 0 by proto3 default
  const code = field(status, 1, 0);
  return typeof code === 'number' ? code : 0;
}

let finished = false;
function finish(): void {
  if (finished) return;
  finished = true;
  for (const s of sessions) s.close();
  const seconds = (last - (Number.isNaN(first) ? t0 : first)) / 1000;
  const result = { tool: 'node:http2 client', requests: done, errors, seconds, rps: done / seconds, latency: latencyOf(Float64Array.from(latencies)), statuses, pid: process.pid };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

for (let c = 0; c < o.connections; c++) {
  const session = connect(`http://127.0.0.1:${o.port}`);
  sessions.push(session);
  session.on('error', () => {
    errors++;
    finish();
  });
  session.once('connect', () => {
    for (let i = 0; i < o.streams; i++) one(session);
  });
}
