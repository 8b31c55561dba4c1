#!/usr/bin/env node
/**
 * `npm start`: the bundled example. Starts the offline example WMS (examples/world-wms.mjs) on
 * 127.0.0.1 and then `mapproxy-ts serve-develop examples/mapproxy.yaml` in front of it.
 * Environment: EXAMPLE_WMS_PORT (default 8091); extra arguments go to serve-develop (-b host:port).
 */
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { startWorldWms } from './world-wms.mjs';

const HERE = dirname(fileURLToPath(import.meta.url));
const wanted = process.env.EXAMPLE_WMS_PORT;
let wms;
try {
  wms = await startWorldWms(Number(wanted ?? 8091));
} catch (err) {
  // The config reads ${EXAMPLE_WMS_PORT}: when 8091 is taken, any free port does.
  if (err?.code !== 'EADDRINUSE' || wanted !== undefined) {
    console.error(`example WMS: cannot listen on 127.0.0.1:${wanted ?? 8091}: ${err?.message ?? err}`);
    process.exit(1);
  }
  wms = await startWorldWms(0);
}
process.env.EXAMPLE_WMS_PORT = String(wms.address().port);
console.log(`example WMS listening on http://127.0.0.1:${wms.address().port}/wms`);
const { main } = await import('../dist/cli/main.js');
const code = await main(['serve-develop', join(HERE, 'mapproxy.yaml'), ...process.argv.slice(2)]);
// serve-develop returned (a signal or an error): the example WMS goes with it.
wms.closeAllConnections?.();
wms.close();
process.exitCode = typeof code === 'number' ? code : 1;
