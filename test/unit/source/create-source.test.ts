// createSource dispatches on type; the debug source draws the request's bbox and resolution.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError } from '../../../src/errors.js';
import { BUILTIN_SRS, buildGrids, getSrs } from '../../../src/grid/index.js';
import { decodeImage } from '../../../src/image/index.js';
import { createSource, DebugSource, TileSource, WmsSource, type SourceContext } from '../../../src/source/index.js';

const ctx: SourceContext = { globals: {}, lockDir: '/tmp/mpx-unused-locks', grids: buildGrids({}), configDir: '/tmp', srs: BUILTIN_SRS };

test('createSource builds wms, tile and debug sources', () => {
  assert.ok(createSource('a', { type: 'wms', req: { url: 'http://h/wms', layers: 'x' } }, ctx) instanceof WmsSource);
  assert.ok(createSource('b', { type: 'tile', url: 'http://h/%(z)s/%(x)s/%(y)s.png', grid: 'GLOBAL_WEBMERCATOR' }, ctx) instanceof TileSource);
  const d = createSource('c', { type: 'debug' }, ctx);
  assert.ok(d instanceof DebugSource);
  assert.equal(d.name, 'c');
  assert.equal(d.type, 'debug');
  assert.equal(d.supportsMetaTiles, false);
  assert.equal(d.transparent, true);
});

test('createSource refuses missing, unknown and unsupported types by path', () => {
  const msg = (conf: unknown) => {
    try {
      createSource('s', conf as never, ctx);
    } catch (e) {
      assert.ok(e instanceof ConfigError);
      return e.message;
    }
    assert.fail('no error');
  };
  assert.equal(msg({}), 'invalid configuration:\n  sources.s.type: required');
  assert.equal(msg({ type: 'wfs' }), 'invalid configuration:\n  sources.s.type: unknown source type "wfs" (known: wms, tile, debug)');
  assert.equal(msg({ type: 'mapnik', mapfile: 'x' }), 'invalid configuration:\n  sources.s.type: source type "mapnik" is not supported by mapproxy-ts');
});

test('the debug source answers a transparent PNG of the query size with text on it', async () => {
  const d = createSource('d', { type: 'debug' }, ctx);
  const img = await d.getMap({ bbox: [0, 0, 1000, 500], size: [300, 150], srs: getSrs('EPSG:3857'), format: 'image/jpeg' });
  assert.equal(img.mime, 'image/png');
  assert.equal(img.cacheable, true);
  const raw = await decodeImage(img.data);
  assert.deepEqual([raw.width, raw.height], [300, 150]);
  let transparent = 0;
  let drawn = 0;
  for (let i = 3; i < raw.data.length; i += 4) {
    if (raw.data[i] === 0) transparent++;
    else drawn++;
  }
  assert.ok(transparent > drawn, 'mostly transparent');
  assert.ok(drawn > 100, 'text and border drawn');
});
