/**
 * TMS 1.0.0 documents (OSGeo Tile Map Service Specification): the root resource (`/tms`), the
 * TileMapService (`/tms/1.0.0/`) and one TileMap per layer, laid out line for line like
 * MapProxy 1.15 writes them. Also the per-layer TMS view of a grid: profile, SRS name, the
 * public levels ("tile sets") and the public → internal level mapping (REFERENCE.md §2.8).
 */
import { formatUnitsPerPixel, pyFloatRepr, type TileCoord } from '../grid/index.js';
import { advertisedMime } from './tiles.js';
import type { ServiceMetadata, TileLayer } from './types.js';
import { escapeXml, withoutTrailingSlashes } from './xml.js';

/** A tile layer as the TMS and /tiles services see it. */
export interface TmsLayer {
  readonly layer: TileLayer;
  /** `[layer name, SRS code without colon | grid name]`: the URL path of the layer. */
  readonly namePath: readonly [string, string];
  /** `OSGEO:41001` (global-mercator), `EPSG:4326` (global-geodetic) or the grid's SRS code. */
  readonly srsName: string;
  readonly profile: 'global-mercator' | 'global-geodetic' | 'local';
  /** The global profiles hide the one-tile level 0 (TMS only, not /tiles). */
  readonly skipFirstLevel: boolean;
  /** Grids with res_factor √2 publish every second level only. */
  readonly skipOddLevels: boolean;
  /** `[order, resolution]` of each public level. */
  readonly tileSets: ReadonlyArray<readonly [number, number]>;
}

/** Build the TMS view of a layer; `useGridNames` picks the grid name as the second path part. */
export function tmsLayer(layer: TileLayer, useGridNames: boolean): TmsLayer {
  const grid = layer.grid;
  const profile = grid.profile;
  const srsName =
    profile === 'global-mercator' ? 'OSGEO:41001' : profile === 'global-geodetic' ? 'EPSG:4326' : grid.srs.code;
  const skipFirstLevel = profile !== 'local';
  // MapProxy compares the first two resolutions with √2 exactly.
  const skipOddLevels = grid.resolutions.length > 1 && grid.resolutions[0] / grid.resolutions[1] === Math.SQRT2;
  const start = skipFirstLevel ? (skipOddLevels ? 2 : 1) : 0;
  const step = skipOddLevels ? 2 : 1;
  const tileSets: Array<readonly [number, number]> = [];
  for (let level = start, order = 0; level < grid.levels; level += step, order++) {
    tileSets.push([order, grid.resolutions[level]]);
  }
  const second = useGridNames ? grid.name : grid.srs.code.replace(/:/g, '').toUpperCase();
  return { layer, namePath: [layer.name, second], srsName, profile, skipFirstLevel, skipOddLevels, tileSets };
}

/**
 * Public TMS coord → the grid's internal coord, or null outside the grid. `useProfiles` is true on
 * `/tms` (the global profiles start one level lower); √2 grids double the level on every path,
 * as MapProxy does. The y axis is not touched here.
 */
export function internalCoord(view: TmsLayer, coord: TileCoord, useProfiles: boolean): TileCoord | null {
  let z = coord[2];
  if (z < 0) return null;
  if (useProfiles && view.skipFirstLevel) z += 1;
  if (view.skipOddLevels) z *= 2;
  return view.layer.grid.limitTile([coord[0], coord[1], z]);
}

const title = (md: ServiceMetadata): string => escapeXml(md.title ?? '');

/** `<Services>`: the root resource listing the one TileMapService version. `url` is the request URL. */
export function rootResourceXml(md: ServiceMetadata, url: string): string {
  const href = url.endsWith('/') ? url : `${url}/`;
  return (
    '<?xml version="1.0"?>\n    <Services>\n' +
    `    <TileMapService title="${title(md)}" version="1.0.0"\n` +
    `        href="${escapeXml(href)}1.0.0/" />\n` +
    '</Services>'
  );
}

/** `<TileMapService>` listing every layer; `url` is the request URL (`…/tms/1.0.0/`). */
export function tileMapServiceXml(md: ServiceMetadata, layers: Iterable<TmsLayer>, url: string): string {
  const base = escapeXml(withoutTrailingSlashes(url));
  let out =
    '<?xml version="1.0"?>\n    <TileMapService version="1.0.0">\n' +
    `    <Title>${title(md)}</Title>\n` +
    `    <Abstract>${escapeXml(md.abstract ?? '')}</Abstract>\n` +
    '    <TileMaps>\n';
  for (const view of layers) {
    out +=
      `        <TileMap title="${escapeXml(view.layer.title)}"\n` +
      `                 srs="${escapeXml(view.srsName)}"\n` +
      `                 profile="${view.profile}"\n` +
      `                 href="${base}/${escapeXml(view.namePath.join('/'))}" />\n`;
  }
  return `${out}    </TileMaps>\n</TileMapService>`;
}

/**
 * `<TileMap>` of one layer: BoundingBox and Origin are the grid bbox (MapProxy's own "first level"
 * bbox lookup falls back to it), one TileSet per public level; `url` is the request URL.
 */
export function tileMapXml(view: TmsLayer, url: string): string {
  const { layer } = view;
  const [minx, miny, maxx, maxy] = layer.grid.bbox.map(pyFloatRepr);
  const [tw, th] = layer.grid.tileSize;
  const href = escapeXml(url);
  let out =
    '<?xml version="1.0"?>\n <TileMap version="1.0.0">\n' +
    `  <Title>${escapeXml(layer.title)}</Title>\n` +
    '  <Abstract></Abstract>\n' +
    `  <SRS>${escapeXml(view.srsName)}</SRS>\n` +
    `  <BoundingBox minx="${minx}" miny="${miny}" maxx="${maxx}" maxy="${maxy}" />\n` +
    `  <Origin x="${minx}" y="${miny}" />\n` +
    `  <TileFormat width="${tw}" height="${th}" mime-type="${escapeXml(advertisedMime(layer))}" ` +
    `extension="${escapeXml(layer.extension)}" />\n` +
    `  <TileSets profile="${view.profile}">\n`;
  for (const [order, res] of view.tileSets) {
    out += `    <TileSet href="${href}/${order}" units-per-pixel="${formatUnitsPerPixel(res)}" order="${order}" />\n`;
  }
  return `${out}  </TileSets>\n</TileMap>`;
}
