/** The rows of the results table: one per measured comparison, each ratio with its target and, if missed, by how much. */
import { fmtRps, fmtUs, median } from './stats.ts';
import { perRound, spreadOf, statCells, worstOfMedians, type Stat, type Unit } from './spread.ts';
import type { Measured } from './context.ts';

export interface Summary {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly errors: number;
  readonly serverCores: number;
  readonly otherCores: number;
  readonly runs: readonly Measured[];
}

export function summarize(runs: readonly Measured[]): Summary {
  const pick = (f: (m: Measured) => number | undefined): number => median(runs.map(f).filter((x): x is number => x !== undefined && Number.isFinite(x)));
  return {
    rps: pick((r) => r.rps),
    p50: pick((r) => r.latency?.p50),
    p99: pick((r) => r.latency?.p99),
    p999: pick((r) => r.latency?.p999),
    max: Math.max(...runs.map((r) => r.latency?.max ?? 0)),
    errors: runs.reduce((a, r) => a + r.errors, 0),
    serverCores: pick((r) => r.cpu.serverCores),
    otherCores: Math.max(...runs.map((r) => r.cpu.otherCores)),
    runs,
  };
}

export interface Row {
  readonly scenario: string;
  readonly how: string;
  readonly target: string;
  readonly floor: string;
  readonly ratio: string;
  readonly goal: string;
  /** met / **missed** / – / **errors** */
  readonly verdict: string;
  /** How far from the target, where it is missed ('' otherwise). */
  readonly missedBy: string;
  readonly notes: string;
  /** The figure behind `ratio`/`goal`/`verdict`/`missedBy`, with its spread over the rounds (rows with a ratio). */
  readonly stat?: Stat;
}

/** A row's figure cells from its stat (one rendering for every kind of row). */
export function withStat<R extends Omit<Row, 'ratio' | 'goal' | 'verdict' | 'missedBy' | 'stat'>>(r: R, stat: Stat): Row {
  return { ...r, ...statCells(stat), stat };
}

export const perf = (s: Summary, withRps = true): string =>
  [withRps ? `${fmtRps(s.rps)} rps` : '', `p50 ${fmtUs(s.p50)}`, `p99 ${fmtUs(s.p99)}`].filter(Boolean).join(', ');

export function noise(...s: Summary[]): string {
  const other = Math.max(...s.map((x) => x.otherCores));
  return other >= 0.15 ? `⚠ other processes used up to ${other.toFixed(2)} cores during these runs` : '';
}

/**
 * A throughput ratio against a target (at least `goal`; none: informational): the median of the per-round ratios
 * target / floor, with their range. `per` picks what is compared (default rps; e.g. rps per server core).
 */
export function ratioRow(o: {
  scenario: string;
  how: string;
  target: Summary;
  /** The floor the ratio is taken against; `floorText` may describe more than one. */
  floor: Summary;
  floorText: string;
  goal?: number;
  notes: readonly string[];
  /** Goals such as "× one worker" are not percentages. */
  unit?: Unit;
  per?: (m: Measured) => number;
  /** Replaces the default target cell (its throughput and latency). */
  targetText?: string;
}): Row {
  const per = o.per ?? ((m: Measured) => m.rps);
  const stat: Stat = {
    spread: spreadOf(perRound(o.target.runs, o.floor.runs, (t, f) => per(t) / per(f))),
    unit: o.unit ?? 'pct',
    atLeast: true,
    ...(o.goal !== undefined ? { goal: o.goal } : {}),
    errors: o.target.errors > 0 || o.floor.errors > 0,
  };
  return withStat({
    scenario: o.scenario,
    how: o.how,
    target: o.targetText ?? perf(o.target),
    floor: o.floorText,
    notes: [`server CPU ${o.target.serverCores.toFixed(2)} vs ${o.floor.serverCores.toFixed(2)} cores`, ...o.notes, noise(o.target, o.floor)].filter(Boolean).join('; '),
  }, stat);
}

/** A latency ratio against a ceiling: target p99 / floor p99, per round, must stay at or below `goal`. */
export function p99Row(o: { scenario: string; how: string; target: Summary; floor: Summary; floorLabel: string; goal: number; notes: readonly string[] }): Row {
  const stat: Stat = {
    spread: spreadOf(perRound(o.target.runs, o.floor.runs, (t, f) => (t.latency?.p99 ?? Number.NaN) / (f.latency?.p99 ?? Number.NaN))),
    unit: 'p99x',
    atLeast: false,
    goal: o.goal,
    errors: o.target.errors > 0 || o.floor.errors > 0,
  };
  return withStat({
    scenario: o.scenario,
    how: o.how,
    target: perf(o.target, false),
    floor: `${o.floorLabel}: ${perf(o.floor, false)}`,
    notes: [...o.notes, noise(o.target, o.floor)].filter(Boolean).join('; '),
  }, stat);
}

/** A row with no target (informational or absolute). */
export function infoRow(r: Omit<Row, 'missedBy' | 'verdict' | 'goal' | 'ratio'> & Partial<Pick<Row, 'missedBy' | 'verdict' | 'goal' | 'ratio'>>): Row {
  return { ratio: '–', goal: '–', verdict: '–', missedBy: '', ...r };
}

/**
 * The rows of `--repeat N` runs of the same scenarios, one table: a row with a stat shows the worst of the runs'
 * medians (the lowest for a ≥ target) with the range over every round of every run, its other cells from the run that
 * gave that median; a row without one comes from the last run that has it. Rows keep the order they first appeared in.
 */
export function combineRepeats(runs: readonly (readonly Row[])[]): Row[] {
  if (runs.length === 1) return [...runs[0]!];
  const order: string[] = [];
  const by = new Map<string, (Row | undefined)[]>();
  runs.forEach((rows, k) => {
    for (const r of rows) {
      let slot = by.get(r.scenario);
      if (!slot) {
        by.set(r.scenario, (slot = Array.from({ length: runs.length }, () => undefined)));
        order.push(r.scenario);
      }
      slot[k] = r;
    }
  });
  return order.map((name) => {
    const seen = by.get(name)!.filter((r): r is Row => r !== undefined);
    const stats = seen.map((r) => r.stat).filter((s): s is Stat => s !== undefined);
    if (stats.length !== seen.length || stats.length === 0) return seen[seen.length - 1]!;
    const { stat, from } = worstOfMedians(stats);
    const missing = runs.length - seen.length;
    const r = seen[from]!;
    return withStat({ ...r, notes: [r.notes, missing ? `⚠ measured in ${seen.length} of ${runs.length} runs` : ''].filter(Boolean).join('; ') }, stat);
  });
}
