/** The image-job cap on libuv's thread pool (src/image/pool.ts) and the pool size it is taken from. */
import { test, type TestContext } from 'node:test';
import { channel } from 'node:diagnostics_channel';
import assert from 'node:assert/strict';
import {
  debugImage, decodeImage, encodeImage, imageJobLimit, imageJobState, libuvPoolSize, onImagePool, rawImage, scaleImage, setImageJobLimit, textImage,
  type ImageOptions,
} from '../../../src/image/index.js';

test('the pool a worker reports is the one libuv makes of UV_THREADPOOL_SIZE', () => {
  const cases: Array<[string | undefined, number]> = [
    [undefined, 4], ['2', 2], ['', 1], ['0', 1], ['abc', 1], ['3x', 3], [' 5', 5], ['2000', 1024], ['-1', 1024],
  ];
  for (const [value, threads] of cases) assert.equal(libuvPoolSize(value), threads, String(value));
});

test('image work may take all threads of the pool but one, and at least one', () => {
  assert.deepEqual([1, 2, 3, 4, 1024].map(imageJobLimit), [1, 1, 2, 3, 1023]);
});

/** Set the cap to `n` for one test; the cap before comes back after it. */
function capFor(t: TestContext, n: number): void {
  const before = imageJobState().limit;
  t.after(() => setImageJobLimit(before));
  setImageJobLimit(n);
}

/** A job that runs until `finish` is called, recording when it started. */
function gate(started: number[], id: number): { job: () => Promise<number>; finish: (err?: Error) => void } {
  let finish!: (err?: Error) => void;
  const done = new Promise<number>((resolve, reject) => {
    finish = (err) => (err ? reject(err) : resolve(id));
  });
  return {
    job: () => {
      started.push(id);
      return done;
    },
    finish,
  };
}

const ticks = (n = 3) => new Promise<void>((resolve) => {
  let left = n;
  const next = () => (--left <= 0 ? resolve() : setImmediate(next));
  setImmediate(next);
});

test('jobs beyond the cap wait and start in the order they asked; a failed job frees its slot', async (t) => {
  capFor(t, 2);
  const started: number[] = [];
  const gates = [0, 1, 2, 3, 4].map((i) => gate(started, i));
  const results = gates.map((g) => onImagePool(g.job).then((v) => `ok ${v}`, (e: Error) => `failed ${e.message}`));
  await ticks();
  assert.deepEqual(started, [0, 1]);
  assert.deepEqual(imageJobState(), { limit: 2, running: 2, waiting: 3 });

  gates[1].finish(new Error('decode failed'));
  await ticks();
  assert.deepEqual(started, [0, 1, 2], 'the failed job\'s slot went to the next in line');
  gates[0].finish();
  await ticks();
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.deepEqual(imageJobState(), { limit: 2, running: 2, waiting: 1 });

  // Lowering the cap lets no new job start until the running ones are below it.
  setImageJobLimit(1);
  gates[2].finish();
  await ticks();
  assert.deepEqual(started, [0, 1, 2, 3]);
  assert.deepEqual(imageJobState(), { limit: 1, running: 1, waiting: 1 });
  gates[3].finish();
  await ticks();
  assert.deepEqual(started, [0, 1, 2, 3, 4]);
  gates[4].finish();
  assert.deepEqual(await Promise.all(results), ['ok 0', 'failed decode failed', 'ok 2', 'ok 3', 'ok 4']);
  assert.deepEqual(imageJobState(), { limit: 1, running: 0, waiting: 0 });
});

test('raising the cap starts waiting jobs at once', async (t) => {
  capFor(t, 1);
  const started: number[] = [];
  const gates = [0, 1, 2].map((i) => gate(started, i));
  const results = gates.map((g) => onImagePool(g.job));
  await ticks();
  assert.deepEqual(started, [0]);
  setImageJobLimit(3);
  await ticks();
  assert.deepEqual(started, [0, 1, 2]);
  for (const g of gates) g.finish();
  assert.deepEqual(await Promise.all(results), [0, 1, 2]);
  assert.deepEqual(imageJobState(), { limit: 3, running: 0, waiting: 0 });
});

test('a job that throws before it returns a promise frees its slot too', async (t) => {
  capFor(t, 1);
  await assert.rejects(onImagePool(() => { throw new TypeError('bad input'); }), { name: 'TypeError', message: 'bad input' });
  assert.deepEqual(imageJobState(), { limit: 1, running: 0, waiting: 0 });
  assert.equal(await onImagePool(async () => 7), 7);
});

test('the cap is a whole number of at least one', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    assert.throws(() => setImageJobLimit(bad), { name: 'RangeError', message: `image job limit must be a whole number ≥ 1, got ${bad}` });
  }
});

test('real encodes through sharp and zlib never run more jobs at once than the cap', async (t) => {
  capFor(t, 2);
  const pixels = Buffer.alloc(256 * 256 * 4);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7919) % 251;
  const raw = rawImage(pixels, 256, 256);
  const formats = ['image/png', 'image/jpeg', 'image/webp'];
  let peak = 0;
  let peakWaiting = 0;
  let done = false;
  const watch = (): void => {
    const s = imageJobState();
    peak = Math.max(peak, s.running);
    peakWaiting = Math.max(peakWaiting, s.waiting);
    if (!done) setImmediate(watch);
  };
  watch();
  // colors 256: quantised here, deflated by zlib on the pool; colors 0: sharp's PNG encoder.
  const outs = await Promise.all(
    Array.from({ length: 12 }, (_, i) =>
      encodeImage(raw, { format: formats[i % 3], colors: i % 2 === 0 ? 256 : 0, transparent: false, mode: 'RGB', jpegQuality: 90, resampling: 'bicubic', bgcolor: [255, 255, 255] }),
    ),
  );
  done = true;
  assert.equal(peak, 2);
  assert.ok(peakWaiting >= 1, `jobs waited for a slot (peak waiting ${peakWaiting})`);
  for (const [i, out] of outs.entries()) {
    const magic = out.subarray(0, 4).toString('latin1');
    assert.ok(formats[i % 3] === 'image/png' ? magic === '\x89PNG' : formats[i % 3] === 'image/jpeg' ? out[0] === 0xff && out[1] === 0xd8 : magic === 'RIFF', `output ${i} is ${formats[i % 3]}`);
  }
  assert.deepEqual(imageJobState(), { limit: 2, running: 0, waiting: 0 });
});

const OPTS: ImageOptions = { format: 'image/png', colors: 0, transparent: false, mode: 'RGB', jpegQuality: 90, resampling: 'bicubic', bgcolor: [255, 255, 255] };

/** A 16×16 image with a few colours. */
function small(): ReturnType<typeof rawImage> {
  const px = Buffer.alloc(16 * 16 * 4);
  for (let i = 0; i < 256; i++) px.set([(i * 37) % 256, (i * 11) % 256, i % 256, 255], i * 4);
  return rawImage(px, 16, 16);
}

// Every way into the pool: with the one slot held, the call must wait in the queue (not reach
// the pool past the cap), and finish once the slot is free.
const ENTRIES: Array<[string, () => Promise<unknown>]> = [
  ['decodeImage', async () => decodeImage(await encodeImage(small(), OPTS))],
  ['scaleImage', () => scaleImage(small(), [32, 32], 'bilinear')],
  ['debugImage', () => debugImage([64, 64], ['x'])],
  ['textImage', () => textImage([64, 64], ['x'])],
  ['encodeImage png (paletted: zlib)', () => encodeImage(small(), { ...OPTS, colors: 256 })],
  ['encodeImage png (full colour)', () => encodeImage(small(), OPTS)],
  ['encodeImage png (grey)', () => encodeImage(small(), { ...OPTS, mode: 'L' })],
  ['encodeImage jpeg', () => encodeImage(small(), { ...OPTS, format: 'image/jpeg' })],
  ['encodeImage tiff', () => encodeImage(small(), { ...OPTS, format: 'image/tiff' })],
  ['encodeImage webp', () => encodeImage(small(), { ...OPTS, format: 'image/webp' })],
];

for (const [name, call] of ENTRIES) {
  test(`${name} waits for a slot of the image pool`, async (t) => {
    capFor(t, 1);
    const started: number[] = [];
    const held = gate(started, 0);
    const holder = onImagePool(held.job);
    let settled = false;
    const result = call().finally(() => { settled = true; });
    // decodeImage encodes its input first: that job must also wait, so the queue holds one job
    // whichever comes first.
    for (let i = 0; i < 200 && imageJobState().waiting === 0; i++) await ticks(1);
    assert.deepEqual(imageJobState(), { limit: 1, running: 1, waiting: 1 });
    await ticks(5);
    assert.equal(settled, false, 'nothing finished while the slot was held');
    held.finish();
    await holder;
    const out = await result;
    assert.ok(Buffer.isBuffer(out) || (typeof out === 'object' && out !== null && 'data' in out), `${name} gave an image`);
    assert.deepEqual(imageJobState(), { limit: 1, running: 0, waiting: 0 });
  });
}

test('every job is published on mapproxy:image:job with the time it waited for its slot', async (t) => {
  capFor(t, 1);
  const seen: number[] = [];
  const onJob = (m: unknown): void => { seen.push((m as { ms: number }).ms); };
  channel('mapproxy:image:job').subscribe(onJob);
  t.after(() => channel('mapproxy:image:job').unsubscribe(onJob));
  const started: number[] = [];
  const first = gate(started, 0);
  const second = gate(started, 1);
  const a = onImagePool(first.job);
  const b = onImagePool(second.job);
  await ticks();
  assert.equal(seen.length, 1, 'the first job is published when it starts');
  assert.equal(seen[0], 0, 'it got its slot at once');
  first.finish();
  await ticks();
  assert.equal(seen.length, 2, 'the second is published when the slot reaches it');
  assert.ok(seen[1] >= 0 && Number.isFinite(seen[1]), `it waited ${seen[1]} ms`);
  second.finish();
  assert.deepEqual(await Promise.all([a, b]), [0, 1]);
});
