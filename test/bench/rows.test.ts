/** Rows take their ratio from the per-round ratios, and repeated runs combine into one row per scenario. */
import { describe, expect, it } from 'vitest';
import { combineRepeats, ratioRow, summarize, type Row } from '../../bench/rows.ts';
import type { Measured } from '../../bench/context.ts';

const run = (rps: number, serverCores = 1, errors = 0): Measured => ({
  rps, errors, requests: Math.round(rps), latency: undefined,
  cpu: { serverCores, generatorCores: 0.2, otherCores: 0, wallS: 1 },
  waitedMs: 0,
} as unknown as Measured);

const row = (target: number[], floor: number[], o: { goal?: number; errors?: number } = {}): Row => ratioRow({
  scenario: 'HTTP forward_auth, cache hit', how: 'wrk', target: summarize(target.map((x) => run(x, 1, o.errors ?? 0))), floor: summarize(floor.map((x) => run(x))),
  floorText: 'empty node:http', notes: [], ...(o.goal !== undefined ? { goal: o.goal } : { goal: 0.85 }),
});

describe('a ratio row', () => {
  it('shows the median of the per-round ratios and their range', () => {
    const r = row([40_000, 45_000, 60_000], [80_000, 50_000, 60_000]);
    expect(r.ratio).toBe('90 % (50–100 %)');
    expect(r.verdict).toBe('met');
  });

  it('takes the ratio per round, not of the medians', () => {
    // Medians 50k / 50k would say 100 %; round by round it was 50 %, 200 %, 25 %.
    expect(row([50_000, 100_000, 10_000], [100_000, 50_000, 40_000]).ratio).toBe('50 % (25–200 %)');
  });

  it('can compare throughput per server core', () => {
    const r = ratioRow({
      scenario: 'workers', how: '', floorText: '', notes: [], goal: 0.9, per: (m) => m.rps / m.cpu.serverCores,
      target: summarize([run(18_000, 2), run(19_000, 2)]), floor: summarize([run(10_000, 1), run(10_000, 1)]),
    });
    expect(r.ratio).toBe('93 % (90–95 %)');
    expect(r.verdict).toBe('met');
  });
});

describe('rows of repeated runs', () => {
  it('become one row per scenario with the lowest median, its cells from the run that gave it', () => {
    const runs = [
      [row([90, 88], [100, 100]), { ...row([1], [1]), scenario: 'other' }],
      [{ ...row([80, 84], [100, 100]), how: 'from run 2' }],
      [row([95, 97], [100, 100])],
    ];
    const out = combineRepeats(runs);
    expect(out.map((r) => r.scenario)).toEqual(['HTTP forward_auth, cache hit', 'other']);
    expect(out[0]!.ratio).toBe('82 % (the lowest of 3 runs\' medians: 89 % / 82 % / 96 %; rounds 80–97 %)');
    expect(out[0]!.verdict).toBe('**missed**');
    expect(out[0]!.how).toBe('from run 2');
    expect(out[1]!.notes).toMatch(/measured in 1 of 3 runs/);
  });

  it('keep a single run as it is', () => {
    const r = row([90], [100]);
    expect(combineRepeats([[r]])).toEqual([r]);
  });

  it('keep the errors of any run', () => {
    expect(combineRepeats([[row([90], [100])], [row([95], [100], { errors: 3 })]])[0]!.verdict).toBe('**errors**');
  });
});
