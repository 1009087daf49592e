/** Percentiles, medians and formatting shared by the runners and the report. */

export interface Latency {
  /** Microseconds. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  readonly samples: number;
}

/** Nearest-rank percentiles of microsecond samples (sorts `values` in place). */
export function latencyOf(values: Float64Array): Latency | undefined {
  if (values.length === 0) return undefined;
  values.sort();
  const at = (q: number): number => values[Math.min(values.length - 1, Math.max(0, Math.ceil(q * values.length) - 1))]!;
  return { p50: at(0.5), p90: at(0.9), p99: at(0.99), p999: at(0.999), max: values[values.length - 1]!, samples: values.length };
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export const fmtRps = (n: number): string => (Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '–');

/** µs → "412 µs" / "1.34 ms" / "2.1 s". */
export function fmtUs(us: number | undefined): string {
  if (us === undefined || !Number.isFinite(us)) return '–';
  if (us < 1000) return `${Math.round(us)} µs`;
  if (us < 1_000_000) return `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)} ms`;
  return `${(us / 1_000_000).toFixed(2)} s`;
}

export const fmtPct = (ratio: number): string => (Number.isFinite(ratio) ? `${(ratio * 100).toFixed(0)} %` : '–');

export const fmtMb = (kb: number): string => `${(kb / 1024).toFixed(0)} MB`;
