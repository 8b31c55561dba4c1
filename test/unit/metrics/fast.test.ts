// The request-path counters and histograms print exactly what prom-client's own would for the
// same events, and sum across processes the same way.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { FastCounter, FastHistogram } from '../../../src/metrics/fast.js';

const BUCKETS = [0.01, 0.1, 1];

function fill(reg: Registry, fast: boolean): void {
  const registers = [reg];
  if (fast) {
    const c = new FastCounter({ name: 'req_total', help: 'requests', labelNames: ['service', 'status'], registers });
    const n = new FastCounter({ name: 'plain_total', help: 'no labels', registers });
    const h = new FastHistogram({ name: 'dur_seconds', help: 'durations', labelNames: ['service'], buckets: BUCKETS, registers });
    c.inc('tms', '200');
    c.inc('tms', '200');
    c.inc('wm"ts', '404', 3);
    n.inc();
    for (const v of [0.005, 0.01, 0.5, 7]) h.observe(v, 'tms');
    h.observe(0.2, 'wmts');
  } else {
    const c = new Counter({ name: 'req_total', help: 'requests', labelNames: ['service', 'status'], registers });
    const n = new Counter({ name: 'plain_total', help: 'no labels', registers });
    const h = new Histogram({ name: 'dur_seconds', help: 'durations', labelNames: ['service'], buckets: BUCKETS, registers });
    c.inc({ service: 'tms', status: '200' });
    c.inc({ service: 'tms', status: '200' });
    c.inc({ service: 'wm"ts', status: '404' }, 3);
    n.inc();
    for (const v of [0.005, 0.01, 0.5, 7]) h.observe({ service: 'tms' }, v);
    h.observe({ service: 'wmts' }, 0.2);
  }
}

test('same Prometheus text as prom-client for the same events', async () => {
  const mine = new Registry();
  const theirs = new Registry();
  fill(mine, true);
  fill(theirs, false);
  const text = await mine.metrics();
  assert.equal(text, await theirs.metrics());
  assert.match(text, /^dur_seconds_bucket\{le="0.01",service="tms"\} 2$/m);
  assert.match(text, /^dur_seconds_bucket\{le="\+Inf",service="tms"\} 4$/m);
  assert.match(text, /^req_total\{service="wm\\"ts",status="404"\} 3$/m);
});

test('summed across registries like prom-client metrics, and reset to zero', async () => {
  const a = new Registry();
  const b = new Registry();
  fill(a, true);
  fill(b, true);
  const sum = await AggregatorRegistry.aggregate([await a.getMetricsAsJSON(), await b.getMetricsAsJSON()]).metrics();
  assert.match(sum, /^req_total\{service="tms",status="200"\} 4$/m);
  assert.match(sum, /^plain_total 2$/m);
  assert.match(sum, /^dur_seconds_count\{service="tms"\} 8$/m);
  a.resetMetrics();
  assert.equal(await a.metrics(), '# HELP req_total requests\n# TYPE req_total counter\n\n' +
    '# HELP plain_total no labels\n# TYPE plain_total counter\nplain_total 0\n\n' +
    '# HELP dur_seconds durations\n# TYPE dur_seconds histogram\n');
});

test('value() reads one series; bad label counts are refused', () => {
  const c = new FastCounter({ name: 'x_total', help: 'x', labelNames: ['a'], registers: [] });
  c.inc('p');
  c.inc('p', undefined, 2);
  assert.equal(c.value('p'), 3);
  assert.equal(c.value('q'), 0);
  assert.throws(() => new FastCounter({ name: 'y', help: 'y', labelNames: ['a', 'b', 'c'], registers: [] }), { name: 'RangeError', message: 'y: at most two labels' });
  assert.throws(
    () => new FastHistogram({ name: 'z', help: 'z', labelNames: ['a', 'b'], buckets: [1], registers: [] }),
    { name: 'RangeError', message: 'z: at most one label' },
  );
});
