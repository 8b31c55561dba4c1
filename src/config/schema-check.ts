/**
 * Shape and type checks of a configuration against the JSON Schema (ajv), turned into messages a
 * user can act on: the YAML path, what was expected and what was found
 * (`caches.osm.meta_size: expected a list of 2 integers >= 1, got [4]`). Unknown keys are only
 * warnings, as in MapProxy, with a "did you mean" from the keys known at that place.
 */
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { ConfigProblem } from '../errors.js';
import { schemaJson } from './schema-json.js';
import { validate as generatedValidate } from './schema-validator.generated.js';
import { didYouMean, formatPath, isPlainObject, type PathSegment } from './util.js';

type JsonSchema = Record<string, unknown>;

let compiled: { validate: ValidateFunction; root: JsonSchema } | undefined;

/**
 * The validator (compiled ahead of time by scripts/write-schema.ts: ajv's standalone code, so no
 * process pays ajv's compile of the schema) and the schema it was compiled from.
 */
function compile(): { validate: ValidateFunction; root: JsonSchema } {
  compiled ??= { validate: generatedValidate as unknown as ValidateFunction, root: schemaJson() };
  return compiled;
}

/** The compiled root schema (shared; do not modify). */
export function rootSchema(): JsonSchema {
  return compile().root;
}

/** Follow a `$ref` to one of the root `definitions` (`#/definitions/Layer`). */
export function deref(schema: JsonSchema, root: JsonSchema = compile().root): JsonSchema {
  const ref = schema.$ref;
  if (typeof ref !== 'string' || !ref.startsWith('#/definitions/')) return schema;
  const defs = (root.definitions ?? {}) as Record<string, JsonSchema>;
  return defs[ref.slice('#/definitions/'.length)] ?? schema;
}

/** The result of the schema pass. */
export interface SchemaCheck {
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
  /** Formatted paths of unknown keys (the support check skips them). */
  unknown: Set<string>;
}

/** The sections of a seed configuration (MapProxy's seed.yaml), not of a mapproxy.yaml. */
const SEED_SECTIONS = new Set(['seeds', 'cleanups', 'coverages']);
const SEED_SECTION_MESSAGE = 'unknown key: a section of a seed configuration (seed.yaml, read by mapproxy-seed), not of mapproxy.yaml';

/** Check `data` against the schema; every problem and unknown key is returned. */
export function checkSchema(data: Record<string, unknown>): SchemaCheck {
  const { validate } = compile();
  const result: SchemaCheck = { problems: [], warnings: [], unknown: new Set() };
  if (validate(data)) return result;
  const seen = new Set<string>();
  for (const err of relevantErrors(validate.errors ?? [])) {
    const segs = pathSegments(data, err.instancePath);
    if (err.keyword === 'additionalProperties') {
      const key = String((err.params as { additionalProperty: string }).additionalProperty);
      const known = Object.keys(((err.parentSchema as JsonSchema).properties ?? {}) as object);
      const path = formatPath([...segs, key]);
      result.unknown.add(path);
      // seed.yaml's sections at the top of a mapproxy.yaml: most likely the wrong file.
      const seedKey = segs.length === 0 && SEED_SECTIONS.has(key);
      result.warnings.push({ path, message: seedKey ? SEED_SECTION_MESSAGE : `unknown key${didYouMean(key, known)}` });
      continue;
    }
    const problem = describeError(err, segs);
    if (!problem) continue;
    const id = `${problem.path}\n${problem.message}`;
    if (seen.has(id)) continue;
    seen.add(id);
    result.problems.push(problem);
  }
  return result;
}

/** Turn one ajv error into a problem; undefined when another error says the same. */
function describeError(err: ErrorObject, segs: PathSegment[]): ConfigProblem | undefined {
  const schema = (err.parentSchema ?? {}) as JsonSchema;
  switch (err.keyword) {
    case 'required': {
      const key = (err.params as { missingProperty: string }).missingProperty;
      return { path: formatPath(segs), message: `missing required key "${key}"` };
    }
    case 'discriminator': {
      const { tag, tagValue } = err.params as { tag: string; tagValue?: unknown };
      // A missing tag is already reported by `required`.
      if (tagValue === undefined) return undefined;
      const types = ((schema.oneOf ?? []) as JsonSchema[]).map((b) => String(tagConst(b, tag)));
      const hint = typeof tagValue === 'string' ? didYouMean(tagValue, types) : '';
      return { path: formatPath([...segs, tag]), message: `expected one of ${types.join(', ')}, got ${got(tagValue)}${hint}` };
    }
    default: {
      const expected = describe(schema);
      let message = `expected ${expected}, got ${got(err.data)}`;
      if (Array.isArray(schema.enum) && typeof err.data === 'string') message += didYouMean(err.data, schema.enum.map(String));
      const yaml11 = expected.includes('number') && typeof err.data === 'string' ? yaml11Number(err.data) : undefined;
      if (yaml11 !== undefined) {
        message += ` (YAML 1.1, as MapProxy reads it, takes this for text: write it as ${yaml11}, with a dot and a signed exponent)`;
      }
      return { path: formatPath(segs), message };
    }
  }
}

// A number in YAML 1.2 that YAML 1.1 reads as a string (exponent without dot or without sign).
const YAML12_NUMBER = /^([-+]?)(\d*)(?:\.(\d*))?[eE]([-+]?)(\d+)$/;

/**
 * The user's number rewritten so that YAML 1.1 reads it as one (a dot and a signed exponent):
 * `1e5` -> `1.0e+5`, `2E-3` -> `2.0e-3`, `-.5e3` -> `-0.5e+3`. Undefined when `text` is no such
 * number, or one YAML 1.1 reads as a number already (then it was quoted on purpose).
 */
export function yaml11Number(text: string): string | undefined {
  const m = YAML12_NUMBER.exec(text);
  if (!m) return undefined;
  const [, sign, int, frac, expSign, exp] = m;
  if (int === '' && !frac) return undefined;
  if (frac !== undefined && expSign !== '' && (int !== '' || sign === '')) return undefined;
  return `${sign}${int || '0'}.${frac || '0'}e${expSign || '+'}${exp}`;
}

function tagConst(branch: JsonSchema, tag: string): unknown {
  const prop = ((branch.properties ?? {}) as Record<string, JsonSchema>)[tag] ?? {};
  return prop.const ?? (prop.enum as unknown[] | undefined)?.[0];
}

/**
 * Drop the noise of unions: when exactly one branch of an anyOf/oneOf has the value's JSON type
 * and is a list or mapping, that branch's own errors say more than "matches no alternative", so
 * only they are kept; otherwise the union's single error is kept and its branches' are dropped.
 */
function relevantErrors(errors: readonly ErrorObject[]): ErrorObject[] {
  const dropped: Array<{ instancePath: string; schemaPath: string }> = [];
  const isDropped = (e: ErrorObject) =>
    dropped.some((d) => e.instancePath.startsWith(d.instancePath) && e.schemaPath.startsWith(d.schemaPath));
  const unions = errors
    .filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf')
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  const droppedUnions = new Set<ErrorObject>();
  for (const u of unions) {
    if (isDropped(u)) {
      droppedUnions.add(u);
      continue;
    }
    const branches = (((u.parentSchema as JsonSchema)[u.keyword] ?? []) as JsonSchema[]).map((b) => deref(b));
    const matching = branches.flatMap((b, i) => (typeMatches(b, u.data) ? [i] : []));
    const only = matching.length === 1 ? branches[matching[0]] : undefined;
    if (only && (only.type === 'array' || only.type === 'object')) {
      branches.forEach((_, i) => {
        if (i !== matching[0]) dropped.push({ instancePath: u.instancePath, schemaPath: `${u.schemaPath}/${i}/` });
      });
      droppedUnions.add(u);
    } else {
      dropped.push({ instancePath: u.instancePath, schemaPath: `${u.schemaPath}/` });
    }
  }
  return errors.filter((e) => !droppedUnions.has(e) && !isDropped(e));
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(schema: JsonSchema, value: unknown): boolean {
  const t = jsonType(value);
  let type = schema.type;
  if (type === undefined && 'const' in schema) type = jsonType(schema.const);
  if (type === undefined) return true;
  const types = Array.isArray(type) ? type : [type];
  return types.includes(t) || (t === 'integer' && types.includes('number'));
}

/** Path segments of an ajv instance path, with list indexes as numbers. */
function pathSegments(data: unknown, pointer: string): PathSegment[] {
  if (pointer === '') return [];
  const segs: PathSegment[] = [];
  let cur: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      segs.push(Number(key));
      cur = cur[Number(key)];
    } else {
      segs.push(key);
      cur = isPlainObject(cur) ? cur[key] : undefined;
    }
  }
  return segs;
}

function bounds(schema: JsonSchema): string {
  const { minimum: min, maximum: max, exclusiveMinimum: xmin } = schema;
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (xmin !== undefined) return ` > ${xmin}`;
  if (min !== undefined) return ` >= ${min}`;
  if (max !== undefined) return ` <= ${max}`;
  return '';
}

/** What a schema expects, in words: `a list of 4 numbers`, `one of ll, sw, ul, nw`. */
export function describe(input: JsonSchema): string {
  const schema = deref(input);
  if (typeof schema['x-expected'] === 'string') return schema['x-expected'];
  if (Array.isArray(schema.enum)) return `one of ${schema.enum.join(', ')}`;
  if ('const' in schema) return JSON.stringify(schema.const);
  const alternatives = (schema.anyOf ?? (schema.type === undefined ? schema.oneOf : undefined)) as JsonSchema[] | undefined;
  if (alternatives) {
    const words = [...new Set(alternatives.map((a) => describe(a)))];
    return words.length <= 1 ? (words[0] ?? 'a value') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
  }
  switch (schema.type) {
    case 'string':
      return 'a string';
    case 'number':
      return `a number${bounds(schema)}`;
    case 'integer':
      return `an integer${bounds(schema)}`;
    case 'boolean':
      return 'true or false';
    case 'null':
      return 'an empty value';
    case 'array': {
      const n = schema.minItems !== undefined && schema.minItems === schema.maxItems ? `${schema.minItems} ` : '';
      return `a list of ${n}${plural(deref((schema.items ?? {}) as JsonSchema))}`;
    }
    case 'object':
      return 'a mapping';
    default:
      return 'a value';
  }
}

function plural(schema: JsonSchema): string {
  if (Array.isArray(schema.enum)) return `values from ${schema.enum.join(', ')}`;
  if (typeof schema.title === 'string') return `${schema.title}s`;
  switch (schema.type) {
    case 'string':
      return 'strings';
    case 'number':
      return `numbers${bounds(schema)}`;
    case 'integer':
      return `integers${bounds(schema)}`;
    case 'boolean':
      return 'booleans';
    case 'object':
      return 'mappings';
    case 'array':
      return 'lists';
    default:
      return 'values';
  }
}

/** The value found, briefly: `"abc"`, `3`, `[1,2]`, `a mapping`, `an empty value`. */
export function got(value: unknown): string {
  if (value === null || value === undefined) return 'an empty value';
  if (typeof value === 'string') return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (Array.isArray(value)) {
    const text = JSON.stringify(value);
    return text !== undefined && text.length <= 40 ? text : 'a list';
  }
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}
