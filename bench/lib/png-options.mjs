#!/usr/bin/env node
/**
 * How sharp's PNG options trade bytes against encode time, on tiles MapProxy (Pillow) wrote: every
 * Nth of the seeded cache's tiles (40 in all) is decoded and encoded again with each option set,
 * 3 times, on one libvips thread. Prints bytes against MapProxy's and ms per tile.
 *
 *   node bench/lib/png-options.mjs [CACHE_DIR]   (default: the rig's world_cache_EPSG3857)
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

const root = process.argv[2] ?? '/work/shared/rig/cache_data/world_cache_EPSG3857';
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p);
    else if (p.endsWith('.png')) files.push(p);
  }
})(root);
files.sort();
const step = Math.max(1, Math.floor(files.length / 40));
const pick = files.filter((_, i) => i % step === 0).slice(0, 40);
sharp.concurrency(1);

const raws = [];
let mapproxyBytes = 0;
for (const f of pick) {
  const buf = readFileSync(f);
  mapproxyBytes += buf.length;
  raws.push(await sharp(buf).raw().toBuffer({ resolveWithObject: true }));
}
console.log(`${pick.length} tiles of ${root}, ${mapproxyBytes} bytes as MapProxy wrote them`);
const OPTIONS = [
  { compressionLevel: 6, adaptiveFiltering: false },
  ...[6, 5, 4, 3, 2, 1].map((compressionLevel) => ({ compressionLevel, adaptiveFiltering: true })),
];
for (const o of OPTIONS) {
  let bytes = 0;
  const t = process.hrtime.bigint();
  for (let rep = 0; rep < 3; rep++) {
    for (const { data, info } of raws) {
      const out = await sharp(data, { raw: info }).png(o).toBuffer();
      if (rep === 0) bytes += out.length;
    }
  }
  const ms = Number(process.hrtime.bigint() - t) / 1e6 / (3 * raws.length);
  console.log(`${JSON.stringify(o)}: ${bytes} bytes (${(bytes / mapproxyBytes).toFixed(3)}x MapProxy), ${ms.toFixed(2)} ms per tile`);
}
