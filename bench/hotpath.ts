/**
 * In-process harness for the cached forward-auth path: `node bench/hotpath.ts [--requests N] [--rounds R] [--cpu-prof]`.
 *
 * Starts Portcullis (startPortcullis, default telemetry: metrics on) and an empty node:http server with the same
 * listener options answering the exact status, headers and body Portcullis answered, both in this process. One
 * keep-alive socket per server sends the Caddy-shaped cache-hit request (bench/fixtures.ts), pipelined in batches,
 * and the two sides are measured interleaved (A B, B A, ...) so a busy machine slows both alike. Per request it prints:
 *   - CPU µs (process.cpuUsage: server and the tiny client together; the client's work is the same on both sides,
 *     so the difference is what Portcullis adds),
 *   - wall µs,
 *   - bytes allocated on the V8 heap (used heap at the end − at the start + what every GC in between freed, from
 *     v8.GCProfiler).
 * Figures are only comparable within one run; take them on a quiet machine.
 */
import { connect, type Socket } from 'node:net';
import { createServer, type Server } from 'node:http';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import type { AddressInfo } from 'node:net';
import { SignJWT } from 'jose';
import { buildConfig } from '../src/config/load.ts';
import { defaultRuntime } from '../src/app.ts';
import { startPortcullis } from '../src/server.ts';
import { httpRequestHandler } from '../src/transports/http/server.ts';
import { AUDIENCE, ISSUER, configDoc, forwardAuthRequestParts, makeKeys } from './fixtures.ts';
import { HTTP_LISTENER_OPTIONS } from '../src/transports/http/listener-options.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const REQUESTS = arg('requests', 40_000);
const ROUNDS = arg('rounds', 5);
/** Requests in flight per socket (`--pipeline 1`: one at a time, as wrk sends them) and sockets per side. */
const BATCH = arg('pipeline', 32);
const CONNS = arg('conns', 1);
/** `--side portcullis` (or floor) measures one side only: for `--cpu-prof`, so the profile holds one server. */
const SIDE = process.argv.includes('--side') ? process.argv[process.argv.indexOf('--side') + 1] : undefined;


const keys = await makeKeys();
const doc = configDoc(keys, { grpc: 0, http: 0 });
const config = buildConfig(doc, 'bench/hotpath', process.cwd());
const portcullis = await startPortcullis(config, defaultRuntime);
const token = await new SignJWT({ scope: 'orders:read' })
  .setProtectedHeader({ alg: 'RS256', kid: keys.RS256.kid })
  .setIssuer(ISSUER)
  .setAudience(AUDIENCE)
  .setSubject('bench-user')
  .setIssuedAt()
  .setExpirationTime('4h')
  .sign(keys.RS256.privateKey);

const { prefix, suffix } = forwardAuthRequestParts('127.0.0.1');
const request = Buffer.from(`${prefix}${token}${suffix}`);

/** One request on a fresh connection: the raw answer, to learn its size and to build the floor's answer. */
async function once(port: number): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  socket.write(request);
  let text = '';
  for await (const chunk of socket) {
    text += String(chunk);
    const end = text.indexOf('\r\n\r\n');
    const length = /content-length: (\d+)/i.exec(text);
    if (end !== -1 && length && text.length >= end + 4 + Number(length[1])) break;
  }
  socket.destroy();
  return text;
}

const portOf = (url: string): number => Number(new URL(url).port);
const pcPort = portOf(portcullis.httpUrl);
await once(pcPort); // admits the token (second sight caches it)
await once(pcPort);
const answer = await once(pcPort);
const [head, body = ''] = answer.split('\r\n\r\n');
const lines = head!.split('\r\n');
const status = Number(lines[0]!.split(' ')[1]);
if (status !== 200) throw new Error(`Portcullis did not allow the cache-hit request: ${answer.slice(0, 300)}`);
const floorHeaders: string[] = [];
for (const line of lines.slice(1)) {
  const colon = line.indexOf(':');
  const name = line.slice(0, colon).toLowerCase();
  if (['date', 'connection', 'keep-alive'].includes(name)) continue;
  floorHeaders.push(name, line.slice(colon + 1).trim());
}
const floor: Server = createServer(HTTP_LISTENER_OPTIONS, (_req, res) => {
  res.writeHead(status, floorHeaders);
  res.end(body);
});
await new Promise<void>((resolve) => floor.listen(0, '127.0.0.1', resolve));
const floorPort = (floor.address() as AddressInfo).port;
const floorAnswer = await once(floorPort);
if (floorAnswer.length !== answer.length) throw new Error(`the floor's answer differs in size: ${floorAnswer.length} vs ${answer.length}`);

/** Sends `n` requests on `socket`, BATCH pipelined at a time, and resolves once every answer arrived. */
function drive(sockets: readonly Socket[], n: number, answerBytes: number): Promise<void> {
  const per = Math.ceil(n / sockets.length);
  return Promise.all(sockets.map((s) => driveOne(s, per, answerBytes))).then(() => undefined);
}

function driveOne(socket: Socket, n: number, answerBytes: number): Promise<void> {
  const batch = Buffer.concat(Array.from({ length: BATCH }, () => request));
  return new Promise((resolve) => {
    let sent = 0;
    let received = 0;
    const send = (): void => {
      const k = Math.min(BATCH, n - sent);
      socket.write(k === BATCH ? batch : batch.subarray(0, k * request.length));
      sent += k;
    };
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      const done = Math.floor(received / answerBytes);
      if (done >= n) {
        socket.off('data', onData);
        resolve();
      } else if (done >= sent - Math.floor(BATCH / 2) && sent < n) send();
    };
    socket.on('data', onData);
    send();
    if (BATCH > 1) send();
  });
}

interface Sample { cpuUs: number; wallUs: number; bytes: number }

async function measure(socket: readonly Socket[], answerBytes: number): Promise<Sample> {
  const profiler = new GCProfiler();
  profiler.start();
  const heapBefore = getHeapStatistics().used_heap_size;
  const cpu = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  await drive(socket, REQUESTS, answerBytes);
  const wall = Number(process.hrtime.bigint() - t0) / 1000;
  const used = process.cpuUsage(cpu);
  const heapAfter = getHeapStatistics().used_heap_size;
  const gc = profiler.stop();
  let freed = 0;
  for (const s of gc?.statistics ?? []) freed += s.beforeGC.heapStatistics.usedHeapSize - s.afterGC.heapStatistics.usedHeapSize;
  return { cpuUs: (used.user + used.system) / REQUESTS, wallUs: wall / REQUESTS, bytes: (heapAfter - heapBefore + freed) / REQUESTS };
}

const open = (port: number): Promise<Socket> => new Promise((resolve) => {
  const s = connect(port, '127.0.0.1', () => resolve(s));
  s.setNoDelay(true);
});
// `--stub`: a third side, the real HTTP handler (translation, rendering) around an authorizer that answers one fixed
// allow: what the transport costs without the core.
const candidates: [string, number, number][] = [['floor', floorPort, floorAnswer.length], ['portcullis', pcPort, answer.length]];
let stub: Server | undefined;
if (process.argv.includes('--stub')) {
  const allow = await portcullis.core.authorizer.check({ transport: 'http', method: 'GET', host: 'h', scheme: 'https', path: '/', headers: new Map([['authorization', [`Bearer ${token}`]]]), contextExtensions: new Map() });
  stub = createServer(HTTP_LISTENER_OPTIONS, httpRequestHandler({ config, authorizer: { check: () => allow }, readiness: { isReady: () => true, onChange: () => () => {} } }));
  await new Promise<void>((resolve) => stub!.listen(0, '127.0.0.1', resolve));
  candidates.push(['stub', (stub.address() as AddressInfo).port, answer.length]);
}
const sides = [];
for (const [name, port, bytes] of candidates) {
  if (SIDE === undefined || SIDE === name) sides.push({ name, socket: await Promise.all(Array.from({ length: CONNS }, () => open(port))), bytes, samples: [] as Sample[] });
}
if (process.argv.includes('--show')) process.stdout.write(`${answer}\n`);
for (const side of sides) await drive(side.socket, 5_000, side.bytes); // warm-up
for (let r = 0; r < ROUNDS; r++) {
  // Rotating order (A B C, B C A, ...): whatever the machine does meanwhile falls on every side alike.
  for (let k = 0; k < sides.length; k++) {
    const side = sides[(r + k) % sides.length]!;
    side.samples.push(await measure(side.socket, side.bytes));
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const row = (name: string, s: Sample[]): string =>
  `${name.padEnd(11)} cpu ${median(s.map((x) => x.cpuUs)).toFixed(2).padStart(6)} µs  wall ${median(s.map((x) => x.wallUs)).toFixed(2).padStart(6)} µs  alloc ${median(s.map((x) => x.bytes)).toFixed(0).padStart(6)} B`;
process.stdout.write(`${REQUESTS} cached forward-auth requests × ${ROUNDS} rounds, medians per request (${CONNS} socket(s), ${BATCH} in flight on each):\n`);
for (const side of sides) process.stdout.write(`${row(side.name, side.samples)}\n`);
const [f, p] = sides.map((s) => median(s.samples.map((x) => x.cpuUs))) as [number, number];
if (sides.length >= 2) process.stdout.write(`portcullis − floor: ${(p - f).toFixed(2)} µs CPU per request; floor/portcullis CPU ratio ${(f / p).toFixed(2)}\n`);

for (const side of sides) for (const s of side.socket) s.destroy();
floor.close();
stub?.close();
await portcullis.close(0);
