/**
 * startup: resident memory idle after start and the time from process start to ready, for `npm start`'s command and
 * the container's command with a typical config (two issuers, routes, metrics on), next to an empty node:http server
 * on the same Node. Target (issue 23): one process idles at ≤ 90 MB RSS.
 *
 * The measurement is bench/startup.ts (`startupRows`), which also runs alone: `node bench/startup.ts`.
 */
import { spreadOf, type Stat } from '../spread.ts';
import { withStat } from '../rows.ts';
import { startupRows } from '../startup.ts';
import type { Bench } from '../context.ts';

export const IDLE_RSS_GOAL_MB = 90;

const FLOOR_ENTRY = 'floor';

const ms = (xs: readonly number[]): string => {
  const s = spreadOf(xs);
  return s.n > 1 ? `${s.median.toFixed(0)} ms (${s.lo.toFixed(0)}–${s.hi.toFixed(0)})` : `${s.median.toFixed(0)} ms`;
};

export async function run(b: Bench): Promise<void> {
  const runs = b.opt.quick ? 1 : Math.max(3, b.opt.rounds);
  b.log(`startup: npm start and the container's command vs an empty node:http server, ${runs} start(s) each`);
  const rows = await startupRows({ runs, ...(b.opt.quick ? { idleMs: 1000 } : {}), workers: !b.opt.quick, nodeArgs: b.opt.nodeFlags });
  const floor = rows.find((r) => r.entry === FLOOR_ENTRY);
  const floorText = floor ? `empty node:http server: idle RSS ${spreadOf(floor.runs.map((x) => x.idleRssMb)).median.toFixed(0)} MB, ready in ${ms(floor.runs.map((x) => x.readyMs))}` : '–';
  for (const r of rows) {
    if (r === floor) continue;
    b.log(`  ${r.name}: ready ${r.readyMs.toFixed(0)} ms, idle RSS ${r.idleRssMb.toFixed(1)} MB, ${r.processes} process(es)`);
    const one = r.processes === 1;
    const stat: Stat = { spread: spreadOf(r.runs.map((x) => x.idleRssMb)), unit: 'mb', atLeast: false, ...(one ? { goal: IDLE_RSS_GOAL_MB } : {}), errors: false };
    b.rows.push(withStat({
      scenario: `Start-up, ${r.name}, idle RSS${one ? '' : ' (informational: the target is for one process)'}`,
      how: `typical config (two issuers, routes, a policy, metrics on); spawn to /readyz 200, then idle; ${r.runs.length} start(s)`,
      target: `idle RSS over ${r.processes} process${one ? '' : 'es'}; ready in ${ms(r.runs.map((x) => x.readyMs))}`,
      floor: floorText,
      notes: floor ? `${(r.idleRssMb - floor.idleRssMb).toFixed(0)} MB above the empty server, ready ${(r.readyMs - floor.readyMs).toFixed(0)} ms later` : '',
    }, stat));
  }
}
