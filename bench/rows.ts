/** The rows of the results table: one per measured comparison, each ratio with its target and, if missed, by how much. */
import { fmtPct, fmtRps, fmtUs, median } from './stats.ts';
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
}

export const perf = (s: Summary, withRps = true): string =>
  [withRps ? `${fmtRps(s.rps)} rps` : '', `p50 ${fmtUs(s.p50)}`, `p99 ${fmtUs(s.p99)}`].filter(Boolean).join(', ');

export function noise(...s: Summary[]): string {
  const other = Math.max(...s.map((x) => x.otherCores));
  return other >= 0.15 ? `⚠ other processes used up to ${other.toFixed(2)} cores during these runs` : '';
}

/** A throughput ratio against a target (at least `goal`): target / the floor's rps. */
export function ratioRow(o: {
  scenario: string;
  how: string;
  target: Summary;
  /** The floor the ratio is taken against; `floorText` may describe more than one. */
  floor: Summary;
  floorText: string;
  goal: number;
  notes: readonly string[];
  /** Goals such as "× one worker" are not percentages. */
  asTimes?: boolean;
}): Row {
  const ratio = o.target.rps / o.floor.rps;
  const errors = o.target.errors > 0 || o.floor.errors > 0;
  const ok = ratio >= o.goal;
  const fmt = (r: number): string => (o.asTimes ? `${r.toFixed(2)}×` : fmtPct(r));
  return {
    scenario: o.scenario,
    how: o.how,
    target: perf(o.target),
    floor: o.floorText,
    ratio: fmt(ratio),
    goal: `≥ ${fmt(o.goal)}`,
    verdict: errors ? '**errors**' : ok ? 'met' : '**missed**',
    missedBy: errors || ok || !Number.isFinite(ratio) ? '' : o.asTimes ? `${(o.goal - ratio).toFixed(2)}×` : `${((o.goal - ratio) * 100).toFixed(0)} points`,
    notes: [`server CPU ${o.target.serverCores.toFixed(2)} vs ${o.floor.serverCores.toFixed(2)} cores`, ...o.notes, noise(o.target, o.floor)].filter(Boolean).join('; '),
  };
}

/** A latency ratio against a ceiling: target p99 / floor p99 must stay at or below `goal`. */
export function p99Row(o: { scenario: string; how: string; target: Summary; floor: Summary; floorLabel: string; goal: number; notes: readonly string[] }): Row {
  const ratio = o.target.p99 / o.floor.p99;
  const errors = o.target.errors > 0 || o.floor.errors > 0;
  const ok = ratio <= o.goal;
  return {
    scenario: o.scenario,
    how: o.how,
    target: perf(o.target, false),
    floor: `${o.floorLabel}: ${perf(o.floor, false)}`,
    ratio: `${ratio.toFixed(2)}× p99`,
    goal: `≤ ${o.goal.toFixed(2)}×`,
    verdict: errors ? '**errors**' : !Number.isFinite(ratio) ? '–' : ok ? 'met' : '**missed**',
    missedBy: errors || ok || !Number.isFinite(ratio) ? '' : `${(ratio - o.goal).toFixed(2)}× (p99 ${fmtUs(o.target.p99 - o.goal * o.floor.p99)} over ${o.goal}× the floor's)`,
    notes: [...o.notes, noise(o.target, o.floor)].filter(Boolean).join('; '),
  };
}

/** A row with no target (informational or absolute). */
export function infoRow(r: Omit<Row, 'missedBy' | 'verdict' | 'goal' | 'ratio'> & Partial<Pick<Row, 'missedBy' | 'verdict' | 'goal' | 'ratio'>>): Row {
  return { ratio: '–', goal: '–', verdict: '–', missedBy: '', ...r };
}
