#!/usr/bin/env node
// bench/zipf-list.mjs IN OUT [S] [LINES] [SEED] -- a request list with Zipf-distributed popularity.
//
// The rig's lists are uniform: every seeded tile is as likely as any other, the worst case for a
// cache of hot tiles. Real tile traffic is skewed (a few areas and zoom levels get most requests).
// This writes LINES paths (default 100000) drawn from the paths of IN so that the k-th most popular
// path is requested with weight 1/k^S (default S = 1.0). Which path gets which rank is a shuffle of
// IN, and all draws come from a seeded generator (mulberry32, SEED default 1): the same arguments
// give the same file. wrk's random_paths.lua picks lines uniformly, so tiles arrive Zipf-distributed.
import { readFileSync, writeFileSync } from 'node:fs';

const [input, output, sArg = '1.0', linesArg = '100000', seedArg = '1'] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: zipf-list.mjs IN OUT [S] [LINES] [SEED]\n');
  process.exit(2);
}
const s = Number(sArg);
const lines = Number(linesArg);
if (!(s >= 0) || !Number.isInteger(lines) || lines < 1) {
  process.stderr.write(`zipf-list.mjs: S must be >= 0 and LINES a whole number >= 1 (got ${sArg}, ${linesArg})\n`);
  process.exit(2);
}
let state = Number(seedArg) >>> 0;
/** mulberry32: a small seeded generator, uniform in [0, 1). */
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const paths = readFileSync(input, 'utf8').split('\n').filter((l) => l.trim() !== '');
for (let i = paths.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [paths[i], paths[j]] = [paths[j], paths[i]];
}
// Cumulative weights of ranks 1..n, then one binary search per draw.
const cum = new Float64Array(paths.length);
let total = 0;
for (let k = 0; k < paths.length; k++) cum[k] = total += 1 / (k + 1) ** s;
const out = [];
const hits = new Uint32Array(paths.length);
for (let i = 0; i < lines; i++) {
  const x = random() * total;
  let lo = 0;
  let hi = paths.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (cum[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  hits[lo]++;
  out.push(paths[lo]);
}
writeFileSync(output, out.join('\n') + '\n');
const share = (n) => (100 * hits.slice(0, n).reduce((a, b) => a + b, 0) / lines).toFixed(1);
const distinct = hits.filter((h) => h > 0).length;
process.stdout.write(`${lines} requests over ${distinct} of ${paths.length} paths (Zipf s=${s}): top 1% of paths ${share(Math.ceil(paths.length / 100))}%, top 10% ${share(Math.ceil(paths.length / 10))}%, top 50% ${share(Math.ceil(paths.length / 2))}% of requests\n`);
