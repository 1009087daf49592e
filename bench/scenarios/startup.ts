/**
 * startup: resident memory idle after start and the time from process start to ready, for `npm start`'s command and
 * the container's command with a typical config (two issuers, routes, metrics on), next to an empty node:http server
 * on the same Node. Target (issue 23): one process idles at ≤ 90 MB RSS.
 *
 * The measurement is bench/startup.ts (`startupRows`, from the start-up work of issue 23). Until that file is on this
 * branch the scenario says so in its row instead of failing: the import is resolved at run time (feature check).
 */
import { spreadOf, type Stat } from '../spread.ts';
import { infoRow, withStat } from '../rows.ts';
import type { Bench } from '../context.ts';

export const IDLE_RSS_GOAL_MB = 90;

/** What bench/startup.ts exports (the part this scenario uses). */
interface StartupResult { readonly readyMs: number; readonly idleRssMb: number; readonly processes: number }
interface StartupRow { readonly name: string; readonly entry: string; readonly readyMs: number; readonly idleRssMb: number; readonly processes: number; readonly runs: readonly StartupResult[] }
interface StartupModule {
  startupRows(o?: { readonly runs?: number; readonly idleMs?: number; readonly workers?: boolean }): Promise<StartupRow[]>;
}

const FLOOR_ENTRY = 'floor';

async function load(): Promise<StartupModule | undefined> {
  const spec = '../startup.ts'; // a variable: the module may not exist yet, and that is not a type error
  try {
    const m = (await import(spec)) as Partial<StartupModule>;
    return typeof m.startupRows === 'function' ? (m as StartupModule) : undefined;
  } catch (e) {
    if ((e as { code?: string }).code === 'ERR_MODULE_NOT_FOUND') return undefined;
    throw e;
  }
}

const ms = (xs: readonly number[]): string => {
  const s = spreadOf(xs);
  return s.n > 1 ? `${s.median.toFixed(0)} ms (${s.lo.toFixed(0)}–${s.hi.toFixed(0)})` : `${s.median.toFixed(0)} ms`;
};

export async function run(b: Bench): Promise<void> {
  const mod = await load();
  if (!mod) {
    b.rows.push(infoRow({
      scenario: 'Start-up: idle RSS and time to ready, typical config', how: '–', target: 'not measured: bench/startup.ts (issue 23 start-up work) is not on this branch',
      floor: 'empty node:http server', goal: `≤ ${IDLE_RSS_GOAL_MB} MB`, notes: '',
    }));
    return;
  }
  const runs = b.opt.quick ? 1 : Math.max(3, b.opt.rounds);
  b.log(`startup: npm start and the container's command vs an empty node:http server, ${runs} start(s) each`);
  const rows = await mod.startupRows({ runs, ...(b.opt.quick ? { idleMs: 1000 } : {}), workers: !b.opt.quick });
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
