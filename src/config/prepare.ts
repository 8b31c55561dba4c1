/**
 * Brings a merged configuration into the one shape the checks and the builder expect, as MapProxy
 * reads it: an empty value where a mapping belongs is an empty mapping (`services: {demo: }`),
 * `caches` written as a list of one-key mappings becomes one mapping, and the legacy mapping forms
 * of `layers` are recognised (and, until supported, reported).
 */
import type { ConfigProblem } from '../errors.js';
import { deref, rootSchema } from './schema-check.js';
import { LEGACY_LAYERS } from './support.js';
import { isPlainObject } from './util.js';

type JsonSchema = Record<string, unknown>;

const LAYER_KEYS = new Set(Object.keys(((rootSchema().definitions as Record<string, JsonSchema>).Layer.properties ?? {}) as object));

/** A deep copy of `raw` in the normal shape, and what could not be brought into it. */
export function prepareConfig(raw: Record<string, unknown>): { data: Record<string, unknown>; problems: ConfigProblem[] } {
  const data = structuredClone(raw);
  const problems: ConfigProblem[] = [];
  if (data.layers === null) delete data.layers;
  if (isLegacyLayers(data.layers) && !LEGACY_LAYERS) {
    problems.push({
      path: 'layers',
      message: 'not supported yet: layers as mappings of name to layer (deprecated since MapProxy 1.4); write a list of layers with name and title',
    });
    delete data.layers;
  }
  if (Array.isArray(data.caches) && data.caches.every((c) => isPlainObject(c))) {
    data.caches = Object.assign({}, ...(data.caches as object[]));
  }
  fillEmptyMappings(data, rootSchema());
  return { data, problems };
}

/**
 * MapProxy's test for the old layer syntax: a mapping, or a list whose first item is a mapping with
 * a single key (here also: whose value is a mapping and whose key is not a layer key).
 */
function isLegacyLayers(layers: unknown): boolean {
  if (isPlainObject(layers)) return true;
  if (!Array.isArray(layers) || !isPlainObject(layers[0])) return false;
  const keys = Object.keys(layers[0]);
  return keys.length === 1 && !LAYER_KEYS.has(keys[0]) && isPlainObject(layers[0][keys[0]]);
}

function branches(schema: JsonSchema): JsonSchema[] {
  const s = deref(schema);
  const alts = (s.anyOf ?? (s.type === undefined ? s.oneOf : undefined)) as JsonSchema[] | undefined;
  return alts ? alts.flatMap((a) => branches(a)) : [s];
}

/** Replace nulls by `{}` where the schema wants a mapping (and no null), at any depth. */
function fillEmptyMappings(value: unknown, schema: JsonSchema): unknown {
  const alts = branches(schema);
  if (value === null) {
    if (alts.some((b) => b.type === 'null')) return null;
    return alts.some((b) => b.type === 'object') ? {} : null;
  }
  if (Array.isArray(value)) {
    const items = alts.find((b) => b.type === 'array')?.items as JsonSchema | undefined;
    if (items) value.forEach((v, i) => (value[i] = fillEmptyMappings(v, items)));
    return value;
  }
  if (isPlainObject(value)) {
    const obj = objectBranch(alts, value);
    if (!obj) return value;
    const props = (obj.properties ?? {}) as Record<string, JsonSchema>;
    const extra = typeof obj.additionalProperties === 'object' ? (obj.additionalProperties as JsonSchema) : undefined;
    for (const [k, v] of Object.entries(value)) {
      const sub = props[k] ?? extra;
      if (sub) value[k] = fillEmptyMappings(v, sub);
    }
  }
  return value;
}

/** The object schema for `value`: the only object branch, or the oneOf branch its `type` names. */
function objectBranch(alts: JsonSchema[], value: Record<string, unknown>): JsonSchema | undefined {
  const objects = alts.filter((b) => b.type === 'object');
  for (const o of objects) {
    const tagged = o.discriminator as { propertyName: string } | undefined;
    if (tagged && Array.isArray(o.oneOf)) {
      const tag = value[tagged.propertyName];
      return (o.oneOf as JsonSchema[]).find((b) => ((b.properties as Record<string, JsonSchema>)?.[tagged.propertyName])?.const === tag);
    }
  }
  return objects[0];
}
