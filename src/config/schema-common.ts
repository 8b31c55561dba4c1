/**
 * Building blocks of the mapproxy.yaml schema shared by several sections: helpers for the JSON
 * Schema shapes we use, coverages, image options, HTTP options, `on_error`, scale hints and OGC
 * metadata. Key lists and types follow MapProxy 7.x (REFERENCE.md §3) and 1.15's `config/spec.py`.
 */
import { Type, type Static, type TObject, type TProperties, type TSchema, type SchemaOptions } from '@sinclair/typebox';

/** A mapping whose keys are all listed: an unknown key is reported (MapProxy warns about it). */
export function Obj<P extends TProperties>(props: P, opts: SchemaOptions = {}): TObject<P> {
  return Type.Object(props, { additionalProperties: false, ...opts });
}

/** A mapping of user-chosen names to values of one schema (`caches`, `sources`, headers, …). */
export function MapOf<T extends TSchema>(value: T, opts: SchemaOptions = {}) {
  return Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: value, ...opts });
}

/** A string from a fixed list; validated and reported as `expected one of a, b, c`. */
export function StringEnum<T extends string>(values: readonly T[], opts: SchemaOptions = {}) {
  return Type.Unsafe<T>({ type: 'string', enum: [...values], ...opts });
}

/**
 * Mappings told apart by their `type` key (sources, cache backends). Validated with ajv's
 * `discriminator`, so only the branch the `type` names reports errors.
 */
export function Tagged<T extends TObject[]>(branches: [...T], opts: SchemaOptions = {}) {
  return Type.Unsafe<Static<T[number]>>({
    type: 'object',
    required: ['type'],
    discriminator: { propertyName: 'type' },
    oneOf: branches,
    ...opts,
  });
}

/** A reference to a schema in the root `definitions` (used for the recursive ones). */
export function RefTo<T extends TSchema>(schema: T, opts: SchemaOptions = {}) {
  return Type.Unsafe<Static<T>>(Type.Ref(schema.$id as string, opts));
}

/** An optional key. */
export const Opt = Type.Optional;

/** Short names for the scalar types, to keep the section schemas readable. */
export const Str = (opts: SchemaOptions = {}) => Type.String(opts);
/** A number (integers included; booleans are not numbers). */
export const Num = (opts: SchemaOptions = {}) => Type.Number(opts);
/** An integer. */
export const Int = (opts: SchemaOptions = {}) => Type.Integer(opts);
/** `true` or `false` (YAML 1.1 also writes them yes/no/on/off). */
export const Bool = (opts: SchemaOptions = {}) => Type.Boolean(opts);
/** A list of strings (names of sources, grids, SRS, formats). */
export const StrList = (opts: SchemaOptions = {}) => Type.Array(Type.String(), opts);

// A float as Python's float() reads it (bbox strings are split on commas and converted so).
const FLOAT = String.raw`\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*`;

/** `[minx, miny, maxx, maxy]` or the string `"minx,miny,maxx,maxy"`. */
export const BboxSchema = (opts: SchemaOptions = {}) =>
  Type.Union(
    [
      Type.Array(Type.Number(), { minItems: 4, maxItems: 4 }),
      Type.String({ pattern: `^${FLOAT},${FLOAT},${FLOAT},${FLOAT}$`, 'x-expected': 'a string "minx,miny,maxx,maxy"' }),
    ],
    opts,
  );

/** `[width, height]` in pixels or tiles. */
export const SizeSchema = (opts: SchemaOptions = {}) =>
  Type.Array(Type.Integer({ minimum: 1 }), { minItems: 2, maxItems: 2, ...opts });

/** An octal permission string as MapProxy reads it (`'755'`). */
export const PermissionsSchema = (what: string) =>
  Type.String({ pattern: '^[0-7]{3,4}$', 'x-expected': 'an octal permission string like "755"', description: what });

/**
 * Where a source or cache has data (MapProxy coverages). Recursive through `union`, `intersection`
 * and `difference`.
 */
export const CoverageSchema = Type.Recursive(
  (This) =>
    Obj({
      bbox: Opt(BboxSchema({ description: 'Rectangle of the coverage, in `srs` (or `bbox_srs`).' })),
      srs: Opt(Str({ description: 'SRS of `bbox` or `datasource`.' })),
      bbox_srs: Opt(Str({ description: 'SRS of `bbox` (wins over `srs`).' })),
      datasource: Opt(
        Type.Union([Type.Array(Type.Number(), { minItems: 4, maxItems: 4 }), Type.String()], {
          description: 'A bbox, or a file (WKT, GeoJSON, OGR) with polygons.',
        }),
      ),
      where: Opt(Str({ description: 'OGR filter for `datasource`.' })),
      polygons: Opt(Str({ description: 'File with WKT polygons (legacy).' })),
      polygons_srs: Opt(Str()),
      ogr_datasource: Opt(Str({ description: 'OGR datasource (legacy).' })),
      ogr_srs: Opt(Str()),
      ogr_where: Opt(Str()),
      expire_tiles: Opt(Str({ description: 'File or directory of z/x/y expire-tile lists.' })),
      union: Opt(Type.Array(This)),
      intersection: Opt(Type.Array(This)),
      difference: Opt(Type.Array(This)),
      clip: Opt(Bool({ description: 'Clip images to the coverage geometry.', default: false })),
    }),
  { $id: 'Coverage', title: 'coverage' },
);
/** A coverage key (a reference to the shared recursive coverage schema). */
export const Coverage = (opts: SchemaOptions = {}) => RefTo(CoverageSchema, opts);

const RESAMPLING = ['nearest', 'bilinear', 'bicubic'] as const;
/** `nearest`, `bilinear` or `bicubic`. */
export const Resampling = (opts: SchemaOptions = {}) => StringEnum(RESAMPLING, opts);

/** Image options of caches, sources and `globals.image.formats`. */
export const imageOptsProps = {
  format: Opt(Str({ description: 'MIME type, e.g. image/png, image/jpeg.' })),
  mode: Opt(Str({ description: 'Image mode: RGB, RGBA, P, L, I.' })),
  colors: Opt(Num({ description: 'Number of palette colors (0 = no palette).' })),
  transparent: Opt(Bool()),
  resampling_method: Opt(Resampling()),
  opacity: Opt(Num({ minimum: 0, maximum: 1 })),
  merge_method: Opt(Str({ description: 'Deprecated.' })),
  encoding_options: Opt(
    Obj({
      jpeg_quality: Opt(Int({ minimum: 1, maximum: 100 })),
      quantizer: Opt(StringEnum(['fastoctree', 'mediancut'] as const)),
      tiff_compression: Opt(Str()),
    }),
  ),
};
/** `image:` options of caches and tile sources, and of each `globals.image.formats` entry. */
export const ImageOpts = (opts: SchemaOptions = {}) => Obj(imageOptsProps, opts);

/** Image options of a WMS or MapServer source: the common ones plus transparency handling. */
export const SourceImageOpts = () =>
  Obj({
    ...imageOptsProps,
    transparent_color: Opt(
      Type.Union([Str(), Type.Array(Type.Integer(), { minItems: 3, maxItems: 3 })], {
        description: 'Color to make transparent: "#rrggbb" or [r, g, b].',
      }),
    ),
    transparent_color_tolerance: Opt(Num({ default: 5 })),
  });

const HTTP_METHODS = ['AUTO', 'GET', 'POST'] as const;

/** HTTP client options of sources (and, with more keys, `globals.http`). */
export const httpOptsProps = {
  method: Opt(StringEnum(HTTP_METHODS, { default: 'AUTO' })),
  client_timeout: Opt(Num({ exclusiveMinimum: 0, default: 60, description: 'Seconds.' })),
  ssl_no_cert_checks: Opt(Bool({ default: false })),
  ssl_ca_certs: Opt(Str()),
  hide_error_details: Opt(Bool({ default: true })),
  headers: Opt(MapOf(Str(), { description: 'Extra request headers.' })),
  manage_cookies: Opt(Bool({ default: false })),
};
/** `http:` options of a source. */
export const HttpOpts = () => Obj(httpOptsProps);

/** What a source does on an upstream error, per HTTP status code or `other`. */
export const OnError = () =>
  MapOf(
    Obj(
      {
        response: Type.Union([Type.Array(Type.Integer(), { minItems: 3, maxItems: 4 }), Str()], {
          description: '`transparent` or a color ([r, g, b(, a)] or "#rrggbb").',
        }),
        cache: Opt(Bool({ default: false })),
        authorize_stale: Opt(Bool({ default: false })),
      },
      { required: ['response'] },
    ),
    { description: 'Keys: an HTTP status code or `other`.' },
  );

/** `min_res`/`max_res`/`min_scale`/`max_scale` of layers and sources. */
export const scaleHintProps = {
  min_res: Opt(Num({ exclusiveMinimum: 0, description: 'Coarsest resolution served (units per pixel).' })),
  max_res: Opt(Num({ exclusiveMinimum: 0, description: 'Finest resolution served (exclusive).' })),
  min_scale: Opt(Num({ exclusiveMinimum: 0 })),
  max_scale: Opt(Num({ exclusiveMinimum: 0 })),
};

/** OGC keyword lists: `[{vocabulary, keywords: [..]}]`. */
export const KeywordList = () =>
  Type.Array(Obj({ vocabulary: Opt(Str()), keywords: Opt(StrList()) }));

/** Service metadata (`services.*.md`). */
export const ServiceMd = () =>
  Obj({
    title: Opt(Str()),
    abstract: Opt(Str()),
    online_resource: Opt(Str()),
    contact: Opt(
      Obj({
        person: Opt(Str()),
        position: Opt(Str()),
        organization: Opt(Str()),
        address: Opt(Str()),
        city: Opt(Str()),
        state: Opt(Str()),
        postcode: Opt(Type.Union([Str(), Num()])),
        country: Opt(Str()),
        phone: Opt(Str()),
        fax: Opt(Str()),
        email: Opt(Str()),
      }),
    ),
    fees: Opt(Str()),
    access_constraints: Opt(Str()),
    keyword_list: Opt(KeywordList()),
  });

const UrlFormat = () => Obj({ url: Opt(Str()), format: Opt(Str()) });

/** Layer metadata (`layers[].md`, WMS 1.3.0 layer metadata). */
export const LayerMd = () =>
  Obj({
    abstract: Opt(Str()),
    keyword_list: Opt(KeywordList()),
    attribution: Opt(
      Obj({
        title: Opt(Str()),
        url: Opt(Str()),
        logo: Opt(Obj({ url: Opt(Str()), width: Opt(Int()), height: Opt(Int()), format: Opt(Str()) })),
      }),
    ),
    identifier: Opt(Type.Array(Obj({ url: Opt(Str()), name: Opt(Str()), value: Opt(Str()) }))),
    metadata: Opt(Type.Array(Obj({ url: Opt(Str()), type: Opt(Str()), format: Opt(Str()) }))),
    data: Opt(Type.Array(UrlFormat())),
    feature_list: Opt(Type.Array(UrlFormat())),
  });

/** `refresh_before`: a time span, a fixed time, or the mtime of a file. */
export const TimeSpec = () =>
  Obj({
    weeks: Opt(Num()),
    days: Opt(Num()),
    hours: Opt(Num()),
    minutes: Opt(Num()),
    seconds: Opt(Num()),
    time: Opt(Str({ description: 'ISO date/time, e.g. 2024-01-31T12:00:00.' })),
    mtime: Opt(Str({ description: 'A file: tiles older than its mtime are refreshed.' })),
  });
