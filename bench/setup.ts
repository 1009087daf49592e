/**
 * The pieces several scenarios share, started on first use and kept for the rest of the run: the Portcullis under
 * test, the cache-hit request and its preflight, the empty floors answering what Portcullis answered, the runners
 * for cache-hit load, and the verifying floors of the unique-token scenarios.
 */
import { writeFileSync } from 'node:fs';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Client, credentials } from '@grpc/grpc-js';
import {
  ALGS, AUDIENCE, CHECK_PATH, ISSUER, decodeCheckResponse, encodeCheckRequest, forwardAuthHeaders, forwardAuthRequestParts,
  grpcFrame, jwksOf, signTokens,
} from './fixtures.ts';
import { freePort, type Child } from './procs.ts';
import { h2load, wrk, type RunResult } from './loadgen.ts';
import { rawGrpc, rawHttp } from './node-clients.ts';
import type { CpuMeter } from './machine.ts';
import type { Summary } from './rows.ts';
import type { Bench, PortcullisInstance } from './context.ts';

export const GRPC_HEADERS = [['content-type', 'application/grpc'], ['te', 'trailers']] as const;
export const GRPC_SAT = { clients: 4, streams: 16 } as const;
export const HTTP_CONNS = 32;

export interface Shared {
  readonly main: PortcullisInstance;
  /** One RS256 token (the commonest IdP default), the same every time: the cache-hit request. */
  readonly hitToken: string;
  readonly checkBody: Buffer;
  /** The framed CheckRequest, for h2load's -d. */
  readonly bodyFile: string;
  readonly grpcAnswer: Buffer;
  readonly faHeaders: [string, string][];
  readonly faPrefix: string;
  readonly faSuffix: string;
  readonly grpcFloor: Child;
  readonly httpFloor: Child;
  readonly floorPorts: { readonly grpc: number; readonly http: number };
  /** Cache-hit load at saturation: h2load (or the node:http2 stand-in) and wrk (or the node:net stand-in). */
  runGrpc(port: number, name: string): (m: CpuMeter) => Promise<RunResult>;
  runHttp(port: number): (m: CpuMeter) => Promise<RunResult>;
  readonly grpcHow: string;
  readonly httpHow: string;
  /** Filled by the grpc and http scenarios, read by later ones. */
  readonly floorSummaries: { grpc?: Summary; http?: Summary };
}

export interface VerifyFloors {
  readonly http: { readonly jose: { child: Child; port: number }; readonly crypto: { child: Child; port: number } };
  readonly grpc: { readonly jose: { child: Child; port: number }; readonly crypto: { child: Child; port: number } };
}

const sharedOf = new WeakMap<Bench, Promise<Shared>>();
const verifyOf = new WeakMap<Bench, Promise<VerifyFloors>>();

export function shared(b: Bench): Promise<Shared> {
  let p = sharedOf.get(b);
  if (!p) sharedOf.set(b, (p = startShared(b)));
  return p;
}

export function verifyFloors(b: Bench): Promise<VerifyFloors> {
  let p = verifyOf.get(b);
  if (!p) verifyOf.set(b, (p = startVerifyFloors(b)));
  return p;
}

async function startShared(b: Bench): Promise<Shared> {
  const main = await b.startPortcullis('portcullis');
  b.log(`portcullis (${b.opt.entry === 'main' ? 'src/main.ts' : 'bench/server.ts'}) pid ${main.child.pid}: grpc :${main.grpcPort}, http :${main.httpPort}`);
  const [hitToken] = await signTokens(b.keys.RS256, 1, 'hit', 1);
  const checkBody = encodeCheckRequest(hitToken!);
  const bodyFile = b.outPath('check-request.bin');
  writeFileSync(bodyFile, grpcFrame(checkBody));

  const grpcAnswer = await grpcCall(main.grpcPort, checkBody);
  const decoded = decodeCheckResponse(grpcAnswer) as { status?: { code?: number }; ok_response?: unknown };
  if (decoded.status?.code !== 0 || !decoded.ok_response) throw new Error(`preflight: Portcullis did not allow the cache-hit CheckRequest: ${JSON.stringify(decoded).slice(0, 500)}`);
  const faHeaders = forwardAuthHeaders(hitToken!);
  const httpAnswer = await httpGet(main.httpPort, faHeaders);
  if (httpAnswer.status !== 200) throw new Error(`preflight: Portcullis answered ${httpAnswer.status} to the forward-auth request: ${httpAnswer.body}`);
  const floorHeaders = Object.fromEntries(Object.entries(httpAnswer.headers).filter(([k]) => !HOP.has(k)).map(([k, v]) => [k, String(v)]));
  b.log(`preflight: Check allowed (${grpcAnswer.length} B response), forward auth 200 (${Object.keys(floorHeaders).join(', ') || 'no headers'})`);

  const floorPorts = { grpc: await freePort(), http: await freePort() };
  const [grpcFloor, httpFloor] = await Promise.all([
    b.startFloor('grpc', { port: floorPorts.grpc, response: grpcAnswer.toString('base64') }),
    b.startFloor('http', { port: floorPorts.http, status: 200, headers: floorHeaders, body: httpAnswer.body }),
  ]);
  const floorGrpcAnswer = await grpcCall(floorPorts.grpc, checkBody);
  if (!floorGrpcAnswer.equals(grpcAnswer)) b.warnings.push('the gRPC floor does not answer byte for byte what Portcullis answered (re-encoding differs); compare sizes');
  if ((await httpGet(floorPorts.http, faHeaders)).status !== 200) throw new Error('preflight: the HTTP floor did not answer 200');

  const { prefix: faPrefix, suffix: faSuffix } = forwardAuthRequestParts('127.0.0.1');
  return {
    main, hitToken: hitToken!, checkBody, bodyFile, grpcAnswer, faHeaders, faPrefix, faSuffix, grpcFloor, httpFloor, floorPorts,
    floorSummaries: {},
    runGrpc: (port, name) => runGrpcWith(b, port, name, checkBody, bodyFile),
    runHttp: (port) => runHttpWith(b, port, hitToken!),
    grpcHow: b.tools.h2load ? `h2load, ${GRPC_SAT.clients} conns × ${GRPC_SAT.streams} streams` : `node:http2 client, ${GRPC_SAT.clients * GRPC_SAT.streams} in flight (h2load missing)`,
    httpHow: b.tools.wrk ? `wrk, ${HTTP_CONNS} conns` : `node:net client, ${HTTP_CONNS} conns (wrk missing)`,
  };
}

/**
 * Cache-hit gRPC load with one CheckRequest at saturation: h2load (or the node:http2 stand-in). `bodyFile` holds the
 * framed request (written here when absent).
 */
export function runGrpcWith(b: Bench, port: number, name: string, checkBody: Buffer, bodyFile = b.outPath(`check-request-${name}.bin`)): (m: CpuMeter) => Promise<RunResult> {
  writeFileSync(bodyFile, grpcFrame(checkBody));
  const { durationS } = b.opt;
  return (m) =>
    b.tools.h2load
      ? h2load({ url: `http://127.0.0.1:${port}${CHECK_PATH}`, ...GRPC_SAT, durationS, warmupS: b.warmupS, dataFile: bodyFile, headers: GRPC_HEADERS, logFile: b.outPath(`h2load-${name}.log`), onSpawn: (pid) => m.generator(pid) })
      : rawGrpc({ port, path: CHECK_PATH, body: grpcFrame(checkBody), concurrency: GRPC_SAT.clients * GRPC_SAT.streams, durationS });
}

/** Cache-hit forward-auth load with one token at saturation: wrk (or the node:net stand-in). */
export function runHttpWith(b: Bench, port: number, token: string): (m: CpuMeter) => Promise<RunResult> {
  const headers = forwardAuthHeaders(token);
  const { prefix, suffix } = forwardAuthRequestParts('127.0.0.1');
  const { durationS } = b.opt;
  return async (m) => {
    if (b.tools.wrk) {
      await wrk({ url: `http://127.0.0.1:${port}/auth`, connections: HTTP_CONNS, durationS: 1, headers }); // warm-up, not measured
      return wrk({ url: `http://127.0.0.1:${port}/auth`, connections: HTTP_CONNS, durationS, headers, onSpawn: (pid) => m.generator(pid) });
    }
    return rawHttp({ port, prefix, suffix, connections: HTTP_CONNS, next: () => token, deadline: performance.now() + durationS * 1000 });
  };
}

/** The unique-token floors: bare jose and raw node:crypto, each over node:http and over an empty grpc-js server. */
async function startVerifyFloors(b: Bench): Promise<VerifyFloors> {
  const s = await shared(b);
  const base = { jwks: jwksOf(b.keys), issuer: ISSUER, audience: AUDIENCE, algorithms: [...ALGS], subjectHeader: 'x-auth-subject' };
  const start = async (kind: 'jose' | 'crypto' | 'grpc-jose' | 'grpc-crypto') => {
    const port = await freePort();
    const child = await b.startFloor(kind, { ...base, port, ...(kind.startsWith('grpc') ? { response: s.grpcAnswer.toString('base64') } : {}) });
    return { child, port };
  };
  const [hj, hc, gj, gc] = await Promise.all([start('jose'), start('crypto'), start('grpc-jose'), start('grpc-crypto')]);
  for (const [name, f] of [['jose', hj], ['crypto', hc]] as const) {
    if ((await httpGet(f.port, s.faHeaders)).status !== 200) throw new Error(`preflight: the ${name} floor did not accept the token`);
    if ((await httpGet(f.port, forwardAuthHeaders(`${s.hitToken}x`))).status !== 401) throw new Error(`preflight: the ${name} floor accepted a bad signature`);
  }
  for (const [name, f] of [['grpc-jose', gj], ['grpc-crypto', gc]] as const) {
    const ok = decodeCheckResponse(await grpcCall(f.port, s.checkBody)) as { status?: { code?: number } };
    const bad = decodeCheckResponse(await grpcCall(f.port, encodeCheckRequest(`${s.hitToken}x`))) as { status?: { code?: number } };
    if ((ok.status?.code ?? 0) !== 0 || bad.status?.code !== 16) throw new Error(`preflight: the ${name} floor does not verify (good → ${ok.status?.code}, bad → ${bad.status?.code})`);
  }
  return { http: { jose: hj, crypto: hc }, grpc: { jose: gj, crypto: gc } };
}

// ---------------------------------------------------------------- preflight calls

export function grpcCall(port: number, message: Buffer): Promise<Buffer> {
  const client = new Client(`127.0.0.1:${port}`, credentials.createInsecure());
  return new Promise<Buffer>((resolvePromise, reject) => {
    client.makeUnaryRequest(CHECK_PATH, (x: Buffer) => x, (x: Buffer) => x, message, (err, value) => (err || !value ? reject(err ?? new Error('no response')) : resolvePromise(value)));
  }).finally(() => client.close());
}

export function httpGet(port: number, headers: readonly (readonly [string, string])[]): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
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
