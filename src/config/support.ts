/**
 * Which parts of a MapProxy configuration mapproxy-ts supports in this release: ONE table,
 * `SUPPORT`, shaped like the YAML. A key MapProxy knows but the table does not list is reported as
 * `not supported yet` (never silently ignored). To land a feature, add its keys here.
 */

/**
 * What is supported at one place of the configuration.
 * - `true`: the value and everything below it.
 * - a `SupportNode`: only what the node lists.
 */
export type Support = true | SupportNode;

export interface SupportNode {
  /** Supported keys of a mapping; a key MapProxy knows that is not listed is not supported. */
  keys?: Readonly<Record<string, Support>>;
  /** Applies to every value of a mapping of names, or every item of a list. */
  each?: Support;
  /** Mappings told apart by a key (`type`): what each value of that key supports. */
  byType?: { key: string; types: Readonly<Record<string, Support>> };
  /** Only these values are supported. */
  values?: readonly unknown[];
  /** Custom check of the value: returns what is not supported, or undefined. */
  check?: (value: unknown) => string | undefined;
}

/** Can a cache use another cache as a source? (MapProxy can; mapproxy-ts not yet.) */
export const CACHE_AS_CACHE_SOURCE = true;
/** Tagged sources (`wms1:layer1,layer2`) in layers and caches. */
export const TAGGED_SOURCES = false;
/** The deprecated forms of `layers`: `{name: {title, sources}}` or `[{name: {title, sources}}]`. */
export const LEGACY_LAYERS = false;

const scaleHints = { min_res: true, max_res: true, min_scale: true, max_scale: true } as const;

/** Coverages: a bbox and its SRS only (no polygons, datasources, or set operations yet). */
const coverage: Support = { keys: { bbox: true, srs: true, bbox_srs: true, clip: { values: [false] } } };

const jpegOnly: Support = { keys: { jpeg_quality: true } };

const imageOptsKeys: Record<string, Support> = {
  format: true,
  mode: true,
  colors: true,
  transparent: true,
  resampling_method: true,
  encoding_options: jpegOnly,
};
const imageOpts: Support = { keys: imageOptsKeys };

const sourceHttp: Support = {
  keys: {
    client_timeout: true,
    headers: true,
    hide_error_details: true,
    method: { values: ['GET', 'AUTO'] },
    manage_cookies: true,
    ssl_no_cert_checks: { values: [false] },
  },
};

const wmsSource: Support = {
  keys: {
    type: true,
    req: true,
    wms_opts: { keys: { version: { values: ['1.1.1', '1.3.0'] }, map: { values: [true] }, featureinfo: { values: [false] }, legendgraphic: { values: [false] } } },
    supported_srs: true,
    supported_formats: true,
    coverage,
    ...scaleHints,
    seed_only: true,
    on_error: true,
    http: sourceHttp,
    concurrent_requests: true,
    image: {
      keys: {
        ...imageOptsKeys,
        opacity: true,
        transparent_color: true,
        transparent_color_tolerance: true,
      },
    },
  },
};

const tileSource: Support = {
  keys: {
    type: true,
    url: true,
    grid: true,
    origin: true,
    transparent: true,
    coverage,
    http: sourceHttp,
    on_error: true,
    min_res: true,
    max_res: true,
    seed_only: true,
    request_format: true,
  },
};

const layer: SupportNode = {
  keys: { name: true, title: true, sources: true, tile_sources: true, md: true, ...scaleHints },
};
(layer.keys as Record<string, Support>).layers = { each: layer };

const cache: Support = {
  keys: {
    sources: {
      check: (v) => (Array.isArray(v) || v === undefined ? undefined : 'band merging (sources as a mapping of bands)'),
    },
    grids: true,
    format: true,
    request_format: true,
    image: imageOpts,
    meta_size: true,
    meta_buffer: true,
    bulk_meta_tiles: true,
    minimize_meta_requests: true,
    concurrent_tile_creators: true,
    disable_storage: true,
    link_single_color_images: true,
    refresh_before: true,
    cache_dir: true,
    upscale_tiles: { values: [0] },
    downscale_tiles: { values: [0] },
    cache_rescaled_tiles: { values: [false] },
    cache: {
      byType: {
        key: 'type',
        types: {
          file: {
            keys: {
              type: true,
              directory_layout: true,
              use_grid_names: true,
              directory: true,
              tile_lock_dir: true,
              directory_permissions: true,
              file_permissions: true,
              coverage,
            },
          },
        },
      },
    },
  },
};

/** The table: what mapproxy-ts supports, shaped like mapproxy.yaml. */
export const SUPPORT: SupportNode = {
  keys: {
    base: true,
    parts: true,
    globals: {
      keys: {
        cache: {
          keys: {
            base_dir: true,
            lock_dir: true,
            tile_lock_dir: true,
            meta_size: true,
            meta_buffer: true,
            bulk_meta_tiles: true,
            minimize_meta_requests: true,
            concurrent_tile_creators: true,
            link_single_color_images: true,
            directory_permissions: true,
            file_permissions: true,
            max_tile_limit: true,
            memory_tier: true,
          },
        },
        image: {
          keys: {
            resampling_method: true,
            paletted: true,
            stretch_factor: true,
            max_shrink_factor: true,
            jpeg_quality: true,
          },
        },
        http: {
          keys: {
            client_timeout: true,
            headers: true,
            access_control_allow_origin: true,
            concurrent_requests: true,
            hide_error_details: true,
            method: { values: ['GET', 'AUTO'] },
            ssl_no_cert_checks: { values: [false] },
            manage_cookies: true,
          },
        },
        grid: { keys: { tile_size: true } },
        srs: { keys: { axis_order_ne: true, axis_order_en: true, proj4_defs: true } },
        tiles: { keys: { expires_hours: true, x_cache_header: true } },
      },
    },
    grids: true,
    sources: { each: { byType: { key: 'type', types: { wms: wmsSource, tile: tileSource, debug: { keys: { type: true } } } } } },
    caches: { each: cache },
    layers: { each: layer },
    services: {
      keys: {
        tms: { keys: { use_grid_names: true, origin: true, md: true } },
        wmts: { keys: { kvp: true, restful: true, restful_template: true, md: true } },
      },
    },
  },
};
