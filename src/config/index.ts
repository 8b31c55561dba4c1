/**
 * The config folder's public face: load a mapproxy.yaml (with `base:` includes and `$VAR`s),
 * validate it against MapProxy's schema and mapproxy-ts's support table, defaults, and the JSON
 * Schema for editors.
 */
export { loadConfigFile, loadConfigInto, type LoadedConfig, type LoadOptions } from './load.js';
export { validateConfig, inspectConfig, type ConfigReport, type ValidateOptions } from './validate.js';
export type {
  CacheBackendConfig,
  CacheConfig,
  CoverageConfig,
  DebugSourceConfig,
  FileCacheBackendConfig,
  GlobalsConfig,
  GridConfig,
  HttpOptsConfig,
  ImageOptsConfig,
  LayerConfig,
  MapProxyConfig,
  MapProxyYaml,
  ServicesConfig,
  SourceConfig,
  TileSourceConfig,
  WmsSourceConfig,
} from './schema.js';
export { checkConfigFile, type ConfigCheck } from './check.js';
export { DEFAULTS, DEFAULT_GRID_NAMES, SRS_WITH_DEFAULT_BBOX, defaultTileLockDir, resolvePath } from './defaults.js';
export { MapProxyYamlSchema } from './schema.js';
export { renderSchemaFile, schemaJson } from './schema-json.js';
export { SUPPORT, type Support, type SupportNode } from './support.js';
export { parseYaml, YAML11_SCHEMA } from './yaml.js';
