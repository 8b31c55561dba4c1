/**
 * The log-config format: what a valid document becomes, and the exact error for each bad value
 * (ConfigError naming the YAML path and the file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadLogConfig, parseLogConfig } from '../../../src/log/index.js';
import { parseYaml } from '../../../src/config/yaml.js';

const DIR = '/etc/mapproxy-ts';
const FILE = '/etc/mapproxy-ts/log.yaml';
// As loadLogConfig reads the file: the YAML 1.1 dialect of mapproxy.yaml.
const parse = (text: string) => parseLogConfig(parseYaml(text), { dir: DIR, file: FILE });

function rejects(text: string, problems: { path: string; message: string }[]): void {
  let caught: unknown;
  try {
    parse(text);
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError, got ${String(caught)}`);
  assert.equal(caught.code, 'MPX_ERR_CONFIG');
  assert.equal(caught.file, FILE);
  assert.deepEqual(caught.problems, problems);
  assert.equal(caught.message, `invalid log configuration ${FILE}:\n  ${problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('\n  ')}`);
}

test('an empty file means JSON on stdout at info, no access log', () => {
  assert.deepEqual(parse(''), { level: 'info', loggers: {}, file: undefined, accessLog: false, pretty: false });
});

test('every key: levels (with Python aliases), file relative to the config, access log, pretty', () => {
  const cfg = parse(`
level: WARNING
loggers:
  mapproxy.source.request: debug
  mapproxy.cache: critical
file:
  path: logs/mapproxy.log
  size: 10M
  frequency: daily
  limit: {count: 7}
access_log:
  exclude: [/metrics]
`);
  assert.deepEqual(cfg, {
    level: 'warn',
    loggers: { 'mapproxy.source.request': 'debug', 'mapproxy.cache': 'fatal' },
    file: { path: '/etc/mapproxy-ts/logs/mapproxy.log', size: '10m', frequency: 'daily', limit: { count: 7 } },
    accessLog: { exclude: ['/metrics'] },
    pretty: false,
  });
  assert.deepEqual(parse('access_log: true\npretty: true\nfile:\n'), { level: 'info', loggers: {}, file: undefined, accessLog: { exclude: [] }, pretty: true });
  assert.deepEqual(parse('file: {path: /var/log/m.log, frequency: 60000}').file, { path: '/var/log/m.log', size: undefined, frequency: 60000, limit: undefined });
});

test('a document that is not a mapping', () => {
  rejects('- level: info', [{ path: '', message: 'expected a mapping of level, loggers, file, access_log, pretty, got a list' }]);
  rejects('info', [{ path: '', message: 'expected a mapping of level, loggers, file, access_log, pretty, got "info"' }]);
});

test('unknown keys, at every level of the document', () => {
  rejects('levle: info\nfile: {path: a.log, rotate: 3, limit: {count: 2, age: 3}}\naccess_log: {exclude: [], enabled: true}', [
    { path: 'levle', message: 'unknown key (allowed: level, loggers, file, access_log, pretty)' },
    { path: 'file.rotate', message: 'unknown key (allowed: path, size, frequency, limit)' },
    { path: 'file.limit.age', message: 'unknown key (allowed: count)' },
    { path: 'access_log.enabled', message: 'unknown key (allowed: exclude)' },
  ]);
});

test('bad levels name the logger', () => {
  rejects('level: verbose\nloggers: {mapproxy.source.request: 10, mapproxy.cache: [debug]}', [
    { path: 'level', message: 'unknown level "verbose"; expected one of trace, debug, info, warn, error, fatal, silent' },
    { path: 'loggers.mapproxy.source.request', message: 'unknown level 10; expected one of trace, debug, info, warn, error, fatal, silent' },
    { path: 'loggers.mapproxy.cache', message: 'unknown level a list; expected one of trace, debug, info, warn, error, fatal, silent' },
  ]);
  rejects('loggers: [mapproxy.cache]', [{ path: 'loggers', message: 'expected a mapping of logger names to levels, got a list' }]);
});

test('file: path, size, frequency and limit', () => {
  rejects('file: logs/mapproxy.log', [{ path: 'file', message: 'expected a mapping with path, size, frequency, limit, got "logs/mapproxy.log"' }]);
  rejects('file: {size: 10m}', [{ path: 'file.path', message: 'missing: the log file to write' }]);
  rejects('file: {path: "", size: 10mb, frequency: weekly, limit: {count: 0}}', [
    { path: 'file.path', message: 'expected a file path, got ""' },
    { path: 'file.size', message: 'expected a size like 500k, 10m or 1g, got "10mb"' },
    { path: 'file.frequency', message: 'expected daily, hourly or a number of milliseconds (at least 1000), got "weekly"' },
    { path: 'file.limit.count', message: 'expected a positive whole number of files, got 0' },
  ]);
  rejects('file: {path: a.log, size: 10, frequency: 10, limit: 7}', [
    { path: 'file.size', message: 'expected a size like 500k, 10m or 1g, got 10' },
    { path: 'file.frequency', message: 'expected daily, hourly or a number of milliseconds (at least 1000), got 10' },
    { path: 'file.limit', message: 'expected a mapping with count, got 7' },
  ]);
});

test('access_log and pretty', () => {
  rejects('access_log: sometimes', [{ path: 'access_log', message: 'expected true, false or a mapping with exclude, got "sometimes"' }]);
  // YAML 1.1, as in mapproxy.yaml: yes and off are booleans.
  assert.deepEqual(parse('access_log: yes').accessLog, { exclude: [] });
  assert.deepEqual(parse('access_log: off').accessLog, false);
  // off as a level, which YAML 1.1 reads as false: silent, as before.
  assert.deepEqual([parse('level: off').level, parse('loggers: {mapproxy.access: off}').loggers], ['silent', { 'mapproxy.access': 'silent' }]);
  rejects('level: on', [{ path: 'level', message: `unknown level true; expected one of trace, debug, info, warn, error, fatal, silent` }]);
  rejects('access_log: {exclude: /healthz}', [{ path: 'access_log.exclude', message: 'expected a list of request paths, got "/healthz"' }]);
  rejects('access_log: {exclude: [/healthz, readyz]}', [{ path: 'access_log.exclude[1]', message: 'expected a request path starting with /, got "readyz"' }]);
  rejects('pretty: 1', [{ path: 'pretty', message: 'expected true or false, got 1' }]);
  rejects('pretty: true\nfile: {path: a.log}', [{ path: 'pretty', message: 'cannot be combined with file (log files hold JSON lines)' }]);
});

test('loadLogConfig reads the file in the YAML 1.1 dialect of mapproxy.yaml: access_log: yes is true', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpx-logcfg-'));
  try {
    const file = join(dir, 'log.yaml');
    await writeFile(file, 'access_log: yes\npretty: no\n');
    const config = await loadLogConfig(file);
    assert.deepEqual({ accessLog: config.accessLog, pretty: config.pretty }, { accessLog: { exclude: [] }, pretty: false });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
