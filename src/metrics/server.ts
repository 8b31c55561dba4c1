/**
 * `/metrics` on a port of its own (for instance the master's, bound to an internal address so
 * the public port never exposes it): a bare node:http server answering GET/HEAD of one path.
 */
import http, { type Server } from 'node:http';
import { once } from 'node:events';
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
  server.listen(opts.port, opts.host);
  await Promise.race([once(server, 'listening'), once(server, 'error').then(([err]) => Promise.reject(err as Error))]);
  return server;
}
