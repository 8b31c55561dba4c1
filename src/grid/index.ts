/**
 * Public face of the grid folder: SRSs, tile grids, meta grids, the default grids, grids from
 * configuration, bbox helpers and scale formatting. Other folders import from here only.
 */
export type * from './types.js';
export { UnknownSrsError, TransformationError, SrsRegistry, BUILTIN_SRS, getSrs, isKnownSrs, normalizeSrsCode, envelopePoints, type SrsSettings } from './srs.js';
export { bboxIntersects, bboxContains, bboxEquals, mergeBbox, requestResolution, parseBbox } from './bbox.js';
export { computeResolutions, alignedResolutions, sortedResolutions, initialResolution, type ResFactor, type ResolutionOptions } from './resolutions.js';
export { TileGridImpl, GridRequestError, parseOrigin, MERCATOR_EXTENT, type GridRequestReason, type TileGridOptions } from './tile-grid.js';
export { createTileGrid, defaultBbox, type TileGridSpec } from './create.js';
export { GLOBAL_GEODETIC, GLOBAL_MERCATOR, GLOBAL_WEBMERCATOR, DEFAULT_GRID_CONFIGS } from './defaults.js';
export { buildGrids, type GridConfig, type GridGlobals } from './build.js';
export { MetaGridImpl, metaGrid } from './meta-grid.js';
export {
  OGC_PIXEL_SIZE,
  METERS_PER_DEGREE,
  metersPerUnit,
  resToScale,
  scaleToRes,
  degToMeters,
  scaleHint,
  wmtsScaleDenominator,
  formatScaleDenominator,
  formatUnitsPerPixel,
} from './scale.js';
export { pyRound, pyRoundInt, pyFloorDiv, pyFloatRepr } from './pyfloat.js';
