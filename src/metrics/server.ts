/**
 * `/metrics` on a port of its own (for instance the master's, bound to an internal address so
 * the public port never exposes it): a bare node:http server answering GET/HEAD of one path.
 */
import http, { type Server } from 'node:http';
import { getLogger } from '../log/index.js';
import { PROMETHEUS_CONTENT_TYPE } from './registry.js';

/** Options of `serveMetrics`. */
export interface MetricsServerOptions {
  readonly host: string;
  /** 0 picks a free port (see `server.address()`). */
  readonly port: number;
  /** Default `/metrics`. */
  readonly path?: string;
  /** The text to answer with (`renderClusterMetrics` in the master, `renderMetrics` elsewhere). */
  readonly render: () => Promise<string>;
}

function plain(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Start the server; resolves once it listens. Close it with `server.close()`. */
export async function serveMetrics(opts: MetricsServerOptions): Promise<Server> {
  const path = opts.path ?? '/metrics';
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== path) return plain(res, 404, 'not found');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return plain(res, 405, 'method not allowed');
    }
    opts.render().then(
      (text) => {
        const body = Buffer.from(text, 'utf8');
        res.writeHead(200, { 'Content-Type': PROMETHEUS_CONTENT_TYPE, 'Content-Length': body.length });
        res.end(req.method === 'HEAD' ? undefined : body);
      },
      (err: unknown) => {
        getLogger('mapproxy.metrics').warn({ err: (err as Error).message }, 'cannot collect the metrics');
        plain(res, 503, 'metrics unavailable');
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // Once listening, an error (a failed accept) is logged rather than left unhandled.
  server.on('error', (err) => getLogger('mapproxy.metrics').warn({ err: err.message }, 'metrics server error'));
  return server;
}

/** Stop `server` (from `serveMetrics`): idle keep-alive connections are closed at once. */
export function closeMetricsServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
