/**
 * The gRPC Check work alone, without HTTP/2: `node bench/hotpath-grpc.ts [--requests N] [--rounds R] [--split] [--alloc-prof]`.
 * Runs what calls.ts runs for one cached Check (decodeCheckRequest → answerCheck around the instrumented core →
 * framedCheckResponse) on the bench's Envoy-shaped CheckRequest bytes, and prints CPU µs and heap bytes per call.
 * `--split` also times decoding and answering alone; `--alloc-prof` lists where each step's bytes go. Use with
 * `node --cpu-prof` for a profile of Portcullis' own work.
 */
import { answerCheck, decodeCheckRequest, framedCheckResponse } from '../src/transports/grpc/check-service.ts';
import { allocationProfile, harness, perCall } from './per-call.ts';
import { encodeCheckRequest } from './fixtures.ts';

const { authorizer, token, requests: REQUESTS, rounds: ROUNDS, stop } = await harness('hotpath-grpc');
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
await stop();
