/**
 * End to end, upstream failures: a 500, a timeout, an HTML page with 200, a non-image content type
 * and a truncated PNG each give the documented error through WMTS REST (OWS ExceptionReport),
 * TMS (TileMapServerError) and /tiles (text), with no-cache headers and no stack trace; nothing is
 * stored (no tile, no temp file, no lock left), and once the upstream recovers the next request
 * fetches again and succeeds.
 */
import { test, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { UpstreamFailure } from '../helpers/upstream.js';
import {
  META_9_170_211_BBOX, assertNoCache, assertNoInternals, getMapQuery, listTree, metaTiles, owsException,
  startPipeline, tcPath, tmsException, type Pipeline,
} from './pipeline-helpers.js';

let p: Pipeline;
const KINDS = ['http500', 'timeout', 'html', 'ctype', 'truncated'] as const;

before(async () => {
  const caches = KINDS.map((k) => `  c_${k}: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}\n`).join('');
  const layers = KINDS.map((k) => `  - {name: ${k}, title: ${k}, sources: [c_${k}]}\n`).join('');
  p = await startPipeline((url) => `
services:
  tms:
  wmts:
layers:
${layers}caches:
${caches}sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
    http: {client_timeout: 1}
globals:
  cache:
    base_dir: ./cache
    tile_lock_dir: ./locks
`);
});
after(() => p?.close());
beforeEach(() => p.up.reset());

const upstreamUrl = (): string => `${p.up.url}/wms?${getMapQuery(META_9_170_211_BBOX, 1184, 1184)}`;

/** The failure, and the message the user sees with `hide_error_details` on (MapProxy's default). */
const CASES: Record<(typeof KINDS)[number], { failure: UpstreamFailure; message: () => string }> = {
  // MapProxy 1.15 says exactly this.
  http500: { failure: { kind: 'status', status: 500 }, message: () => 'HTTP Error (see logs for URL and reason).' },
  // MapProxy 1.15 on Python 3.11 says "Internal HTTP error (…)" here (socket timeouts are no longer
  // URLErrors there); its own tests and older Pythons say "No response from URL", as we do.
  timeout: { failure: { kind: 'delay', ms: 3000 }, message: () => 'No response from URL (see logs for URL and reason).' },
  // MapProxy: the not-an-image message names the URL even with hide_error_details.
  html: { failure: { kind: 'html' }, message: () => `no image returned from source WMS: ${upstreamUrl()}` },
  ctype: { failure: { kind: 'content-type', contentType: 'text/plain' }, message: () => `no image returned from source WMS: ${upstreamUrl()}` },
  // MapProxy 1.15 crashes here ("internal error" with a traceback in its log); we report a source error.
  truncated: { failure: { kind: 'truncated' }, message: () => `invalid image returned from source WMS: ${upstreamUrl()}` },
};

for (const kind of KINDS) {
  test(`upstream ${kind}: WMTS, TMS and /tiles answer 500 with the message, nothing is stored, recovery fetches again`, async () => {
    const { failure, message } = CASES[kind];
    const dir = join(p.dir, 'cache', `c_${kind}_EPSG3857`);
    p.up.fail(failure);

    const wmts = await p.get(`/wmts/${kind}/GLOBAL_WEBMERCATOR/09/170/211.png`);
    assert.equal(wmts.status, 500);
    assert.equal(wmts.headers.get('content-type'), 'text/xml');
    assert.equal(wmts.body.toString(), owsException('NoApplicableCode', message()));
    assertNoCache(wmts.headers, 'WMTS error');
    assertNoInternals(wmts.body.toString(), 'WMTS error');
    assert.equal(p.up.count(), 1);
    assert.equal(p.up.last().rawQuery, getMapQuery(META_9_170_211_BBOX, 1184, 1184));

    const tms = await p.get(`/tms/1.0.0/${kind}/EPSG3857/8/170/300.png`);
    assert.equal(tms.status, 500);
    assert.equal(tms.headers.get('content-type'), 'text/xml; charset=utf-8');
    assert.equal(tms.body.toString(), tmsException(message()));
    assertNoCache(tms.headers, 'TMS error');
    assertNoInternals(tms.body.toString(), 'TMS error');
    assert.equal(p.up.count(), 2, 'a failure is not remembered: the next request asks again');

    const tiles = await p.get(`/tiles/${kind}/EPSG3857/9/170/211.png?origin=nw`);
    assert.equal(tiles.status, 500);
    assert.equal(tiles.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(tiles.body.toString(), message());
    assertNoCache(tiles.headers, '/tiles error');
    assert.equal(p.up.count(), 3);

    assert.deepEqual(await listTree(dir), [], 'no tile and no temp file in the cache dir');
    assert.deepEqual(await listTree(join(p.dir, 'locks')), [], 'no lock left behind');

    p.up.fail(null);
    const ok = await p.get(`/wmts/${kind}/GLOBAL_WEBMERCATOR/09/170/211.png`);
    assert.equal(ok.status, 200);
    assert.equal(ok.headers.get('content-type'), 'image/png');
    assert.equal(p.up.count(), 4, 'the recovered upstream is asked again');
    assert.deepEqual(await listTree(dir), metaTiles(170, 211, 9).map((t) => tcPath(...t)).sort());
    assert.ok(ok.body.equals(await readFile(join(dir, tcPath(170, 211, 9)))));
    const again = await p.get(`/tms/1.0.0/${kind}/EPSG3857/8/170/300.png`);
    assert.equal(again.status, 200);
    assert.ok(again.body.equals(ok.body));
    assert.equal(p.up.count(), 4);
  });
}

/** A second app whose `http` options come from `where` (globals or the source). */
async function verboseApp(where: 'globals' | 'source'): Promise<Pipeline> {
  const http = '{hide_error_details: false}';
  return startPipeline((url) => `
services:
  wmts:
layers:
  - {name: details, title: details, sources: [c_details]}
caches:
  c_details: {grids: [GLOBAL_WEBMERCATOR], sources: [up]}
sources:
  up:
    type: wms
    req: {url: '${url}/wms?', layers: base}
${where === 'source' ? `    http: ${http}\n` : ''}globals:
  cache: {base_dir: ./cache}
${where === 'globals' ? `  http: ${http}\n` : ''}`, p.up);
}

for (const where of ['globals', 'source'] as const) {
  test(`with ${where === 'globals' ? 'globals.' : 'sources.<name>.'}http.hide_error_details: false the message names the URL and the status`, async () => {
    const v = await verboseApp(where);
    try {
      p.up.fail({ kind: 'status', status: 503 });
      const res = await v.get('/wmts/details/GLOBAL_WEBMERCATOR/09/170/211.png');
      assert.equal(res.status, 500);
      // MapProxy: 'HTTP Error "<url>": <status>'.
      assert.equal(res.body.toString(), owsException('NoApplicableCode', `HTTP Error "${upstreamUrl()}": 503`));
      assert.deepEqual(await listTree(join(v.dir, 'cache', 'c_details_EPSG3857')), []);
    } finally {
      p.up.fail(null);
      await v.close();
    }
  });
}
