// The master's side of cluster metrics without workers: summing departed workers' counts, the
// master's own series, and the exact error when the aggregator was never set up.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry } from 'prom-client';
import { CLUSTER_METRICS_ENV, countWorkerRestart, createMetricsAggregator, renderClusterMetrics, type MetricJson } from '../../../src/metrics/index.js';
import { sumMetrics } from '../../../src/metrics/cluster.js';
import { summableOnly } from '../../../src/metrics/protocol.js';

test('renderClusterMetrics before createMetricsAggregator rejects with the reason', async () => {
  await assert.rejects(renderClusterMetrics(), { name: 'Error', message: 'createMetricsAggregator() was not called in this process' });
});

test('the master renders its own series; restarts are counted by reason; workers learn it from the environment', async () => {
  delete process.env[CLUSTER_METRICS_ENV];
  const agg = createMetricsAggregator();
  assert.equal(createMetricsAggregator(), agg, 'one aggregator per process');
  assert.equal(process.env[CLUSTER_METRICS_ENV], '1');
  countWorkerRestart();
  countWorkerRestart('reload');
  countWorkerRestart('reload');
  const text = await renderClusterMetrics();
  assert.match(text, /^mapproxy_worker_restarts_total\{reason="crash"\} 1$/m);
  assert.match(text, /^mapproxy_worker_restarts_total\{reason="timeout"\} 0$/m);
  assert.match(text, /^mapproxy_worker_restarts_total\{reason="max-requests"\} 0$/m);
  assert.match(text, /^mapproxy_worker_restarts_total\{reason="reload"\} 2$/m);
  assert.match(text, /^mapproxy_workers 0$/m);
  // Scrapes while one collects share it; the next one after it collects afresh.
  const [a, b] = [renderClusterMetrics(), renderClusterMetrics()];
  assert.equal(a, b);
  assert.equal(await a, await b);
  countWorkerRestart();
  const after = renderClusterMetrics();
  assert.notEqual(after, a);
  assert.match(await after, /^mapproxy_worker_restarts_total\{reason="crash"\} 2$/m);
});

const counter = (name: string, values: MetricJson['values']): MetricJson => ({ name, help: 'h', type: 'counter', aggregator: 'sum', values });

test('sumMetrics adds equal series of equal label sets, whatever the label order', () => {
  const a = [
    counter('hits', [{ value: 2, labels: { cache: 'a', grid: 'g' } }, { value: 1, labels: { cache: 'b', grid: 'g' } }]),
    {
      name: 'lat', help: 'h', type: 'histogram', aggregator: 'sum', values: [
        { value: 1, labels: { le: 0.1, s: 'x' }, metricName: 'lat_bucket' },
        { value: 3, labels: { s: 'x' }, metricName: 'lat_count' },
      ],
    },
  ];
  const b = [
    counter('hits', [{ value: 5, labels: { grid: 'g', cache: 'a' } }]),
    counter('misses', [{ value: 7, labels: {} }]),
    {
      name: 'lat', help: 'h', type: 'histogram', aggregator: 'sum', values: [
        { value: 2, labels: { s: 'x', le: 0.1 }, metricName: 'lat_bucket' },
        { value: 4, labels: { s: 'x' }, metricName: 'lat_count' },
      ],
    },
  ];
  const sum = sumMetrics([a, b]);
  assert.deepEqual(sum.map((m) => [m.name, m.values.map((v) => [v.metricName ?? m.name, v.value])]), [
    ['hits', [['hits', 7], ['hits', 1]]],
    ['lat', [['lat_bucket', 3], ['lat_count', 7]]],
    ['misses', [['misses', 7]]],
  ]);
  // The inputs are not changed.
  assert.equal(a[0].values[0].value, 2);
});

test('only counters and histograms outlive a worker', () => {
  const kept = summableOnly([
    counter('c', []),
    { name: 'g', help: 'h', type: 'gauge', values: [] },
    { name: 'h', help: 'h', type: 'histogram', values: [] },
    { name: 's', help: 'h', type: 'summary', values: [] },
  ]);
  assert.deepEqual(kept.map((m) => m.name), ['c', 'h']);
});

test('summed departed counts render like prom-client aggregates them', async () => {
  const sum = sumMetrics([[counter('x_total', [{ value: 1, labels: { a: '1' } }])], [counter('x_total', [{ value: 2, labels: { a: '1' } }])]]);
  const text = await AggregatorRegistry.aggregate([sum]).metrics();
  assert.match(text, /^x_total\{a="1"\} 3$/m);
});
