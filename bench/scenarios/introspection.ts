/**
 * introspection: a cached introspected (opaque) token against a cached JWT, same instance, same load, gRPC and HTTP.
 * The instance's one issuer also answers for opaque tokens at a loopback introspection endpoint in this process, which
 * the instance calls once (the answer is then cached for an hour); the JWT is the cache-hit token of the grpc and
 * http scenarios. Target: the opaque token at ≥ 95 % of the JWT.
 */
import { createServer } from 'node:http';
import { writeFileSync } from 'node:fs';
import { ALGS, AUDIENCE, encodeCheckRequest, forwardAuthHeaders, ISSUER, jwksOf } from '../fixtures.ts';
import { perf, ratioRow } from '../rows.ts';
import { grpcCall, httpGet, runGrpcWith, runHttpWith, shared } from '../setup.ts';
import type { Bench } from '../context.ts';

const OPAQUE = 'at_bench_0123456789abcdefghijklmnopqrstuvwxyz';

/** A loopback introspection endpoint: every token is active; counts its calls. */
async function introspectionEndpoint(): Promise<{ url: string; calls: () => number; close: () => void }> {
  let calls = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      calls++;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ active: true, iss: ISSUER, aud: AUDIENCE, sub: 'bench-opaque', scope: 'api', exp: Math.floor(Date.now() / 1000) + 86_400 }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}/introspect`, calls: () => calls, close: () => server.close() };
}

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  b.log('cached introspected token vs cached JWT');
  const endpoint = await introspectionEndpoint();
  const secretFile = b.outPath('introspection-secret');
  writeFileSync(secretFile, 'bench-secret');
  const p = await b.startPortcullis('portcullis-introspection', {
    extra: {
      issuers: [{
        issuer: ISSUER, jwks: jwksOf(b.keys), audiences: [AUDIENCE], algorithms: [...ALGS],
        introspection: { endpoint: endpoint.url, client_id: 'portcullis', client_secret_file: secretFile, opaque_tokens: true, cache: { max_ttl: '1h' } },
      }],
    },
  });
  try {
    // Preflight: both tokens allowed on both ways in, and the opaque one cost exactly one call.
    const opaqueBody = encodeCheckRequest(OPAQUE);
    for (const body of [opaqueBody, s.checkBody]) await grpcCall(p.grpcPort, body);
    for (const token of [OPAQUE, s.hitToken]) {
      const r = await httpGet(p.httpPort, forwardAuthHeaders(token));
      if (r.status !== 200) throw new Error(`preflight: the introspecting instance answered ${r.status}: ${r.body}`);
    }
    if (endpoint.calls() !== 1) throw new Error(`preflight: ${endpoint.calls()} introspection calls, expected 1`);
    const g = await b.sideBySide({ child: p.child, run: runGrpcWith(b, p.grpcPort, 'introspected', opaqueBody) }, { child: p.child, run: s.runGrpc(p.grpcPort, 'introspection-jwt') }, 'gRPC introspected vs JWT');
    const h = await b.sideBySide({ child: p.child, run: runHttpWith(b, p.httpPort, OPAQUE) }, { child: p.child, run: s.runHttp(p.httpPort) }, 'HTTP introspected vs JWT');
    const note = `${endpoint.calls()} introspection call(s) in all; the same instance answers both tokens`;
    for (const [name, how, x] of [['gRPC Check', s.grpcHow, g], ['HTTP forward_auth', s.httpHow, h]] as const) {
      b.rows.push(ratioRow({
        scenario: `Cached introspected token vs cached JWT, ${name}`, how, target: x.target, floor: x.floor,
        floorText: `cached RS256 JWT: ${perf(x.floor)}`, goal: 0.95, notes: [note],
      }));
    }
  } finally {
    await b.stopChild(p.child);
    endpoint.close();
  }
}
