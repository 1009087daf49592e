/**
 * replay: what a single-use check costs on the cached forward-auth path, and what `replay.redis.wait_replicas: 1`
 * adds to it (bench/replay.ts --wait-replicas, in its own process: it starts a redis-server with a replica and its own
 * two Portcullis instances). Rows: `/once` (SET NX PX in Redis) vs `/plain`, target ≥ 50 % (issue 12); `wait_replicas:
 * 1` vs 0, informational (issue 24).
 */
import { fmtRps, fmtUs, median } from '../stats.ts';
import { perRound, spreadOf, type Stat } from '../spread.ts';
import { withStat } from '../rows.ts';
import type { Bench } from '../context.ts';

export const SINGLE_USE_GOAL = 0.5;

interface Round {
  readonly rps: number;
  readonly p50: number | null;
  readonly p99: number | null;
  readonly errors: number;
}
interface ReplayOut {
  readonly connections: number;
  readonly plain: readonly Round[];
  readonly once: readonly Round[];
  readonly wait: readonly Round[];
}

const side = (label: string, rounds: readonly Round[]): string =>
  `${label}: ${fmtRps(median(rounds.map((r) => r.rps)))} rps, p50 ${fmtUs(median(rounds.map((r) => r.p50 ?? Number.NaN)))}, p99 ${fmtUs(median(rounds.map((r) => r.p99 ?? Number.NaN)))}`;
const ratio = (a: readonly Round[], b: readonly Round[], goal?: number): Stat => ({
  spread: spreadOf(perRound(a, b, (x, y) => x.rps / y.rps)),
  unit: 'pct',
  atLeast: true,
  ...(goal !== undefined ? { goal } : {}),
  errors: [...a, ...b].some((r) => r.errors > 0),
});

export async function run(b: Bench): Promise<void> {
  b.log('replay: single-use check in Redis, with wait_replicas 0 and 1 (bench/replay.ts --wait-replicas)');
  const durationS = b.opt.quick ? 1 : b.opt.durationS;
  const out = await b.script<ReplayOut>('replay.ts', ['--duration', String(durationS), '--rounds', String(b.opt.rounds), '--wait-replicas', '--json']);
  for (const [name, rounds] of [['plain', out.plain], ['once', out.once], ['wait', out.wait]] as const) b.log(`  ${side(name, rounds)}`);
  const how = `bench/replay.ts: node:net client, ${out.connections} conns, each EdDSA token sent once per side (warmed into the cache first); redis-server on loopback`;
  b.rows.push(withStat({
    scenario: 'Single-use check (replay store in Redis), HTTP forward_auth, cache hit',
    how,
    target: side('/once (SET NX PX)', out.once),
    floor: side('/plain, same instance', out.plain),
    notes: 'a 503 is the replay store past its 50 ms timeout',
  }, ratio(out.once, out.plain, SINGLE_USE_GOAL)));
  b.rows.push(withStat({
    scenario: 'Single-use check with replay.redis.wait_replicas: 1 vs 0 (informational)',
    how: `${how}, with one replica`,
    target: side('wait_replicas 1 (SET + WAIT 1 50)', out.wait),
    floor: side('wait_replicas 0', out.once),
    notes: 'the price of closing the replication window; a second instance with its own key prefix and its own warmed cache',
  }, ratio(out.wait, out.once)));
}
