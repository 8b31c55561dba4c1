#!/usr/bin/env node
/**
 * npm's `prepare` (after `npm ci` / `npm install` in a checkout): build dist/ with TypeScript.
 *
 * TypeScript is a dev dependency. An install without dev dependencies (`npm ci --omit=dev`) keeps
 * a dist/ built from the src/ that is there, and otherwise (no dist/, or src/ changed since, as
 * after a git pull) stops with what to run instead, not with `sh: tsc: not found`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
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
/** The newest modification time of the files under `dir` (0 when there is none). */
function newest(dir) {
  let t = 0;
  if (!existsSync(dir)) return t;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) t = Math.max(t, statSync(join(e.parentPath ?? e.path, e.name)).mtimeMs);
  }
  return t;
}

if (tsc === undefined) {
  if (existsSync(join(root, 'dist', 'cli', 'main.js'))) {
    // A checkout updated since (git pull): its dist/ would run the old code.
    if (newest(join(root, 'src')) > newest(join(root, 'dist'))) {
      console.error(
        'mapproxy-ts: src/ changed after dist/ was built, and TypeScript, a dev dependency, is not installed.\n' +
          'Install with the dev dependencies and drop them after the build:\n' +
          '  npm ci && npm prune --omit=dev',
      );
      process.exit(1);
    }
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
