/**
 * Named loggers and per-logger levels, re-targeting of loggers obtained before a reconfiguration,
 * pretty lines, and that nothing is serialised below a logger's level.
 */
import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { configureLogging, formatPretty, getLogger } from '../../../src/log/index.js';

interface Line {
  level: number;
  name: string;
  msg: string;
  [k: string]: unknown;
}

function capture(): { lines: Line[]; raw: string[]; destination: { write(s: string): void } } {
  const lines: Line[] = [];
  const raw: string[] = [];
  return {
    lines,
    raw,
    destination: {
      write(s: string) {
        raw.push(s);
        lines.push(JSON.parse(s) as Line);
      },
    },
  };
}

afterEach(() => configureLogging());

test('levels per logger name: the longest matching prefix wins, others use the default level', () => {
  const c = capture();
  configureLogging({
    level: 'warn',
    levels: { 'mapproxy.source': 'debug', 'mapproxy.source.request': 'error' },
    destination: c.destination,
  });
  getLogger('mapproxy.system').info('system info'); // below warn: dropped
  getLogger('mapproxy.system').warn('system warn');
  getLogger('mapproxy.source.wms').debug('wms debug'); // mapproxy.source → debug
  getLogger('mapproxy.source.request').warn('request warn'); // its own entry: error
  getLogger('mapproxy.source.request').error('request error');
  getLogger('mapproxy.sourcery').info('not a child of mapproxy.source'); // prefix must end at a dot
  assert.deepEqual(
    c.lines.map((l) => [l.level, l.name, l.msg]),
    [
      [40, 'mapproxy.system', 'system warn'],
      [20, 'mapproxy.source.wms', 'wms debug'],
      [50, 'mapproxy.source.request', 'request error'],
    ],
  );
});

test('a logger obtained before configureLogging follows the new levels and destination', () => {
  const early = getLogger('mapproxy.cache.early-test');
  const a = capture();
  configureLogging({ level: 'error', destination: a.destination });
  early.warn('dropped');
  const b = capture();
  configureLogging({ level: 'info', levels: { 'mapproxy.cache': 'debug' }, destination: b.destination });
  early.debug('kept');
  assert.equal(early, getLogger('mapproxy.cache.early-test'));
  assert.deepEqual(a.lines, []);
  assert.deepEqual(b.lines.map((l) => [l.level, l.name, l.msg]), [[20, 'mapproxy.cache.early-test', 'kept']]);
});

test('a line carries level, time, pid, hostname and name', () => {
  const c = capture();
  configureLogging({ destination: c.destination });
  getLogger('mapproxy.config').info({ path: 'caches.osm' }, 'hello');
  assert.equal(c.lines.length, 1);
  const { time, ...rest } = c.lines[0];
  assert.equal(typeof time, 'number');
  assert.deepEqual(rest, { level: 30, pid: process.pid, hostname: rest.hostname, name: 'mapproxy.config', path: 'caches.osm', msg: 'hello' });
  assert.equal(typeof rest.hostname, 'string');
});

test('the access logger is silent unless the access log is on', () => {
  const c = capture();
  configureLogging({ level: 'trace', destination: c.destination });
  assert.equal(getLogger('mapproxy.access').isLevelEnabled('info'), false);
  configureLogging({ level: 'error', accessLog: true, destination: c.destination });
  assert.equal(getLogger('mapproxy.access').isLevelEnabled('info'), true, 'on: info even when the default level is error');
  configureLogging({ accessLog: true, levels: { 'mapproxy.access': 'warn' }, destination: c.destination });
  assert.equal(getLogger('mapproxy.access').isLevelEnabled('info'), false, 'an explicit level still applies');
});

test('below its level, a log call serialises nothing (the hot path never formats unprinted lines)', () => {
  const c = capture();
  configureLogging({ level: 'info', destination: c.destination });
  let serialised = 0;
  const costly = { toJSON: () => ((serialised += 1), 'x') };
  getLogger('mapproxy.source.request').debug({ costly }, 'not printed');
  assert.equal(serialised, 0);
  assert.deepEqual(c.raw, []);
  getLogger('mapproxy.source.request').info({ costly }, 'printed');
  assert.equal(serialised, 1);
});

test('unknown levels are rejected with the allowed names', () => {
  assert.throws(() => configureLogging({ level: 'verbose' }), {
    name: 'TypeError',
    message: 'unknown log level "verbose" (allowed: trace, debug, info, warn, error, fatal, silent)',
  });
  assert.throws(() => configureLogging({ levels: { 'mapproxy.cache': 'loud' } }), {
    name: 'TypeError',
    message: 'unknown log level "loud" for mapproxy.cache (allowed: trace, debug, info, warn, error, fatal, silent)',
  });
});

test('pretty output: time, level, name, message, then the other fields', () => {
  const out: string[] = [];
  configureLogging({ pretty: true, destination: { write: (s: string) => void out.push(s) } });
  getLogger('mapproxy.system').info({ port: 8080, config: 'my config.yaml' }, 'serving');
  assert.equal(out.length, 1);
  assert.match(out[0], /^\d\d:\d\d:\d\d\.\d{3} INFO {2}mapproxy\.system: serving {2}port=8080 config="my config\.yaml"\n$/);
});

test('formatPretty: levels, colours, error stacks, and non-JSON lines', () => {
  const t = new Date(2024, 0, 2, 3, 4, 5, 6).getTime();
  assert.equal(formatPretty(JSON.stringify({ level: 40, time: t, pid: 1, hostname: 'h', name: 'mapproxy.cache', msg: 'slow' })), '03:04:05.006 WARN  mapproxy.cache: slow\n');
  assert.equal(
    formatPretty(JSON.stringify({ level: 50, time: t, name: 'mapproxy.wsgiapp', msg: 'boom', err: { type: 'Error', message: 'bad', stack: 'Error: bad\n    at x' } })),
    '03:04:05.006 ERROR mapproxy.wsgiapp: boom  err=bad\n    Error: bad\n        at x\n',
  );
  assert.equal(formatPretty(JSON.stringify({ level: 30, time: t, msg: 'm' }), true), '03:04:05.006 \x1b[32mINFO \x1b[0m m\n');
  assert.equal(formatPretty('plain text'), 'plain text\n');
  // With the pid (serve's processes): before the logger's name; a line without one has none.
  assert.equal(formatPretty(JSON.stringify({ level: 30, time: t, pid: 4711, name: 'mapproxy.worker', msg: 'listening' }), false, true), '03:04:05.006 INFO  [4711] mapproxy.worker: listening\n');
  assert.equal(formatPretty(JSON.stringify({ level: 30, time: t, name: 'mapproxy.worker', msg: 'listening' }), false, true), '03:04:05.006 INFO  mapproxy.worker: listening\n');
});
