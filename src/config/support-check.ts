/**
 * Walks a configuration along the `SUPPORT` table and reports every key or value MapProxy knows
 * that mapproxy-ts does not support yet, so no setting is ever silently ignored.
 */
import type { ConfigProblem } from '../errors.js';
import { SUPPORT, type Support } from './support.js';
import { formatPath, isPlainObject, type PathSegment } from './util.js';

/** Paths the walk leaves alone. */
interface Skip {
  /** Keys MapProxy does not know either (warned about elsewhere). */
  unknown: ReadonlySet<string>;
  /** Values with a type or shape problem (reported elsewhere; one message per mistake). */
  invalid: ReadonlySet<string>;
}

/** Problems `not supported yet` for `data`, skipping unknown keys and invalid values. */
export function checkSupport(data: Record<string, unknown>, skip: Skip): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  walk(data, SUPPORT, [], skip, problems);
  return problems;
}

function show(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function walk(value: unknown, node: Support, segs: PathSegment[], skip: Skip, out: ConfigProblem[]): void {
  if (node === true) return;
  const path = formatPath(segs);
  if (skip.invalid.has(path) && !isPlainObject(value)) return;
  if (node.check) {
    const what = node.check(value);
    if (what !== undefined) {
      out.push({ path, message: `not supported yet: ${what}` });
      return;
    }
  }
  if (node.values && !node.values.includes(value)) {
    out.push({ path, message: `not supported yet: ${show(value)} (supported: ${node.values.map(show).join(', ')})` });
    return;
  }
  if (node.byType && isPlainObject(value)) {
    const tag = value[node.byType.key];
    // A missing or non-string tag is a schema error, reported there.
    const tagPath = formatPath([...segs, node.byType.key]);
    if (typeof tag !== 'string' || skip.invalid.has(tagPath)) return;
    const sub = Object.hasOwn(node.byType.types, tag) ? node.byType.types[tag] : undefined;
    if (sub === undefined) {
      const supported = Object.keys(node.byType.types).join(', ');
      out.push({ path: tagPath, message: `not supported yet: ${tag} (supported: ${supported})` });
      return;
    }
    walk(value, sub, segs, skip, out);
    return;
  }
  if (node.keys && isPlainObject(value)) {
    for (const [key, v] of Object.entries(value)) {
      const sub = [...segs, key];
      const subPath = formatPath(sub);
      if (skip.unknown.has(subPath)) continue;
      const subNode = Object.hasOwn(node.keys, key) ? node.keys[key] : undefined;
      if (subNode === undefined) out.push({ path: subPath, message: 'not supported yet' });
      else walk(v, subNode, sub, skip, out);
    }
  }
  if (node.each) {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, node.each as Support, [...segs, i], skip, out));
    else if (isPlainObject(value)) {
      for (const [key, v] of Object.entries(value)) walk(v, node.each, [...segs, key], skip, out);
    }
  }
}
