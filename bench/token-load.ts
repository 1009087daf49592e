/**
 * Load with a different token on every request, for the unique-token scenarios:
 *
 *   wrkTokens   HTTP: wrk with bench/tokens.lua, which reads a token list from a file and sends one token per
 *               request in order. wrk runs for a duration, so the list wraps if it is too short: the result says
 *               how many passes it made (`passes` > 1 means some tokens were sent twice; Portcullis' cache admits a
 *               token on its second sight, so a second pass is still verified, a third would be a cache hit).
 *   grpcTokens  gRPC: bench/grpc-client.ts in its own process, one prebuilt CheckRequest frame per token, each sent
 *               once (count mode: the run ends when they are used up, or at the deadline).
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeCheckRequest, grpcFrame } from './fixtures.ts';
import { wrk, type RunResult } from './loadgen.ts';
import type { GrpcClientOptions } from './grpc-client.ts';

const BENCH_DIR = dirname(fileURLToPath(import.meta.url));

export interface WrkTokensOptions {
  readonly url: string;
  readonly connections: number;
  readonly durationS: number;
  /** Every header but Authorization (the script sets it). */
  readonly headers: readonly (readonly [string, string])[];
  readonly tokens: readonly string[];
  /** Where the token list is written. */
  readonly tokenFile: string;
  readonly onSpawn?: (pid: number) => void;
}

export async function wrkTokens(o: WrkTokensOptions): Promise<RunResult & { passes: number }> {
  writeFileSync(o.tokenFile, `${o.tokens.join('\n')}\n`);
  const headers = o.headers.filter(([k]) => k.toLowerCase() !== 'authorization');
  const r = await wrk({ url: o.url, connections: o.connections, durationS: o.durationS, headers, script: join(BENCH_DIR, 'tokens.lua'), scriptArgs: [o.tokenFile], ...(o.onSpawn ? { onSpawn: o.onSpawn } : {}) });
  const passes = r.requests / Math.max(1, o.tokens.length);
  return { ...r, tool: 'wrk + tokens.lua', passes };
}

/** What bench/grpc-client.ts takes, plus what to frame into its frames file. */
export interface GrpcTokensOptions extends GrpcClientOptions {
  /** Messages to frame (serialized CheckRequests), or tokens to wrap in the bench's CheckRequest. */
  readonly tokens?: readonly string[];
  readonly messages?: readonly Buffer[];
  readonly onSpawn?: (pid: number) => void;
}

/** Writes the frames file once per distinct content (a `framesFile` already written for these tokens is reused). */
export function writeFrames(file: string, messages: readonly Buffer[]): void {
  writeFileSync(file, Buffer.concat(messages.map((m) => grpcFrame(m))));
}

export function framesForTokens(file: string, tokens: readonly string[]): void {
  writeFrames(file, tokens.map((t) => encodeCheckRequest(t)));
}

export async function grpcTokens(o: GrpcTokensOptions): Promise<RunResult> {
  if (o.messages) writeFrames(o.framesFile, o.messages);
  else if (o.tokens) framesForTokens(o.framesFile, o.tokens);
  const options: GrpcClientOptions = {
    port: o.port, path: o.path, framesFile: o.framesFile, connections: o.connections, streams: o.streams, durationS: o.durationS,
    ...(o.warmupS !== undefined ? { warmupS: o.warmupS } : {}), ...(o.cycle ? { cycle: true } : {}),
  };
  const optionsFile = `${o.framesFile}.options.json`;
  writeFileSync(optionsFile, JSON.stringify(options));
  const { code, out, err } = await new Promise<{ code: number; out: string; err: string }>((resolve, reject) => {
    const p = spawn(process.execPath, ['--no-warnings', join(BENCH_DIR, 'grpc-client.ts'), optionsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    p.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
    p.once('error', reject);
    if (p.pid !== undefined) o.onSpawn?.(p.pid);
    p.once('close', (c) => resolve({ code: c ?? 1, out, err }));
  });
  const line = out.trim().split('\n').pop() ?? '';
  if (code !== 0 || !line.startsWith('{')) throw new Error(`bench/grpc-client.ts failed (exit ${code}):\n${(err || out).slice(-2000)}`);
  return JSON.parse(line) as RunResult;
}
