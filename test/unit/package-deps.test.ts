// What src/ loads at run time must be what a production install (`npm ci --omit=dev`) has, and
// nothing in `dependencies` may be dead weight: both are read off the sources, so a package moved
// between dependencies and devDependencies, or an import added, is checked without an install.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { builtinModules } from 'node:module';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The package a bare specifier names: `a/b/c` → `a`, `@s/a/b` → `@s/a`. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0];
}

/**
 * Bare specifiers `source` loads at run time: static imports and re-exports that are not
 * type-only, dynamic `import('x')`, and `createRequire(...)('x')`. Relative paths are left out.
 */
export function runtimeSpecifiers(source: string): string[] {
  const found: string[] = [];
  const patterns = [
    // import x from 'p'; import { a, type B } from 'p'; import 'p'; export { a } from 'p' (not `import type`)
    /^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?'([^'.][^']*)'/gm,
    /\bimport\(\s*'([^'.][^']*)'\s*\)/g,
    /\bcreateRequire\([^)]*\)\(\s*'([^'.][^']*)'\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.push(m[1]);
  return found;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...(await sourceFiles(p)));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const isBuiltin = (pkg: string): boolean => pkg.startsWith('node:') || builtinModules.includes(pkg);

test('runtimeSpecifiers: what loads at run time, and what does not', () => {
  const src = [
    "import fs from 'node:fs';",
    "import type { Agent } from 'undici';",
    "import { a, type B } from 'prom-client';",
    "export { x } from './local.js';",
    "export type { Y } from 'ajv';",
    "import './side-effect.js';",
    "import 'pino';",
    "const s = await import('sharp');",
    "type U = typeof import('undici');",
    "const roll = createRequire(import.meta.url)('pino-roll');",
    "import proj4 from '@scope/pkg/sub/path.js';",
  ].join('\n');
  assert.deepEqual(runtimeSpecifiers(src).sort(), ['@scope/pkg/sub/path.js', 'node:fs', 'pino', 'pino-roll', 'prom-client', 'sharp', 'undici']);
  assert.equal(packageOf('@scope/pkg/sub/path.js'), '@scope/pkg');
  assert.equal(packageOf('ajv/dist/standalone/index.js'), 'ajv');
});

test('src/ loads only dependencies and Node built-ins, and uses every dependency', async () => {
  const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  const deps = new Set(Object.keys(pkg.dependencies));
  const used = new Map<string, string>();
  for (const file of await sourceFiles(path.join(ROOT, 'src'))) {
    for (const spec of runtimeSpecifiers(await readFile(file, 'utf8'))) {
      const name = packageOf(spec);
      if (!isBuiltin(name) && !used.has(name)) used.set(name, path.relative(ROOT, file));
    }
  }
  const missing = [...used].filter(([name]) => !deps.has(name)).map(([name, file]) => `${name} (loaded by ${file})`);
  assert.deepEqual(missing, [], 'loaded at run time but not in package.json "dependencies": a production install would fail');
  const unused = [...deps].filter((name) => !used.has(name));
  assert.deepEqual(unused, [], 'in "dependencies" but never loaded by src/: move to devDependencies or drop');
});
