/**
 * The gRPC Check work alone, without HTTP/2: `node bench/hotpath-grpc.ts [--requests N] [--rounds R] [--split] [--alloc-prof]`.
 * Runs what calls.ts runs for one cached Check (decodeCheckRequest → answerCheck around the instrumented core →
 * framedCheckResponse) on the bench's Envoy-shaped CheckRequest bytes, and prints CPU µs and heap bytes per call.
 * `--split` also times decoding and answering alone; `--alloc-prof` lists where each step's bytes go. Use with `--cpu-prof` for a profile of Portcullis' own work.
 */
import { SignJWT } from 'jose';
import { buildConfig } from '../src/config/load.ts';
import { createCore, defaultRuntime } from '../src/app.ts';
import { createTelemetry, instrumentAuthorizer } from '../src/telemetry/index.ts';
import { answerCheck, decodeCheckRequest, framedCheckResponse } from '../src/transports/grpc/check-service.ts';
import { allocationProfile, perCall } from './per-call.ts';
import { AUDIENCE, ISSUER, configDoc, encodeCheckRequest, makeKeys } from './fixtures.ts';

const arg = (name: string, fallback: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
};
const REQUESTS = arg('requests', 200_000);
const ROUNDS = arg('rounds', 5);

const keys = await makeKeys();
const config = buildConfig(configDoc(keys, { grpc: 0, http: 0 }), 'bench/hotpath-grpc', process.cwd());
const core = createCore(config, defaultRuntime);
await core.start();
const telemetry = createTelemetry(config, { now: defaultRuntime.now });
const authorizer = instrumentAuthorizer(core.authorizer, telemetry);
const token = await new SignJWT({ scope: 'orders:read' })
  .setProtectedHeader({ alg: 'RS256', kid: keys.RS256.kid })
  .setIssuer(ISSUER).setAudience(AUDIENCE).setSubject('bench-user').setIssuedAt().setExpirationTime('4h')
  .sign(keys.RS256.privateKey);
const bytes = encodeCheckRequest(token);
const report = (e: unknown): void => { throw e; };
let out = 0;

const call = (): void => {
  const response = answerCheck(authorizer, decodeCheckRequest(bytes, report), report, undefined, undefined, false);
  if (response instanceof Promise) return void response.then((r) => framedCheckResponse(r, report));
  out += framedCheckResponse(response, report).length;
};
for (let i = 0; i < 3; i++) {
  call();
  await new Promise((r) => setTimeout(r, 50));
}
const steps: Record<string, () => void> = {
  all: call,
  ...(process.argv.includes('--split') ? {
    decode: () => void decodeCheckRequest(bytes, report),
    answer: (() => { const m = decodeCheckRequest(bytes, report); return () => void answerCheck(authorizer, m, report, undefined, undefined, false); })(),
  } : {}),
};
for (const [name, step] of Object.entries(steps)) {
  for (let i = 0; i < 50_000; i++) step();
  if (process.argv.includes('--alloc-prof')) process.stdout.write(`${name}:\n${await allocationProfile(step, REQUESTS)}`);
  const { cpuUs, bytes: allocated } = perCall(step, REQUESTS, ROUNDS);
  process.stdout.write(`${name}: ${bytes.length} B CheckRequest × ${REQUESTS} × ${ROUNDS}: cpu ${cpuUs.toFixed(3)} µs, alloc ${allocated.toFixed(0)} B per call\n`);
}
core.stop();
await telemetry.shutdown();
