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
const port = Number(process.env.EXAMPLE_WMS_PORT ?? 8091);
const wms = await startWorldWms(port);
process.env.EXAMPLE_WMS_PORT = String(wms.address().port);
console.log(`example WMS listening on http://127.0.0.1:${wms.address().port}/wms`);
const { main } = await import('../dist/cli/main.js');
const code = await main(['serve-develop', join(HERE, 'mapproxy.yaml'), ...process.argv.slice(2)]);
if (typeof code === 'number' && code !== 0) process.exit(code);
