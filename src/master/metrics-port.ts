/**
 * `serve --metrics-bind`: the master's own `/metrics` server. It answers with the cluster sum
 * (every worker's registry plus the counts of workers that left, see src/metrics/cluster.ts), so
 * Prometheus can scrape an internal address while the public port is left to the proxy.
 * Bound before the first fork: a wrong address stops `serve` before any worker exists.
 */
import type { Server } from 'node:http';
import { hostPort, listenFailure } from '../app/listen.js';
import { getLogger } from '../log/index.js';
import { createMetricsAggregator, renderClusterMetrics } from '../metrics/cluster.js';
import { serveMetrics } from '../metrics/server.js';

/**
 * Serve `/metrics` from this (the master) process on `bind`; logs `metrics on <url>` with the
 * port (`metricsPort`, useful with port 0). Rejects with an Error whose message says which
 * address failed and why, for the command line to print.
 */
export async function startMetricsServer(bind: { readonly host: string; readonly port: number }): Promise<Server> {
  createMetricsAggregator();
  let server: Server;
  try {
    server = await serveMetrics({ host: bind.host, port: bind.port, render: () => renderClusterMetrics() });
  } catch (err) {
    throw new Error(listenFailure(bind, err as NodeJS.ErrnoException, '--metrics-bind'));
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : bind.port;
  getLogger('mapproxy.master').info({ url: `http://${hostPort(bind.host, port)}/metrics`, metricsPort: port }, 'metrics on a port of their own');
  return server;
}
