// The operational routes' options: defaults, what a MultiMapProxy project may not be named, and
// the exact error for every bad path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createObservabilityRoutes, observabilityPaths } from '../../../src/app/router.js';
import { ConfigError } from '../../../src/errors.js';

const noMetrics = { metrics: async () => '' };

test('defaults: /healthz, /readyz, /metrics; their names are reserved for MultiMapProxy projects', async () => {
  const r = createObservabilityRoutes(noMetrics);
  assert.deepEqual(r.paths, ['/healthz', '/readyz', '/metrics']);
  assert.deepEqual([...r.reservedNames], ['healthz', 'readyz', 'metrics']);
  assert.equal(r.label('/readyz'), 'ready');
  assert.equal(r.answer('/other'), undefined);
  assert.deepEqual(await r.answer('/healthz'), { status: 200, contentType: 'text/plain; charset=utf-8', body: 'ok', cache: 'no-cache' });
});

test('observabilityPaths: the probe paths the access log leaves out, without setting anything up', () => {
  assert.deepEqual(observabilityPaths(), {
    healthPath: '/healthz', readyPath: '/readyz', metricsPath: '/metrics', probePaths: ['/healthz', '/readyz'],
    reservedNames: new Set(['healthz', 'readyz', 'metrics']),
  });
  const moved = observabilityPaths({ healthPath: false, readyPath: '/-/ready', metricsPath: false });
  assert.deepEqual([moved.healthPath, moved.readyPath, moved.metricsPath, moved.probePaths], [null, '/-/ready', null, ['/-/ready']]);
  assert.deepEqual(observabilityPaths(false).probePaths, []);
});

test('disabled and nested paths', () => {
  const r = createObservabilityRoutes({ ...noMetrics, healthPath: false, readyPath: '/ops/ready', metricsPath: '/ops/metrics' });
  assert.deepEqual(r.paths, ['/ops/ready', '/ops/metrics']);
  assert.deepEqual([...r.reservedNames], ['ops']);
  assert.deepEqual(createObservabilityRoutes(false).paths, []);
});

function configError(path: string, message: string): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'MPX_ERR_CONFIG');
    assert.deepEqual(err.problems, [{ path, message }]);
    assert.equal(err.message, `invalid configuration:\n  ${path}: ${message}`);
    return true;
  };
}

test('bad paths are ConfigErrors naming the option', () => {
  const bad = (value: unknown) =>
    `must be false or an absolute path like "/metrics" (segments of letters, digits and - . _ ~; not "/", "." or "..", no trailing slash), got ${JSON.stringify(value)}`;
  for (const value of ['metrics', '/', '/metrics/', '/me trics', '/m?x=1', '//m', '', '/%2e', '/.', '/ops/..', '/é', '/a#b', true, 7]) {
    assert.throws(() => createObservabilityRoutes({ ...noMetrics, metricsPath: value as string }), configError('observability.metricsPath', bad(value)));
  }
  assert.throws(
    () => createObservabilityRoutes({ healthPath: 'healthz' }),
    configError('observability.healthPath', 'must be false or an absolute path like "/healthz" (segments of letters, digits and - . _ ~; not "/", "." or "..", no trailing slash), got "healthz"'),
  );
});

test('two routes on one path, or a route under a service, are refused', () => {
  assert.throws(
    () => createObservabilityRoutes({ ...noMetrics, readyPath: '/healthz' }),
    configError('observability.readyPath', '/healthz is already the path of another operational route'),
  );
  assert.throws(
    () => createObservabilityRoutes({ ...noMetrics, metricsPath: '/tms/metrics' }, ['tms', 'tiles']),
    configError('observability.metricsPath', '/tms/metrics lies under the path of a service (/tms)'),
  );
});
