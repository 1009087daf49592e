/** grpc: gRPC Check with a cached token, h2load at saturation, against the empty grpc-js server. */
import { perf as perfOf, ratioRow } from '../rows.ts';
import { shared } from '../setup.ts';
import type { Bench } from '../context.ts';

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  b.log('gRPC Check, cache hit');
  const r = await b.sideBySide({ child: s.main.child, run: s.runGrpc(s.main.grpcPort, 'portcullis') }, { child: s.grpcFloor, run: s.runGrpc(s.floorPorts.grpc, 'floor') }, 'grpc cache-hit');
  s.floorSummaries.grpc = r.floor;
  b.rows.push(ratioRow({
    scenario: 'gRPC Check, cache hit', how: s.grpcHow, target: r.target, floor: r.floor,
    floorText: `empty grpc-js server: ${perfOf(r.floor)}`, goal: 0.9, notes: [`response ${s.grpcAnswer.length} B, same bytes from both`],
  }));
}
