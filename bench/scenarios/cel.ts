/**
 * cel: the cache-hit allow through a route whose `require.when` evaluates one typical CEL expression (`in` on a list
 * claim and one string comparison), against the same route without it, side by side, gRPC and HTTP. The cost is the
 * server CPU per request: with − without, in µs. Target (issue 20): at most 2 µs.
 */
import { noise, perf, withStat, type Summary } from '../rows.ts';
import { perRound, spreadOf } from '../spread.ts';
import type { Measured } from '../context.ts';
import { shared } from '../setup.ts';
import type { Bench } from '../context.ts';

/** The bench tokens carry `roles` (bench/sign-worker.ts); the cache-hit request is a GET under /api/. */
export const WHEN = '"orders" in claims.roles && request.method == "GET"';
const GOAL_US = 2;
const route = (when: boolean) => ({ routes: [{ name: 'api', match: { paths: ['/api/**'] }, ...(when ? { require: { when: WHEN } } : {}) }] });
const cpuUs = (s: Summary): number => (s.serverCores * 1e6) / s.rps;
const runCpuUs = (m: Measured): number => (m.cpu.serverCores * 1e6) / m.rps;

export async function run(b: Bench): Promise<void> {
  const s = await shared(b);
  b.log(`cel: require.when ${WHEN} vs the same route without it`);
  const [withWhen, without] = await Promise.all([
    b.startPortcullis('portcullis-cel', { extra: route(true) }),
    b.startPortcullis('portcullis-no-cel', { extra: route(false) }),
  ]);
  const g = await b.sideBySide({ child: withWhen.child, run: s.runGrpc(withWhen.grpcPort, 'cel') }, { child: without.child, run: s.runGrpc(without.grpcPort, 'no-cel') }, 'gRPC when/no when');
  const h = await b.sideBySide({ child: withWhen.child, run: s.runHttp(withWhen.httpPort) }, { child: without.child, run: s.runHttp(without.httpPort) }, 'HTTP when/no when');
  await Promise.all([b.stopChild(withWhen.child), b.stopChild(without.child)]);
  for (const [name, x] of [['gRPC Check', g], ['HTTP forward_auth', h]] as const) {
    // Per round: server CPU per request with the `when` minus without it, both measured back to back.
    const spread = spreadOf(perRound(x.target.runs, x.floor.runs, (t, f) => runCpuUs(t) - runCpuUs(f)));
    b.rows.push(withStat({
      scenario: `CEL require.when, ${name}, cache hit`,
      how: name === 'gRPC Check' ? s.grpcHow : s.httpHow,
      target: `with when: ${perf(x.target)}`,
      floor: `without: ${perf(x.floor)}`,
      notes: [`${WHEN}; server CPU per request (the figure: with − without) ${cpuUs(x.target).toFixed(1)} vs ${cpuUs(x.floor).toFixed(1)} µs`, noise(x.target, x.floor)].filter(Boolean).join('; '),
    }, { spread, unit: 'us', atLeast: false, goal: GOAL_US, errors: x.target.errors > 0 || x.floor.errors > 0 }));
  }
}
