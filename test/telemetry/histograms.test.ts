import { describe, expect, it } from 'vitest';
import { AggregationTemporality, DataPointType, MeterProvider, MetricReader, type HistogramMetricData } from '@opentelemetry/sdk-metrics';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { LocalHistograms } from '../../src/telemetry/histograms.ts';

const resource = resourceFromAttributes({ 'service.name': 'test' });
const scope = { name: 'portcullis', version: 'test' };
const BOUNDS = [0.001, 0.01, 0.1, 1];
const VALUES = [0, 0.0005, 0.001, 0.0010001, 0.01, 0.05, 0.1, 0.5, 1, 2, 1e6, -3];

class Reader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** What the SDK's own explicit-bucket histogram reports for the same values: the reference. */
async function sdkHistogram(values: readonly number[]): Promise<HistogramMetricData> {
  const reader = new Reader();
  const provider = new MeterProvider({ resource, readers: [reader] });
  const h = provider.getMeter('ref').createHistogram('h', { advice: { explicitBucketBoundaries: BOUNDS } });
  for (const v of values) h.record(v, { transport: 'http' });
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics.scopeMetrics[0]!.metrics[0] as HistogramMetricData;
}

async function collect(histograms: LocalHistograms, temporality?: AggregationTemporality, producer = histograms.producer(temporality)) {
  const { resourceMetrics, errors } = await producer.collect();
  expect(errors).toEqual([]);
  return resourceMetrics.scopeMetrics[0]!.metrics[0] as HistogramMetricData;
}

describe('local histograms', () => {
  it('count, sum, min, max and buckets exactly as the SDK histogram does for the same values', async () => {
    const histograms = new LocalHistograms(scope, resource);
    const series = histograms.histogram({ name: 'h', description: 'd', unit: 's', boundaries: BOUNDS })({ transport: 'http' });
    for (const v of VALUES) series.record(v);
    const ours = await collect(histograms);
    const reference = await sdkHistogram(VALUES);
    expect(ours.dataPointType).toBe(DataPointType.HISTOGRAM);
    expect(ours.aggregationTemporality).toBe(AggregationTemporality.CUMULATIVE);
    expect(ours.descriptor).toMatchObject({ name: 'h', description: 'd', unit: 's' });
    expect(ours.dataPoints.map((p) => [p.attributes, p.value])).toEqual(reference.dataPoints.map((p) => [p.attributes, p.value]));
  });

  it('drops negative and non-finite values, as the SDK does', async () => {
    const histograms = new LocalHistograms(scope, resource);
    const series = histograms.histogram({ name: 'h', description: '', unit: '', boundaries: BOUNDS })({});
    for (const v of [Number.NaN, Number.POSITIVE_INFINITY, -1, 0.5]) series.record(v);
    expect((await collect(histograms)).dataPoints[0]!.value).toMatchObject({ count: 1, sum: 0.5 });
  });

  it('keeps one data point per bound attribute set, with the attributes it was bound with', async () => {
    const histograms = new LocalHistograms(scope, resource);
    const bind = histograms.histogram({ name: 'h', description: '', unit: '', boundaries: BOUNDS });
    bind({ transport: 'grpc', decision: 'allow' }).record(0.002);
    bind({ transport: 'grpc', decision: 'deny' }).record(0.2);
    const points = (await collect(histograms)).dataPoints;
    expect(points.map((p) => [p.attributes, p.value.count])).toEqual([[{ transport: 'grpc', decision: 'allow' }, 1], [{ transport: 'grpc', decision: 'deny' }, 1]]);
  });

  it('reports to a delta reader only what was recorded since its previous collection, from then', async () => {
    let t = 1000;
    const histograms = new LocalHistograms(scope, resource, () => [t, 0]);
    const series = histograms.histogram({ name: 'h', description: '', unit: '', boundaries: BOUNDS })({});
    const delta = histograms.producer(AggregationTemporality.DELTA);
    series.record(0.005);
    series.record(0.5);
    t = 1010;
    const first = (await collect(histograms, undefined, delta)).dataPoints[0]!;
    series.record(0.05);
    t = 1020;
    const second = await collect(histograms, undefined, delta);
    expect(second.aggregationTemporality).toBe(AggregationTemporality.DELTA);
    expect(first.value).toEqual({ buckets: { boundaries: BOUNDS, counts: [0, 1, 0, 1, 0] }, count: 2, sum: 0.505 });
    expect(second.dataPoints[0]).toMatchObject({ startTime: [1010, 0], endTime: [1020, 0], value: { buckets: { counts: [0, 0, 1, 0, 0] }, count: 1 } });
    expect(second.dataPoints[0]!.value.sum).toBeCloseTo(0.05, 12);
    // A cumulative reader of the same histograms still sees everything.
    expect((await collect(histograms)).dataPoints[0]!.value.count).toBe(3);
  });
});
