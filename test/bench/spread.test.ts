/** The bench table states each figure's spread: median and range of per-round values, and the worst of repeated runs. */
import { describe, expect, it } from 'vitest';
import { fmtRange, perRound, spreadOf, statCells, worstOfMedians, type Stat } from '../../bench/spread.ts';

const stat = (xs: number[], o: Partial<Stat> = {}): Stat => ({ spread: spreadOf(xs), unit: 'pct', atLeast: true, goal: 0.85, errors: false, ...o });

describe('the spread of per-round figures', () => {
  it.each([
    [[0.62], { median: 0.62, lo: 0.62, hi: 0.62, n: 1 }],
    [[0.7, 0.6, 0.9], { median: 0.7, lo: 0.6, hi: 0.9, n: 3 }],
    [[0.6, 0.8], { median: 0.7, lo: 0.6, hi: 0.8, n: 2 }],
    [[0.6, Number.NaN, 0.8, Number.POSITIVE_INFINITY], { median: 0.7, lo: 0.6, hi: 0.8, n: 2 }],
  ])('of %j is %j (rounds that measured nothing are left out)', (xs, expected) => {
    const s = spreadOf(xs);
    expect(s.n).toBe(expected.n);
    expect(s.median).toBeCloseTo(expected.median, 10);
    expect([s.lo, s.hi]).toEqual([expected.lo, expected.hi]);
  });

  it('is NaN when no round measured anything', () => {
    expect(spreadOf([Number.NaN]).n).toBe(0);
    expect(statCells(stat([Number.NaN])).verdict).toBe('–');
  });

  it('pairs the sides round by round, so a ratio comes from runs measured back to back', () => {
    expect(perRound([10, 20, 30], [20, 20, 20], (a, b) => a / b)).toEqual([0.5, 1, 1.5]);
    expect(perRound([10, 20], [20], (a, b) => a / b)).toEqual([0.5]);
  });
});

describe('the figure cells of a row', () => {
  it.each([
    ['a met ≥ target, with its range', stat([0.9, 0.86, 0.95]), { ratio: '90 % (86–95 %)', goal: '≥ 85 %', verdict: 'met', missedBy: '' }],
    ['a missed ≥ target says by how many points', stat([0.6, 0.62, 0.7]), { ratio: '62 % (60–70 %)', goal: '≥ 85 %', verdict: '**missed**', missedBy: '23 points' }],
    ['a single round has no range', stat([0.9]), { ratio: '90 %', goal: '≥ 85 %', verdict: 'met', missedBy: '' }],
    ['a ≤ target in µs', stat([1.5, 2.5, 3], { unit: 'us', atLeast: false, goal: 2 }), { ratio: '+2.50 µs (+1.50 µs to +3.00 µs)', goal: '≤ +2.00 µs', verdict: '**missed**', missedBy: '0.50 µs' }],
    ['a ≤ target in MB', stat([80, 84, 88], { unit: 'mb', atLeast: false, goal: 90 }), { ratio: '84 MB (80–88 MB)', goal: '≤ 90 MB', verdict: 'met', missedBy: '' }],
    ['no goal: informational', stat([0.5, 0.55], { goal: undefined }), { ratio: '53 % (50–55 %)', goal: '–', verdict: '–', missedBy: '' }],
    ['errors win over the figure', stat([0.9], { errors: true }), { ratio: '90 %', goal: '≥ 85 %', verdict: '**errors**', missedBy: '' }],
  ])('%s', (_, s, expected) => {
    expect(statCells(s)).toEqual(expected);
  });

  it('writes ranges in the figure\'s unit', () => {
    expect(fmtRange('times', 1.3, 1.456)).toBe('1.30–1.46×');
    expect(fmtRange('us', -0.1, 1.2)).toBe('−0.10 µs to +1.20 µs');
  });
});

describe('repeated runs (--repeat N)', () => {
  it('take the lowest median for a ≥ target, and the range over every round of every run', () => {
    const { stat: s, from } = worstOfMedians([stat([0.88, 0.9, 0.93]), stat([0.84, 0.86, 0.87]), stat([0.9, 0.91, 0.97])]);
    expect(from).toBe(1);
    expect(s.spread).toEqual({ median: 0.86, lo: 0.84, hi: 0.97, n: 9 });
    expect(s.medians).toEqual([0.9, 0.86, 0.91]);
    expect(statCells(s)).toEqual({ ratio: '86 % (the lowest of 3 runs\' medians: 90 % / 86 % / 91 %; rounds 84–97 %)', goal: '≥ 85 %', verdict: 'met', missedBy: '' });
  });

  it('take the highest median for a ≤ target', () => {
    const { stat: s, from } = worstOfMedians([stat([1], { unit: 'us', atLeast: false, goal: 2 }), stat([2.4], { unit: 'us', atLeast: false, goal: 2 })]);
    expect(from).toBe(1);
    expect(statCells(s).verdict).toBe('**missed**');
  });

  it('count errors in any run', () => {
    expect(worstOfMedians([stat([0.9]), stat([0.95], { errors: true })]).stat.errors).toBe(true);
  });

  it('skip a run that measured nothing', () => {
    expect(worstOfMedians([stat([Number.NaN]), stat([0.9])]).from).toBe(1);
  });
});
