/** http: forward auth with a cached token, wrk at saturation, against an empty node:http handler. */
import { perf, ratioRow } from '../rows.ts';
import { shared } from '../setup.ts';
import type { Bench } from '../context.ts';

export const HTTP_GOAL = 0.85;

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  b.log('HTTP forward_auth, cache hit');
  const r = await b.sideBySide({ child: s.main.child, run: s.runHttp(s.main.httpPort) }, { child: s.httpFloor, run: s.runHttp(s.floorPorts.http) }, 'http cache-hit');
  s.floorSummaries.http = r.floor;
  b.rows.push(ratioRow({
    scenario: 'HTTP forward_auth, cache hit', how: s.httpHow, target: r.target, floor: r.floor,
    floorText: `empty node:http handler: ${perf(r.floor)}`, goal: HTTP_GOAL, notes: [],
  }));
}
