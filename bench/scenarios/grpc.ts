/**
 * grpc: gRPC Check with a cached token, h2load at saturation, against the empty grpc-js server (the issue's floor)
 * and an empty node:http2 responder (the transport Portcullis' own gRPC server is built on; target ≥ 75 %, issue 23).
 */
import { perf as perfOf, ratioRow } from '../rows.ts';
import { grpcCall, shared } from '../setup.ts';
import { freePort } from '../procs.ts';
import type { Bench } from '../context.ts';

export const GRPC_GOAL = 0.9;
export const BARE_H2_GOAL = 0.75;

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  const h2Port = await freePort();
  const h2 = await b.startFloor('grpc-h2', { port: h2Port, response: s.grpcAnswer.toString('base64') });
  if (!(await grpcCall(h2Port, s.checkBody)).equals(s.grpcAnswer)) throw new Error('preflight: the node:http2 floor does not answer what Portcullis answered');
  b.log('gRPC Check, cache hit');
  const [floor, target, bare] = await b.compare('grpc cache-hit', [
    { label: 'floor', child: s.grpcFloor, run: s.runGrpc(s.floorPorts.grpc, 'floor') },
    { label: 'portcullis', child: s.main.child, run: s.runGrpc(s.main.grpcPort, 'portcullis') },
    { label: 'node:http2 floor', child: h2, run: s.runGrpc(h2Port, 'floor-h2') },
  ]);
  s.floorSummaries.grpc = floor!;
  b.rows.push(ratioRow({
    scenario: 'gRPC Check, cache hit', how: s.grpcHow, target: target!, floor: floor!,
    floorText: `empty grpc-js server: ${perfOf(floor!)}`, goal: GRPC_GOAL, notes: [`response ${s.grpcAnswer.length} B, same bytes from both`],
  }));
  b.rows.push(ratioRow({
    scenario: 'gRPC Check, cache hit, against the bare node:http2 transport', how: s.grpcHow, target: target!, floor: bare!,
    floorText: `empty node:http2 responder (same response bytes): ${perfOf(bare!)}`, goal: BARE_H2_GOAL,
    notes: ['what Portcullis costs above the HTTP/2 transport its gRPC server is built on'],
  }));
  await b.stopChild(h2);
}
