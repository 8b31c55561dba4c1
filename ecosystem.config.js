// pm2 process file of this repository's example (for your own configuration, write one with
// `mapproxy-ts create -t pm2 -f mapproxy.yaml ecosystem.config.js`). After `npm ci`:
//
//   pm2 start ecosystem.config.js
//       starts the offline example WMS (examples/world-wms.mjs) and the mapproxy-ts master serving
//       examples/mapproxy.yaml on 127.0.0.1:8080; pm2 waits for the master's "ready" message.
//       `--only mapproxy-ts` starts the master alone.
//   pm2 sendSignal SIGHUP mapproxy-ts
//       zero-downtime reload: the master re-validates the configuration and replaces its workers
//       one by one (an invalid configuration is refused and the old workers keep serving)
//   pm2 reload ecosystem.config.js
//       restarts the processes (pm2 has no rolling reload in fork mode): prefer SIGHUP
//   pm2 stop ecosystem.config.js
//       graceful stop: pm2 sends SIGINT, in-flight requests finish, then the master exits
//   pm2 logs mapproxy-ts
//
// MAPPROXY_BIND (default 127.0.0.1:8080) and EXAMPLE_WMS_PORT (default 8091) in pm2's environment
// change the addresses.
//
// The mapproxy-ts master forks and supervises its own pool of workers, so pm2 runs ONE instance
// of it in fork mode; never pm2's cluster mode.
//
// This package is "type": "module", so this file is an ES module: pm2 loads it with require(),
// which loads ES modules from Node 20.19 on, and reads the named export `apps`.
import { fileURLToPath } from 'node:url';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** serve's --graceful-timeout, seconds (its default). */
const GRACEFUL_TIMEOUT = 30;
const BIND = process.env.MAPPROXY_BIND || '127.0.0.1:8080';
const WMS_PORT = process.env.EXAMPLE_WMS_PORT || '8091';

export const apps = [
  {
    name: 'mapproxy-ts-example-wms',
    script: 'examples/world-wms.mjs',
    args: [WMS_PORT],
    cwd: HERE,
    exec_mode: 'fork',
    instances: 1,
    autorestart: true,
    out_file: 'logs/example-wms.out.log',
    error_file: 'logs/example-wms.error.log',
  },
  {
    name: 'mapproxy-ts',
    script: 'bin/mapproxy-ts.js',
    args: ['serve', 'examples/mapproxy.yaml', '--bind', BIND, '--graceful-timeout', String(GRACEFUL_TIMEOUT)],
    cwd: HERE,
    exec_mode: 'fork',
    instances: 1,
    // The master sends 'ready' once its workers listen; until then pm2 reports "launching".
    wait_ready: true,
    listen_timeout: 60000,
    // pm2 stops with SIGINT and kills after kill_timeout: above the graceful timeout, so a
    // draining server is never cut short.
    kill_timeout: (GRACEFUL_TIMEOUT + 10) * 1000,
    autorestart: true,
    exp_backoff_restart_delay: 500,
    // serve's exit status for a usage error (2) and an invalid configuration (78): a restart
    // would fail the same way. pm2 keeps the app stopped (↺ 0; its status column says
    // "waiting restart" all the same) until `pm2 restart` once the file is fixed.
    stop_exit_codes: [2, 78],
    // pm2 creates logs/ (relative to cwd); the master's and the workers' lines all land here.
    out_file: 'logs/mapproxy-ts.out.log',
    error_file: 'logs/mapproxy-ts.error.log',
    merge_logs: true,
    env: {
      NODE_ENV: 'production',
      EXAMPLE_WMS_PORT: WMS_PORT,
    },
  },
];
