/**
 * Readiness reports to process managers: pm2's `wait_ready` (an IPC message `'ready'` to the
 * parent) and systemd's notify protocol (`READY=1`, `RELOADING=1`, `STOPPING=1`; man
 * sd_notify(3)) through the `systemd-notify` tool, since Node has no Unix datagram sockets. The
 * variables are passed as `VAR=VALUE` arguments, which every systemd-notify understands (Debian
 * 12's systemd 252 has `--ready` but no `--reloading`).
 */
import { spawn } from 'node:child_process';
import type { Logger } from 'pino';

/** Whether 'ready' went to the parent already (by either function below). */
let parentToldReady = false;

/** Tell pm2 (or any parent holding an IPC channel) that the server is ready. */
export function notifyParentReady(): void {
  parentToldReady = true;
  if (process.connected) process.send?.('ready');
}

/**
 * End pm2's `wait_ready` wait for a command that gives up before it was ready (an invalid
 * configuration, a usage error, an address in use, workers that crash-loop at once; called by
 * runCommandLine before any non-zero exit). pm2 has no message for a
 * failed start: without 'ready' it waits `listen_timeout` (60 s) after the process is gone, lets
 * `pm2 start` report success, and then shows the dead app as online (pm2 6.0.14, seen here;
 * Unitech/pm2#4355). With 'ready' sent before the exit, pm2 takes the exit for what it is: a
 * restart, or no restart for an exit code in `stop_exit_codes`. Only under pm2 with wait_ready
 * (pm2 puts its app settings in the environment: `pm_id`, `wait_ready`); to any other parent
 * 'ready' keeps meaning "serving". Resolves once the message is handed to the OS, so that it
 * reaches pm2 before the exit does.
 */
export function endParentWait(): Promise<void> {
  const pm2Waits = process.env.pm_id !== undefined && process.env.wait_ready === 'true';
  if (!pm2Waits || parentToldReady || !process.connected || !process.send) return Promise.resolve();
  parentToldReady = true;
  return new Promise((resolve) => {
    process.send!('ready', undefined, undefined, () => resolve());
  });
}

/** CLOCK_MONOTONIC in microseconds, which systemd wants with RELOADING=1 (Type=notify-reload). */
export function monotonicUsec(): string {
  // libuv's hrtime is CLOCK_MONOTONIC on Linux.
  return String(process.hrtime.bigint() / 1000n);
}

/**
 * Send `fields` to systemd when `NOTIFY_SOCKET` is set (the unit needs `NotifyAccess=all`, as
 * the sender is a child process). A missing or failing systemd-notify is logged, never fatal.
 * Resolves when the tool has exited.
 */
export function notifySystemd(fields: Readonly<Record<string, string>>, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (!env.NOTIFY_SOCKET) return Promise.resolve();
  const args = [`--pid=${process.pid}`, ...Object.entries(fields).map(([k, v]) => `${k}=${v}`)];
  return new Promise((resolve) => {
    const child = spawn('systemd-notify', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
    let stderr = '';
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => { stderr += d; });
    child.once('error', (err) => {
      log.warn({ err: err.message, fields }, 'cannot notify systemd: systemd-notify is not available');
      resolve();
    });
    child.once('close', (code) => {
      if (code !== 0) log.warn({ code, stderr: stderr.trim(), fields }, 'systemd-notify failed');
      resolve();
    });
  });
}
