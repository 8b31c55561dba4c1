/**
 * Colour quantisation for paletted PNG and GIF output. Images with at most `maxColors` distinct
 * colours keep them exactly; others get a median cut over a 5-bit-per-channel histogram (palette
 * entries are the exact means of the pixels they stand for), with fully transparent and fully
 * opaque pixels never mixed with partly transparent ones. No dithering, like MapProxy's default
 * fastoctree quantiser.
 *
 * Why not libimagequant (sharp's `palette`): on a noisy 256×256 map tile it takes 45–250 ms where
 * this takes a few ms, and MapProxy's octree takes ~6 ms; a meta tile encodes 16 of them.
 */
import { endianness } from 'node:os';

/** A palette image: `count` RGBA entries in `palette` and one palette index per pixel. */
export interface Quantized {
  readonly palette: Uint8Array;
  readonly count: number;
  readonly indices: Uint8Array;
}

const LE = endianness() === 'LE';
const OPAQUE = 8;
const BINS = 9 << 15;

/** Pixels handled between two yields to the event loop in `quantizeAsync`. */
const CHUNK = 1 << 18;

/** Per-bin tables; all zero / -1 between uses. */
interface Scratch {
  readonly binCount: Uint32Array;
  readonly binSlot: Int32Array;
}

function newScratch(): Scratch {
  return { binCount: new Uint32Array(BINS), binSlot: new Int32Array(BINS).fill(-1) };
}

// Reused by the synchronous `quantize` only: those calls cannot overlap. Made by the first call
// (2.3 MiB, half of it written at once), so a worker that only serves cache hits never holds it.
let shared: Scratch | undefined;

function u32View(data: Uint8Array, pixels: number): Uint32Array {
  if (data.byteOffset % 4 === 0) return new Uint32Array(data.buffer, data.byteOffset, pixels);
  return new Uint32Array(Uint8Array.from(data.subarray(0, pixels * 4)).buffer);
}

/**
 * Reduce RGBA pixels to at most `maxColors` (2–256) colours. With `keepAlpha` false alpha is
 * ignored (treated as 255); with it, alpha 0 pixels share one fully transparent entry.
 */
export function quantize(data: Uint8Array, pixels: number, maxColors: number, keepAlpha: boolean): Quantized {
  shared ??= newScratch();
  const steps = quantizeSteps(data, pixels, maxColors, keepAlpha, shared);
  let r = steps.next();
  while (!r.done) r = steps.next();
  return r.value;
}

/**
 * `quantize` for large images: the same result, computed in slices of 256 Ki pixels with the event
 * loop let in between (a 4000×4000 WMS answer would otherwise block it for most of a second).
 */
export async function quantizeAsync(data: Uint8Array, pixels: number, maxColors: number, keepAlpha: boolean): Promise<Quantized> {
  if (pixels <= CHUNK) return quantize(data, pixels, maxColors, keepAlpha);
  const steps = quantizeSteps(data, pixels, maxColors, keepAlpha, newScratch());
  let r = steps.next();
  while (!r.done) {
    await new Promise<void>((resolve) => setImmediate(resolve));
    r = steps.next();
  }
  return r.value;
}

function* quantizeSteps(data: Uint8Array, pixels: number, maxColors: number, keepAlpha: boolean, scratch: Scratch): Generator<void, Quantized> {
  const max = Math.max(2, Math.min(256, Math.floor(maxColors)));
  const exact = yield* exactPalette(data, pixels, max, keepAlpha);
  return exact ?? (yield* medianCut(data, pixels, max, keepAlpha, scratch));
}

function normalise(w: number, keepAlpha: boolean): number {
  const a = LE ? w >>> 24 : w & 0xff;
  if (!keepAlpha) return LE ? (w | 0xff000000) >>> 0 : (w | 0xff) >>> 0;
  return a === 0 ? 0 : w >>> 0;
}

function* exactPalette(data: Uint8Array, pixels: number, max: number, keepAlpha: boolean): Generator<void, Quantized | null> {
  const words = u32View(data, pixels);
  const indices = new Uint8Array(pixels);
  const seen = new Map<number, number>();
  const colours: number[] = [];
  let prevWord = -1;
  let prevIdx = 0;
  for (let start = 0; start < pixels; start += CHUNK) {
    if (start > 0) yield;
    const end = Math.min(pixels, start + CHUNK);
    for (let i = start; i < end; i++) {
      const w = words[i];
      if (w === prevWord) {
        indices[i] = prevIdx;
        continue;
      }
      const key = normalise(w, keepAlpha);
      let idx = seen.get(key);
      if (idx === undefined) {
        if (colours.length >= max) return null;
        idx = colours.length;
        seen.set(key, idx);
        colours.push(key);
      }
      indices[i] = idx;
      prevWord = w;
      prevIdx = idx;
    }
  }
  const palette = new Uint8Array(colours.length * 4);
  const pv = new DataView(palette.buffer);
  colours.forEach((c, i) => pv.setUint32(i * 4, c, LE));
  return { palette, count: colours.length, indices };
}

interface Box {
  start: number;
  end: number;
  count: number;
  lo: [number, number, number, number];
  hi: [number, number, number, number];
}

function* medianCut(data: Uint8Array, pixels: number, max: number, keepAlpha: boolean, scratch: Scratch): Generator<void, Quantized> {
  const { binCount, binSlot } = scratch;
  const keys = new Int32Array(pixels);
  const slotKeys: number[] = [];
  const sums = new Float64Array(Math.min(pixels, BINS) * 4);
  let transparent = 0;
  for (let i = 0, p = 0; i < pixels; i++, p += 4) {
    if ((i & (CHUNK - 1)) === 0 && i > 0) yield;
    const a = keepAlpha ? data[p + 3] : 255;
    if (a === 0) {
      keys[i] = -1;
      transparent++;
      continue;
    }
    const cls = a === 255 ? OPAQUE : a >> 5;
    const key = (cls << 15) | ((data[p] >> 3) << 10) | ((data[p + 1] >> 3) << 5) | (data[p + 2] >> 3);
    keys[i] = key;
    let slot = binSlot[key];
    if (slot < 0) {
      slot = slotKeys.length;
      binSlot[key] = slot;
      slotKeys.push(key);
    }
    binCount[key]++;
    sums[slot * 4] += data[p];
    sums[slot * 4 + 1] += data[p + 1];
    sums[slot * 4 + 2] += data[p + 2];
    sums[slot * 4 + 3] += a;
  }
  const nSlots = slotKeys.length;
  const counts = new Uint32Array(nSlots);
  const coord = new Uint8Array(nSlots * 4);
  for (let s = 0; s < nSlots; s++) {
    const key = slotKeys[s];
    counts[s] = binCount[key];
    coord[s * 4] = (key >> 10) & 31;
    coord[s * 4 + 1] = (key >> 5) & 31;
    coord[s * 4 + 2] = key & 31;
    // The alpha class weighs like a 5-bit channel when splitting partly transparent colours.
    coord[s * 4 + 3] = (key >> 15) * 4;
  }

  // Opaque and partly transparent colours start in separate boxes so no opaque pixel gets alpha.
  const order = new Int32Array(nSlots);
  let nOpaque = 0;
  for (let s = 0; s < nSlots; s++) if (slotKeys[s] >> 15 === OPAQUE) order[nOpaque++] = s;
  let k = nOpaque;
  for (let s = 0; s < nSlots; s++) if (slotKeys[s] >> 15 !== OPAQUE) order[k++] = s;
  const boxes: Box[] = [];
  const budget = max - (transparent > 0 ? 1 : 0);
  if (nOpaque > 0 && nOpaque < nSlots && budget >= 2) {
    boxes.push(makeBox(order, counts, coord, nOpaque, nSlots), makeBox(order, counts, coord, 0, nOpaque));
  } else if (nSlots > 0) {
    boxes.push(makeBox(order, counts, coord, 0, nSlots));
  }
  while (boxes.length < budget) {
    let best = -1;
    let bestScore = 0;
    for (let b = 0; b < boxes.length; b++) {
      const box = boxes[b];
      const score = box.count * widestExtent(box);
      if (score > bestScore) {
        bestScore = score;
        best = b;
      }
    }
    if (best < 0) break;
    const [left, right] = splitBox(boxes[best], order, counts, coord);
    boxes[best] = left;
    boxes.push(right);
  }

  // Palette: the transparent entry first, then partly transparent boxes, then opaque ones, so
  // the PNG tRNS chunk stays short.
  boxes.sort((x, y) => (coord[order[x.start] * 4 + 3] === OPAQUE * 4 ? 1 : 0) - (coord[order[y.start] * 4 + 3] === OPAQUE * 4 ? 1 : 0));
  const count = boxes.length + (transparent > 0 ? 1 : 0);
  const palette = new Uint8Array(count * 4);
  const slotIndex = new Uint8Array(nSlots);
  const first = transparent > 0 ? 1 : 0;
  boxes.forEach((box, b) => {
    let r = 0, g = 0, bl = 0, a = 0;
    for (let j = box.start; j < box.end; j++) {
      const s = order[j];
      r += sums[s * 4];
      g += sums[s * 4 + 1];
      bl += sums[s * 4 + 2];
      a += sums[s * 4 + 3];
      slotIndex[s] = b + first;
    }
    const o = (b + first) * 4;
    palette[o] = Math.round(r / box.count);
    palette[o + 1] = Math.round(g / box.count);
    palette[o + 2] = Math.round(bl / box.count);
    palette[o + 3] = Math.round(a / box.count);
  });
  yield;
  const indices = new Uint8Array(pixels);
  for (let i = 0; i < pixels; i++) {
    if ((i & (CHUNK - 1)) === 0 && i > 0) yield;
    const key = keys[i];
    indices[i] = key < 0 ? 0 : slotIndex[binSlot[key]];
  }
  for (const key of slotKeys) {
    binSlot[key] = -1;
    binCount[key] = 0;
  }
  return { palette, count, indices };
}

function makeBox(order: Int32Array, counts: Uint32Array, coord: Uint8Array, start: number, end: number): Box {
  const lo: Box['lo'] = [255, 255, 255, 255];
  const hi: Box['hi'] = [0, 0, 0, 0];
  let count = 0;
  for (let j = start; j < end; j++) {
    const s = order[j];
    count += counts[s];
    for (let c = 0; c < 4; c++) {
      const v = coord[s * 4 + c];
      if (v < lo[c]) lo[c] = v;
      if (v > hi[c]) hi[c] = v;
    }
  }
  return { start, end, count, lo, hi };
}

function widestExtent(box: Box): number {
  return Math.max(box.hi[0] - box.lo[0], box.hi[1] - box.lo[1], box.hi[2] - box.lo[2], box.hi[3] - box.lo[3]);
}

function splitBox(box: Box, order: Int32Array, counts: Uint32Array, coord: Uint8Array): [Box, Box] {
  let axis = 0;
  for (let c = 1; c < 4; c++) if (box.hi[c] - box.lo[c] > box.hi[axis] - box.lo[axis]) axis = c;
  // Weighted median along the axis, kept strictly inside [lo, hi) so both halves are non-empty.
  const hist = new Float64Array(256);
  for (let j = box.start; j < box.end; j++) hist[coord[order[j] * 4 + axis]] += counts[order[j]];
  let acc = 0;
  let cut = box.lo[axis];
  for (let v = box.lo[axis]; v < box.hi[axis]; v++) {
    acc += hist[v];
    cut = v;
    if (acc * 2 >= box.count) break;
  }
  let i = box.start;
  let j = box.end - 1;
  while (i <= j) {
    if (coord[order[i] * 4 + axis] <= cut) i++;
    else {
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
      j--;
    }
  }
  return [makeBox(order, counts, coord, box.start, i), makeBox(order, counts, coord, i, box.end)];
}
