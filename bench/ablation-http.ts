/**
 * How close to the empty node:http floor any forward-auth handler can get on this machine:
 * `node bench/ablation-http.ts [--rounds N] [--duration S]`.
 *
 * One child process runs Portcullis (startPortcullis, the bench config, metrics on) and, on two more ports of the same
 * process, the empty floor handler (the bytes Portcullis answers) and a minimal handler that does only what a cached
 * allow cannot skip and none of the checks: one pass over rawHeaders for the method, URI and token, one Map lookup
 * of the token, the precomputed answer. wrk (as `npm run bench -- http`: 1 thread, 32 connections) drives the three in
 * rotating order, each run after a 1 s warm-up; every ratio is against the in-process floor of the same round.
 * The minimal handler is a yardstick, not a product: it authorizes anything that repeats a token it saw once.
 */
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseArgs } from 'node:util';
import { configDoc, forwardAuthHeaders, makeKeys, signTokens } from './fixtures.ts';
import { freePort, spawnChild } from './procs.ts';
import { wrk } from './loadgen.ts';
import { PORTCULLIS_NODE_FLAGS } from './startup.ts';
import { HTTP_LISTENER_OPTIONS } from '../src/transports/http/listener-options.ts';

const ANSWER: string[] = ['x-auth-subject', 'user-hit-0', 'cache-control', 'no-store', 'content-length', '0'];

if (process.argv[2] === '--child') {
  // The server side: Portcullis plus the two yardsticks, in one process.
  const [, , , configFile, floorPort, minimalPort] = process.argv;
  const { loadConfigFile } = await import('../src/config/load.ts');
  const { defaultRuntime } = await import('../src/app.ts');
  const { startPortcullis } = await import('../src/server.ts');
  const running = await startPortcullis(loadConfigFile(configFile!), defaultRuntime);
  while (!running.core.readiness.isReady()) await new Promise((r) => setTimeout(r, 20));
  const seen = new Map<string, string[]>();
  const minimal = (req: IncomingMessage, res: ServerResponse): void => {
    const raw = req.rawHeaders;
    let method: string | undefined;
    let uri: string | undefined;
    let token: string | undefined;
    for (let i = 0; i + 1 < raw.length; i += 2) {
      const name = raw[i]!.toLowerCase();
      if (name === 'x-forwarded-method') method = raw[i + 1];
      else if (name === 'x-forwarded-uri') uri = raw[i + 1];
      else if (name === 'authorization') token = raw[i + 1];
    }
    const key = token === undefined || method === undefined || uri === undefined ? undefined : token.slice(-48);
    const known = key === undefined ? undefined : seen.get(key);
    if (key !== undefined && known === undefined) seen.set(key, ANSWER);
    res.writeHead(known !== undefined ? 200 : 401, known ?? ['content-length', '0']);
    res.end('');
  };
  const floor = (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, ANSWER);
    res.end('');
  };
  for (const [port, handler] of [[floorPort, floor], [minimalPort, minimal]] as const) {
    const server = createServer(HTTP_LISTENER_OPTIONS, handler);
    await new Promise<void>((ready) => server.listen(Number(port), '127.0.0.1', ready));
  }
  process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
} else {
  const { values } = parseArgs({
    options: { rounds: { type: 'string', default: '6' }, duration: { type: 'string', default: '4' } },
  });
  const rounds = Number(values.rounds);
  const durationS = Number(values.duration);
  const keys = await makeKeys();
  const [token] = await signTokens(keys.RS256, 1, 'hit', 1);
  const [grpc, http, floor, minimal] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const configFile = `/tmp/portcullis-ablation-${process.pid}.json`;
  writeFileSync(configFile, JSON.stringify(configDoc(keys, { grpc, http })));
  const child = await spawnChild({
    name: 'ablation',
    script: new URL(import.meta.url).pathname,
    args: ['--child', configFile, String(floor), String(minimal)],
    nodeArgs: PORTCULLIS_NODE_FLAGS, ready: { line: true },
  });
  const headers = forwardAuthHeaders(token!);
  const sides = [['empty floor', floor], ['minimal handler', minimal], ['Portcullis', http]] as const;
  const rps: Record<string, number[]> = {};
  try {
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? sides : [...sides].reverse();
      for (const [name, port] of order) {
        const url = `http://127.0.0.1:${port}/auth`;
        await wrk({ url, connections: 32, durationS: 1, headers });
        const result = await wrk({ url, connections: 32, durationS, headers });
        if (result.errors > 0) throw new Error(`${name}: ${result.errors} errors`);
        (rps[name] ??= []).push(result.rps);
      }
    }
  } finally {
    await child.stop();
  }
  const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  for (const [name] of sides) {
    const ratios = rps[name]!.map((x, i) => (100 * x) / rps['empty floor']![i]!);
    const perRound = ratios.map((x) => x.toFixed(0)).join(' ');
    const rate = median(rps[name]!).toFixed(0).padStart(6);
    const ratio = `${perRound} (median ${median(ratios).toFixed(0)} %)`;
    process.stdout.write(`${name.padEnd(16)} median ${rate} rps; % of the floor per round: ${ratio}\n`);
  }
}
