/**
 * The YAML dialect of mapproxy.yaml. MapProxy reads its files with PyYAML's safe loader, which
 * follows YAML 1.1: `yes`/`no`/`on`/`off` are booleans, `0755` is octal, `1_000` and `1:30`
 * (base 60) are integers, and a float needs a dot. js-yaml reads YAML 1.2, so this module gives it a
 * schema with PyYAML's implicit types, so the same file means the same values here (REFERENCE.md §6).
 * Timestamps stay strings (PyYAML would make dates of them; nothing in the schema wants a Date).
 */
import yaml from 'js-yaml';

// PyYAML's resolver patterns (resolver.py, YAML 1.1), matched against whole plain scalars.
const BOOL_RE = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const INT_RE =
  /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const FLOAT_RE =
  /^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;

/** Split a leading sign off and drop the `_` digit separators, as PyYAML's constructors do. */
function signAndDigits(text: string): [number, string] {
  let value = text.replace(/_/g, '');
  let sign = 1;
  if (value[0] === '-') sign = -1;
  if (value[0] === '-' || value[0] === '+') value = value.slice(1);
  return [sign, value];
}

/** Base-60 value of `a:b:c` parts (YAML 1.1 sexagesimal numbers). */
function sexagesimal(value: string): number {
  let result = 0;
  let base = 1;
  for (const part of value.split(':').reverse()) {
    result += Number(part) * base;
    base *= 60;
  }
  return result;
}

const null11 = new yaml.Type('tag:yaml.org,2002:null', {
  kind: 'scalar',
  resolve: (data: string | null) => data === null || ['', '~', 'null', 'Null', 'NULL'].includes(data),
  construct: () => null,
  predicate: (obj: unknown) => obj === null,
  represent: () => 'null',
});

// js-yaml's loader merges `<<` keys by this tag; the type only has to resolve the key.
const merge11 = new yaml.Type('tag:yaml.org,2002:merge', {
  kind: 'scalar',
  resolve: (data: string | null) => data === '<<' || data === null,
});

const bool11 = new yaml.Type('tag:yaml.org,2002:bool', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && BOOL_RE.test(data),
  construct: (data: string) => ['yes', 'true', 'on'].includes(data.toLowerCase()),
  predicate: (obj: unknown) => typeof obj === 'boolean',
  represent: (obj: object) => ((obj as unknown as boolean) ? 'true' : 'false'),
});

const int11 = new yaml.Type('tag:yaml.org,2002:int', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && INT_RE.test(data),
  construct: (data: string) => {
    const [sign, value] = signAndDigits(data);
    if (value === '0') return 0;
    if (value.startsWith('0b')) return sign * parseInt(value.slice(2), 2);
    if (value.startsWith('0x')) return sign * parseInt(value.slice(2), 16);
    if (value.includes(':')) return sign * sexagesimal(value);
    if (value[0] === '0') return sign * parseInt(value, 8);
    return sign * Number(value);
  },
  predicate: (obj: unknown) => typeof obj === 'number' && Number.isInteger(obj),
  represent: (obj: object) => String(obj),
});

const float11 = new yaml.Type('tag:yaml.org,2002:float', {
  kind: 'scalar',
  resolve: (data: string | null) => data !== null && FLOAT_RE.test(data),
  construct: (data: string) => {
    const [sign, value] = signAndDigits(data.toLowerCase());
    if (value === '.inf') return sign * Infinity;
    if (value === '.nan') return NaN;
    if (value.includes(':')) return sign * sexagesimal(value);
    return sign * Number(value);
  },
  predicate: (obj: unknown) => typeof obj === 'number',
  represent: (obj: object) => String(obj),
});

/**
 * js-yaml schema with PyYAML's (YAML 1.1) implicit scalars: null, bool, int, float and `<<` merge
 * keys. Everything else is a string.
 */
export const YAML11_SCHEMA = yaml.FAILSAFE_SCHEMA.extend({
  implicit: [null11, bool11, int11, float11, merge11],
});

/** A YAML syntax error with its 1-based position. */
export interface YamlSyntaxProblem {
  line: number;
  column: number;
  reason: string;
}

/**
 * Parse one YAML document as PyYAML would. Throws the js-yaml `YAMLException` on syntax errors;
 * `syntaxProblem` turns it into line/column/reason.
 */
export function parseYaml(text: string, filename?: string): unknown {
  return yaml.load(text, { schema: YAML11_SCHEMA, filename });
}

/** Position and reason of a js-yaml syntax error, or undefined for any other error. */
export function syntaxProblem(err: unknown): YamlSyntaxProblem | undefined {
  if (!(err instanceof yaml.YAMLException)) return undefined;
  const mark = err.mark as { line?: number; column?: number } | undefined;
  return {
    line: (mark?.line ?? 0) + 1,
    column: (mark?.column ?? 0) + 1,
    reason: err.reason ?? err.message,
  };
}
