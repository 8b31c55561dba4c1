/**
 * Environment variable substitution in configuration values (MapProxy 6.1+): `$VAR` and `${VAR}`
 * in every string value (never in keys) are replaced by the variable's value; unset variables are
 * left as written. Runs on each file as it is read, before `base:` files are merged.
 */
import { isPlainObject } from './util.js';

// MapProxy's pattern: `$` plus word characters, or `${` anything up to `}`.
const ENV_RE = /\$([\p{L}\p{N}_]+)|\$\{([^}]+)\}/gu;

/** Replace `$VAR` / `${VAR}` in one string. */
export function expandEnvString(value: string, env: NodeJS.ProcessEnv = process.env): string {
  return value.replace(ENV_RE, (match: string, bare: string | undefined, braced: string | undefined) => {
    const replacement = env[bare ?? braced ?? ''];
    return replacement === undefined ? match : replacement;
  });
}

/** Return `value` with every string inside it (at any depth) expanded. Keys stay as they are. */
export function expandEnv(value: unknown, env: NodeJS.ProcessEnv = process.env): unknown {
  if (typeof value === 'string') return expandEnvString(value, env);
  if (Array.isArray(value)) return value.map((v) => expandEnv(v, env));
  if (isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env);
    return out;
  }
  return value;
}
