/**
 * WMTS RESTful URL templates (`services.wmts.restful_template`, default
 * `/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}`): parsed once into an
 * anchored matcher below `/wmts`, with MapProxy's value patterns per variable. Variables other
 * than the OGC ones are dimensions (OGC WMTS 1.0.0 §10.2.1).
 */
import { ConfigError } from '../errors.js';

/** A parsed RESTful template. */
export interface RestTemplate {
  /** The template with single braces, as advertised in ResourceURL. */
  readonly template: string;
  /** Anchored matcher of the full path (`/wmts/…`); groups are named after the variables. */
  readonly pattern: RegExp;
  /** Dimension variables as written in the template. */
  readonly dimensions: readonly string[];
}

/** The default tile template of MapProxy. */
export const DEFAULT_RESTFUL_TEMPLATE = '/{Layer}/{TileMatrixSet}/{TileMatrix}/{TileCol}/{TileRow}.{Format}';

const WORD = '[\\p{L}\\p{N}_]';
// MapProxy's per-variable patterns (Python's \w is Unicode-aware, hence \p{L}\p{N}).
const VARIABLE_PATTERNS: Readonly<Record<string, string>> = {
  TileMatrixSet: `[\\p{L}\\p{N}_.:-]+`,
  TileMatrix: '[0-9]+',
  TileRow: '-?[0-9]+',
  TileCol: '-?[0-9]+',
  I: '[0-9]+',
  J: '[0-9]+',
  Style: `[\\p{L}\\p{N}_.:-]+`,
  Layer: `[\\p{L}\\p{N}_.:-]+`,
  Format: `${WORD}+`,
  InfoFormat: `${WORD}+`,
};
const DIMENSION_PATTERN = `[\\p{L}\\p{N}_.,:-]+`;
const REQUIRED = ['TileCol', 'TileRow', 'TileMatrix', 'TileMatrixSet', 'Layer'];
// `{x}`; MapProxy still reads the deprecated `{{x}}` too.
const VARIABLE = /\{?\{(\w+)\}\}?/g;
const REGEX_SYNTAX = /[\\^$.*+?()[\]{}|/]/g;

/**
 * Parse a RESTful template. Throws `ConfigError` (at `yamlPath`) when a required variable is
 * missing or a variable appears twice.
 */
export function parseRestTemplate(
  template: string,
  yamlPath = 'services.wmts.restful_template',
): RestTemplate {
  const seen = new Set<string>();
  const dimensions: string[] = [];
  let source = '';
  let normalized = '';
  let last = 0;
  for (const m of template.matchAll(VARIABLE)) {
    const literal = template.slice(last, m.index);
    source += literal.replace(REGEX_SYNTAX, '\\$&');
    normalized += literal;
    const name = m[1];
    const known = VARIABLE_PATTERNS[name];
    // Dimension names are matched case-insensitively later, so they are keyed in lower case.
    const key = known ? name : name.toLowerCase();
    if (seen.has(key)) {
      throw new ConfigError([{ path: yamlPath, message: `variable {${name}} appears more than once in "${template}"` }]);
    }
    seen.add(key);
    if (!known) dimensions.push(name);
    source += `(?<${groupName(key)}>${known ?? DIMENSION_PATTERN})`;
    normalized += `{${name}}`;
    last = m.index + m[0].length;
  }
  const tail = template.slice(last);
  source += tail.replace(REGEX_SYNTAX, '\\$&');
  normalized += tail;
  const missing = REQUIRED.filter((v) => !seen.has(v));
  if (missing.length > 0) {
    throw new ConfigError([
      {
        path: yamlPath,
        message: `missing required variables in WMTS restful template "${template}": ${missing.map((v) => `{${v}}`).join(', ')}`,
      },
    ]);
  }
  return { template: normalized, pattern: new RegExp(`^/wmts${source}$`, 'u'), dimensions };
}

/** Group names must be JS identifiers; template variables are \w+, so prefix digits-first names. */
export function groupName(variable: string): string {
  return /^[0-9]/.test(variable) ? `_${variable}` : variable;
}
