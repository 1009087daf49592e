/**
 * unique-grpc: gRPC Check with a token never seen before on every request (ES256, RS256, EdDSA), bench/grpc-client.ts
 * sending one prebuilt CheckRequest frame per token, against an empty grpc-js server doing bare jose or raw
 * node:crypto verification. The client is first checked against h2load on the empty grpc-js floor.
 */
import { rmSync } from 'node:fs';
import { CHECK_PATH } from '../fixtures.ts';
import { framesForTokens, grpcTokens } from '../token-load.ts';
import { GRPC_SAT, shared, verifyFloors } from '../setup.ts';
import { fmtPct, fmtRps } from '../stats.ts';
import { ALGS, ensureMicro, uniqueCompare, uniqueTokens } from './unique.ts';
import type { Bench } from '../context.ts';

export async function run(b: Bench): Promise<void> {
  await ensureMicro(b);
  const s = await shared(b);
  const vf = await verifyFloors(b);
  const client = { connections: GRPC_SAT.clients, streams: GRPC_SAT.streams };

  // Generator check: the node:http2 client (cycling the cache-hit frame) vs h2load, both on the empty grpc-js floor.
  const mine = await b.measure(s.grpcFloor, 'node:http2 client on the empty grpc-js floor', (m) =>
    grpcTokens({ port: s.floorPorts.grpc, path: CHECK_PATH, messages: [s.checkBody], framesFile: b.outPath('frames-check.bin'), ...client, durationS: b.opt.durationS, warmupS: b.warmupS, cycle: true, onSpawn: (pid) => m.generator(pid) }));
  const ref = s.floorSummaries.grpc?.rps ?? (b.tools.h2load ? (await b.measure(s.grpcFloor, 'h2load on the empty grpc-js floor', s.runGrpc(s.floorPorts.grpc, 'generator-check'))).rps : Number.NaN);
  const genNote = `unique-gRPC generator check: bench/grpc-client.ts drives the empty grpc-js floor at ${fmtRps(mine.rps)} rps (client CPU ${mine.cpu.generatorCores.toFixed(2)} cores)${Number.isFinite(ref) ? `, h2load at ${fmtRps(ref)} rps (${fmtPct(mine.rps / ref)})` : ' (h2load missing: no reference)'}`;
  let fastest = 0;

  const frames = b.outPath('frames-unique.bin');
  for (const alg of ALGS) {
    const tokens = await uniqueTokens(b, alg, 'ug');
    const sides = { portcullis: { child: s.main.child, port: s.main.grpcPort }, jose: vf.grpc.jose, crypto: vf.grpc.crypto };
    const warmFile = b.outPath(`frames-${alg}-warm.bin`);
    framesForTokens(warmFile, tokens.warm);
    for (const side of Object.values(sides)) {
      await grpcTokens({ port: side.port, path: CHECK_PATH, framesFile: warmFile, ...client, durationS: 1, cycle: true });
    }
    let written = -1;
    const top = await uniqueCompare(b, {
      alg,
      transport: 'gRPC Check',
      how: `bench/grpc-client.ts (node:http2), ${client.connections} conns × ${client.streams} streams, ${b.opt.uniqueTokens.toLocaleString('en-US')} tokens per run, each sent once`,
      ...sides,
      run: (side, list, round, m) => {
        if (written !== round) {
          framesForTokens(frames, list); // the floors have no cache: one frames file per round serves all three sides
          written = round;
        }
        return grpcTokens({ port: side.port, path: CHECK_PATH, framesFile: frames, ...client, durationS: b.opt.durationS, onSpawn: (pid) => m.generator(pid) });
      },
      notes: [],
    }, tokens);
    fastest = Math.max(fastest, top);
  }
  rmSync(frames, { force: true });
  const share = fastest / mine.rps;
  b.notes.push(`${genNote}; the fastest unique-token gRPC server reached ${fmtRps(fastest)} rps, ${fmtPct(share)} of the client's ceiling: ${share <= 0.67 ? 'the client is not the bottleneck' : '⚠ the client may be limiting these rows'}`);
}
