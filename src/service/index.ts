/**
 * Public face of the service folder: the tile services (TMS and /tiles, WMTS KVP and RESTful),
 * the OWS dispatcher, error documents, and the contracts services and layers share.
 */
export type {
  QueryParams,
  ServiceRequest,
  ServiceResponse,
  Service,
  TileCacheInfo,
  TileResult,
  TileLayer,
  LayerMetadata,
  ServiceMetadata,
  ServiceContact,
  KeywordList,
} from './types.js';
export { createTmsService, type TmsServiceOptions } from './tms.js';
export {
  createWmtsService,
  RESTFUL_CAPABILITIES_PATH,
  type WmtsServiceOptions,
  type WmtsServices,
} from './wmts.js';
export { DEFAULT_RESTFUL_TEMPLATE, parseRestTemplate, type RestTemplate } from './wmts-template.js';
export { createOwsDispatcher, type OwsServices } from './ows.js';
export { toServiceMetadata } from './metadata.js';
export { DEFAULT_TILE_MAX_AGE } from './tiles.js';
export {
  owsExceptionReport,
  owsErrorResponse,
  tmsErrorResponse,
  plainErrorResponse,
  missingParameterError,
  invalidParameterError,
  notFoundError,
  INTERNAL_ERROR_MESSAGE,
} from './exceptions.js';
export { escapeXml, quotePath } from './xml.js';
