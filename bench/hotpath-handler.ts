/**
 * The HTTP handler alone, without sockets: `node bench/hotpath-handler.ts [--requests N] [--rounds R]`. Drives the real
 * forward-auth handler (httpRequestHandler around the instrumented core, as server.ts builds it) with a fake
 * IncomingMessage / ServerResponse pair carrying the cache-hit request, and prints CPU µs and heap bytes per request.
 * What node:http costs is left out on purpose: this is the part Portcullis adds. Use with `--cpu-prof` for a profile
 * that holds only Portcullis' own work.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpRequestHandler } from '../src/transports/http/server.ts';
import { allocationProfile, harness, perCall } from './per-call.ts';
import { forwardAuthHeaders } from './fixtures.ts';

const { config, core, authorizer, token, requests: REQUESTS, rounds: ROUNDS, stop } = await harness('hotpath-handler');
const handler = httpRequestHandler({ config, authorizer, readiness: core.readiness });

const rawHeaders = [['Host', '127.0.0.1'], ...forwardAuthHeaders(token)].flat();
const req = { url: '/auth', method: 'GET', rawHeaders, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
let status = 0;
let written = 0;
const res = {
  headersSent: false,
  writeHead(s: number, h: string[]) { status = s; written += h.length; return this; },
  end() { return this; },
  destroy() { status = -1; },
  setHeader() {},
} as unknown as ServerResponse;

const step = (): void => handler(req, res);
// First sight, second sight (verified and cached): the handler answers those later, so wait for each.
for (let i = 0; i < 3; i++) {
  handler(req, res);
  await new Promise((r) => setTimeout(r, 50));
}
if (status !== 200) throw new Error(`the cache-hit request was not allowed: ${status}`);
for (let i = 0; i < 50_000; i++) step();

if (process.argv.includes('--alloc-prof')) process.stdout.write(await allocationProfile(step, REQUESTS));

const { cpuUs, bytes } = perCall(step, REQUESTS, ROUNDS);
process.stdout.write(`handler only, ${REQUESTS} cached forward-auth requests × ${ROUNDS}: cpu ${cpuUs.toFixed(3)} µs, alloc ${bytes.toFixed(0)} B per request (status ${status})\n`);
await stop();
