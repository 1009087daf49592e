/**
 * Merging the workers' Prometheus texts into one view: the rule per metric family.
 */
import { describe, expect, it } from 'vitest';
import { mergePrometheus } from '../../src/telemetry/group-metrics.ts';

const worker = (n: { decisions: number; bucket: number; sum: number; entries: number; keys: number; ready: number; age: number; reloads: number; id: string }) => `# HELP target_info Target metadata
# TYPE target_info gauge
target_info{service_instance_id="${n.id}"} 1
# HELP portcullis_decisions_total Decisions.
# TYPE portcullis_decisions_total counter
portcullis_decisions_total{transport="http",decision="allow",reason="allowed"} ${n.decisions}
# HELP portcullis_decision_duration_seconds Time.
# TYPE portcullis_decision_duration_seconds histogram
portcullis_decision_duration_seconds_bucket{transport="http",decision="allow",le="0.001"} ${n.bucket}
portcullis_decision_duration_seconds_bucket{transport="http",decision="allow",le="+Inf"} ${n.decisions}
portcullis_decision_duration_seconds_sum{transport="http",decision="allow"} ${n.sum}
portcullis_decision_duration_seconds_count{transport="http",decision="allow"} ${n.decisions}
# HELP portcullis_config_reloads_total Reloads.
# TYPE portcullis_config_reloads_total counter
portcullis_config_reloads_total{outcome="ok"} ${n.reloads}
# HELP portcullis_token_cache_entries Entries.
# TYPE portcullis_token_cache_entries gauge
portcullis_token_cache_entries ${n.entries}
# HELP portcullis_jwks_keys Keys.
# TYPE portcullis_jwks_keys gauge
portcullis_jwks_keys{issuer="https://a.test/"} ${n.keys}
# HELP portcullis_jwks_ready Ready.
# TYPE portcullis_jwks_ready gauge
portcullis_jwks_ready{issuer="https://a.test/"} ${n.ready}
# HELP portcullis_jwks_age_seconds Age.
# TYPE portcullis_jwks_age_seconds gauge
portcullis_jwks_age_seconds{issuer="https://a.test/"} ${n.age}
`;

const value = (text: string, series: string): number => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  if (line === undefined) throw new Error(`no ${series} in\n${text}`);
  return Number(line.slice(series.length + 1));
};

describe('mergePrometheus', () => {
  const merged = mergePrometheus([
    worker({ decisions: 31, bucket: 30, sum: 0.5, entries: 10, keys: 2, ready: 1, age: 3, reloads: 4, id: 'w1' }),
    worker({ decisions: 29, bucket: 20, sum: 0.25, entries: 5, keys: 1, ready: 0, age: 7, reloads: 4, id: 'w2' }),
  ]);

  it.each([
    ['counters are summed', 'portcullis_decisions_total{transport="http",decision="allow",reason="allowed"}', 60],
    ['histogram buckets are summed', 'portcullis_decision_duration_seconds_bucket{transport="http",decision="allow",le="0.001"}', 50],
    ['the +Inf bucket is summed', 'portcullis_decision_duration_seconds_bucket{transport="http",decision="allow",le="+Inf"}', 60],
    ['histogram sums are summed', 'portcullis_decision_duration_seconds_sum{transport="http",decision="allow"}', 0.75],
    ['histogram counts are summed', 'portcullis_decision_duration_seconds_count{transport="http",decision="allow"}', 60],
    ['config reloads count the group once (the largest)', 'portcullis_config_reloads_total{outcome="ok"}', 4],
    ['cache entries are summed (the group\'s memory)', 'portcullis_token_cache_entries', 15],
    ['key counts show the worst worker (fewest)', 'portcullis_jwks_keys{issuer="https://a.test/"}', 1],
    ['readiness shows the worst worker (0 if any is not ready)', 'portcullis_jwks_ready{issuer="https://a.test/"}', 0],
    ['key-set age shows the oldest', 'portcullis_jwks_age_seconds{issuer="https://a.test/"}', 7],
  ])('%s', (_rule, series, expected) => {
    expect(value(merged, series)).toBe(expected);
  });

  it("keeps the answering worker's target_info only, and every HELP/TYPE line once", () => {
    expect(merged).toContain('target_info{service_instance_id="w1"} 1');
    expect(merged).not.toContain('w2');
    expect(merged.match(/^# TYPE portcullis_decisions_total counter$/gm)).toHaveLength(1);
  });

  it('merges a series that only some workers have over those that have it', () => {
    const text = mergePrometheus([
      '# TYPE portcullis_decisions_total counter\nportcullis_decisions_total{reason="a"} 2\n',
      '# TYPE portcullis_decisions_total counter\nportcullis_decisions_total{reason="a"} 3\nportcullis_decisions_total{reason="b"} 1\n',
    ]);
    expect(text).toBe('# TYPE portcullis_decisions_total counter\nportcullis_decisions_total{reason="a"} 5\nportcullis_decisions_total{reason="b"} 1\n');
  });
});
