/**
 * latency: cached token at fixed 1,000 and 5,000 rps, Portcullis' p99 as a ratio of the floor's p99 measured the same
 * way in the same run (target ≤ 1.25), gRPC (h2load --rps, open loop) and HTTP (staggered h2load --h1 processes).
 */
import { CHECK_PATH } from '../fixtures.ts';
import { h2load, h2loadH1Rate, type RunResult } from '../loadgen.ts';
import { fmtRps, fmtUs } from '../stats.ts';
import { infoRow, p99Row, type Summary } from '../rows.ts';
import { GRPC_HEADERS, shared } from '../setup.ts';
import type { Bench } from '../context.ts';
import type { CpuMeter } from '../machine.ts';

export const LATENCY_GOAL = 1.25;
export const RATES = [1000, 5000] as const;

export async function run(b: Bench): Promise<void> {
  if (!b.tools.h2load) {
    b.rows.push(infoRow({ scenario: 'Latency at 1,000 / 5,000 rps', how: '–', target: 'skipped: needs h2load (nghttp2-client)', floor: '–', goal: `p99 ≤ ${LATENCY_GOAL}× floor`, notes: '' }));
    return;
  }
  const s = await shared(b);
  const lat = b.opt.quick ? { d: 1, w: 0.3 } : { d: b.opt.durationS, w: 1 };
  for (const rate of RATES) {
    // gRPC: one HTTP/2 connection (as Envoy keeps per worker), paced by h2load's timer; up to 256 streams in
    // flight, so a slow answer never holds back the next send (open loop, no coordinated omission).
    const grpcRun = (port: number, name: string) => (m: CpuMeter) =>
      h2load({ url: `http://127.0.0.1:${port}${CHECK_PATH}`, clients: 1, streams: 256, rpsPerClient: rate, durationS: lat.d, warmupS: lat.w, dataFile: s.bodyFile, headers: GRPC_HEADERS, logFile: b.outPath(`h2load-rate-${name}.log`), onSpawn: (pid) => m.generator(pid) });
    // HTTP/1.1: one request in flight per connection, so several staggered connections (a proxy's pool).
    const processes = Math.ceil(rate / 250);
    let intervalUs = 0;
    const httpRun = (port: number, name: string) => async (m: CpuMeter): Promise<RunResult> => {
      const r = await h2loadH1Rate({ url: `http://127.0.0.1:${port}/auth`, rate, processes, durationS: lat.d, warmupS: lat.w, headers: s.faHeaders, logFile: b.outPath(`h2load-rate-${name}.log`), onSpawn: (pid) => m.generator(pid) });
      intervalUs = r.intervalUs;
      return r;
    };
    b.log(`latency at ${rate} rps`);
    // Floor and Portcullis back to back, --rounds times, the order rotating; the row shows the medians.
    const [gF, gT] = await b.compare(`gRPC @${rate}`, [
      { label: 'floor', child: s.grpcFloor, run: grpcRun(s.floorPorts.grpc, 'floor-grpc') },
      { label: 'portcullis', child: s.main.child, run: grpcRun(s.main.grpcPort, 'portcullis-grpc') },
    ]) as [Summary, Summary];
    const [hF, hT] = await b.compare(`HTTP @${rate}`, [
      { label: 'floor', child: s.httpFloor, run: httpRun(s.floorPorts.http, 'floor-http') },
      { label: 'portcullis', child: s.main.child, run: httpRun(s.main.httpPort, 'portcullis-http') },
    ]) as [Summary, Summary];
    const sustained = (x: Summary, who = 'Portcullis'): string => (x.rps < rate * 0.95 ? `⚠ ${who} sustained only ${fmtRps(x.rps)} rps` : '');
    const tail = (x: Summary): string => `p99.9 ${fmtUs(x.p999)}, max ${fmtUs(x.max)}`;
    b.rows.push(p99Row({
      scenario: `gRPC Check latency at ${rate.toLocaleString('en-US')} rps, cache hit`,
      how: 'h2load --rps, 1 HTTP/2 conn, ≤ 256 streams in flight (open loop)',
      target: gT, floor: gF, floorLabel: 'empty grpc-js', goal: LATENCY_GOAL,
      notes: [`Portcullis ${tail(gT)}; floor ${tail(gF)}`, sustained(gT), sustained(gF, 'the floor')],
    }));
    b.rows.push(p99Row({
      scenario: `HTTP forward_auth latency at ${rate.toLocaleString('en-US')} rps, cache hit`,
      how: `${processes} h2load processes × 1 keep-alive conn × ${fmtRps(rate / processes)} rps, staggered`,
      target: hT, floor: hF, floorLabel: 'empty node:http', goal: LATENCY_GOAL,
      notes: [
        `Portcullis ${tail(hT)}; floor ${tail(hF)}`,
        Math.max(hT.max, hF.max) >= intervalUs ? `answers slower than a connection's ${fmtUs(intervalUs)} send interval delay its next send, timed from the actual send: the tail beyond ${fmtUs(intervalUs)} is understated (coordinated omission)` : '',
        sustained(hT),
        sustained(hF, 'the floor'),
      ],
    }));
  }
}
