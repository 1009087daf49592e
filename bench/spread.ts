/**
 * The spread of a figure over the rounds of a run, and over repeated runs (`--repeat N`): pure functions, so the table
 * can state a range a rerun is expected to land in, and a repeated run can report the worst of its medians.
 */
import { fmtPct, median } from './stats.ts';

/** A figure measured once per round: the median of the rounds and their range. */
export interface Spread {
  readonly median: number;
  readonly lo: number;
  readonly hi: number;
  /** How many rounds (finite values) it is made of. */
  readonly n: number;
}

/** Median and min–max of the finite values (NaN everywhere when there are none). */
export function spreadOf(xs: readonly number[]): Spread {
  const ok = xs.filter((x) => Number.isFinite(x));
  if (ok.length === 0) return { median: Number.NaN, lo: Number.NaN, hi: Number.NaN, n: 0 };
  return { median: median(ok), lo: Math.min(...ok), hi: Math.max(...ok), n: ok.length };
}

/**
 * Per-round values of a two-sided comparison: `f(a[r], b[r])` for every round both sides measured. Rounds pair by
 * index (Bench.compare runs every side once per round, in rotating order).
 */
export function perRound<T>(a: readonly T[], b: readonly T[], f: (a: T, b: T) => number): number[] {
  return Array.from({ length: Math.min(a.length, b.length) }, (_, r) => f(a[r]!, b[r]!));
}

/** How a figure is written. */
export type Unit = 'pct' | 'times' | 'p99x' | 'us' | 'mb';

/**
 * A row's figure with its target: `atLeast` means the target is a floor (≥ goal), otherwise a ceiling (≤ goal).
 * `medians` is set when the figure is the worst of several repeated runs' medians.
 */
export interface Stat {
  readonly spread: Spread;
  readonly unit: Unit;
  readonly atLeast: boolean;
  readonly goal?: number;
  readonly errors: boolean;
  readonly medians?: readonly number[];
}

export function fmtValue(unit: Unit, x: number): string {
  if (!Number.isFinite(x)) return '–';
  switch (unit) {
    case 'pct': return fmtPct(x);
    case 'times': return `${x.toFixed(2)}×`;
    case 'p99x': return `${x.toFixed(2)}× p99`;
    case 'us': return `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)} µs`;
    case 'mb': return `${x.toFixed(0)} MB`;
  }
}

/** "58–66 %", "1.30–1.45×", "−0.10 to +1.20 µs". */
export function fmtRange(unit: Unit, lo: number, hi: number): string {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return '–';
  switch (unit) {
    case 'pct': return `${(lo * 100).toFixed(0)}–${(hi * 100).toFixed(0)} %`;
    case 'times':
    case 'p99x': return `${lo.toFixed(2)}–${hi.toFixed(2)}×`;
    case 'us': return `${fmtValue('us', lo)} to ${fmtValue('us', hi)}`;
    case 'mb': return `${lo.toFixed(0)}–${hi.toFixed(0)} MB`;
  }
}

/** Is `x` on the right side of the goal? (No goal: nothing to meet.) */
export function meets(s: Pick<Stat, 'atLeast' | 'goal'>, x: number): boolean {
  return s.goal === undefined || (s.atLeast ? x >= s.goal : x <= s.goal);
}

/** The four cells a stat fills: the figure with its range, the target, the verdict, and by how much it is missed. */
export function statCells(s: Stat): { ratio: string; goal: string; verdict: string; missedBy: string } {
  const { spread: sp, unit } = s;
  const range = sp.n > 1 ? fmtRange(unit, sp.lo, sp.hi) : '';
  const ratio = s.medians && s.medians.length > 1
    ? `${fmtValue(unit, sp.median)} (the ${s.atLeast ? 'lowest' : 'highest'} of ${s.medians.length} runs' medians: ${s.medians.map((m) => fmtValue(unit, m)).join(' / ')}; rounds ${range})`
    : range ? `${fmtValue(unit, sp.median)} (${range})` : fmtValue(unit, sp.median);
  const goal = s.goal === undefined ? '–' : `${s.atLeast ? '≥' : '≤'} ${fmtValue(unit, s.goal)}`;
  if (s.errors) return { ratio, goal, verdict: '**errors**', missedBy: '' };
  if (s.goal === undefined || !Number.isFinite(sp.median)) return { ratio, goal, verdict: '–', missedBy: '' };
  if (meets(s, sp.median)) return { ratio, goal, verdict: 'met', missedBy: '' };
  const gap = Math.abs(sp.median - s.goal);
  const missedBy = unit === 'pct' ? `${(gap * 100).toFixed(0)} points` : unit === 'us' ? `${gap.toFixed(2)} µs` : unit === 'mb' ? `${gap.toFixed(0)} MB` : `${gap.toFixed(2)}×`;
  return { ratio, goal, verdict: '**missed**', missedBy };
}

/**
 * Several runs of the same row (`--repeat N`): the figure is the worst median (the lowest for a ≥ target, the highest
 * for a ≤ target: the one a target must survive), the range spans every round of every run, and errors in any run
 * count. Returns the index of the run whose median was taken, so the row's other cells can come from that run.
 */
export function worstOfMedians(stats: readonly Stat[]): { stat: Stat; from: number } {
  if (stats.length === 0) throw new Error('worstOfMedians: no runs');
  const first = stats[0]!;
  let from = -1;
  stats.forEach((s, i) => {
    const m = s.spread.median;
    if (!Number.isFinite(m)) return;
    if (from < 0 || (first.atLeast ? m < stats[from]!.spread.median : m > stats[from]!.spread.median)) from = i;
  });
  if (from < 0) from = stats.length - 1;
  const los = stats.map((s) => s.spread.lo).filter(Number.isFinite);
  const his = stats.map((s) => s.spread.hi).filter(Number.isFinite);
  const spread: Spread = {
    median: stats[from]!.spread.median,
    lo: los.length ? Math.min(...los) : Number.NaN,
    hi: his.length ? Math.max(...his) : Number.NaN,
    n: stats.reduce((a, s) => a + s.spread.n, 0),
  };
  return { stat: { ...first, spread, errors: stats.some((s) => s.errors), medians: stats.map((s) => s.spread.median) }, from };
}
