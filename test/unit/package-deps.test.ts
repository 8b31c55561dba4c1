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
 * type-only (also spread over several lines), `import x = require('x')`, dynamic `import('x')`
 * (not `typeof import('x')` or `import('x').T`, which are types; `import('x').then` is not one), and `createRequire(...)('x')`
 * or `r('x')` after `const r = createRequire(...)`. Relative paths are left out. It reads text,
 * not syntax: code shown inside a string would count too.
 */
export function runtimeSpecifiers(source: string): string[] {
  const found: string[] = [];
  const q = `['"]([^'".][^'"]*)['"]`;
  const patterns = [
    new RegExp(String.raw`^\s*(?:import|export)\s+(?!type\s)(?:[^'";]*?\sfrom\s+)?${q}`, 'gm'),
    new RegExp(String.raw`^\s*import\s+(?!type\s)\w+\s*=\s*require\(\s*${q}\s*\)`, 'gm'),
    // `import('x').then(...)` loads; `import('x').Name` is a type.
    new RegExp(String.raw`(?<!typeof\s+)\bimport\(\s*${q}\s*\)(?!\s*\.(?!then\b|catch\b|finally\b))`, 'g'),
    new RegExp(String.raw`\bcreateRequire\([^)]*\)\(\s*${q}\s*\)`, 'g'),
  ];
  for (const m of source.matchAll(/\b(?:const|let|var)\s+(\w+)\s*=\s*createRequire\(/g)) {
    patterns.push(new RegExp(String.raw`\b${m[1]}\(\s*${q}\s*\)`, 'g'));
  }
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
    "export * from 'pkg-star';",
    "import './side-effect.js';",
    "import 'pino';",
    'import { C } from "double-quoted";',
    'import {\n  one,\n  two,\n} from \'multi-line\';',
    "import legacy = require('legacy-cjs');",
    "import type T = require('type-only-cjs');",
    "const s = await import('sharp');",
    "const later = import('undici').catch(() => null);",
    "type U = typeof import('types-only');",
    "type V = import('also-types').Thing;",
    "const roll = createRequire(import.meta.url)('pino-roll');",
    "const req = createRequire(import.meta.url);",
    "const lock = req('proper-lockfile');",
    "import proj4 from '@scope/pkg/sub/path.js';",
  ].join('\n');
  assert.deepEqual(runtimeSpecifiers(src).sort(), [
    '@scope/pkg/sub/path.js',
    'double-quoted',
    'legacy-cjs',
    'multi-line',
    'node:fs',
    'pino',
    'pino-roll',
    'pkg-star',
    'prom-client',
    'proper-lockfile',
    'sharp',
    'undici',
  ]);
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
