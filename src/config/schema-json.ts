/**
 * The schema as plain JSON Schema (draft-07): what ajv compiles and what is published in
 * `schema/mapproxy.schema.json` for editors (yaml-language-server, VS Code) and tools.
 */
import { MapProxyYamlSchema } from './schema.js';

type Json = unknown;

/**
 * The schema as plain JSON: TypeBox's symbol keys dropped, and the recursive schemas' `$id`
 * references (`Layer`) turned into JSON pointers (`#/definitions/Layer`), which every editor resolves.
 */
export function schemaJson(): Record<string, unknown> {
  const root = JSON.parse(JSON.stringify(MapProxyYamlSchema)) as Record<string, unknown>;
  const defs = root.definitions as Record<string, Record<string, unknown>>;
  const pointers = new Map<unknown, string>();
  for (const [name, def] of Object.entries(defs)) {
    pointers.set(def.$id, `#/definitions/${name}`);
    delete def.$id;
  }
  const rewrite = (node: Json): void => {
    if (Array.isArray(node)) node.forEach(rewrite);
    else if (typeof node === 'object' && node !== null) {
      const obj = node as Record<string, Json>;
      if (typeof obj.$ref === 'string' && pointers.has(obj.$ref)) obj.$ref = pointers.get(obj.$ref);
      Object.values(obj).forEach(rewrite);
    }
  };
  rewrite(root);
  return root;
}

// Keywords first in this order, the rest as they come; names (properties, definitions) keep theirs.
const KEY_ORDER = ['$schema', '$id', '$ref', 'title', 'description', 'type', 'const', 'enum', 'default'];
const NAME_MAPS = new Set(['properties', 'definitions', 'patternProperties']);

function ordered(node: Json, isNameMap = false): Json {
  if (Array.isArray(node)) return node.map((n) => ordered(n));
  if (typeof node !== 'object' || node === null) return node;
  const entries = Object.entries(node as Record<string, Json>);
  if (!isNameMap) {
    const rank = (k: string) => (KEY_ORDER.includes(k) ? KEY_ORDER.indexOf(k) : KEY_ORDER.length);
    entries.sort((a, b) => rank(a[0]) - rank(b[0]));
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, isNameMap ? ordered(v) : ordered(v, NAME_MAPS.has(k))]));
}

/** The text of `schema/mapproxy.schema.json`: stable key order, two-space indent, final newline. */
export function renderSchemaFile(): string {
  return `${JSON.stringify(ordered(schemaJson()), null, 2)}\n`;
}
