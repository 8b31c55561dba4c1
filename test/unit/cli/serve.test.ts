/** `mapproxy-ts serve`'s command line: defaults, --bind forms, and every usage error. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { negativeValues } from '../../../src/cli/main.js';
import { SERVE_HELP, ServeUsageError, parseServeArgs, serveCommand } from '../../../src/cli/serve.js';

// MapProxy: mapproxy-util serve-develop and serve-multiapp-develop listen on 127.0.0.1:8080 by default.
test('defaults: 127.0.0.1:8080 like MapProxy, one worker per CPU, one spare, 30 s graceful timeout', () => {
  assert.deepEqual(parseServeArgs(['mapproxy.yaml']), {
    config: resolve('mapproxy.yaml'),
    host: '127.0.0.1',
    port: 8080,
    workers: availableParallelism(),
    spareWorkers: 1,
    maxRequests: 0,
    maxRequestsJitter: 0,
    gracefulTimeoutMs: 30_000,
    timeoutMs: 30_000,
    pidFile: undefined,
    logConfig: undefined,
  });
});

test('every option', () => {
  const o = parseServeArgs(['-b', '0.0.0.0:9000', 'm.yaml', '-w', '3', '--spare-workers', '0', '--max-requests', '1000',
    '--max-requests-jitter', '50', '--graceful-timeout', '2.5', '--timeout', '0', '--no-fast-lane', '--threadpool-size', '3', '--image-jobs', '2', '--pid-file', 'run/s.pid', '--log-config', 'log.yaml']);
  assert.deepEqual(o, {
    config: resolve('m.yaml'),
    host: '0.0.0.0',
    port: 9000,
    workers: 3,
    spareWorkers: 0,
    maxRequests: 1000,
    maxRequestsJitter: 50,
    gracefulTimeoutMs: 2500,
    timeoutMs: 0,
    fastLane: false,
    threadpoolSize: 3,
    imageJobs: 2,
    pidFile: resolve('run/s.pid'),
    logConfig: resolve('log.yaml'),
  });
});

test('--bind: a bare port means localhost, listened on as 127.0.0.1; :port every interface; a bare host port 8080; IPv6 in brackets', () => {
  assert.deepEqual([parseServeArgs(['m.yaml', '-b', 'localhost:9002'])].map((o) => o !== 'help' && [o.host, o.port]), [['127.0.0.1', 9002]]);
  assert.deepEqual([parseServeArgs(['m.yaml', '-b', '9001'])].map((o) => o !== 'help' && [o.host, o.port]), [['127.0.0.1', 9001]]);
  assert.deepEqual([parseServeArgs(['m.yaml', '--bind', '[::1]:80'])].map((o) => o !== 'help' && [o.host, o.port]), [['::1', 80]]);
  // As MapProxy's serve-develop, gunicorn's -b and our serve-develop: an empty host is every interface.
  assert.deepEqual([parseServeArgs(['m.yaml', '-b', ':81'])].map((o) => o !== 'help' && [o.host, o.port]), [['', 81]]);
  assert.deepEqual([parseServeArgs(['m.yaml', '-b', '0.0.0.0'])].map((o) => o !== 'help' && [o.host, o.port]), [['0.0.0.0', 8080]]);
  assert.deepEqual([parseServeArgs(['m.yaml', '-b', 'LocalHost'])].map((o) => o !== 'help' && [o.host, o.port]), [['127.0.0.1', 8080]]);
  assert.deepEqual([parseServeArgs(['m.yaml', '--metrics-bind', ':9464'])].map((o) => o !== 'help' && o.metricsBind), [{ host: '', port: 9464 }]);
});

test('--health-path, --ready-path, --metrics-path: a path or off; absent ones keep their defaults', () => {
  const o = parseServeArgs(['m.yaml', '--health-path', 'off', '--ready-path', '/healthz', '--metrics-path', '/ops/metrics']);
  assert.ok(o !== 'help');
  assert.deepEqual(o.observability, { healthPath: false, readyPath: '/healthz', metricsPath: '/ops/metrics' });
  const some = parseServeArgs(['m.yaml', '--metrics-path', 'off']);
  assert.ok(some !== 'help');
  assert.deepEqual(some.observability, { metricsPath: false });
  const none = parseServeArgs(['m.yaml']);
  assert.ok(none !== 'help');
  assert.equal('observability' in none, false);
});

test('usage errors name the option and what is allowed', () => {
  const cases: Array<[string[], string]> = [
    [[], 'serve needs exactly one configuration file'],
    [['a.yaml', 'b.yaml'], 'serve needs exactly one configuration file'],
    [['m.yaml', '-b', 'host:port'], 'invalid --bind "host:port": port must be a number 0-65535 (got "port")'],
    [['m.yaml', '-b', '70000'], 'invalid --bind "70000": port must be a number 0-65535 (got "70000")'],
    [['m.yaml', '-b', ''], 'invalid --bind "": expected host:port, [ipv6]:port, :port, port or host'],
    [['m.yaml', '-b', '::1:80'], 'invalid --bind "::1:80": an IPv6 address needs brackets, as in [::1]:8080'],
    [['m.yaml', '-b', '[10.0.0.1]:80'], 'invalid --bind "[10.0.0.1]:80": "10.0.0.1" is not an IPv6 address'],
    [['m.yaml', '-b', 'bad_host:80'], 'invalid --bind "bad_host:80": "bad_host" is not a host name or address'],
    [['m.yaml', '-w', '0'], 'invalid --workers "0": expected a whole number of at least 1'],
    [['m.yaml', '-w', 'two'], 'invalid --workers "two": expected a whole number of at least 1'],
    [['m.yaml', '--spare-workers=-1'], 'invalid --spare-workers "-1": expected a whole number of at least 0'],
    // A negative number after an option is its value (as argparse takes it), not a missing value.
    [['m.yaml', '--max-requests', '-5'], 'invalid --max-requests "-5": expected a whole number of at least 0'],
    [['m.yaml', '-w', '-1'], 'invalid --workers "-1": expected a whole number of at least 1'],
    [['m.yaml', '--graceful-timeout', '-2.5'], 'invalid --graceful-timeout "-2.5": expected seconds greater than 0'],
    [['m.yaml', '-b', '-80'], 'invalid --bind "-80": "-80" is not a host name or address'],
    [['m.yaml', '--max-requests', '1.5'], 'invalid --max-requests "1.5": expected a whole number of at least 0'],
    [['m.yaml', '--max-requests-jitter', 'x'], 'invalid --max-requests-jitter "x": expected a whole number of at least 0'],
    [['m.yaml', '--threadpool-size', '0'], 'invalid --threadpool-size "0": expected a whole number of at least 1'],
    [['m.yaml', '--threadpool-size', 'many'], 'invalid --threadpool-size "many": expected a whole number of at least 1'],
    [['m.yaml', '--threadpool-size', '1025'], 'invalid --threadpool-size "1025": libuv allows at most 1024'],
    [['m.yaml', '--image-jobs', '0'], 'invalid --image-jobs "0": expected a whole number of at least 1'],
    [['m.yaml', '--image-jobs', '2.5'], 'invalid --image-jobs "2.5": expected a whole number of at least 1'],
    [['m.yaml', '--image-jobs', '1025'], 'invalid --image-jobs "1025": a pool has at most 1024 threads'],
    [['m.yaml', '--graceful-timeout', '0'], 'invalid --graceful-timeout "0": expected seconds greater than 0'],
    [['m.yaml', '--graceful-timeout', 'soon'], 'invalid --graceful-timeout "soon": expected seconds greater than 0'],
    [['m.yaml', '--timeout=-1'], 'invalid --timeout "-1": expected 0 (never) or at least 2 seconds'],
    [['m.yaml', '--timeout', 'never'], 'invalid --timeout "never": expected 0 (never) or at least 2 seconds'],
    [['m.yaml', '--timeout', ''], 'invalid --timeout "": expected 0 (never) or at least 2 seconds'],
    [['m.yaml', '--timeout', '1.5'], 'invalid --timeout "1.5": expected 0 (never) or at least 2 seconds'],
    [['m.yaml', '--timeout', '0.0004'], 'invalid --timeout "0.0004": expected 0 (never) or at least 2 seconds'],
    [['m.yaml', '--metrics-path', 'metrics'], 'invalid --metrics-path "metrics": expected off or an absolute path like /metrics (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--health-path', '/'], 'invalid --health-path "/": expected off or an absolute path like /healthz (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--ready-path', '/ops/ready/'], 'invalid --ready-path "/ops/ready/": expected off or an absolute path like /readyz (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--ready-path', '/ready?x=1'], 'invalid --ready-path "/ready?x=1": expected off or an absolute path like /readyz (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--health-path', '/%2e'], 'invalid --health-path "/%2e": expected off or an absolute path like /healthz (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--health-path', '/ops/..'], 'invalid --health-path "/ops/..": expected off or an absolute path like /healthz (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--metrics-path', ''], 'invalid --metrics-path "": expected off or an absolute path like /metrics (segments of letters, digits and - . _ ~; not /, . or .., no trailing slash)'],
    [['m.yaml', '--metrics-path', '/wmts/metrics'], 'invalid --metrics-path "/wmts/metrics": /wmts is where a service answers'],
    [['m.yaml', '--health-path', '/demo'], 'invalid --health-path "/demo": /demo is where a service answers'],
    [['m.yaml', '--ready-path', '/healthz'], 'invalid --ready-path "/healthz": the health route answers there (move it with --health-path)'],
    [['m.yaml', '--health-path', '/readyz'], 'invalid --health-path "/readyz": the readiness route answers there (move it with --ready-path)'],
    [['m.yaml', '--health-path', '/ops', '--metrics-path', '/ops'], 'invalid --metrics-path "/ops": the health route answers there (move it with --health-path)'],
  ];
  for (const [args, message] of cases) {
    assert.throws(() => parseServeArgs(args), (err: unknown) => {
      assert.ok(err instanceof ServeUsageError, `${args.join(' ')}: ${String(err)}`);
      assert.equal(err.message, message);
      return true;
    });
  }
  assert.throws(() => parseServeArgs(['m.yaml', '--threads', '4']), { code: 'ERR_PARSE_ARGS_UNKNOWN_OPTION' });
  // A word that is not a number after an option still is not its value.
  assert.throws(() => parseServeArgs(['m.yaml', '--max-requests', '-x']), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
});

test('negativeValues joins a negative number to the option before it, and nothing else', () => {
  const options = { workers: { type: 'string', short: 'w' }, debug: { type: 'boolean' } } as const;
  assert.deepEqual(negativeValues(['m.yaml', '-w', '-3', '--workers', '-0.5'], options), ['m.yaml', '-w-3', '--workers=-0.5']);
  // Not after a flag, not a word, not after `--` (positionals from there on), not a lone `-`.
  assert.deepEqual(negativeValues(['--debug', '-3'], options), ['--debug', '-3']);
  assert.deepEqual(negativeValues(['-w', '-x', '-w', '-'], options), ['-w', '-x', '-w', '-']);
  assert.deepEqual(negativeValues(['--', '-w', '-3'], options), ['--', '-w', '-3']);
  assert.deepEqual(negativeValues(['-w', '--', '-3'], options), ['-w', '--', '-3']);
});

async function capture(fn: (io: { stdout: { write(s: string): void }; stderr: { write(s: string): void } }) => Promise<number>) {
  const out = { stdout: '', stderr: '' };
  const code = await fn({ stdout: { write: (s) => { out.stdout += s; } }, stderr: { write: (s) => { out.stderr += s; } } });
  return { code, ...out };
}

test('serveCommand: --help prints the help (exit 0), a usage error prints it to stderr (exit 2)', async () => {
  assert.deepEqual(await capture((io) => serveCommand(['--help'], io)), { code: 0, stdout: SERVE_HELP, stderr: '' });
  assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '-w', '0'], io)), {
    code: 2,
    stdout: '',
    stderr: `mapproxy-ts: invalid --workers "0": expected a whole number of at least 1\n\n${SERVE_HELP}`,
  });
  // Node's parseArgs errors come out in our words, with the help, as every other usage error.
  const usage = (why: string) => ({ code: 2, stdout: '', stderr: `mapproxy-ts: ${why}\n\n${SERVE_HELP}` });
  assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '--threads', '4'], io)), usage('unknown option --threads'));
  assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '-x'], io)), usage('unknown option -x'));
  assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '-w'], io)), usage('option -w, --workers needs a value'));
  assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '--multiapp=yes'], io)), usage('option --multiapp takes no value'));
  assert.deepEqual(
    await capture((io) => serveCommand(['m.yaml', '--bind', '--multiapp'], io)),
    usage('option --bind needs a value (write --bind=-x for a value that starts with "-")'),
  );
});

test('serveCommand: an invalid --log-config exits 78 (EX_CONFIG) before anything starts', async () => {
  const missing = resolve('no-such-log.yaml');
  assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '--log-config', missing], io)), {
    code: 78,
    stdout: '',
    stderr: `mapproxy-ts: invalid log configuration ${missing}:\n  cannot read it: no such file\n`,
  });
});

test('serveCommand: a log file that cannot be opened exits 1 with one line naming it and why', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'mpx-log-'));
  try {
    await writeFile(join(dir, 'plain'), 'not a directory');
    const logConfig = join(dir, 'log.yaml');
    await writeFile(logConfig, 'file:\n  path: plain/mapproxy.log\n');
    assert.deepEqual(await capture((io) => serveCommand(['m.yaml', '--log-config', logConfig], io)), {
      code: 1,
      stdout: '',
      stderr: `mapproxy-ts: cannot open the log file ${join(dir, 'plain', 'mapproxy.log')}: a part of its path is a file, not a directory (EEXIST)\n`,
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
