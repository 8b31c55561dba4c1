#!/usr/bin/env node
// Runs every test/**/*.test.ts with node:test through tsx (Node 20's --test takes no globs).
// Extra arguments filter the files by substring: `npm run test:only -- grid`.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.ts')) out.push(p);
  }
  return out;
}
const filters = process.argv.slice(2);
const files = walk('test').sort().filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// A test (and a test file) still running after 5 minutes fails instead of holding CI up until its
// own limit: the whole suite takes about 5 minutes on 2 cores, its longest file about a minute.
const timeout = process.env.TEST_TIMEOUT_MS ?? '300000';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, `--test-timeout=${timeout}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
