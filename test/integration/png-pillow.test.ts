/**
 * Full-colour and grey PNG tiles come out the size MapProxy writes them: Pillow (which MapProxy
 * uses) filters each row adaptively at zlib level 6, and so must we; unfiltered rows made map tiles
 * 1.25-2 times larger than MapProxy's. The same pixels are encoded here and by Debian's Pillow
 * (`/usr/bin/python3`, installed with python3-mapproxy), and the row filters are read back from
 * our PNG. Skipped only when Pillow is missing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { inflateSync } from 'node:zlib';
import { encodeImage, type ImageOptions, type RawImage } from '../../src/image/index.js';

const PYTHON = '/usr/bin/python3';
const hasPillow = spawnSync(PYTHON, ['-c', 'import PIL'], { stdio: 'ignore' }).status === 0;
const SKIP = hasPillow ? false : `Pillow is not installed (${PYTHON} -c "import PIL" fails; apt-get install python3-pil)`;

/** A 256×256 tile that looks like a rendered map: shaded relief, a coastline, roads, labels. */
function mapLike(): RawImage {
  const w = 256;
  const h = 256;
  const data = new Uint8Array(w * h * 4);
  let seed = 7;
  const rand = (): number => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const relief = Math.sin(x / 17) * Math.cos(y / 23) * 40 + Math.sin((x + y) / 9) * 12;
      const sea = y > 180 + Math.sin(x / 20) * 25;
      const road = Math.abs(x - y * 0.7 - 40) < 1.5 || Math.abs(y - 90 - Math.sin(x / 30) * 10) < 1;
      const text = x > 60 && x < 130 && y > 40 && y < 50 && rand() < 0.35;
      let c: [number, number, number];
      if (text) c = [30, 30, 30];
      else if (road) c = [250, 200, 80];
      else if (sea) c = [170, 211, 223];
      else c = [200 + relief * 0.5, 220 + relief * 0.3, 180 + relief * 0.4];
      const i = (y * w + x) * 4;
      data[i] = Math.round(c[0]);
      data[i + 1] = Math.round(c[1]);
      data[i + 2] = Math.round(c[2]);
      data[i + 3] = 255;
    }
  }
  return { width: w, height: h, data } as RawImage;
}

/** Pillow's PNG of `raw` as `mode` ('RGB' or 'L'), saved with its defaults, as MapProxy saves. */
function pillowPng(raw: RawImage, mode: 'RGB' | 'L'): Buffer {
  const script = [
    'import sys, io',
    'from PIL import Image',
    `im = Image.frombytes('RGBA', (${raw.width}, ${raw.height}), sys.stdin.buffer.read()).convert('${mode}')`,
    'b = io.BytesIO(); im.save(b, "PNG"); sys.stdout.buffer.write(b.getvalue())',
  ].join('\n');
  return execFileSync(PYTHON, ['-c', script], { input: Buffer.from(raw.data) });
}

/** The filter type byte of every row of a PNG (8-bit samples, not interlaced). */
function rowFilters(png: Buffer): number[] {
  const idat: Buffer[] = [];
  let o = 8;
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    if (png.toString('latin1', o + 4, o + 8) === 'IDAT') idat.push(png.subarray(o + 8, o + 8 + len));
    o += 12 + len;
  }
  const width = png.readUInt32BE(16);
  const height = png.readUInt32BE(20);
  const channels = { 0: 1, 2: 3, 4: 2, 6: 4 }[png[25]] ?? 0;
  assert.equal(png[24], 8, 'bit depth');
  const rows = inflateSync(Buffer.concat(idat));
  const stride = 1 + width * channels;
  assert.equal(rows.length, stride * height);
  return Array.from({ length: height }, (_, y) => rows[y * stride]);
}

const OPAQUE: ImageOptions = { format: 'image/png', mode: 'RGB', colors: 0, transparent: false, resampling: 'bicubic', jpegQuality: 90, bgcolor: [255, 255, 255] };

test('full-colour PNG: rows filtered adaptively, within 3% of the size Pillow writes', { skip: SKIP }, async () => {
  const raw = mapLike();
  const ours = await encodeImage(raw, OPAQUE);
  const pillow = pillowPng(raw, 'RGB');
  assert.equal(ours[25], 2, 'RGB colour type');
  const used = new Set(rowFilters(ours));
  assert.ok(used.size > 1, `row filters used: ${[...used].join(', ')}`);
  const ratio = ours.length / pillow.length;
  assert.ok(ratio > 0.97 && ratio < 1.03, `ours ${ours.length} bytes, Pillow ${pillow.length} bytes (×${ratio.toFixed(3)})`);
});

test('grey PNG (mode L): rows filtered adaptively, within 3% of the size Pillow writes', { skip: SKIP }, async () => {
  const raw = mapLike();
  const ours = await encodeImage(raw, { ...OPAQUE, mode: 'L' });
  const pillow = pillowPng(raw, 'L');
  assert.equal(ours[25], 0, 'grey colour type');
  assert.ok(new Set(rowFilters(ours)).size > 1);
  const ratio = ours.length / pillow.length;
  assert.ok(ratio > 0.97 && ratio < 1.03, `ours ${ours.length} bytes, Pillow ${pillow.length} bytes (×${ratio.toFixed(3)})`);
});
