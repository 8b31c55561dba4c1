/**
 * `mapproxy-ts serve-develop`: one process serving one configuration, for local testing
 * (MapProxy's `mapproxy-util serve-develop`). Stops cleanly on SIGINT / SIGTERM.
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import { createApp } from '../app/create-app.js';
import { ConfigError } from '../errors.js';
import { getLogger } from '../log/index.js';

/** Serve `configPath` on `bind` until a signal arrives; resolves to the exit code. */
export async function serveDevelop(configPath: string, bind: { host: string; port: number }): Promise<number> {
  let app;
  try {
    app = await createApp(configPath);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`mapproxy-ts: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
  const server = createServer(app);
  server.keepAliveTimeout = 65_000;
  try {
    server.listen(bind.port, bind.host);
    await once(server, 'listening');
  } catch (err) {
    process.stderr.write(`mapproxy-ts: cannot listen on ${bind.host}:${bind.port}: ${(err as Error).message}\n`);
    await app.close();
    return 1;
  }
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : bind.port;
  getLogger('mapproxy.system').info({ config: configPath, host: bind.host, port }, `serving on http://${bind.host}:${port}/`);
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
  });
  getLogger('mapproxy.system').info({ signal }, 'stopping');
  server.close();
  server.closeIdleConnections();
  await app.close();
  return 0;
}
