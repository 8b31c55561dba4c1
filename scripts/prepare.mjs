#!/usr/bin/env node
/**
 * npm's `prepare` (after `npm ci` / `npm install` in a checkout): build dist/ with TypeScript.
 *
 * TypeScript is a dev dependency. An install without dev dependencies (`npm ci --omit=dev`) keeps
 * a dist/ built before (a deployment updated in place) and otherwise stops with what to run
 * instead, not with `sh: tsc: not found`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let tsc;
try {
  tsc = createRequire(join(root, 'package.json')).resolve('typescript/bin/tsc');
} catch {
  tsc = undefined;
}
if (tsc === undefined) {
  if (existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    console.log('mapproxy-ts: TypeScript is not installed (no dev dependencies): keeping the dist/ built before');
    process.exit(0);
  }
  console.error(
    'mapproxy-ts: dist/ is not built and TypeScript, a dev dependency, is not installed.\n' +
      'Install with the dev dependencies and drop them after the build:\n' +
      '  npm ci && npm prune --omit=dev',
  );
  process.exit(1);
}
const build = spawnSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { cwd: root, stdio: 'inherit' });
process.exit(build.status ?? 1);
