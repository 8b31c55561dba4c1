/**
 * Public face of the source folder: `createSource` builds any configured source by its `type`,
 * plus the source classes, the shared HTTP client and the test-visible helpers.
 */
import { ConfigError } from '../errors.js';
import type { CommonSourceConfig, SourceConfig, SourceContext, TileSourceConfig, WmsSourceConfig } from './config.js';
import { createDebugSource } from './debug.js';
import { createTileSource } from './tile.js';
import type { Source } from './types.js';
import { createWmsSource } from './wms.js';

export type { MapQuery, Source, SourceImage } from './types.js';
export type {
  CommonSourceConfig,
  GlobalsConfig,
  HttpConfig,
  OnErrorEntryConfig,
  SourceConfig,
  SourceContext,
  TileSourceConfig,
  WmsSourceConfig,
} from './config.js';
export {
  AuthorizeStaleError,
  BadImageError,
  FileUrlRefusedError,
  InvalidSourceQueryError,
  NotAnImageError,
  SourceFileError,
  UpstreamConnectionError,
  UpstreamHttpError,
  UpstreamTimeoutError,
} from './errors.js';
export { closeHttpAgents, httpGet, splitCredentials, USER_AGENT, type HttpOptions, type HttpRequestOptions, type HttpResponse } from './http-client.js';
export { FileSemaphore, semaphoreBase, type SemaphoreOptions } from './semaphore.js';
export { TileUrlTemplate, arcgisCachePath, quadkey, tcPath, tmsPath } from './tile-url.js';
export { WmsParams, wmsGetMapUrl, wmsRequestTemplate, type WmsRequestTemplate, type WmsVersion } from './wms-request.js';
export { WmsSource, createWmsSource } from './wms.js';
export { TileSource, createTileSource } from './tile.js';
export { DebugSource, createDebugSource } from './debug.js';

/** Source types MapProxy has that mapproxy-ts does not build (yet). */
const UNSUPPORTED = new Set(['mapserver', 'mapnik', 'arcgis', 'ogcapitiles', 'ogcapimaps']);

/**
 * Build the source `sources.<name>` by its `type` (`wms`, `tile`, `debug`). Throws ConfigError
 * naming the YAML path for a missing or unsupported type and for bad options.
 */
export function createSource(name: string, conf: SourceConfig, ctx: SourceContext): Source {
  const type = (conf as CommonSourceConfig | undefined)?.type;
  switch (type) {
    case 'wms':
      return createWmsSource(name, conf as WmsSourceConfig, ctx);
    case 'tile':
      return createTileSource(name, conf as TileSourceConfig, ctx);
    case 'debug':
      return createDebugSource(name);
    case undefined:
      throw new ConfigError([{ path: `sources.${name}.type`, message: 'required' }]);
    default:
      throw new ConfigError([
        {
          path: `sources.${name}.type`,
          message: UNSUPPORTED.has(String(type))
            ? `source type "${type}" is not supported by mapproxy-ts`
            : `unknown source type ${JSON.stringify(type)} (known: wms, tile, debug)`,
        },
      ]);
  }
}
